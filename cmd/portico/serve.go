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
	"sync"
	"syscall"
	"time"

	"github.com/portico-gw/portico/schema"
	"github.com/portico-gw/portico/transcoder"
	"github.com/portico-gw/portico/upstream"
)

// serveConfig is everything "portico serve" takes from its flags.
type serveConfig struct {
	listen        string
	backends      []string
	descriptors   []string
	schemaTimeout time.Duration
	// tlsCert and tlsKey are PEM files; when set, the listener speaks TLS,
	// with HTTP/2 negotiated by ALPN.
	tlsCert, tlsKey string
	options         transcoder.Options
}

// stringList is a flag that may repeat.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// transcodingFlags registers the flags that set transcoder.Options.
func transcodingFlags(fs *flag.FlagSet, o *transcoder.Options) {
	fs.BoolVar(&o.UseProtoNames, "use-proto-names", false, "write JSON field names as in the .proto file (snake_case) instead of lowerCamelCase")
	fs.BoolVar(&o.EmitUnpopulated, "emit-unpopulated", false, "write fields that hold their default value")
	fs.BoolVar(&o.UseEnumNumbers, "enum-numbers", false, "write enum values as numbers instead of names")
	fs.DurationVar(&o.DefaultTimeout, "default-timeout", 0, "deadline for calls whose client sent no Grpc-Timeout (0: none)")
	fs.DurationVar(&o.MaxTimeout, "max-timeout", 0, "cap on every call's deadline, including a client's Grpc-Timeout (0: no cap)")
	fs.Int64Var(&o.MaxRequestBytes, "max-body-bytes", transcoder.DefaultMaxRequestBytes, "largest request body accepted (negative: no limit)")
	fs.Func("forward-header", "forward this request header to backends as metadata (repeatable; Authorization and Grpc-Metadata-* always are)", func(v string) error {
		o.ForwardHeaders = append(o.ForwardHeaders, v)
		return nil
	})
	fs.Func("cors-origin", "allow browser calls from this origin: exact (https://app.example.com), subdomain wildcard (https://*.example.com) or * (repeatable; none: CORS off)", func(v string) error {
		o.CORS.AllowedOrigins = append(o.CORS.AllowedOrigins, v)
		return nil
	})
	fs.BoolVar(&o.CORS.AllowCredentials, "cors-credentials", false, "allow credentialed browser calls (cookies, HTTP auth) from the allowed origins")
	fs.BoolVar(&o.RejectUnknownQueryParameters, "reject-unknown-query", false, "answer 400 to query parameters that name no field (default: ignore them)")
}

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg serveConfig
	fs.StringVar(&cfg.listen, "listen", ":8080", "address to serve HTTP/1.1 and HTTP/2 (h2c) on")
	fs.Var((*stringList)(&cfg.backends), "backend", "gRPC backend address, host:port (repeatable; each service goes to the backend that serves it)")
	fs.Var((*stringList)(&cfg.descriptors), "descriptors", "schema file for the backend instead of reflection: a buf image or FileDescriptorSet, binary or JSON (repeatable: the i-th file is the i-th backend's)")
	fs.StringVar(&cfg.tlsCert, "tls-cert", "", "PEM certificate (chain) to serve TLS with; HTTP/2 is then negotiated by ALPN (needs --tls-key)")
	fs.StringVar(&cfg.tlsKey, "tls-key", "", "PEM private key for --tls-cert")
	fs.DurationVar(&cfg.schemaTimeout, "schema-timeout", 0, "how long start-up waits for backends' reflection schemas, retrying with backoff (0: wait until they load)")
	transcodingFlags(fs, &cfg.options)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: portico serve --backend ADDR [--backend ADDR ...] [flags]

