// Command portico runs the Portico gateway.
//
//	portico serve --listen :8080 --backend localhost:9090
//	portico serve --config portico.yaml
//	portico demo
//	portico version
//
// Run "portico help" for the full usage.
package main

import (
	"fmt"
	"io"
	"os"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `Portico is a gRPC-first API gateway: it serves gRPC backends to REST/JSON
clients, translating every request from schemas learned at run time.

Usage:
  portico <command> [flags]

Commands:
  serve     run the gateway in front of one or more gRPC backends
  demo      run the gateway in front of a built-in demo backend
  validate  check a config file and its offline schemas (exit 0 or 1)
  routes    print the route table a config file makes
  version   print the version
  help      print this help, or "portico help <command>" for a command's flags

Examples:
  portico serve --listen :8080 --backend localhost:9090
  portico serve --listen :8080 --backend localhost:9090 --descriptors api.binpb
  portico serve --config portico.yaml
  portico validate --config portico.yaml
  portico demo --listen localhost:8080
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return runServe(rest, stdout, stderr)
	case "demo":
		return runDemo(rest, stdout, stderr)
	case "validate":
		return runValidate(rest, stdout, stderr)
	case "routes":
		return runRoutes(rest, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "portico %s\n", version)
		return 0
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 {
			return run([]string{rest[0], "--help"}, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "portico: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}
