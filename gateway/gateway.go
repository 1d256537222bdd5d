package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/portico-gw/portico/config"
	"github.com/portico-gw/portico/transcoder"
	"github.com/portico-gw/portico/upstream"
)

// Gateway is a running Portico: backends, their schemas, the handler that
// serves clients and the admin API. Make one with New, then Run it.
type Gateway struct {
	logger     *slog.Logger
	handler    *transcoder.Handler
	loadConfig func() (*config.Config, error)
	ready      atomic.Bool
	gateOpen   atomic.Bool // readiness grace period over, or everything loaded once
	// fatal receives the first snapshot error before the gateway has ever
	// been ready: a broken schema at start-up ends Run rather than leaving
	// a gateway that can never serve.
	fatal chan error

	// reloadMu serializes reloads; mu serializes rebuilds and guards what
	// follows. A reload takes mu only to swap.
	reloadMu sync.Mutex
	mu       sync.Mutex
	cfg      *config.Config
	backends []*backendRuntime
	runCtx   context.Context    // set by Run: the loaders' parent
	stopLoad context.CancelFunc // stops the current backend set's loaders
	loaders  sync.WaitGroup
	// retiring are connections a reload left unused, closed after drainTime
	// or when Run ends, whichever is first.
	retiring map[*backendRuntime]*time.Timer

	stats stats
}

// stats are the counters the admin API shows.
type stats struct {
	mu              sync.Mutex
	reloads         int64
	reloadFailures  int64
	rebuilds        int64
	rebuildFailures int64
	lastError       string
	lastErrorAt     time.Time
	snapshotAt      time.Time
	routes          int
}

// New makes a gateway for cfg. loadConfig, when not nil, is how Reload
// reads the config again (the file, the environment, the flags); nil means
// a reload keeps cfg and loads the schemas again. Connections are made
// lazily, so New does not wait for any backend.
func New(cfg *config.Config, loadConfig func() (*config.Config, error), logger *slog.Logger) (*Gateway, error) {
	if logger == nil {
		logger = slog.Default()
	}
	empty, err := transcoder.NewSnapshot(nil, transcoderOptions(cfg, "", "", logger))
	if err != nil {
		return nil, err
	}
	g := &Gateway{logger: logger, handler: transcoder.NewHandler(empty), loadConfig: loadConfig, cfg: cfg, fatal: make(chan error, 1)}
	for i := range cfg.Backends {
		b, err := newBackendRuntime(&cfg.Backends[i])
		if err != nil {
			g.closeBackends(g.backends)
			return nil, err
		}
		g.backends = append(g.backends, b)
	}
	return g, nil
}

func newBackendRuntime(c *config.Backend) (*backendRuntime, error) {
	stamp := tlsStamp(c.TLS)
	up, err := dialBackend(c)
	if err != nil {
		return nil, err
	}
	return &backendRuntime{cfg: *c, up: up, tlsStamp: stamp}, nil
}

func transcoderOptions(cfg *config.Config, backend, service string, logger *slog.Logger) transcoder.Options {
	o := cfg.TranscoderOptions(backend, service)
	o.Logger = logger
	return o
}

// Handler is the http.Handler that serves clients. Until the gateway is
// ready it answers every request 503 UNAVAILABLE, so that a route that is
// merely not known yet is not taken for one that does not exist.
func (g *Gateway) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.gateOpen.Load() {
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, `{"code":%d,"message":"Portico is starting: backend schemas are still loading","details":[]}`, codes.Unavailable)
			return
		}
		g.handler.ServeHTTP(w, r)
	})
}

// Ready reports whether every backend's schema has loaded once (or the
// grace period has passed).
func (g *Gateway) Ready() bool { return g.ready.Load() }

// Snapshot returns the snapshot serving now.
func (g *Gateway) Snapshot() *transcoder.Snapshot { return g.handler.Snapshot() }

