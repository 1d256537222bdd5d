package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc"

	"github.com/portico-gw/portico/internal/demo"
)

func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "localhost:8080", "address to serve the gateway on")
	var settings [][2]string
	transcodingFlags(fs, &settings)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: portico demo [--listen ADDR] [flags]

Starts the demo Library API (portico.demo.v1.LibraryService, shelves and
books) as an in-process gRPC backend on a loopback port, and Portico in front
of it, learning its schema by gRPC server reflection as it would for any
backend. Prints curl commands to try.

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
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "portico demo: %v\n", err)
		return 1
	}
	if err := runDemoOn(ctx, ln, settings, logger, stdout); err != nil {
		fmt.Fprintf(stderr, "portico demo: %v\n", err)
		return 1
	}
	return 0
}

// runDemoOn serves the demo backend on a loopback port and the gateway on
// ln until ctx ends.
func runDemoOn(ctx context.Context, ln net.Listener, settings [][2]string, logger *slog.Logger, stdout io.Writer) error {
	backendLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	backend := grpc.NewServer()
	demo.Register(backend)
	go func() { _ = backend.Serve(backendLn) }()
	defer backend.Stop()

	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "Portico demo: the Library API (gRPC on %s) served as REST on %s\n\nTry:\n", backendLn.Addr(), base)
	for _, line := range demoCurlLines {
		fmt.Fprintf(stdout, "  %s\n", fmt.Sprintf(line, base))
	}
	fmt.Fprintln(stdout)
	cfg := serveConfig{backends: []string{backendLn.Addr().String()}, settings: settings}
	return serve(ctx, cfg, ln, logger)
}

// demoCurlLines are printed with the gateway's base URL.
var demoCurlLines = []string{
	`curl %s/v1/shelves`,
	`curl %s/v1/shelves/1/books`,
	`curl %s/v1/shelves/1/books/1`,
	`curl %s/v1/shelves/1/books/1/title`,
	`curl -X POST %s/v1/shelves/1/books -d '{"title":"Dune","author":"Frank Herbert","publicationYear":1965}'`,
	`curl -X PATCH '%s/v1/shelves/1/books/1?updateMask=borrower' -d '{"borrower":"ada"}'`,
	`curl -X POST %s/v1/shelves/1/books/1:checkout -d '{"borrower":"grace"}'`,
	`curl -X POST %s/portico.demo.v1.LibraryService/GetShelf -d '{"name":"shelves/1"}'`,
	`curl -i %s/v1/shelves/404`,
}
