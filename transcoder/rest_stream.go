package transcoder

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Streaming methods over REST. A streaming method's HTTP binding is served
// like a unary one, except that messages flow one at a time:
//
// Server streams are written as each message arrives, in the framing the
// Accept header asks for:
//
//   - text/event-stream: Server-Sent Events, one "data: <json>" event per
//     message; an error after messages is an "event: error" whose data is
//     the google.rpc.Status. Idle streams get ": keepalive" comment lines,
//     also before the first message (which starts the response).
//   - application/x-ndjson (and the default, when Accept names neither):
//     one JSON message per line; an error after messages is a last line
//     {"@status": <google.rpc.Status>} (the "@" keeps it apart from any
//     message, and WebSocket ends the same way).
//   - a google.api.HttpBody output is written raw, as its messages arrive,
//     with the content type of the first; an error after bytes were written
//     aborts the response, so the client sees a truncated body rather than a
//     complete-looking one.
//
// An error before the first message gets the mapped HTTP status and a
// google.rpc.Status body, as for unary calls. The final status is also sent
// as HTTP trailers, Grpc-Status and Grpc-Message, with trailer metadata as
// Grpc-Trailer-<Key> (HTTP/2, or chunked HTTP/1.1 for clients that read
// trailers).
//
// Client streams read the request body as newline-delimited JSON: each
// non-empty line is one message, bound like a unary body (body "*" or the
// body field) with the path and query values set on every message. When the
// body binds a google.api.HttpBody, the raw body is streamed instead, in
// messages of at most 1 MiB, each carrying the request's Content-Type and
// the path and query values; the body is never read whole first. A method
// whose reply is a single message answers with that message as JSON, as a
// unary method does. WebSocket (rest_websocket.go) carries both directions
// at once.

// httpBodyChunkSize bounds the data of each HttpBody message a streamed
// upload is cut into.
const httpBodyChunkSize = 1 << 20

// streamFormat is how a REST stream's replies are framed.
type streamFormat uint8

const (
	formatNDJSON   streamFormat = iota // one JSON message per line
	formatSSE                          // Server-Sent Events
	formatHTTPBody                     // raw HttpBody data
	formatSingle                       // one reply message, written as for a unary call
)

func (s *Snapshot) serveRESTStream(ctx context.Context, w http.ResponseWriter, r *http.Request, rt *route, values []string) {
	if isWebSocketUpgrade(r) {
		s.serveRESTWebSocket(ctx, w, r, rt, values)
		return
	}
	m := rt.method
	rs := &restStream{s: s, w: w, r: r, rt: rt, values: values, rc: http.NewResponseController(w)}
	switch {
	case !m.desc.IsStreamingServer():
		rs.format = formatSingle
	case rt.responseHTTPBody != nil:
		rs.format = formatHTTPBody
	case acceptsMediaType(r.Header.Get("Accept"), "text/event-stream"):
		rs.format = formatSSE
	default:
		rs.format = formatNDJSON
	}
	if m.desc.IsStreamingClient() {
		if r.ProtoMajor == 1 {
			// Replies go out while the request body is still being read;
			// without this net/http would hold them back, or discard the
			// unread body, once the first reply is written.
			_ = rs.rc.EnableFullDuplex()
		}
		if rt.bodyHTTPBody != nil {
			rs.chunks = r.Body
		} else {
			rs.lines = bufio.NewReader(r.Body)
		}
	} else {
		buf := getBuffer()
		defer putBuffer(buf)
		if err := s.buildRESTRequest(r, rt, values, buf); err != nil {
			s.writeRESTError(w, r, m, nil, nil, err)
			return
		}
		rs.single = bytes.Clone(buf.Bytes())
	}
	s.proxyStream(ctx, m, rs)
}

// acceptsMediaType reports whether an Accept header lists mediaType.
func acceptsMediaType(accept, mediaType string) bool {
	for _, part := range strings.Split(accept, ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == mediaType {
			return true
		}
	}
	return false
}

// restStream is the REST side of a streaming call.
type restStream struct {
	s      *Snapshot
	w      http.ResponseWriter
	r      *http.Request
	rt     *route
	values []string
	rc     *http.ResponseController
	format streamFormat

	// Exactly one request source is set: a prebuilt single message, NDJSON
	// lines, or a raw body cut into HttpBody messages.
	single     []byte
	singleSent bool
	lines      *bufio.Reader
	chunks     io.Reader

	header  metadata.MD
	started bool   // response headers written
	reply   []byte // formatSingle: the reply, written at finish
	// writeMu serializes writes to w between the sending loop and the
	// keepalive pings.
	writeMu sync.Mutex
}

