package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/portico-gw/portico/schema"
	"github.com/portico-gw/portico/transcoder"
)

// Router benchmark: route lookup against n synthetic GET routes shaped like
// a large cloud API, for Portico's trie (through transcoder.Handler) and
// grpc-gateway's runtime.ServeMux. Each request is a PUT on the path of an
// existing route, so both look the path up, find it bound to another HTTP
// method only and answer 405 without calling any backend; the requests
// cycle over 64 routes spread evenly over the table.

var routeCounts = []int{10, 1_000, 10_000}

// syntheticRoute is the i-th template and a concrete path it matches. Four
// shapes per resource: get, list, a custom verb and a {name=…} binding.
func syntheticRoute(i int) (template, path string) {
	g := i / 4
	svc, res := g/50, g%50
	prefix := fmt.Sprintf("/v1/projects/%%s/locations/%%s/svc%d/resources%d", svc, res)
	switch i % 4 {
	case 0:
		return fmt.Sprintf(prefix, "{project}", "{location}") + "/{id}",
			fmt.Sprintf(prefix, "acme-prod", "europe-west4") + fmt.Sprintf("/id-%d", i)
	case 1:
		return fmt.Sprintf(prefix, "{project}", "{location}"),
			fmt.Sprintf(prefix, "acme-prod", "europe-west4")
	case 2:
		return fmt.Sprintf(prefix, "{project}", "{location}") + "/{id}:inspect",
			fmt.Sprintf(prefix, "acme-prod", "europe-west4") + fmt.Sprintf("/id-%d:inspect", i)
	default:
		return fmt.Sprintf("/v1/{name=projects/*/locations/*/svc%d/resources%d/*}/revisions", svc, res),
			fmt.Sprintf(prefix, "acme-prod", "europe-west4") + fmt.Sprintf("/id-%d/revisions", i)
	}
}

// noConn is a backend connection that is never called: every lookup in
// the router benchmark ends in 405 before any call.
type noConn struct{}

func (noConn) Invoke(context.Context, string, any, any, ...grpc.CallOption) error {
	return status.Error(codes.Unimplemented, "router benchmark: no backend")
}

func (noConn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, status.Error(codes.Unimplemented, "router benchmark: no backend")
}

// porticoRouter builds a Portico handler over a synthetic schema with n
// annotated GET methods.
func porticoRouter(n int) (http.Handler, error) {
	str := descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	field := func(name string, num int32) *descriptorpb.FieldDescriptorProto {
		return &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num), Type: str, Label: opt, JsonName: proto.String(name)}
	}
	svc := &descriptorpb.ServiceDescriptorProto{Name: proto.String("RouterService")}
	for i := range n {
		tmpl, _ := syntheticRoute(i)
		opts := &descriptorpb.MethodOptions{}
		proto.SetExtension(opts, annotations.E_Http, &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: tmpl}})
		svc.Method = append(svc.Method, &descriptorpb.MethodDescriptorProto{
			Name:       proto.String(fmt.Sprintf("Method%d", i)),
			InputType:  proto.String(".portico.benchrouter.v1.Request"),
			OutputType: proto.String(".portico.benchrouter.v1.Response"),
			Options:    opts,
		})
	}
	fdp := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("portico/benchrouter/v1/router.proto"),
		Package:    proto.String("portico.benchrouter.v1"),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"google/api/annotations.proto"},
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("Request"), Field: []*descriptorpb.FieldDescriptorProto{
				field("project", 1), field("location", 2), field("id", 3), field("name", 4),
			}},
			{Name: proto.String("Response")},
		},
		Service: []*descriptorpb.ServiceDescriptorProto{svc},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		return nil, err
	}
	files := new(protoregistry.Files)
	if err := registerAll(files, fd); err != nil {
		return nil, err
	}
	s, err := schema.New("synthetic", files, []protoreflect.FullName{"portico.benchrouter.v1.RouterService"})
	if err != nil {
		return nil, err
	}
	snap, err := transcoder.NewSnapshot([]transcoder.Backend{{Name: "synthetic", Schema: s, Conn: noConn{}}}, transcoder.Options{})
	if err != nil {
		return nil, err
	}
	return transcoder.NewHandler(snap), nil
}

