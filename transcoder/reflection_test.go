package transcoder_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fullstorydev/grpcurl"
	grpcreflectv1 "github.com/jhump/protoreflect/grpcreflect"
	"github.com/jhump/protoreflect/v2/grpcreflect"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	testingv1 "github.com/portico-gw/portico/gen/portico/testing/v1"
	"github.com/portico-gw/portico/internal/testbackend"
	"github.com/portico-gw/portico/schema"
	"github.com/portico-gw/portico/transcoder"
	"github.com/portico-gw/portico/upstream"
)

// reflectionClients are the two protocol versions a client may speak.
var reflectionClients = map[string]func(context.Context, grpc.ClientConnInterface) *grpcreflect.Client{
	"v1": func(ctx context.Context, cc grpc.ClientConnInterface) *grpcreflect.Client {
		return grpcreflect.NewClientV1(ctx, reflectionv1.NewServerReflectionClient(cc))
	},
	"v1alpha": func(ctx context.Context, cc grpc.ClientConnInterface) *grpcreflect.Client {
		return grpcreflect.NewClientV1Alpha(ctx, reflectionv1alpha.NewServerReflectionClient(cc))
	},
}

// serveReflection serves snap's Handler over h2c on loopback, and returns
// a gRPC client connection to it. Everything stops when the
// test ends.
func serveReflection(t *testing.T, snap *transcoder.Snapshot) *grpc.ClientConn {
	t.Helper()
	mux := transcoder.NewHandler(snap)
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: mux, Protocols: &protocols, ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})

	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// reflectionSnapshot builds a snapshot over an echo-only and an other-only
