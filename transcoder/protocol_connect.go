package transcoder

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/portico-gw/portico/upstream"
)

// The Connect protocol (https://connectrpc.com/docs/protocol), served to
// the gRPC backends.
//
// Unary calls are POST /pkg.Service/Method with the bare message as the
// body, application/proto or application/json, compressed as the
// Content-Encoding header says; or, for methods whose idempotency_level is
// NO_SIDE_EFFECTS, GET with the message in the query
// (?connect=v1&encoding=json|proto&message=…[&base64=1][&compression=gzip]).
// The reply is the bare message under 200, in the request's codec, header
// metadata as headers and trailer metadata as Trailer-<Key> headers; a
// failure is a Connect error object (connect_error.go) under the HTTP status
// of its code.
//
// Streaming calls (client, server and bidi) use application/connect+proto
// or +json: the body is a sequence of envelopes (envelope.go), flag 0x01
// marking a message compressed with the Connect-Content-Encoding. Replies
// go back as envelopes, flushed one by one, always under 200, and the call
// ends with an end-of-stream envelope (flag 0x02) holding JSON
// {"error": {...}, "metadata": {trailers}}. Errors found before the call
// (bad timeout, bad protocol version, unsupported compression) are reported
// the same way, so a streaming client always reads them from the stream.
//
// Whatever the codec, the backend gets protobuf: JSON messages are
// transcoded at the edge, and binary ones are checked against the method's
// schema first, so a malformed message is INVALID_ARGUMENT and never
// reaches the backend.
//
// Compression: a client that accepts gzip (Accept-Encoding for unary,
// Connect-Accept-Encoding for streams) gets replies of more than
// connectCompressMinBytes compressed; smaller ones are not worth the CPU
// and usually grow. Error bodies and end-of-stream messages are never
// compressed.

// connectCompressMinBytes is the size above which replies are compressed
// for a client that accepts gzip.
const connectCompressMinBytes = 1024

// connectMaxTimeoutDigits is the longest Connect-Timeout-Ms the protocol
// allows.
const connectMaxTimeoutDigits = 10

// The content types of Connect unary and streaming calls, for the
// Accept-Post header of 415 responses.
const (
	connectUnaryAccept  = "application/proto, application/json"
	connectStreamAccept = "application/connect+proto, application/connect+json"
)

// connectMediaType lowercases a content type and drops its parameters.
func connectMediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}

// connectNoSideEffects reports whether a method may be called with GET: its
// idempotency_level is NO_SIDE_EFFECTS.
func connectNoSideEffects(m *method) bool {
	opts, ok := m.desc.Options().(*descriptorpb.MethodOptions)
	return ok && opts.GetIdempotencyLevel() == descriptorpb.MethodOptions_NO_SIDE_EFFECTS
}

// connectCallTimeout is [Options.callTimeout] for Connect-Timeout-Ms: a
// positive number of milliseconds, at most ten digits. The client's timeout
// if it sent one, otherwise DefaultTimeout; either capped by MaxTimeout.
// Zero means no deadline; a client that sends 0 ms gets a deadline that has
// already passed, not none.
func (o *Options) connectCallTimeout(header string) (time.Duration, error) {
	timeout := o.DefaultTimeout
	if header != "" {
		if len(header) > connectMaxTimeoutDigits {
			return 0, malformedRequest("invalid Connect-Timeout-Ms %q: more than %d digits", header, connectMaxTimeoutDigits)
		}
		ms, err := strconv.ParseUint(header, 10, 64)
		if err != nil {
			return 0, malformedRequest("invalid Connect-Timeout-Ms %q: want a number of milliseconds", header)
		}
		timeout = time.Duration(ms) * time.Millisecond
		if timeout == 0 {
			timeout = time.Nanosecond
		}
	}
	if o.MaxTimeout > 0 && (timeout == 0 || timeout > o.MaxTimeout) {
		timeout = o.MaxTimeout
	}
	return timeout, nil
}

