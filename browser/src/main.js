// The page transcoder/browser_test.go opens in headless Chromium. With
// Google's grpc-web client it calls portico.testing.v1.EchoService through
// Portico's gRPC-Web endpoint (a different origin, so every call is a real
// CORS request), collects what each call returned, writes it into the DOM
// and POSTs it as JSON to /results on the page's own origin.
//
// The gateway's base URL comes from the query string:
//   index.html?gateway=http://127.0.0.1:PORT
//
// There is no code generation: the few messages used are encoded and
// decoded by hand with google-protobuf's BinaryWriter/BinaryReader, field
// numbers as in proto/portico/testing/v1/echo.proto.

import { GrpcWebClientBase, MethodDescriptor, MethodType } from 'grpc-web';
import { BinaryReader, BinaryWriter } from 'google-protobuf';

const SERVICE = '/portico.testing.v1.EchoService/';

// How long one call may take before the page gives up on it, so that a
// gateway that never answers is reported instead of hanging the test (whose
// own timeout, 60 s, covers all eight calls at this limit).
const CALL_TIMEOUT_MS = 5000;

// The custom request header sent as gRPC metadata. The Go test allows it in
// CORSOptions.AllowedHeaders, and Metadata reports it back.
const METADATA_HEADER = 'x-portico-browser';

// ---- messages -----------------------------------------------------------

// Everything: only field 80, string name, is used.
class Everything {
  constructor(name = '') { this.name = name; }
}

// StreamRequest: 1 count int32, 2 text string.
class StreamRequest {
  constructor(count = 0, text = '') { this.count = count; this.text = text; }
}

// StreamReply: 1 index int32, 2 text string.
class StreamReply {
  constructor(index = 0, text = '') { this.index = index; this.text = text; }
}

// FailRequest: 1 code int32, 2 message string.
class FailRequest {
  constructor(code = 0, message = '') { this.code = code; this.message = message; }
}

// google.protobuf.Empty.
class Empty {}

// MetadataResponse: 1 map<string, string> incoming.
class MetadataResponse {
  constructor() { this.incoming = {}; }
}

// readFields calls onField(fieldNumber, reader) for every field of bytes;
// onField reads the value and returns true, or returns false to skip it.
function readFields(bytes, onField) {
  const reader = new BinaryReader(bytes);
  while (reader.nextField()) {
    if (reader.isEndGroup()) break;
    if (!onField(reader.getFieldNumber(), reader)) reader.skipField();
  }
}

function encodeEverything(m) {
  const w = new BinaryWriter();
  if (m.name) w.writeString(80, m.name);
  return w.getResultBuffer();
}

function decodeEverything(bytes) {
  const m = new Everything();
  readFields(bytes, (field, r) => {
    if (field === 80) { m.name = r.readString(); return true; }
    return false;
  });
  return m;
}

function encodeStreamRequest(m) {
  const w = new BinaryWriter();
  if (m.count) w.writeInt32(1, m.count);
  if (m.text) w.writeString(2, m.text);
  return w.getResultBuffer();
}

function decodeStreamReply(bytes) {
  const m = new StreamReply();
  readFields(bytes, (field, r) => {
    if (field === 1) { m.index = r.readInt32(); return true; }
    if (field === 2) { m.text = r.readString(); return true; }
    return false;
  });
  return m;
}

function encodeFailRequest(m) {
  const w = new BinaryWriter();
  if (m.code) w.writeInt32(1, m.code);
  if (m.message) w.writeString(2, m.message);
  return w.getResultBuffer();
}

function decodeEmpty() {
  return new Empty();
}

function encodeEmpty() {
  return new Uint8Array(0);
}

function decodeMetadataResponse(bytes) {
  const m = new MetadataResponse();
  readFields(bytes, (field, r) => {
    if (field !== 1) return false;
    let key = '';
    let value = '';
    readFields(r.readBytes(), (f, er) => {
      if (f === 1) { key = er.readString(); return true; }
      if (f === 2) { value = er.readString(); return true; }
      return false;
    });
    m.incoming[key] = value;
    return true;
  });
  return m;
}

// ---- methods ------------------------------------------------------------

const getResource = new MethodDescriptor(
  SERVICE + 'GetResource', MethodType.UNARY, Everything, Everything,
  encodeEverything, decodeEverything);

const serverStream = new MethodDescriptor(
  SERVICE + 'ServerStream', MethodType.SERVER_STREAMING, StreamRequest, StreamReply,
  encodeStreamRequest, decodeStreamReply);

const fail = new MethodDescriptor(
  SERVICE + 'Fail', MethodType.UNARY, FailRequest, Empty,
  encodeFailRequest, decodeEmpty);

const metadataMethod = new MethodDescriptor(
  SERVICE + 'Metadata', MethodType.UNARY, Empty, MetadataResponse,
  encodeEmpty, decodeMetadataResponse);

// ---- calls --------------------------------------------------------------

function describeError(err) {
  if (!err) return null;
  return { code: typeof err.code === 'number' ? err.code : -1, message: String(err.message || err) };
}

