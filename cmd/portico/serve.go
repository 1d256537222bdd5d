package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/portico-gw/portico/config"
	"github.com/portico-gw/portico/gateway"
)

// serveConfig is what "portico serve" takes from its command line. The
// config it runs is built from it by load: the --config file (or an empty
// config), then PORTICO_* environment variables, then --backend and
// --descriptors, then the other flags that were given.
type serveConfig struct {
	configPath  string
	backends    []string
	descriptors []string
	// settings are flags given on the command line, as config keys and
	// values; they override the file and the environment.
	settings [][2]string
	environ  []string
	// Fields a test sets directly instead of through flags.
	tlsCert, tlsKey string
	admin           string
	grace           time.Duration
}

// stringList is a flag that may repeat.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// settingFlag is a flag that sets one config key.
type settingFlag struct {
	key      string
	settings *[][2]string
	isBool   bool
}

func (f *settingFlag) String() string   { return "" }
func (f *settingFlag) IsBoolFlag() bool { return f.isBool }
func (f *settingFlag) Set(v string) error {
	*f.settings = append(*f.settings, [2]string{f.key, v})
	return nil
}

// listFlag is a repeatable flag that appends to a config list.
type listFlag struct {
	key      string
	settings *[][2]string
}

func (f *listFlag) String() string { return "" }
func (f *listFlag) Set(v string) error {
	*f.settings = append(*f.settings, [2]string{f.key, v})
	return nil
}

// transcodingFlags registers the flags that set transcoding and CORS
// options, recording them as config settings.
func transcodingFlags(fs *flag.FlagSet, settings *[][2]string) {
	boolSetting := func(name, key, usage string) {
		fs.Var(&settingFlag{key: key, settings: settings, isBool: true}, name, usage)
	}
	setting := func(name, key, usage string) {
		fs.Var(&settingFlag{key: key, settings: settings}, name, usage)
	}
	boolSetting("use-proto-names", "transcoding.use_proto_names", "write JSON field names as in the .proto file (snake_case) instead of lowerCamelCase")
	boolSetting("emit-unpopulated", "transcoding.emit_unpopulated", "write fields that hold their default value")
	boolSetting("enum-numbers", "transcoding.use_enum_numbers", "write enum values as numbers instead of names")
	setting("default-timeout", "transcoding.default_timeout", "deadline for calls whose client sent no timeout, e.g. 30s (default: none)")
	setting("max-timeout", "transcoding.max_timeout", "cap on every call's deadline, the client's included (default: no cap)")
	setting("max-body-bytes", "transcoding.max_request_bytes", "largest request body accepted (default 4 MiB; negative: no limit)")
	fs.Var(&listFlag{key: "transcoding.forward_headers", settings: settings}, "forward-header", "forward this request header to backends as metadata (repeatable; Authorization and Grpc-Metadata-* always are)")
	setting("stream-idle-timeout", "transcoding.stream_idle_timeout", "end a stream after this long with no message either way, e.g. 5m (default: never); never limits a stream's length")
	setting("keepalive", "transcoding.keepalive_interval", "ping idle WebSocket and SSE streams this often (default 30s; negative: never)")
	boolSetting("reject-unknown-query", "transcoding.reject_unknown_query_parameters", "answer 400 to query parameters that name no field (default: ignore them)")
	fs.Var(&listFlag{key: "cors.allowed_origins", settings: settings}, "cors-origin", "allow browser calls from this origin: exact (https://app.example.com), subdomain wildcard (https://*.example.com) or * (repeatable; none: CORS off)")
	boolSetting("cors-credentials", "cors.allow_credentials", "allow credentialed browser calls (cookies, HTTP auth) from the allowed origins")
}

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := serveConfig{environ: os.Environ()}
	fs.StringVar(&cfg.configPath, "config", "", "config file (YAML, version 1); flags and PORTICO_* variables override it")
	fs.Var(&settingFlag{key: "listen.address", settings: &cfg.settings}, "listen", "address to serve on: HTTP/1.1 and HTTP/2 (h2c, or TLS with --tls-cert) on one port (default :8080)")
	fs.Var((*stringList)(&cfg.backends), "backend", "gRPC backend address, host:port (repeatable; added to the config's backends)")
	fs.Var((*stringList)(&cfg.descriptors), "descriptors", "schema file for the backend instead of reflection: a buf image or FileDescriptorSet, binary or JSON (repeatable: the i-th file is the i-th --backend's)")
	fs.Var(&settingFlag{key: "listen.tls.cert", settings: &cfg.settings}, "tls-cert", "PEM certificate (chain) to serve TLS with; HTTP/2 is then negotiated by ALPN (needs --tls-key)")
	fs.Var(&settingFlag{key: "listen.tls.key", settings: &cfg.settings}, "tls-key", "PEM private key for --tls-cert")
	fs.StringVar(&cfg.admin, "admin", "", "admin listener address (reload, routes, health, metrics); default: the config's, 127.0.0.1:9901 (off without --config)")
	fs.Var(&settingFlag{key: "readiness.grace_period", settings: &cfg.settings}, "readiness-grace", "how long an unloaded backend schema may keep Portico unready, e.g. 30s (default: until it loads)")
	transcodingFlags(fs, &cfg.settings)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: portico serve [--config FILE] [--backend ADDR ...] [flags]

