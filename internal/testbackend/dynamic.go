package testbackend

import (
	"context"
	"net"
	"testing"

	"github.com/bufbuild/protocompile"
	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Dynamic is a backend whose API is given as .proto source at start: every
// unary method of every service in it answers with its request message
// (methods must take and return the same type), and reflection describes
// exactly that API. Tests use it to change a backend's schema at run time:
// stop one Dynamic and start another, with other sources, on the same
// address.
type Dynamic struct {
	Addr   string
	server *grpc.Server
}

// StartDynamic compiles sources (file name to content; google/api and the
// well-known types may be imported) and serves them on ln until the test
// ends or Stop is called.
func StartDynamic(t testing.TB, ln net.Listener, sources map[string]string) *Dynamic {
	t.Helper()
	var names []string
	for name := range sources {
		names = append(names, name)
	}
	compiler := protocompile.Compiler{Resolver: protocompile.CompositeResolver{
		&protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(sources)},
		protocompile.ResolverFunc(func(path string) (protocompile.SearchResult, error) {
			fd, err := protoregistry.GlobalFiles.FindFileByPath(path)
			if err != nil {
				return protocompile.SearchResult{}, err
			}
			return protocompile.SearchResult{Desc: fd}, nil
		}),
	}}
	compiled, err := compiler.Compile(context.Background(), names...)
	if err != nil {
		t.Fatal(err)
	}
	files := new(protoregistry.Files)
	var register func(fd protoreflect.FileDescriptor)
	register = func(fd protoreflect.FileDescriptor) {
		if _, err := files.FindFileByPath(fd.Path()); err == nil {
			return
		}
		for i := range fd.Imports().Len() {
			register(fd.Imports().Get(i).FileDescriptor)
		}
		if err := files.RegisterFile(fd); err != nil {
			t.Fatal(err)
		}
	}
	for _, fd := range compiled {
		register(fd)
	}

	d := &Dynamic{Addr: ln.Addr().String(), server: grpc.NewServer()}
	services := map[string]grpc.ServiceInfo{}
	for _, fd := range compiled {
		for i := range fd.Services().Len() {
			sd := fd.Services().Get(i)
			desc := grpc.ServiceDesc{ServiceName: string(sd.FullName()), HandlerType: (*any)(nil)}
			for j := range sd.Methods().Len() {
				md := sd.Methods().Get(j)
				input := md.Input()
				desc.Methods = append(desc.Methods, grpc.MethodDesc{
					MethodName: string(md.Name()),
					Handler: func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
						msg := dynamicpb.NewMessage(input)
						if err := dec(msg); err != nil {
							return nil, err
						}
						return proto.Message(msg), nil
					},
				})
			}
			d.server.RegisterService(&desc, struct{}{})
			services[string(sd.FullName())] = grpc.ServiceInfo{}
		}
	}
	opts := reflection.ServerOptions{Services: serviceInfo(services), DescriptorResolver: files}
	reflectionv1.RegisterServerReflectionServer(d.server, reflection.NewServerV1(opts))
	go func() { _ = d.server.Serve(ln) }()
	t.Cleanup(d.server.Stop)
	return d
}

type serviceInfo map[string]grpc.ServiceInfo

func (s serviceInfo) GetServiceInfo() map[string]grpc.ServiceInfo { return s }

// Stop stops the backend at once.
func (d *Dynamic) Stop() { d.server.Stop() }
