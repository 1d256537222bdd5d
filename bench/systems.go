package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"connectrpc.com/vanguard"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"

	benchv1 "github.com/portico-gw/portico/gen/portico/bench/v1"
	"github.com/portico-gw/portico/schema"
	"github.com/portico-gw/portico/transcoder"
	"github.com/portico-gw/portico/upstream"
)

// The systems compared. direct has no proxy: the client calls the backend
// with grpc-go.
const (
	sysDirect   = "direct-grpc"
	sysPortico  = "portico"
	sysGateway  = "grpc-gateway"
	sysVanguard = "vanguard"
	sysHTTPUtil = "httputil-h2c"
)

var allSystems = []string{sysDirect, sysPortico, sysGateway, sysVanguard, sysHTTPUtil}

// buildProxy builds the proxy of a system in front of the backend at
// backendAddr. close releases its connections.
func buildProxy(ctx context.Context, system, backendAddr string) (h http.Handler, closeFn func(), err error) {
	switch system {
	case sysPortico:
		// As cmd/portico serve assembles it: one upstream connection, the
		// schema by reflection, a snapshot, the handler; default options.
		up, err := upstream.Dial("bench", backendAddr)
		if err != nil {
			return nil, nil, err
		}
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		s, err := schema.FromReflection(ctx, up.Conn, backendAddr)
		if err != nil {
			up.Close()
			return nil, nil, err
		}
		snap, err := transcoder.NewSnapshot([]transcoder.Backend{{Name: "bench", Schema: s, Conn: up.Conn}}, transcoder.Options{})
		if err != nil {
			up.Close()
			return nil, nil, err
		}
		return transcoder.NewHandler(snap), func() { up.Close() }, nil

	case sysGateway:
		conn, err := grpc.NewClient(backendAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, nil, err
		}
		// The marshaler writes what Portico writes by default:
		// lowerCamelCase names, enum names, unpopulated fields left out;
		// unknown input fields are errors, as in Portico.
		mux := runtime.NewServeMux(
			runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.HTTPBodyMarshaler{
				Marshaler: &runtime.JSONPb{
					MarshalOptions:   protojson.MarshalOptions{},
					UnmarshalOptions: protojson.UnmarshalOptions{},
				},
			}),
		)
		if err := benchv1.RegisterBenchServiceHandlerClient(ctx, mux, benchv1.NewBenchServiceClient(conn)); err != nil {
			conn.Close()
			return nil, nil, err
		}
		return mux, func() { conn.Close() }, nil

	case sysVanguard:
		rp, tr := h2cReverseProxy(backendAddr)
		svc := vanguard.NewService(benchv1.BenchService_ServiceDesc.ServiceName, rp,
			vanguard.WithTargetProtocols(vanguard.ProtocolGRPC),
			vanguard.WithTargetCodecs(vanguard.CodecProto),
			vanguard.WithNoTargetCompression(),
		)
		// Same JSON output options as Portico's defaults (vanguard's own
		// default emits unpopulated fields).
		t, err := vanguard.NewTranscoder([]*vanguard.Service{svc}, vanguard.WithCodec(func(res vanguard.TypeResolver) vanguard.Codec {
			c := vanguard.NewJSONCodec(res)
			c.MarshalOptions.EmitUnpopulated = false
			return c
		}))
		if err != nil {
			return nil, nil, err
		}
		return t, tr.CloseIdleConnections, nil

	case sysHTTPUtil:
		rp, tr := h2cReverseProxy(backendAddr)
		return rp, tr.CloseIdleConnections, nil
	}
	return nil, nil, fmt.Errorf("no proxy for system %q", system)
}

// h2cReverseProxy is a plain net/http/httputil reverse proxy to the backend
// over HTTP/2 without TLS, flushing every write (streams, gRPC).
func h2cReverseProxy(backendAddr string) (*httputil.ReverseProxy, *http.Transport) {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{
		Protocols:           &p,
		MaxIdleConnsPerHost: 64,
		DisableCompression:  true,
		HTTP2:               &http.HTTP2Config{MaxReceiveBufferPerStream: 1 << 20, MaxReceiveBufferPerConnection: 8 << 20},
	}
	target := &url.URL{Scheme: "http", Host: backendAddr}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
		},
		Transport:     tr,
		FlushInterval: -1,
		ErrorLog:      log.New(discard{}, "", 0),
	}
	return rp, tr
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

// serveH2C serves h on a loopback port for HTTP/1.1 and HTTP/2 without TLS,
// as cmd/portico serve does.
func serveH2C(h http.Handler) (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Handler:           h,
		Protocols:         &p,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(discard{}, "", 0),
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Printf("serve: %v", err)
		}
	}()
	return ln.Addr().String(), func() { srv.Close() }, nil
}

// startProxy builds a system's proxy and serves it; for the direct system
// the address is the backend's.
func startProxy(ctx context.Context, system, backendAddr string) (addr string, stop func(), err error) {
	if system == sysDirect {
		return backendAddr, func() {}, nil
	}
	h, closeFn, err := buildProxy(ctx, system, backendAddr)
	if err != nil {
		return "", nil, err
	}
	addr, stopSrv, err := serveH2C(h)
	if err != nil {
		closeFn()
		return "", nil, err
	}
	return addr, func() { stopSrv(); closeFn() }, nil
}