// Run loads every backend's schema and keeps them current until ctx ends,
// then closes the backends' connections. It returns early, with the error,
// if the schemas make an invalid snapshot before the gateway has ever been
// ready (a service on two backends, say): a start-up error.
func (g *Gateway) Run(ctx context.Context) (err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g.mu.Lock()
	g.runCtx = ctx
	grace := time.Duration(g.cfg.Readiness.GracePeriod)
	g.startLoaders()
	g.mu.Unlock()
	if grace > 0 {
		timer := time.AfterFunc(grace, func() {
			if !g.ready.Load() {
				g.logger.Warn("readiness grace period over; serving the backends that have loaded", "missing", strings.Join(g.missing(), ","))
				g.gateOpen.Store(true)
				g.ready.Store(true)
			}
		})
		defer timer.Stop()
	}
	select {
	case <-ctx.Done():
	case err = <-g.fatal:
		cancel()
	}
	g.mu.Lock()
	g.stopLoad()
	backends := g.backends
	for b, timer := range g.retiring {
		if timer.Stop() {
			backends = append(backends, b)
		}
	}
	g.retiring = nil
	g.mu.Unlock()
	g.loaders.Wait()
	g.closeBackends(backends)
	return err
}

// startLoaders starts a loader per backend. g.mu is held.
func (g *Gateway) startLoaders() {
	ctx, cancel := context.WithCancel(g.runCtx)
	g.stopLoad = cancel
	for _, b := range g.backends {
		g.loaders.Add(1)
		go func() {
			defer g.loaders.Done()
			g.runLoader(ctx, b)
		}()
	}
}

// runLoader loads one backend's schema until it succeeds, retrying with
// backoff (250ms doubling to 10s), then keeps it current.
func (g *Gateway) runLoader(ctx context.Context, b *backendRuntime) {
	backoff := 250 * time.Millisecond
	for attempt := 1; b.current() == nil; attempt++ {
		if g.loadOnce(ctx, b) {
			break
		}
		b.mu.Lock()
		err := b.lastErr
		b.mu.Unlock()
		g.logger.Warn("backend schema not loaded; retrying", "backend", b.cfg.Name, "attempt", attempt, "retry_in", backoff, "error", err)
		if !sleep(ctx, backoff) {
			return
		}
		backoff = min(backoff*2, 10*time.Second)
	}
	src := b.cfg.Schema
	interval := time.Duration(src.Refresh)
	watch := src.EffectiveSource() != config.SourceReflection && interval == 0
	if watch {
		interval = time.Second // a stat of the files: cheap
	} else if interval == 0 {
		interval = config.DefaultReflectionRefresh
	}
	for sleep(ctx, interval) {
		if watch {
			stamp, err := b.sourceStamp()
			b.mu.Lock()
			unchanged := err == nil && stamp == b.fileStamp
			b.mu.Unlock()
			if unchanged {
				continue
			}
		}
		g.loadOnce(ctx, b)
	}
}

// loadOnce loads b's schema and, if it changed, rebuilds the snapshot. It
// reports whether the load succeeded.
func (g *Gateway) loadOnce(ctx context.Context, b *backendRuntime) bool {
	stamp, _ := b.sourceStamp()
	s, err := b.loadSchema(ctx)
	if ctx.Err() != nil {
		return false
	}
	first := b.current() == nil
	changed := b.record(s, err)
	if err != nil {
		if !first {
			g.logger.Warn("backend schema refresh failed; keeping the last good schema", "backend", b.cfg.Name, "error", err)
		}
		return false
	}
	b.mu.Lock()
	b.fileStamp = stamp
	b.mu.Unlock()
	if changed {
		g.logger.Info("schema loaded", "backend", b.cfg.Name, "source", s.Source, "services", len(s.Services()))
		g.mu.Lock()
		_ = g.rebuildLocked("schema of "+b.cfg.Name+" changed", true)
		g.mu.Unlock()
	}
	return true
}

// missing lists the backends whose schema has never loaded.
func (g *Gateway) missing() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for _, b := range g.backends {
		if b.current() == nil {
			out = append(out, b.cfg.Name)
		}
	}
	return out
}