With --backend ADDR (repeatable) and no --config, each backend's schema
comes from gRPC server reflection, or from the file given with --descriptors
(one per --backend, in the same order).

Serves every method of every backend as REST/JSON (google.api.http
annotations, and POST /pkg.Service/Method for any method), gRPC-Web, Connect
and gRPC on one port. Schemas come from gRPC server reflection on each
backend, from descriptor files, or from .proto sources (config file), and are
kept current: reflection is polled, files are watched, and SIGHUP or
POST /admin/reload reloads everything.

Portico listens at once; until every backend's schema has loaded it answers
503 and /readyz on the admin listener says not ready. Unreachable backends
are retried with backoff, each attempt logged.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "portico serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if cfg.configPath == "" && len(cfg.backends) == 0 {
		fmt.Fprintln(stderr, "portico serve: give --config, or at least one --backend")
		return 2
	}
	if len(cfg.descriptors) > 0 && len(cfg.descriptors) != len(cfg.backends) {
		fmt.Fprintf(stderr, "portico serve: %d --descriptors for %d --backend: give one per backend, in the same order, or none\n", len(cfg.descriptors), len(cfg.backends))
		return 2
	}
	c, err := cfg.load()
	if err != nil {
		fmt.Fprintf(stderr, "portico serve: %v\n", err)
		return 2
	}

	logger := slog.New(slog.NewTextHandler(stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", listenAddress(c))
	if err != nil {
		fmt.Fprintf(stderr, "portico serve: %v\n", err)
		return 1
	}
	if err := serve(ctx, cfg, ln, logger); err != nil {
		fmt.Fprintf(stderr, "portico serve: %v\n", err)
		return 1
	}
	return 0
}

func listenAddress(c *config.Config) string {
	if c.Listen.Address != "" {
		return c.Listen.Address
	}
	return config.DefaultListenAddress
}

// load builds the config to run, in order of precedence from lowest: the
// file (or an empty config) with --backend/--descriptors added, the
// environment, the other flags given. It is run again on every reload.
func (sc serveConfig) load() (*config.Config, error) {
	var c *config.Config
	if sc.configPath != "" {
		var err error
		if c, err = config.Load(sc.configPath); err != nil {
			return nil, err
		}
	} else {
		c = config.Default()
		// Without a config file the admin listener is off unless asked
		// for, so that several ad-hoc gateways do not fight over its port.
		c.Admin.Disabled = sc.admin == ""
	}
	for i, addr := range sc.backends {
		b := config.Backend{Name: backendName(addr), Target: addr}
		if len(sc.descriptors) > 0 {
			b.Schema = config.Schema{Source: config.SourceFiles, Files: []string{sc.descriptors[i]}}
		}
		c.Backends = append(c.Backends, b)
	}
	if err := config.ApplyEnv(c, sc.environ); err != nil {
		return nil, err
	}
	settings := sc.settings
	if sc.tlsCert != "" {
		settings = append(settings, [2]string{"listen.tls.cert", sc.tlsCert}, [2]string{"listen.tls.key", sc.tlsKey})
	}
	if sc.admin != "" {
		settings = append(settings, [2]string{"admin.address", sc.admin})
	}
	if sc.grace != 0 {
		settings = append(settings, [2]string{"readiness.grace_period", sc.grace.String()})
	}
	var lists map[string][]string
	for _, kv := range settings {
		switch kv[0] {
		case "transcoding.forward_headers", "cors.allowed_origins":
			if lists == nil {
				lists = map[string][]string{}
			}
			lists[kv[0]] = append(lists[kv[0]], kv[1])
			continue
		}
		if err := c.Set(kv[0], kv[1]); err != nil {
			return nil, err
		}
	}
	if v, ok := lists["transcoding.forward_headers"]; ok {
		c.Transcoding.ForwardHeaders = v
	}
	if v, ok := lists["cors.allowed_origins"]; ok {
		c.CORS.AllowedOrigins = v
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// backendName makes a backend name from an address given with --backend.
func backendName(addr string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		}
		return '-'
	}, addr)
}

