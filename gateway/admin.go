package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/portico-gw/portico/transcoder"
)

// AdminHandler serves the admin API. It has no authentication of its own:
// it belongs on a loopback or otherwise private address.
//
//	GET  /healthz        liveness: 200 while the process serves
//	GET  /readyz         readiness: 200 once every backend's schema has
//	                     loaded (or the grace period passed), else 503
//	POST /admin/reload   reload config and schemas; 200, or 500 with the error
//	GET  /admin/routes   the route table (text; JSON with Accept: application/json)
//	GET  /admin/status   backends, schemas, reloads and the last error, as JSON
//	GET  /metrics        the same counters in the Prometheus text format
func (g *Gateway) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if g.Ready() {
			fmt.Fprintln(w, "ready")
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ready: schemas not loaded yet: %s\n", strings.Join(g.missing(), ", "))
	})
	mux.HandleFunc("POST /admin/reload", func(w http.ResponseWriter, r *http.Request) {
		// A client that stops waiting does not cancel the reload halfway.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), reloadTimeout)
		defer cancel()
		if err := g.Reload(ctx); err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]any{"status": "failed", "error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "routes": len(g.Snapshot().Routes())})
	})
	mux.HandleFunc("GET /admin/routes", func(w http.ResponseWriter, r *http.Request) {
		routes := g.Snapshot().Routes()
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			writeJSON(w, http.StatusOK, routes)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		WriteRoutes(w, routes)
	})
	mux.HandleFunc("GET /admin/status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, g.status())
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		g.writeMetrics(w)
	})
	return mux
}

// reloadTimeout bounds a reload asked for over the admin API.
const reloadTimeout = 2 * time.Minute

// WriteRoutes prints a route table: HTTP method, template, RPC, backend.
func WriteRoutes(w interface{ Write([]byte) (int, error) }, routes []transcoder.RouteInfo) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "METHOD\tTEMPLATE\tRPC\tBACKEND")
	for _, r := range routes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.HTTPMethod, r.Template, r.RPC, r.Backend)
	}
	_ = tw.Flush()
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// Status is what GET /admin/status reports.
type Status struct {
	Ready           bool            `json:"ready"`
	Routes          int             `json:"routes"`
	SnapshotAt      time.Time       `json:"snapshot_at,omitzero"`
	Reloads         int64           `json:"reloads"`
	ReloadFailures  int64           `json:"reload_failures"`
	Rebuilds        int64           `json:"rebuilds"`
	RebuildFailures int64           `json:"rebuild_failures"`
	LastError       string          `json:"last_error,omitempty"`
	LastErrorAt     time.Time       `json:"last_error_at,omitzero"`
	Backends        []BackendStatus `json:"backends"`
}

// BackendStatus is one backend in Status.
type BackendStatus struct {
	Name        string    `json:"name"`
	Target      string    `json:"target"`
	Source      string    `json:"source"`
	Loaded      bool      `json:"loaded"`
	LoadedAt    time.Time `json:"loaded_at,omitzero"`
	Services    []string  `json:"services,omitempty"`
	Loads       int64     `json:"loads"`
	Failures    int64     `json:"failures"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

func (g *Gateway) status() Status {
	g.stats.mu.Lock()
	st := Status{
		Ready: g.Ready(), Routes: g.stats.routes, SnapshotAt: g.stats.snapshotAt,
		Reloads: g.stats.reloads, ReloadFailures: g.stats.reloadFailures,
		Rebuilds: g.stats.rebuilds, RebuildFailures: g.stats.rebuildFailures,
		LastError: g.stats.lastError, LastErrorAt: g.stats.lastErrorAt,
	}
	g.stats.mu.Unlock()
	g.mu.Lock()
	backends := g.backends
	g.mu.Unlock()
	for _, b := range backends {
		b.mu.Lock()
		bs := BackendStatus{
			Name: b.cfg.Name, Target: b.up.Target, Source: string(b.cfg.Schema.EffectiveSource()),
			Loaded: b.schema != nil, LoadedAt: b.loadedAt, Loads: b.loads, Failures: b.failures,
			LastErrorAt: b.lastErrAt,
		}
		if b.lastErr != nil {
			bs.LastError = b.lastErr.Error()
		}
		if b.schema != nil {
			for _, sd := range b.schema.Services() {
				bs.Services = append(bs.Services, string(sd.FullName()))
			}
		}
		b.mu.Unlock()
		st.Backends = append(st.Backends, bs)
	}
	sort.Slice(st.Backends, func(i, j int) bool { return st.Backends[i].Name < st.Backends[j].Name })
	return st
}

func (g *Gateway) writeMetrics(w http.ResponseWriter) {
	st := g.status()
	ready := 0
	if st.Ready {
		ready = 1
	}
	fmt.Fprintf(w, "# HELP portico_ready Whether every backend's schema has loaded (1) or not (0).\n# TYPE portico_ready gauge\nportico_ready %d\n", ready)
	fmt.Fprintf(w, "# HELP portico_routes Routes in the snapshot serving now.\n# TYPE portico_routes gauge\nportico_routes %d\n", st.Routes)
	fmt.Fprintf(w, "# HELP portico_reloads_total Reloads (SIGHUP, POST /admin/reload) by result.\n# TYPE portico_reloads_total counter\n")
	fmt.Fprintf(w, "portico_reloads_total{result=\"ok\"} %d\nportico_reloads_total{result=\"error\"} %d\n", st.Reloads-st.ReloadFailures, st.ReloadFailures)
	fmt.Fprintf(w, "# HELP portico_snapshot_builds_total Snapshot builds by result; a failed build leaves the previous snapshot serving.\n# TYPE portico_snapshot_builds_total counter\n")
	fmt.Fprintf(w, "portico_snapshot_builds_total{result=\"ok\"} %d\nportico_snapshot_builds_total{result=\"error\"} %d\n", st.Rebuilds-st.RebuildFailures, st.RebuildFailures)
	fmt.Fprintf(w, "# HELP portico_schema_loads_total Schema loads per backend by result.\n# TYPE portico_schema_loads_total counter\n")
	for _, b := range st.Backends {
		fmt.Fprintf(w, "portico_schema_loads_total{backend=%q,result=\"ok\"} %d\nportico_schema_loads_total{backend=%q,result=\"error\"} %d\n", b.Name, b.Loads, b.Name, b.Failures)
	}
	fmt.Fprintf(w, "# HELP portico_backend_schema_loaded Whether a backend's schema has loaded (1) or not (0).\n# TYPE portico_backend_schema_loaded gauge\n")
	for _, b := range st.Backends {
		loaded := 0
		if b.Loaded {
			loaded = 1
		}
		fmt.Fprintf(w, "portico_backend_schema_loaded{backend=%q} %d\n", b.Name, loaded)
	}
}