// rebuildLocked builds a snapshot from every backend's last good schema and
// swaps it in if it is valid. g.mu is held. With fatalBeforeReady, an
// invalid snapshot before the gateway was ever ready ends Run: a start-up
// error. A reload passes false: its failure leaves everything as it was.
func (g *Gateway) rebuildLocked(reason string, fatalBeforeReady bool) error {
	snap, complete, err := g.buildSnapshotLocked()
	g.stats.mu.Lock()
	g.stats.rebuilds++
	if err != nil {
		g.stats.rebuildFailures++
		g.stats.lastError, g.stats.lastErrorAt = err.Error(), time.Now()
	} else {
		g.stats.snapshotAt, g.stats.routes = time.Now(), len(snap.Routes())
	}
	g.stats.mu.Unlock()
	if err != nil {
		if fatalBeforeReady && !g.ready.Load() {
			select {
			case g.fatal <- err:
			default:
			}
			return err
		}
		g.logger.Error("new snapshot is invalid; the previous one keeps serving", "reason", reason, "error", err)
		return err
	}
	g.handler.Swap(snap)
	if complete && !g.ready.Load() {
		g.ready.Store(true)
		g.gateOpen.Store(true)
		g.logger.Info("ready: every backend's schema has loaded")
	}
	g.logger.Info("snapshot swapped in", "reason", reason, "routes", len(snap.Routes()))
	return nil
}

// buildSnapshotLocked makes and validates a snapshot; complete reports
// whether every backend had a schema to put in it. g.mu is held.
func (g *Gateway) buildSnapshotLocked() (snap *transcoder.Snapshot, complete bool, err error) {
	var tb []transcoder.Backend
	complete = true
	for _, b := range g.backends {
		s := b.current()
		if s == nil {
			complete = false
			continue
		}
		opts := transcoderOptions(g.cfg, b.cfg.Name, "", g.logger)
		backend := transcoder.Backend{Name: b.cfg.Name, Schema: s, Conn: b.up.Conn, Options: &opts}
		for name := range b.cfg.Services {
			so := transcoderOptions(g.cfg, b.cfg.Name, name, g.logger)
			if backend.ServiceOptions == nil {
				backend.ServiceOptions = map[protoreflect.FullName]*transcoder.Options{}
			}
			backend.ServiceOptions[protoreflect.FullName(name)] = &so
		}
		tb = append(tb, backend)
	}
	snap, err = transcoder.NewSnapshot(tb, transcoderOptions(g.cfg, "", "", g.logger))
	return snap, complete, err
}

// Reload reads the config again (when the gateway has a way to), makes the
// backend set match it, loads every schema again and swaps in the new
// snapshot. If anything fails (the config, a descriptor or .proto source, the
// new snapshot's validation) nothing changes: the previous snapshot keeps
// serving, and the error is returned, logged and counted. A backend that
// cannot be reached keeps its last good schema; that is not a failure.
func (g *Gateway) Reload(ctx context.Context) error {
	err := g.reload(ctx)
	g.stats.mu.Lock()
	g.stats.reloads++
	if err != nil {
		g.stats.reloadFailures++
		g.stats.lastError, g.stats.lastErrorAt = err.Error(), time.Now()
	}
	g.stats.mu.Unlock()
	if err != nil {
		g.logger.Error("reload failed; the previous snapshot keeps serving", "error", err)
	} else {
		g.logger.Info("reloaded")
	}
	return err
}

