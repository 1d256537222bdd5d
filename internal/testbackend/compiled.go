package testbackend

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/reflection"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// StartCompiled is StartDynamic for an API that is already compiled: it
// serves the services of files (those keep accepts; every one when keep is
// nil) on ln until the test ends or Stop is called, and reflection
// describes exactly those services, with files and everything they import.
//
// Only the schema is meant to matter: a unary method whose input and output
// are the same message answers with its request, as in StartDynamic; every
// other method, streaming ones included, answers UNIMPLEMENTED.
func StartCompiled(t testing.TB, ln net.Listener, files []protoreflect.FileDescriptor, keep func(protoreflect.ServiceDescriptor) bool) *Dynamic {
	t.Helper()
	registry := new(protoregistry.Files)
	var register func(fd protoreflect.FileDescriptor)
	register = func(fd protoreflect.FileDescriptor) {
		if _, err := registry.FindFileByPath(fd.Path()); err == nil {
			return
		}
		imports := fd.Imports()
		for i := range imports.Len() {
			register(imports.Get(i).FileDescriptor)
		}
		if err := registry.RegisterFile(fd); err != nil {
			t.Fatal(err)
		}
	}

	d := &Dynamic{Addr: ln.Addr().String(), server: grpc.NewServer()}
	services := map[string]grpc.ServiceInfo{}
	for _, fd := range files {
		register(fd)
		svcs := fd.Services()
		for i := range svcs.Len() {
			sd := svcs.Get(i)
			if keep != nil && !keep(sd) {
				continue
			}
			desc := compiledServiceDesc(sd)
			d.server.RegisterService(&desc, struct{}{})
			services[desc.ServiceName] = grpc.ServiceInfo{}
		}
	}
	opts := reflection.ServerOptions{Services: serviceInfo(services), DescriptorResolver: registry}
	reflectionv1.RegisterServerReflectionServer(d.server, reflection.NewServerV1(opts))
	go func() { _ = d.server.Serve(ln) }()
	t.Cleanup(d.server.Stop)
	return d
}

// compiledServiceDesc describes sd to grpc.Server: echo for unary methods
// whose input is their output, UNIMPLEMENTED for everything else.
func compiledServiceDesc(sd protoreflect.ServiceDescriptor) grpc.ServiceDesc {
	desc := grpc.ServiceDesc{ServiceName: string(sd.FullName()), HandlerType: (*any)(nil)}
	methods := sd.Methods()
	for j := range methods.Len() {
		md := methods.Get(j)
		name := string(md.Name())
		if md.IsStreamingClient() || md.IsStreamingServer() {
			desc.Streams = append(desc.Streams, grpc.StreamDesc{
				StreamName:    name,
				ServerStreams: md.IsStreamingServer(),
				ClientStreams: md.IsStreamingClient(),
				Handler: func(any, grpc.ServerStream) error {
					return status.Errorf(codes.Unimplemented, "method %s is not implemented by this test backend", md.FullName())
				},
			})
			continue
		}
		input, echo := md.Input(), md.Input().FullName() == md.Output().FullName()
		desc.Methods = append(desc.Methods, grpc.MethodDesc{
			MethodName: name,
			Handler: func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				msg := dynamicpb.NewMessage(input)
				if err := dec(msg); err != nil {
					return nil, err
				}
				if !echo {
					return nil, status.Errorf(codes.Unimplemented, "method %s is not implemented by this test backend", md.FullName())
				}
				return proto.Message(msg), nil
			},
		})
	}
	return desc
}