// connectCheckVersion checks a Connect-Protocol-Version header, which is
// optional but, when sent, must be 1.
func connectCheckVersion(r *http.Request) error {
	if v := r.Header.Get("Connect-Protocol-Version"); v != "" && v != "1" {
		return malformedRequest("Connect-Protocol-Version must be 1, not %q", v)
	}
	return nil
}

// connectContext derives the call's context: deadline and outgoing
// metadata. cancel is never nil.
func (s *Snapshot) connectContext(r *http.Request, m *method) (ctx context.Context, cancel context.CancelFunc, err error) {
	timeout, err := m.opts.connectCallTimeout(r.Header.Get("Connect-Timeout-Ms"))
	if err != nil {
		return nil, func() {}, err
	}
	md, err := rpcRequestMetadata(r)
	if err != nil {
		return nil, func() {}, err
	}
	ctx, cancel = callContext(r, md, timeout)
	return ctx, cancel, nil
}

// connectCheckWire checks that data is a well-formed md message, so a binary
// message that the backend could not parse is refused here.
func connectCheckWire(m *method, md protoreflect.MessageDescriptor, data []byte) error {
	if err := (proto.UnmarshalOptions{Resolver: m.backend.types}).Unmarshal(data, dynamicpb.NewMessage(md)); err != nil {
		return status.Errorf(codes.InvalidArgument, "invalid binary message for %s: %v", md.FullName(), err)
	}
	return nil
}

// connectContentEncoding normalizes a request's compression name: "" for none.
func connectContentEncoding(v string) string {
	v = strings.ToLower(strings.TrimSpace(v))
	if v == encodingIdentity {
		return ""
	}
	return v
}

