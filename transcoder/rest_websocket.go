package transcoder

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
)

// WebSocket (RFC 6455) on a streaming method's REST path carries messages
// both ways at once, so it serves client and bidi streams in full duplex
// (and server streams too).
//
//   - Client to Portico: each text frame is one request message as JSON,
//     bound like a unary body (the route's body, or the whole message when
//     the route has none), with the path and query values set on it; each
//     binary frame is one request message in the protobuf encoding, sent as
//     it is. An empty text frame half-closes: the client has no more
//     messages but keeps reading. A method that takes one request message
//     reads it from the path and query, as over plain HTTP.
//   - Portico to client: each reply is one frame, text (JSON) unless the
//     client's first frame was binary, then binary (protobuf). The last frame
//     is always the final status, as text: {"@status": <google.rpc.Status>}.
//     The "@" keeps it apart from any message. Then the connection closes
//     with code 1000 for OK, or 4000 + the gRPC code (4005 for NOT_FOUND) with
//     the status message as reason.
//
// Origins are checked as for any browser request: when CORS is configured,
// an origin it allows may open a WebSocket; otherwise only same-origin
// pages may.

// headerHasToken reports whether a comma-separated header lists token,
// case-insensitively.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// isWebSocketUpgrade reports whether r asks to switch to WebSocket.
func isWebSocketUpgrade(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
}

func (s *Snapshot) serveRESTWebSocket(ctx context.Context, w http.ResponseWriter, r *http.Request, rt *route, values []string) {
	m := rt.method
	var single []byte
	if !m.desc.IsStreamingClient() {
		buf := getBuffer()
		err := s.buildRESTRequest(r, rt, values, buf)
		single = bytes.Clone(buf.Bytes())
		putBuffer(buf)
		if err != nil {
			s.writeRESTError(w, r, m, nil, nil, err)
			return
		}
	}
	allowed := w.Header().Get("Access-Control-Allow-Origin")
	opts := &websocket.AcceptOptions{
		// A cross-origin request got this far only if the CORS policy
		// allowed its origin (handler.go). Browsers send cookies with a
		// WebSocket handshake whatever CORS says, so an allow-anyone "*"
		// policy does not open WebSockets to every site: only an origin
		// the policy names (and echoes) skips coder/websocket's
		// same-origin check.
		InsecureSkipVerify: allowed != "" && allowed != "*",
	}
	conn, err := websocket.Accept(w, r, opts)
	if err != nil {
		return // Accept has answered the client
	}
	defer func() { _ = conn.CloseNow() }()
	if limit := m.opts.maxRequestBytes(); limit >= 0 {
		conn.SetReadLimit(limit)
	} else {
		conn.SetReadLimit(-1)
	}
	ws := &wsStream{s: s, conn: conn, ctx: ctx, r: r, rt: rt, values: values, single: single, replyType: websocket.MessageText}
	if single != nil {
		// Nothing more is read from the client, but control frames (ping,
		// close) still need a reader; a close from the client cancels the
		// call.
		ctx = conn.CloseRead(ctx)
		ws.ctx = ctx
	}
	s.proxyStream(ctx, m, ws)
}

// wsStream is the WebSocket side of a streaming call.
type wsStream struct {
	s      *Snapshot
	conn   *websocket.Conn
	ctx    context.Context
	r      *http.Request
	rt     *route
	values []string

	single     []byte
	singleSent bool

	mu        sync.Mutex // guards replyType, set by the reader, read by the writer
	replyType websocket.MessageType
	sawFrame  bool
}

func (ws *wsStream) receive() ([]byte, error) {
	if ws.single != nil {
		if ws.singleSent {
			return nil, io.EOF
		}
		ws.singleSent = true
		return ws.single, nil
	}
	typ, data, err := ws.conn.Read(ws.ctx)
	if err != nil {
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			return nil, status.Errorf(codes.Canceled, "client closed the WebSocket (%d %s)", ce.Code, ce.Reason)
		}
		if strings.Contains(err.Error(), "read limited") {
			return nil, status.Errorf(codes.ResourceExhausted, "a request message exceeds the limit of %d bytes", ws.rt.method.opts.maxRequestBytes())
		}
		return nil, status.Errorf(codes.Canceled, "reading from the WebSocket: %v", err)
	}
	ws.mu.Lock()
	if !ws.sawFrame {
		ws.sawFrame = true
		ws.replyType = typ
	}
	ws.mu.Unlock()
	if typ == websocket.MessageBinary {
		return ws.binaryFrame(data)
	}
	if len(data) == 0 {
		return nil, io.EOF // half-close
	}
	rt := ws.rt
	if rt.body == "" {
		whole := *rt
		whole.body = "*"
		rt = &whole
	}
	out := new(bytes.Buffer)
	if err := ws.s.encodeRESTRequest(ws.r, rt, ws.values, data, out); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func (ws *wsStream) sendHeader(metadata.MD) error { return nil }

func (ws *wsStream) send(msg []byte) error {
	ws.mu.Lock()
	typ := ws.replyType
	ws.mu.Unlock()
	if typ == websocket.MessageBinary {
		return ws.conn.Write(ws.ctx, typ, msg)
	}
	js, err := ws.s.replyJSON(ws.rt, msg)
	if err != nil {
		return err
	}
	return ws.conn.Write(ws.ctx, websocket.MessageText, js)
}

func (ws *wsStream) finish(st *status.Status, _ bool, _, _ metadata.MD) {
	body := marshalStatus(st.Proto(), ws.s.statusMarshalOptions(ws.rt.method))
	frame := make([]byte, 0, len(body)+12)
	frame = append(frame, `{"@status":`...)
	frame = append(frame, body...)
	frame = append(frame, '}')
	// The call's context may be done (the client went away or the deadline
	// passed); the status is still worth a try on a fresh one.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ws.ctx), closeTimeout)
	defer cancel()
	if err := ws.conn.Write(ctx, websocket.MessageText, frame); err != nil {
		return
	}
	code := websocket.StatusNormalClosure
	if st.Code() != codes.OK {
		code = websocket.StatusCode(4000 + int(st.Code()))
	}
	reason := truncateUTF8(st.Message(), 123) // a close reason fits in a 125-byte control frame
	_ = ws.conn.Close(code, reason)
}

// closeTimeout bounds the final status frame and close handshake.
const closeTimeout = 5 * time.Second

func (ws *wsStream) stopReceiving() { _ = ws.conn.CloseNow() }

// ping sends a WebSocket ping and waits (briefly) for its pong.
func (ws *wsStream) ping() error {
	ctx, cancel := context.WithTimeout(ws.ctx, closeTimeout)
	defer cancel()
	return ws.conn.Ping(ctx)
}

// binaryFrame checks a protobuf request frame and sets the path and query
// values on it, as for JSON frames: the URL's values win over the frame's.
func (ws *wsStream) binaryFrame(data []byte) ([]byte, error) {
	rt := ws.rt
	m := rt.method
	msg := dynamicpb.NewMessage(m.input)
	if err := (proto.UnmarshalOptions{Resolver: m.backend.types}).Unmarshal(data, msg); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "invalid binary message for %s: %v", m.input.FullName(), err)
	}
	if len(rt.pathFields) == 0 && (rt.body == "*" || ws.r.URL.RawQuery == "") {
		return data, nil
	}
	bound := dynamicpb.NewMessage(m.input)
	if err := ws.s.bindPathAndQuery(ws.r, rt, ws.values, bound); err != nil {
		return nil, err
	}
	out, err := proto.MarshalOptions{}.MarshalAppend(bytes.Clone(data), bound)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "encoding request: %v", err)
	}
	return out, nil
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