func registerAll(files *protoregistry.Files, fd protoreflect.FileDescriptor) error {
	if _, err := files.FindFileByPath(fd.Path()); err == nil {
		return nil
	}
	imports := fd.Imports()
	for i := range imports.Len() {
		if err := registerAll(files, imports.Get(i).FileDescriptor); err != nil {
			return err
		}
	}
	return files.RegisterFile(fd)
}

// gatewayRouter builds a grpc-gateway ServeMux with the same n templates.
func gatewayRouter(n int) (http.Handler, error) {
	mux := runtime.NewServeMux()
	noop := func(http.ResponseWriter, *http.Request, map[string]string) {}
	for i := range n {
		tmpl, _ := syntheticRoute(i)
		if err := mux.HandlePath(http.MethodGet, tmpl, noop); err != nil {
			return nil, fmt.Errorf("template %s: %w", tmpl, err)
		}
	}
	return mux, nil
}

// sinkWriter is a reusable ResponseWriter that keeps only the status.
type sinkWriter struct {
	h    http.Header
	code int
}

func (w *sinkWriter) Header() http.Header         { return w.h }
func (w *sinkWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *sinkWriter) WriteHeader(code int)        { w.code = code }

func routerRequests(n int) []*http.Request {
	const samples = 64
	var reqs []*http.Request
	for k := range min(samples, n) {
		i := k * n / min(samples, n)
		_, path := syntheticRoute(i)
		r, err := http.NewRequest(http.MethodPut, "http://bench"+path, nil)
		if err != nil {
			panic(err)
		}
		reqs = append(reqs, r)
	}
	return reqs
}

// benchRouter measures h answering the sample requests; every answer must
// be wantCode.
func benchRouter(b *testing.B, h http.Handler, n, wantCode int) {
	reqs := routerRequests(n)
	w := &sinkWriter{h: http.Header{}}
	for _, r := range reqs {
		clear(w.h)
		w.code = 0
		h.ServeHTTP(w, r)
		if w.code != wantCode {
			b.Fatalf("PUT %s: status %d, want %d", r.URL.Path, w.code, wantCode)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		clear(w.h)
		h.ServeHTTP(w, reqs[i%len(reqs)])
	}
}

type routerResult struct {
	system string
	routes int
	inProcessResult
}

func runRouter() ([]routerResult, error) {
	var out []routerResult
	for _, n := range routeCounts {
		for _, sys := range []string{sysPortico, sysGateway} {
			var h http.Handler
			var err error
			if sys == sysPortico {
				h, err = porticoRouter(n)
			} else {
				h, err = gatewayRouter(n)
			}
			if err != nil {
				return nil, fmt.Errorf("router %s/%d: %w", sys, n, err)
			}
			failed := false
			res := testing.Benchmark(func(b *testing.B) {
				defer func() { failed = failed || b.Failed() }()
				// grpc-gateway's default routing error handler writes its
				// method-not-allowed error as 501 (codes.Unimplemented).
				want := http.StatusMethodNotAllowed
				if sys == sysGateway {
					want = http.StatusNotImplemented
				}
				benchRouter(b, h, n, want)
			})
			if failed || res.N == 0 {
				return nil, fmt.Errorf("router %s/%d: benchmark failed", sys, n)
			}
			out = append(out, routerResult{system: sys, routes: n, inProcessResult: inProcessResult{
				nsPerOp: float64(res.NsPerOp()), bytesPerOp: float64(res.AllocedBytesPerOp()), allocsPerOp: float64(res.AllocsPerOp()),
			}})
		}
	}
	return out, nil
}