func (s *Snapshot) serveConnectUnary(w http.ResponseWriter, r *http.Request) {
	m := s.lookupMethod(r.URL.Path)
	if m == nil {
		s.writeConnectError(w, r, nil, nil, nil, &connectNoProcedureError{path: r.URL.Path})
		return
	}
	if m.streaming() {
		s.writeConnectError(w, r, m, nil, nil, &connectMediaTypeError{contentType: r.Header.Get("Content-Type"), accept: connectStreamAccept})
		return
	}

	buf := getBuffer()
	defer putBuffer(buf)
	isJSON, msg, err := s.readConnectUnary(r, m, buf)
	if err != nil {
		s.writeConnectError(w, r, m, nil, nil, err)
		return
	}
	ctx, cancel, err := s.connectContext(r, m)
	defer cancel()
	if err != nil {
		s.writeConnectError(w, r, m, nil, nil, err)
		return
	}

	var header, trailer metadata.MD
	var reply upstream.Frame
	err = m.backend.conn.Invoke(ctx, m.grpcPath, &upstream.Frame{Data: msg}, &reply,
		rawCodec, grpc.Header(&header), grpc.Trailer(&trailer))
	if err != nil {
		s.writeConnectError(w, r, m, header, trailer, err)
		return
	}

	out := reply.Data
	contentType := "application/proto"
	if isJSON {
		contentType = "application/json"
		if out, err = s.wireToJSON(m, m.output, out); err != nil {
			s.writeConnectError(w, r, m, header, trailer, err)
			return
		}
	}
	h := w.Header()
	writeConnectMetadata(h, "", header)
	writeConnectMetadata(h, connectTrailerPrefix, trailer)
	h.Set("Content-Type", contentType)
	h.Set("Accept-Encoding", supportedEncodings)
	if r.Method == http.MethodGet {
		h.Add("Vary", "Accept-Encoding")
	}
	if len(out) > connectCompressMinBytes && acceptsEncoding(r.Header.Get("Accept-Encoding"), encodingGzip) {
		out = compress(nil, out)
		h.Set("Content-Encoding", encodingGzip)
	}
	h.Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// readConnectUnary reads a unary call's request message, from the body of a
// POST or the query of a GET, decompresses it and returns it in the
// protobuf wire format, checked against the method's input; isJSON tells
// the codec, which the reply uses too. The message may live in buf.
func (s *Snapshot) readConnectUnary(r *http.Request, m *method, buf *bytes.Buffer) (isJSON bool, msg []byte, err error) {
	limit := m.opts.maxRequestBytes()
	var encoding string
	if r.Method == http.MethodGet {
		if !connectNoSideEffects(m) {
			return false, nil, &methodNotAllowedError{method: r.Method, path: r.URL.Path, allow: []string{http.MethodPost}}
		}
		q := r.URL.Query()
		if v := q.Get("connect"); v != "v1" {
			return false, nil, malformedRequest("query parameter connect must be v1, not %q", v)
		}
		switch enc := q.Get("encoding"); enc {
		case "proto":
		case "json":
			isJSON = true
		case "":
			return false, nil, malformedRequest("missing query parameter encoding")
		default:
			return false, nil, &connectMediaTypeError{contentType: "application/" + enc, accept: connectUnaryAccept}
		}
		if !q.Has("message") {
			return false, nil, malformedRequest("missing query parameter message")
		}
		text := q.Get("message")
		if q.Get("base64") == "1" {
			if msg, err = decodeBinaryHeader(text); err != nil {
				return false, nil, malformedRequest("query parameter message is not base64: %v", err)
			}
		} else {
			msg = []byte(text)
		}
		if limit >= 0 && int64(len(msg)) > limit {
			return false, nil, &bodyTooLargeError{limit: limit}
		}
		encoding = connectContentEncoding(q.Get("compression"))
	} else {
		switch ct := connectMediaType(r.Header.Get("Content-Type")); ct {
		case "application/proto":
		case "application/json":
			isJSON = true
		default:
			return false, nil, &connectMediaTypeError{contentType: ct, accept: connectUnaryAccept}
		}
		if err := connectCheckVersion(r); err != nil {
			return false, nil, err
		}
		encoding = connectContentEncoding(r.Header.Get("Content-Encoding"))
		if encoding != "" && encoding != encodingGzip {
			// Refused before reading a body that could not be used.
			return false, nil, status.Errorf(codes.Unimplemented, "request compressed with unsupported encoding %q; supported: %s", encoding, supportedEncodings)
		}
		if msg, err = s.readBody(r, limit, buf); err != nil {
			return false, nil, err
		}
	}
	if encoding != "" {
		if msg, err = decompress(encoding, msg, limit); err != nil {
			return false, nil, err
		}
	}
	if isJSON {
		msg, err = s.jsonToWire(m, m.input, msg)
		return true, msg, err
	}
	if err := connectCheckWire(m, m.input, msg); err != nil {
		return false, nil, err
	}
	return false, msg, nil
}

func (s *Snapshot) serveConnectStream(w http.ResponseWriter, r *http.Request) {
	m := s.lookupMethod(r.URL.Path)
	if m == nil {
		s.writeConnectError(w, r, nil, nil, nil, &connectNoProcedureError{path: r.URL.Path})
		return
	}
	ct := connectMediaType(r.Header.Get("Content-Type"))
	if !m.streaming() {
		s.writeConnectError(w, r, m, nil, nil, &connectMediaTypeError{contentType: ct, accept: connectUnaryAccept})
		return
	}
	var isJSON bool
	switch ct {
	case "application/connect+proto":
	case "application/connect+json":
		isJSON = true
	default:
		s.writeConnectError(w, r, m, nil, nil, &connectMediaTypeError{contentType: ct, accept: connectStreamAccept})
		return
	}

	limit := m.opts.maxRequestBytes()
	c := &connectStream{
		s:           s,
		m:           m,
		w:           w,
		rc:          http.NewResponseController(w),
		json:        isJSON,
		reader:      envelopeReader{r: r.Body, maxBytes: limit},
		limit:       limit,
		reqEncoding: connectContentEncoding(r.Header.Get("Connect-Content-Encoding")),
		gzipReplies: acceptsEncoding(r.Header.Get("Connect-Accept-Encoding"), encodingGzip),
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Connect-Accept-Encoding", supportedEncodings)
	if c.gzipReplies {
		h.Set("Connect-Content-Encoding", encodingGzip)
	}

	if err := connectCheckVersion(r); err != nil {
		c.finish(toStatus(err), false, nil, nil)
		return
	}
	if c.reqEncoding != "" && c.reqEncoding != encodingGzip {
		c.finish(status.Newf(codes.Unimplemented, "request compressed with unsupported encoding %q; supported: %s",
			c.reqEncoding, supportedEncodings), false, nil, nil)
		return
	}
	ctx, cancel, err := s.connectContext(r, m)
	defer cancel()
	if err != nil {
		c.finish(toStatus(err), false, nil, nil)
		return
	}
	if r.ProtoMajor == 1 && m.desc.IsStreamingClient() {
		// HTTP/1.1 is half duplex by default: reading the request after
		// the reply has started would fail. Clients that stream requests
		// over HTTP/1.1 may still deadlock themselves, but the gateway
		// will not be the cause.
		_ = c.rc.EnableFullDuplex()
	}
	s.proxyStream(ctx, m, c)
}

// connectStream is the Connect streaming side of a call, for proxyStream.
// receive runs on its own goroutine when the client streams, and touches
// only the reader fields; the others belong to the goroutine that calls
// sendHeader, send and finish.
type connectStream struct {
	s    *Snapshot
	m    *method
	json bool

	// Request side.
	reader      envelopeReader
	limit       int64
	reqEncoding string // "" or "gzip"

	// Reply side.
	w           http.ResponseWriter
	rc          *http.ResponseController
	gzipReplies bool
	wroteHeader bool
	failed      error // a reply that could not be encoded
	out         []byte
}

func (c *connectStream) receive() ([]byte, error) {
	flags, msg, err := c.reader.next(nil)
	if err != nil {
		return nil, err
	}
	if flags&^flagCompressed != 0 {
		return nil, status.Errorf(codes.InvalidArgument, "invalid envelope flags 0x%02x in a request", flags)
	}
	if flags&flagCompressed != 0 {
		if c.reqEncoding == "" {
			return nil, status.Errorf(codes.InvalidArgument, "message marked compressed, but the request has no Connect-Content-Encoding")
		}
		if msg, err = decompress(c.reqEncoding, msg, c.limit); err != nil {
			return nil, err
		}
	}
	if c.json {
		return c.s.jsonToWire(c.m, c.m.input, msg)
	}
	if err := connectCheckWire(c.m, c.m.input, msg); err != nil {
		return nil, err
	}
	return msg, nil
}

func (c *connectStream) writeHeader(header metadata.MD) {
	if c.wroteHeader {
		return
	}
	c.wroteHeader = true
	writeConnectMetadata(c.w.Header(), "", header)
	c.w.WriteHeader(http.StatusOK)
}

func (c *connectStream) sendHeader(header metadata.MD) error {
	c.writeHeader(header)
	return nil
}

func (c *connectStream) send(msg []byte) error {
	if c.json {
		var err error
		if msg, err = c.s.wireToJSON(c.m, c.m.output, msg); err != nil {
			c.failed = err
			return err
		}
	}
	flags := byte(0)
	if c.gzipReplies && len(msg) > connectCompressMinBytes {
		msg = compress(nil, msg)
		flags = flagCompressed
	}
	return c.write(flags, msg)
}

func (c *connectStream) write(flags byte, msg []byte) error {
	c.out = appendEnvelope(c.out[:0], flags, msg)
	if _, err := c.w.Write(c.out); err != nil {
		return err
	}
	if cap(c.out) > 1<<20 {
		c.out = nil // keep no huge buffer for the rest of a long stream
	}
	return c.rc.Flush()
}

func (c *connectStream) finish(st *status.Status, headerSent bool, header, trailer metadata.MD) {
	if c.failed != nil {
		st = toStatus(c.failed)
	}
	if !headerSent {
		c.writeHeader(header)
	}
	_ = c.write(flagConnectEndStream, c.s.connectEndStream(c.m, st, trailer))
	if st.Code() != codes.OK && connectHTTPStatus(st.Code()) >= 500 {
		c.s.opts.logger().Warn("stream failed", "protocol", "connect", "method", c.m.grpcPath,
			"code", st.Code().String(), "message", st.Message())
	}
}

func (c *connectStream) stopReceiving() { _ = c.rc.SetReadDeadline(time.Now()) }