// ping writes an SSE comment line, so that proxies see traffic on an idle
// stream. A stream with nothing sent yet is started first: a subscription
// may stay quiet for longer than a proxy waits for response headers. (An
// error that comes after that is reported in band, not as an HTTP status.)
// Other REST framings have no message-free line to send and are left alone.
func (rs *restStream) ping() error {
	if rs.format != formatSSE {
		return nil
	}
	rs.writeMu.Lock()
	defer rs.writeMu.Unlock()
	if !rs.started {
		rs.start("text/event-stream")
	}
	if _, err := io.WriteString(rs.w, ": keepalive\n\n"); err != nil {
		return err
	}
	return rs.rc.Flush()
}

func (rs *restStream) receive() ([]byte, error) {
	switch {
	case rs.single != nil:
		if rs.singleSent {
			return nil, io.EOF
		}
		rs.singleSent = true
		return rs.single, nil
	case rs.lines != nil:
		return rs.receiveLine()
	default:
		return rs.receiveChunk()
	}
}

// receiveLine decodes the next non-empty NDJSON line.
func (rs *restStream) receiveLine() ([]byte, error) {
	limit := rs.rt.method.opts.maxRequestBytes()
	for {
		line, err := readLine(rs.lines, limit)
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		out := new(bytes.Buffer)
		if err := rs.s.encodeRESTRequest(rs.r, rs.rt, rs.values, line, out); err != nil {
			return nil, err
		}
		return out.Bytes(), nil
	}
}

// readLine reads one line (without its newline) of at most limit bytes
// (negative: no limit). The last line may lack a newline; io.EOF comes only
// when nothing is left.
func readLine(r *bufio.Reader, limit int64) ([]byte, error) {
	var line []byte
	for {
		frag, err := r.ReadSlice('\n')
		line = append(line, frag...)
		if limit >= 0 && int64(len(line)) > limit+1 {
			return nil, status.Errorf(codes.ResourceExhausted, "a request message line exceeds the limit of %d bytes", limit)
		}
		switch {
		case err == nil:
			return bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r")), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF:
			if len(line) == 0 {
				return nil, io.EOF
			}
			return line, nil
		default:
			return nil, readError(err)
		}
	}
}

// receiveChunk reads up to httpBodyChunkSize bytes of the raw body and
// makes them one HttpBody message.
func (rs *restStream) receiveChunk() ([]byte, error) {
	data := make([]byte, httpBodyChunkSize)
	n, err := io.ReadFull(rs.chunks, data)
	switch {
	case err == io.EOF:
		return nil, io.EOF
	case err != nil && !errors.Is(err, io.ErrUnexpectedEOF):
		return nil, readError(err)
	}
	rt := rs.rt
	msg := dynamicpb.NewMessage(rt.method.input)
	target := protoreflect.Message(msg)
	if rt.bodyField != nil {
		target = msg.Mutable(rt.bodyField).Message()
	}
	rt.bodyHTTPBody.set(target, rs.r.Header.Get("Content-Type"), data[:n])
	if err := rs.s.bindPathAndQuery(rs.r, rt, rs.values, msg); err != nil {
		return nil, err
	}
	b, err := proto.Marshal(msg)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "encoding request: %v", err)
	}
	return b, nil
}

func (rs *restStream) sendHeader(header metadata.MD) error {
	rs.header = header
	return nil
}