func (g *Gateway) reload(ctx context.Context) error {
	// One reload at a time. g.mu is not held while schemas load, so the
	// admin API, readiness and the loaders are never blocked behind a slow
	// backend.
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	g.mu.Lock()
	cfg, current := g.cfg, g.backends
	g.mu.Unlock()
	if g.loadConfig != nil {
		var err error
		if cfg, err = g.loadConfig(); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}

	// The new backend set. A backend that keeps its name keeps its last good
	// schema and counters (its routes must not vanish because its address
	// changed); it keeps its connection too unless how it dials changed,
	// TLS files rewritten in place included.
	old := map[string]*backendRuntime{}
	for _, b := range current {
		old[b.cfg.Name] = b
	}
	var next, created []*backendRuntime
	for i := range cfg.Backends {
		c := &cfg.Backends[i]
		prev, known := old[c.Name]
		var nb *backendRuntime
		if known && sameConnection(&prev.cfg, c) && tlsStamp(c.TLS) == prev.tlsStamp {
			nb = &backendRuntime{cfg: *c, up: prev.up, tlsStamp: prev.tlsStamp}
		} else {
			var err error
			if nb, err = newBackendRuntime(c); err != nil {
				g.closeBackends(created)
				return err
			}
			created = append(created, nb)
		}
		if known {
			nb.inherit(prev)
		}
		next = append(next, nb)
	}

	// Load every schema now; a source the user controls (files, protos)
	// that fails is a failed reload, an unreachable backend is not.
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, b := range next {
		wg.Go(func() {
			stamp, _ := b.sourceStamp() // before the load: an edit during it is seen next time
			s, err := b.loadSchema(ctx)
			b.record(s, err)
			if err == nil {
				b.mu.Lock()
				b.fileStamp = stamp
				b.mu.Unlock()
				return
			}
			if b.cfg.Schema.EffectiveSource() != config.SourceReflection {
				mu.Lock()
				errs = append(errs, fmt.Errorf("backend %s: %w", b.cfg.Name, err))
				mu.Unlock()
				return
			}
			g.logger.Warn("backend unreachable during reload; keeping its last good schema", "backend", b.cfg.Name, "error", err)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		g.closeBackends(created)
		return err
	}

	g.mu.Lock()
	defer g.mu.Unlock()
	prevCfg, prevBackends := g.cfg, g.backends
	warnRestartNeeded(g.logger, prevCfg, cfg)
	g.cfg, g.backends = cfg, next
	if err := g.rebuildLocked("reload", false); err != nil {
		g.cfg, g.backends = prevCfg, prevBackends
		g.closeBackends(created)
		return err
	}

	// Swap the loaders over to the new backend set, and close the
	// connections no backend uses any more once requests that started on
	// the old snapshot have had time to finish.
	if g.stopLoad != nil {
		g.stopLoad()
	}
	if g.runCtx != nil {
		g.startLoaders()
	}
	kept := map[*upstream.Backend]bool{}
	for _, b := range next {
		kept[b.up] = true
	}
	for _, b := range prevBackends {
		if kept[b.up] {
			continue
		}
		if g.retiring == nil {
			g.retiring = map[*backendRuntime]*time.Timer{}
		}
		g.retiring[b] = time.AfterFunc(drainTime, func() {
			g.mu.Lock()
			delete(g.retiring, b)
			g.mu.Unlock()
			_ = b.up.Close()
		})
	}
	return nil
}

// warnRestartNeeded logs the settings a reload cannot apply: the listeners
// and the readiness grace period are set up once, at start.
func warnRestartNeeded(logger *slog.Logger, prev, next *config.Config) {
	if !reflect.DeepEqual(prev.Listen, next.Listen) || !reflect.DeepEqual(prev.Admin, next.Admin) || prev.Readiness != next.Readiness {
		logger.Warn("listen, admin and readiness settings changed; they take effect when Portico restarts")
	}
}

// drainTime is how long a connection no backend uses any more stays open
// after a reload, for requests still running on the previous snapshot.
const drainTime = 30 * time.Second

func (g *Gateway) closeBackends(bs []*backendRuntime) {
	for _, b := range bs {
		_ = b.up.Close()
	}
}

// sleep waits d or until ctx ends, reporting whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Validate loads the schema of every backend whose source can be read
// offline (files and protos) and builds a snapshot from them, reporting
// every problem found. Reflection sources are skipped; the list of skipped
// backends is returned.
func Validate(ctx context.Context, cfg *config.Config) (skipped []string, err error) {
	g, err := New(cfg, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	defer g.closeBackends(g.backends)
	var errs []error
	for _, b := range g.backends {
		if b.cfg.Schema.EffectiveSource() == config.SourceReflection {
			skipped = append(skipped, b.cfg.Name)
			continue
		}
		s, err := b.loadSchema(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("backend %s: %w", b.cfg.Name, err))
			continue
		}
		b.record(s, nil)
	}
	if _, _, err := g.buildSnapshotLocked(); err != nil {
		errs = append(errs, err)
	}
	return skipped, errors.Join(errs...)
}

// LoadAll loads every backend's schema once (reflection included, with
// timeouts) and returns the snapshot they make, for listings.
func LoadAll(ctx context.Context, cfg *config.Config) (*transcoder.Snapshot, error) {
	g, err := New(cfg, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	defer g.closeBackends(g.backends)
	var errs []error
	for _, b := range g.backends {
		s, err := b.loadSchema(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("backend %s: %w", b.cfg.Name, err))
			continue
		}
		b.record(s, nil)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	snap, _, err := g.buildSnapshotLocked()
	return snap, err
}
