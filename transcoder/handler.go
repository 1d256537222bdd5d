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

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := h.snapshot.Load()
	s.serveREST(w, r)
}

// forwardSet lowercases the configured forward-header allow-list once.
func forwardSet(names []string) map[string]bool {
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[strings.ToLower(strings.TrimSpace(n))] = true
	}
	return set
}