// start writes the response headers of a stream that has something to
// send. Trailers are announced so that HTTP/1.1 and HTTP/2 clients can read
// the final status.
func (rs *restStream) start(contentType string) {
	rs.started = true
	h := rs.w.Header()
	writeResponseMetadata(h, rs.header, nil)
	h.Set("Content-Type", contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	if rs.format == formatSSE {
		h.Set("Cache-Control", "no-cache")
	}
	h.Add("Trailer", "Grpc-Status")
	h.Add("Trailer", "Grpc-Message")
	rs.w.WriteHeader(http.StatusOK)
}

func (rs *restStream) send(msg []byte) error {
	rs.writeMu.Lock()
	defer rs.writeMu.Unlock()
	m := rs.rt.method
	switch rs.format {
	case formatSingle:
		rs.reply = msg
		return nil
	case formatHTTPBody:
		reply := dynamicpb.NewMessage(m.output)
		if err := (proto.UnmarshalOptions{Resolver: m.backend.types}).Unmarshal(msg, reply); err != nil {
			return status.Errorf(codes.Internal, "decoding reply from backend: %v", err)
		}
		var target protoreflect.Message = reply
		if rs.rt.responseField != nil {
			target = reply.Get(rs.rt.responseField).Message()
		}
		contentType, data := rs.rt.responseHTTPBody.get(target)
		if !rs.started {
			if contentType == "" {
				contentType = "application/octet-stream"
			}
			rs.start(contentType)
		}
		if _, err := rs.w.Write(data); err != nil {
			return err
		}
	default:
		js, err := rs.s.replyJSON(rs.rt, msg)
		if err != nil {
			return err
		}
		buf := getBuffer()
		defer putBuffer(buf)
		if rs.format == formatSSE {
			if !rs.started {
				rs.start("text/event-stream")
			}
			buf.WriteString("data: ")
			buf.Write(js)
			buf.WriteString("\n\n")
		} else {
			if !rs.started {
				rs.start("application/x-ndjson")
			}
			buf.Write(js)
			buf.WriteByte('\n')
		}
		if _, err := rs.w.Write(buf.Bytes()); err != nil {
			return err
		}
	}
	return rs.rc.Flush()
}

func (rs *restStream) finish(st *status.Status, headerSent bool, header, trailer metadata.MD) {
	rs.writeMu.Lock()
	defer rs.writeMu.Unlock()
	s, w, r, m := rs.s, rs.w, rs.r, rs.rt.method
	if header != nil {
		rs.header = header
	}
	if !rs.started {
		switch {
		case st.Code() != codes.OK:
			s.writeRESTError(w, r, m, rs.header, trailer, st.Err())
		case rs.format == formatSingle && rs.reply != nil:
			s.writeRESTReply(w, r, rs.rt, rs.header, trailer, rs.reply)
		case rs.format == formatSingle:
			s.writeRESTError(w, r, m, rs.header, trailer, status.Errorf(codes.Internal, "%s ended without a reply", m.desc.FullName()))
		default:
			// A stream of no messages: an empty body of the format's type.
			contentType := map[streamFormat]string{formatSSE: "text/event-stream", formatNDJSON: "application/x-ndjson", formatHTTPBody: "application/octet-stream"}[rs.format]
			writeResponseMetadata(w.Header(), nil, trailer)
			rs.start(contentType)
		}
		return
	}
	if st.Code() != codes.OK {
		if rs.format == formatHTTPBody {
			// Raw bytes have no room for an error: cut the response so
			// the client cannot mistake it for a complete body.
			panic(http.ErrAbortHandler)
		}
		body := marshalStatus(st.Proto(), s.statusMarshalOptions(m))
		buf := getBuffer()
		if rs.format == formatSSE {
			buf.WriteString("event: error\ndata: ")
			buf.Write(body)
			buf.WriteString("\n\n")
		} else {
			buf.WriteString(`{"@status":`)
			buf.Write(body)
			buf.WriteString("}\n")
		}
		_, _ = w.Write(buf.Bytes())
		putBuffer(buf)
	}
	h := w.Header()
	h.Set(http.TrailerPrefix+"Grpc-Status", strconv.Itoa(int(st.Code())))
	h.Set(http.TrailerPrefix+"Grpc-Message", st.Message())
	copyMetadata(h, http.TrailerPrefix+trailerHeaderPrefix, trailer)
}

// replyJSON turns one reply message into JSON, honouring response_body.
func (s *Snapshot) replyJSON(rt *route, wire []byte) ([]byte, error) {
	return s.replyJSONAppend(nil, rt, wire)
}

// replyJSONAppend is replyJSON appending to dst. A whole message is written
// straight from its wire bytes (jsonwire); response_body goes through a
// dynamic message.
func (s *Snapshot) replyJSONAppend(dst []byte, rt *route, wire []byte) ([]byte, error) {
	m := rt.method
	if rt.responseField == nil {
		js, err := s.jsonOptions(m).AppendJSON(dst, m.output, wire)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "encoding reply from backend as JSON: %v", err)
		}
		return js, nil
	}
	msg := dynamicpb.NewMessage(m.output)
	if err := (proto.UnmarshalOptions{Resolver: m.backend.types}).Unmarshal(wire, msg); err != nil {
		return nil, status.Errorf(codes.Internal, "decoding reply from backend: %v", err)
	}
	js, err := s.marshalField(m, msg, rt.responseField)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "encoding reply as JSON: %v", err)
	}
	return append(dst, js...), nil
}

func (rs *restStream) stopReceiving() { _ = rs.rc.SetReadDeadline(time.Now()) }
