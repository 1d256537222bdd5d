package transcoder

import (
	"net/http"
	"strings"
	"sync/atomic"
)

// Handler is Portico's http.Handler: it serves every route of the current
// [Snapshot]. The snapshot can be replaced at any time with [Handler.Swap];
// each request reads the snapshot once when it starts and finishes on it.
type Handler struct {
	snapshot atomic.Pointer[Snapshot]
}

// NewHandler returns a Handler serving s.
func NewHandler(s *Snapshot) *Handler {
	h := &Handler{}
	h.snapshot.Store(s)
	return h
}

// Snapshot returns the snapshot new requests are served from.
func (h *Handler) Snapshot() *Snapshot { return h.snapshot.Load() }

// Swap makes s the snapshot for new requests and returns the previous one.
// Requests already running keep the snapshot they started with.
func (h *Handler) Swap(s *Snapshot) *Snapshot { return h.snapshot.Swap(s) }

// ServeHTTP implements http.Handler. It picks the protocol from the
// request (see [classifyProtocol]) and serves it from the current snapshot.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := h.snapshot.Load()
	if s.cors != nil {
		if s.cors.handle(w, r) {
			return // a preflight, answered
		}
		if w.Header().Get("Access-Control-Allow-Origin") != "" {
			w = &corsExposingWriter{ResponseWriter: w, policy: s.cors}
		}
	}
	switch classifyProtocol(r) {
	case protocolGRPC:
		s.serveGRPC(w, r)
	case protocolGRPCWeb:
		s.serveGRPCWeb(w, r)
	case protocolConnectUnary:
		s.serveConnectUnary(w, r)
	case protocolConnectStream:
		s.serveConnectStream(w, r)
	default:
		s.serveREST(w, r)
	}
}

// protocol is a client protocol Portico speaks on its one listener.
type protocol uint8

const (
	protocolREST protocol = iota
	protocolGRPC
	protocolGRPCWeb
	protocolConnectUnary
	protocolConnectStream
)

// classifyProtocol tells the protocol of a request from its content type,
// then its headers:
//
//   - application/grpc-web, application/grpc-web+proto|+json,
//     application/grpc-web-text[+proto]: gRPC-Web;
//   - application/grpc, application/grpc+proto|+json|…: gRPC;
//   - application/connect+proto|+json: Connect streaming;
//   - application/proto, or application/json with a Connect-Protocol-Version
//     header, sent with POST: Connect unary; GET with connect=v1 in the query
//     (Connect's side-effect-free GET form): Connect unary;
//   - anything else: REST, routed by the google.api.http bindings.
//
// Media types compare case-insensitively and ignore parameters. Plain JSON
// without Connect-Protocol-Version stays REST, so POST /pkg.Service/Method
// with a JSON body from curl gets REST's google.rpc.Status errors.
func classifyProtocol(r *http.Request) protocol {
	ct := r.Header.Get("Content-Type")
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.ToLower(strings.TrimSpace(ct))
	switch {
	case strings.HasPrefix(ct, "application/grpc-web"):
		return protocolGRPCWeb
	case ct == "application/grpc" || strings.HasPrefix(ct, "application/grpc+"):
		return protocolGRPC
	case strings.HasPrefix(ct, "application/connect+"):
		return protocolConnectStream
	}
	switch r.Method {
	case http.MethodPost:
		if ct == "application/proto" || (ct == "application/json" && r.Header.Get("Connect-Protocol-Version") != "") {
			return protocolConnectUnary
		}
	case http.MethodGet:
		if strings.Contains(r.URL.RawQuery, "connect=v1") && r.URL.Query().Get("connect") == "v1" {
			return protocolConnectUnary
		}
	}
	return protocolREST
}

// forwardSet lowercases the configured forward-header allow-list once.
func forwardSet(names []string) map[string]bool {
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[strings.ToLower(strings.TrimSpace(n))] = true
	}
	return set
}

// corsExposingWriter lists the response's metadata headers in
// Access-Control-Expose-Headers just before they are sent, whichever
// protocol wrote them, so browser clients can read them.
type corsExposingWriter struct {
	http.ResponseWriter
	policy *corsPolicy
	wrote  bool
}

func (w *corsExposingWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		w.policy.exposeResponseHeaders(w.Header())
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *corsExposingWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Flush implements http.Flusher, which grpc-go's ServeHTTP (serving
// reflection) requires by type, not through Unwrap.
func (w *corsExposingWriter) Flush() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the underlying writer (Flush,
// deadlines, full duplex).
func (w *corsExposingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