// unary makes one unary call and resolves with everything observed: the
// reply (or error), the response headers (grpc-web's 'metadata' event) and
// the final status with its trailers ('status' event).
function unary(client, method, request, metadata) {
  return new Promise((resolve) => {
    const out = { ok: false, reply: null, error: null, headers: null, status: null };
    let done = false;
    const finish = () => {
      if (!done) { done = true; clearTimeout(timer); resolve(out); }
    };
    const timer = setTimeout(() => {
      out.error = out.error || { code: -1, message: `page timeout: no answer within ${CALL_TIMEOUT_MS} ms` };
      finish();
    }, CALL_TIMEOUT_MS);
    let call;
    try {
      call = client.rpcCall(gateway + method.getName(), request, metadata, method, (err, reply) => {
        if (err) {
          out.error = describeError(err);
        } else {
          out.ok = true;
          out.reply = reply;
        }
        // The status event, carrying trailers, may come just after the
        // callback; give it a moment.
        setTimeout(finish, 200);
      });
    } catch (e) {
      out.error = { code: -1, message: 'rpcCall threw: ' + e };
      finish();
      return;
    }
    call.on('metadata', (md) => { out.headers = md; });
    call.on('status', (st) => {
      out.status = { code: st.code, details: st.details, metadata: st.metadata || {} };
      if (out.ok || out.error) finish();
    });
  });
}

// stream makes one server-streaming call and resolves when it ends, fails
// or times out.
function stream(client, method, request, metadata) {
  return new Promise((resolve) => {
    const out = { ok: false, items: [], error: null, headers: null, status: null, ended: false };
    let done = false;
    const finish = () => {
      if (!done) { done = true; clearTimeout(timer); resolve(out); }
    };
    const timer = setTimeout(() => {
      out.error = out.error || { code: -1, message: `page timeout: stream not finished within ${CALL_TIMEOUT_MS} ms` };
      finish();
    }, CALL_TIMEOUT_MS);
    let call;
    try {
      call = client.serverStreaming(gateway + method.getName(), request, metadata, method);
    } catch (e) {
      out.error = { code: -1, message: 'serverStreaming threw: ' + e };
      finish();
      return;
    }
    call.on('data', (reply) => { out.items.push(reply); });
    call.on('metadata', (md) => { out.headers = md; });
    call.on('status', (st) => {
      out.status = { code: st.code, details: st.details, metadata: st.metadata || {} };
    });
    call.on('error', (err) => {
      out.error = describeError(err);
      finish();
    });
    call.on('end', () => {
      out.ended = true;
      out.ok = !out.error;
      finish();
    });
  });
}

// ---- the run ------------------------------------------------------------

const params = new URLSearchParams(location.search);
const gateway = (params.get('gateway') || '').replace(/\/+$/, '');

// show reports progress in the DOM and on the console (which the Go test
// captures from Chromium's log).
function show(text) {
  document.getElementById('status').textContent = text;
  console.log('portico-browser-test: ' + text);
}

async function run() {
  const results = {
    userAgent: navigator.userAgent,
    pageOrigin: location.origin,
    gateway,
    calls: {},
    fatal: null,
  };
  if (!gateway) {
    results.fatal = 'no ?gateway= in the page URL';
    return results;
  }
  const clients = {
    text: new GrpcWebClientBase({ format: 'text' }),     // application/grpc-web-text
    binary: new GrpcWebClientBase({ format: 'binary' }), // application/grpc-web+proto
  };
  const record = (name, result) => {
    results.calls[name] = result;
    show(`${name}: ${result.ok ? 'ok' : 'failed'} ${result.error ? JSON.stringify(result.error) : ''}`);
  };
  for (const [mode, client] of Object.entries(clients)) {
    record(`getResource_${mode}`, await unary(client, getResource,
      new Everything(`projects/browser/resources/${mode}-\u00e9\u{1F600}`),
      { [METADATA_HEADER]: `get-${mode}` }));
    // The grpc-web client supports server streaming in both formats: text
    // is read incrementally, binary when the response is complete.
    record(`serverStream_${mode}`, await stream(client, serverStream,
      new StreamRequest(3, `streamed-${mode}`), {}));
    record(`fail_${mode}`, await unary(client, fail,
      new FailRequest(5, `no such thing (${mode})`), {}));
    record(`metadata_${mode}`, await unary(client, metadataMethod,
      new Empty(), { [METADATA_HEADER]: `meta-${mode}` }));
  }
  return results;
}

async function main() {
  let results;
  try {
    results = await run();
  } catch (e) {
    results = { fatal: 'page error: ' + (e && e.stack ? e.stack : e), calls: {} };
  }
  const json = JSON.stringify(results, null, 2);
  document.getElementById('results').textContent = json;
  show('posting results…');
  try {
    const resp = await fetch('/results', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: json,
    });
    show(`done (results POST: HTTP ${resp.status})`);
  } catch (e) {
    show('results POST failed: ' + e);
  }
}

window.addEventListener('error', (ev) => {
  // An uncaught error outside main (a broken bundle, say): report it so the
  // test fails with the reason instead of a timeout.
  navigator.sendBeacon('/results', JSON.stringify({ fatal: 'uncaught: ' + ev.message, calls: {} }));
});

main();