Serves every method of every backend as REST/JSON (google.api.http
annotations, and POST /pkg.Service/Method for any method). Schemas come from
gRPC server reflection on each backend, or from --descriptors files. Start-up
waits until every schema has loaded, retrying unreachable backends with
backoff and logging each attempt.

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
	if len(cfg.backends) == 0 {
		fmt.Fprintln(stderr, "portico serve: at least one --backend is required")
		return 2
	}
	if (cfg.tlsCert == "") != (cfg.tlsKey == "") {
		fmt.Fprintln(stderr, "portico serve: --tls-cert and --tls-key go together")
		return 2
	}
	if len(cfg.descriptors) > 0 && len(cfg.descriptors) != len(cfg.backends) {
		fmt.Fprintf(stderr, "portico serve: %d --descriptors for %d --backend: give one per backend, in the same order, or none\n", len(cfg.descriptors), len(cfg.backends))
		return 2
	}

	logger := slog.New(slog.NewTextHandler(stderr, nil))
	cfg.options.Logger = logger
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", cfg.listen)
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

// serve connects to the backends, loads their schemas, builds the snapshot
// and serves on ln until ctx is done, then shuts down gracefully.
func serve(ctx context.Context, cfg serveConfig, ln net.Listener, logger *slog.Logger) error {
	defer ln.Close()
	var backends []*upstream.Backend
	defer func() {
		for _, b := range backends {
			b.Close()
		}
	}()
	for _, target := range cfg.backends {
		b, err := upstream.Dial(target, target)
		if err != nil {
			return err
		}
		backends = append(backends, b)
	}

	loadCtx := ctx
	if cfg.schemaTimeout > 0 {
		var cancel context.CancelFunc
		loadCtx, cancel = context.WithTimeout(ctx, cfg.schemaTimeout)
		defer cancel()
	}
	schemas := make([]*schema.Schema, len(backends))
	errs := make([]error, len(backends))
	var wg sync.WaitGroup
	for i, b := range backends {
		file := ""
		if len(cfg.descriptors) > 0 {
			file = cfg.descriptors[i]
		}
		wg.Go(func() { schemas[i], errs[i] = loadSchema(loadCtx, b, file, logger) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}

	tb := make([]transcoder.Backend, len(backends))
	for i, b := range backends {
		tb[i] = transcoder.Backend{Name: b.Name, Schema: schemas[i], Conn: b.Conn}
	}
	snap, err := transcoder.NewSnapshot(tb, cfg.options)
	if err != nil {
		return err
	}
	var tlsConfig *tls.Config
	if cfg.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.tlsCert, cfg.tlsKey)
		if err != nil {
			return fmt.Errorf("loading TLS certificate: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	logger.Info("serving", "address", ln.Addr().String(), "tls", tlsConfig != nil, "routes", len(snap.Routes()), "backends", len(backends))
	return serveHTTP(ctx, ln, tlsConfig, transcoder.NewHandler(snap), logger)
}

// loadSchema loads one backend's schema: from file if one is given, else by
// reflection, retrying with exponential backoff (250ms doubling to 10s)
// until it succeeds or ctx ends.
func loadSchema(ctx context.Context, b *upstream.Backend, file string, logger *slog.Logger) (*schema.Schema, error) {
	if file != "" {
		s, err := schema.FromFile(file)
		if err == nil {
			logger.Info("schema loaded", "backend", b.Name, "source", s.Source, "services", len(s.Services()))
		}
		return s, err
	}
	backoff := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		s, err := schema.FromReflection(callCtx, b.Conn, b.Target)
		cancel()
		if err == nil {
			logger.Info("schema loaded", "backend", b.Name, "source", s.Source, "services", len(s.Services()))
			return s, nil
		}
		logger.Warn("backend schema not loaded; retrying", "backend", b.Name, "attempt", attempt, "retry_in", backoff, "error", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("backend %s: schema not loaded before start-up gave up: %w", b.Name, err)
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

// serveHTTP serves h on ln until ctx ends; then it stops accepting and
// gives running requests up to 10 seconds to finish. Without TLS the port
// speaks HTTP/1.1 and HTTP/2 without TLS (h2c, as gRPC clients do); with
// TLS it speaks HTTP/1.1 and HTTP/2, chosen by ALPN.
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
	<-done
	return err
}