// test backend, learning their schemas by mode.
func reflectionSnapshot(t *testing.T, mode string) *transcoder.Snapshot {
	t.Helper()
	var backends []transcoder.Backend
	for _, b := range []*testbackend.Backend{
		testbackend.Start(t, "echo", testbackend.WithEcho()),
		testbackend.Start(t, "other", testbackend.WithOther()),
	} {
		conn, err := upstream.Dial(b.Name, b.Addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		backends = append(backends, transcoder.Backend{Name: b.Name, Schema: loadSchema(t, mode, conn, b), Conn: conn.Conn})
	}
	snap, err := transcoder.NewSnapshot(backends, transcoder.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func TestReflectionPaths(t *testing.T) {
	for path, want := range map[string]bool{
		"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      true,
		"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": true,
		"/grpc.reflection.v1.ServerReflection/Other":                     false,
		"/grpc.health.v1.Health/Check":                                   false,
		"/portico.testing.v1.EchoService/Echo":                           false,
	} {
		if got := transcoder.IsReflectionPath(path); got != want {
			t.Errorf("IsReflectionPath(%q) = %v, want %v", path, got, want)
		}
	}
}

func TestReflectionServesEveryBackend(t *testing.T) {
	for _, mode := range schemaModes {
		t.Run(mode, func(t *testing.T) {
			conn := serveReflection(t, reflectionSnapshot(t, mode))
			for version, newClient := range reflectionClients {
				t.Run(version, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					client := newClient(ctx, conn)
					defer client.Reset()

					names, err := client.ListServices()
					if err != nil {
						t.Fatal(err)
					}
					want := []protoreflect.FullName{
						"grpc.reflection.v1.ServerReflection",
						"grpc.reflection.v1alpha.ServerReflection",
						"portico.testing.v1.EchoService",
						"portico.testing.v1.OtherService",
						"portico.testing.v1.StreamService",
					}
					if !slices.Equal(names, want) {
						t.Fatalf("ListServices = %v, want %v", names, want)
					}

					fd, err := client.FileContainingSymbol("portico.testing.v1.Everything")
					if err != nil {
						t.Fatal(err)
					}
					// The file and every import arrive as the backend described them.
					checkSameFile(t, fd, testingv1.File_portico_testing_v1_echo_proto)
					for _, dep := range []string{"google/api/annotations.proto", "google/api/http.proto", "google/api/httpbody.proto",
						"google/protobuf/timestamp.proto", "google/protobuf/descriptor.proto", "google/protobuf/struct.proto"} {
						imp, err := client.FileByFilename(dep)
						if err != nil {
							t.Fatalf("FileByFilename(%s): %v", dep, err)
						}
						linked, err := protoregistry.GlobalFiles.FindFileByPath(dep)
						if err != nil {
							t.Fatal(err)
						}
						checkSameFile(t, imp, linked)
					}
					echo := fd.Services().ByName("EchoService").Methods().ByName("Echo")
					if rule := httpRule(t, echo); rule.GetPost() == "" {
						t.Errorf("EchoService.Echo: google.api.http = %v, want a POST binding", rule)
					}

					other, err := client.FileContainingSymbol("portico.testing.v1.OtherService.Ping")
					if err != nil {
						t.Fatal(err)
					}
					checkSameFile(t, other, testingv1.File_portico_testing_v1_other_proto)

					if _, err := client.FileContainingSymbol("grpc.reflection.v1.ServerReflection"); err != nil {
						t.Errorf("Portico's own reflection service: %v", err)
					}
					if _, err := client.FileContainingSymbol("portico.testing.v1.NoSuchThing"); !grpcreflect.IsElementNotFoundError(err) {
						t.Errorf("unknown symbol: err = %v, want not found", err)
					}

					nums, err := client.AllExtensionNumbersForType("google.protobuf.MethodOptions")
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Contains(nums, annotations.E_Http.TypeDescriptor().Number()) {
						t.Errorf("extensions of MethodOptions = %v, want google.api.http among them", nums)
					}
					xfd, err := client.FileContainingExtension("google.protobuf.MethodOptions", annotations.E_Http.TypeDescriptor().Number())
					if err != nil || xfd.Path() != "google/api/annotations.proto" {
						t.Errorf("FileContainingExtension(google.api.http) = %v, %v", xfd, err)
					}
				})
			}
		})
	}
}

// TestReflectionGrpcurl points grpcurl's own client code at Portico.
func TestReflectionGrpcurl(t *testing.T) {
	conn := serveReflection(t, reflectionSnapshot(t, "reflection"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	refClient := grpcreflectv1.NewClientAuto(ctx, conn)
	defer refClient.Reset()
	source := grpcurl.DescriptorSourceFromServer(ctx, refClient)

	services, err := grpcurl.ListServices(source)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"grpc.reflection.v1.ServerReflection",
		"grpc.reflection.v1alpha.ServerReflection",
		"portico.testing.v1.EchoService",
		"portico.testing.v1.OtherService",
		"portico.testing.v1.StreamService",
	}
	if !slices.Equal(services, want) {
		t.Fatalf("grpcurl list = %v, want %v", services, want)
	}

	methods, err := grpcurl.ListMethods(source, "portico.testing.v1.OtherService")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(methods, []string{"portico.testing.v1.OtherService.Ping"}) {
		t.Errorf("grpcurl list OtherService = %v", methods)
	}

	dsc, err := source.FindSymbol("portico.testing.v1.EchoService.Echo")
	if err != nil {
		t.Fatal(err)
	}
	text, err := grpcurl.GetDescriptorText(dsc, source)
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{"rpc Echo ( .portico.testing.v1.Everything ) returns ( .portico.testing.v1.Everything )", "google.api.http"} {
		if !strings.Contains(text, part) {
			t.Errorf("grpcurl describe EchoService.Echo:\n%s\nwant it to contain %q", text, part)
		}
	}

	msg, err := source.FindSymbol("portico.testing.v1.Everything")
	if err != nil {
		t.Fatal(err)
	}
	if text, err := grpcurl.GetDescriptorText(msg, source); err != nil || !strings.Contains(text, "message Everything {") {
		t.Errorf("grpcurl describe Everything = %q, %v", text, err)
	}
}

// TestReflectionSharedPathConflict checks how the merge treats two backends
// whose schemas give the same path different content: the first backend in
// snapshot order wins the path, whatever is asked first, and a file that
// needs the other copy is still served. A backend's own health service is
// never listed.
func TestReflectionSharedPathConflict(t *testing.T) {
	a := schemaFromText(t, "a", `
		file { name: "shared/common.proto" package: "shared" syntax: "proto3"
		  message_type { name: "Common" field { name: "a" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL json_name: "a" } } }
		file { name: "a/a.proto" package: "a" syntax: "proto3" dependency: "shared/common.proto"
		  service { name: "AService" method { name: "Get" input_type: ".shared.Common" output_type: ".shared.Common" } } }`,
		"a.AService", "grpc.health.v1.Health")
	b := schemaFromText(t, "b", `
		file { name: "shared/common.proto" package: "shared" syntax: "proto3"
		  message_type { name: "Common"
		    field { name: "a" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL json_name: "a" }
		    field { name: "b" number: 2 type: TYPE_STRING label: LABEL_OPTIONAL json_name: "b" } }
		  message_type { name: "OnlyInB" } }
		file { name: "b/b.proto" package: "b" syntax: "proto3" dependency: "shared/common.proto"
		  service { name: "BService" method { name: "Get" input_type: ".shared.OnlyInB" output_type: ".shared.Common" } } }`,
		"b.BService")

	for _, order := range [][]*schema.Schema{{a, b}, {b, a}} {
		first := order[0].Source
		t.Run(first+" first", func(t *testing.T) {
			var backends []transcoder.Backend
			for _, s := range order {
				backends = append(backends, transcoder.Backend{Name: s.Source, Schema: s, Conn: noConn{}})
			}
			snap, err := transcoder.NewSnapshot(backends, transcoder.Options{})
			if err != nil {
				t.Fatal(err)
			}
			conn := serveReflection(t, snap)
			// ask runs f on a fresh client, so that nothing is cached
			// between questions.
			ask := func(f func(*grpcreflect.Client)) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				client := reflectionClients["v1"](ctx, conn)
				defer client.Reset()
				f(client)
			}
			wantFields := map[string]int{"a": 1, "b": 2}[first]

			ask(func(c *grpcreflect.Client) {
				names, err := c.ListServices()
				if err != nil {
					t.Fatal(err)
				}
				want := []protoreflect.FullName{"a.AService", "b.BService", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"}
				if !slices.Equal(names, want) {
					t.Errorf("ListServices = %v, want %v", names, want)
				}
			})
			for _, symbol := range []protoreflect.FullName{"a.AService", "b.BService"} {
				ask(func(c *grpcreflect.Client) {
					fd, err := c.FileContainingSymbol(symbol)
					if err != nil {
						t.Fatalf("FileContainingSymbol(%s): %v", symbol, err)
					}
					if fd.Services().Len() != 1 {
						t.Errorf("%s: file %s has %d services", symbol, fd.Path(), fd.Services().Len())
					}
				})
			}
			// Asked for by path, or reached through a file that builds on
			// either copy, shared/common.proto is the first backend's.
			for _, via := range []protoreflect.FullName{"", "a.AService"} {
				ask(func(c *grpcreflect.Client) {
					if via != "" {
						if _, err := c.FileContainingSymbol(via); err != nil {
							t.Fatal(err)
						}
					}
					fd, err := c.FileByFilename("shared/common.proto")
					if err != nil {
						t.Fatal(err)
					}
					if n := fd.Messages().ByName("Common").Fields().Len(); n != wantFields {
						t.Errorf("via %q: shared.Common has %d fields, want %d (backend %s's copy)", via, n, wantFields, first)
					}
				})
			}
		})
	}
}

// schemaFromText builds a schema from a FileDescriptorSet in text format,
// serving services (which may include infrastructure services, as a schema
// built by hand might).
func schemaFromText(t *testing.T, source, text string, services ...protoreflect.FullName) *schema.Schema {
	t.Helper()
	set := &descriptorpb.FileDescriptorSet{}
	if err := prototext.Unmarshal([]byte(text), set); err != nil {
		t.Fatal(err)
	}
	set.File = append(set.File, protodesc.ToFileDescriptorProto(healthpb.File_grpc_health_v1_health_proto))
	files, err := protodesc.NewFiles(set)
	if err != nil {
		t.Fatal(err)
	}
	s, err := schema.New(source, files, services)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// noConn is a backend connection the reflection tests never call.
type noConn struct{}

func (noConn) Invoke(context.Context, string, any, any, ...grpc.CallOption) error {
	return errors.New("noConn: not callable")
}

func (noConn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, errors.New("noConn: not callable")
}

// checkSameFile fails unless got describes the same file as want.
func checkSameFile(t *testing.T, got, want protoreflect.FileDescriptor) {
	t.Helper()
	g, w := protodesc.ToFileDescriptorProto(got), protodesc.ToFileDescriptorProto(want)
	g.SourceCodeInfo, w.SourceCodeInfo = nil, nil
	if !proto.Equal(g, w) {
		t.Errorf("file %s differs from the backend's:\ngot  %v\nwant %v", want.Path(), g, w)
	}
}

// httpRule reads a method's google.api.http option, which a descriptor
// built from reflection may hold as unknown bytes.
func httpRule(t *testing.T, md protoreflect.MethodDescriptor) *annotations.HttpRule {
	t.Helper()
	raw, err := proto.Marshal(md.Options())
	if err != nil {
		t.Fatal(err)
	}
	opts := &descriptorpb.MethodOptions{}
	if err := (proto.UnmarshalOptions{Resolver: protoregistry.GlobalTypes}).Unmarshal(raw, opts); err != nil {
		t.Fatal(err)
	}
	return proto.GetExtension(opts, annotations.E_Http).(*annotations.HttpRule)
}

// TestReflectionServesErrorDetails checks that the google.rpc error details
// a backend attaches without describing them resolve by reflection, as
// grpcurl needs to print them.
func TestReflectionServesErrorDetails(t *testing.T) {
	conn := serveReflection(t, reflectionSnapshot(t, "reflection"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := grpcreflect.NewClientAuto(ctx, conn)
	defer client.Reset()
	for _, name := range []protoreflect.FullName{"google.rpc.ResourceInfo", "google.rpc.BadRequest", "google.rpc.Status"} {
		if _, err := client.FileContainingSymbol(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestGrpcurlInvokesThroughPortico calls methods the way the grpcurl
// command does: descriptors from Portico's reflection, the call passed
// through to the backend.
func TestGrpcurlInvokesThroughPortico(t *testing.T) {
	conn := serveReflection(t, reflectionSnapshot(t, "reflection"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	refClient := grpcreflectv1.NewClientAuto(ctx, conn)
	defer refClient.Reset()
	source := grpcurl.DescriptorSourceFromServer(ctx, refClient)
	for _, tc := range []struct{ method, request, want string }{
		{"portico.testing.v1.OtherService/Ping", `{"text":"via grpcurl"}`, `"text": "via grpcurl"`},
		{"portico.testing.v1.EchoService/ServerStream", `{"count":3,"text":"s"}`, `"index": 2`},
	} {
		parser, formatter, err := grpcurl.RequestParserAndFormatter(grpcurl.FormatJSON, source, strings.NewReader(tc.request), grpcurl.FormatOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		handler := &grpcurl.DefaultEventHandler{Out: &out, Formatter: formatter}
		if err := grpcurl.InvokeRPC(ctx, source, conn, tc.method, nil, handler, parser.Next); err != nil {
			t.Fatalf("%s: %v", tc.method, err)
		}
		if handler.Status.Code() != codes.OK || !strings.Contains(out.String(), tc.want) {
			t.Errorf("%s: status %v, output %s", tc.method, handler.Status, out.String())
		}
	}
}