// serve runs the gateway on ln until ctx ends, then shuts down gracefully.
// SIGHUP reloads the config and every schema.
func serve(ctx context.Context, sc serveConfig, ln net.Listener, logger *slog.Logger) error {
	defer ln.Close()
	cfg, err := sc.load()
	if err != nil {
		return err
	}
	g, err := gateway.New(cfg, sc.load, logger)
	if err != nil {
		return err
	}
	var tlsConfig *tls.Config
	if t := cfg.Listen.TLS; t != nil {
		cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return fmt.Errorf("loading TLS certificate: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var runErr error
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		if runErr = g.Run(ctx); runErr != nil {
			cancel() // a start-up error: stop serving
		}
	}()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				logger.Info("SIGHUP: reloading")
				_ = g.Reload(ctx)
			}
		}
	}()

	adminDone := make(chan error, 1)
	if !cfg.Admin.Disabled {
		addr := cfg.Admin.Address
		if addr == "" {
			addr = config.DefaultAdminAddress
		}
		aln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("admin listener: %w", err)
		}
		logger.Info("admin listening", "address", aln.Addr().String())
		go func() { adminDone <- serveHTTP(ctx, aln, nil, g.AdminHandler(), logger) }()
	} else {
		adminDone <- nil
	}
	logger.Info("serving", "address", ln.Addr().String(), "tls", tlsConfig != nil, "backends", len(cfg.Backends))
	err = serveHTTP(ctx, ln, tlsConfig, g.Handler(), logger)
	cancel()
	if aerr := <-adminDone; err == nil {
		err = aerr
	}
	<-runDone
	if runErr != nil {
		return runErr
	}
	return err
}

// serveHTTP serves h on ln until ctx ends; then it stops accepting and
// gives running requests up to 10 seconds to finish. Without TLS the port
// speaks HTTP/1.1 and HTTP/2 without TLS (h2c, as gRPC clients do); with
// TLS it speaks HTTP/1.1 and HTTP/2, chosen by ALPN. There is no write
// timeout, which would cut long streams; idle keep-alive connections are
// closed after two minutes.
func serveHTTP(ctx context.Context, ln net.Listener, tlsConfig *tls.Config, h http.Handler, logger *slog.Logger) error {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	if tlsConfig != nil {
		protocols.SetHTTP2(true)
	} else {
		protocols.SetUnencryptedHTTP2(true)
	}
	srv := &http.Server{
		Handler:           h,
		Protocols:         &protocols,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		HTTP2:             &http.HTTP2Config{SendPingTimeout: 30 * time.Second, PingTimeout: 15 * time.Second},
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	done := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			done <- srv.ServeTLS(ln, "", "")
			return
		}
		done <- srv.Serve(ln)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	<-done //nolint:errcheck // http.ErrServerClosed, now that Shutdown has returned
	return err
}
