package schema

import (
	"context"
	"errors"
	"fmt"

	"github.com/jhump/protoreflect/v2/grpcreflect"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// infrastructureServices are services a backend exposes for tooling rather
// than as its API. They are never routed: every backend may have them, and
// Portico answers reflection itself.
var infrastructureServices = map[protoreflect.FullName]bool{
	"grpc.reflection.v1.ServerReflection":      true,
	"grpc.reflection.v1alpha.ServerReflection": true,
	"grpc.health.v1.Health":                    true,
	"grpc.channelz.v1.Channelz":                true,
}

// IsInfrastructureService reports whether name is a tooling service a
// backend exposes beside its API (reflection, health, channelz), which
// Portico never routes or lists.
func IsInfrastructureService(name protoreflect.FullName) bool { return infrastructureServices[name] }

// FromReflection asks the backend behind conn for its schema through gRPC
// server reflection (grpc.reflection.v1, falling back to v1alpha when the
// server does not implement v1). Every service it lists, except the
// infrastructure services (reflection, health, channelz), becomes part of the
// schema, with every file they need resolved transitively. target names the
// backend in Source and in errors.
func FromReflection(ctx context.Context, conn grpc.ClientConnInterface, target string) (*Schema, error) {
	client := grpcreflect.NewClientAuto(ctx, conn)
	defer client.Reset()

	names, err := client.ListServices()
	if err != nil {
		return nil, fmt.Errorf("schema: reflection on %s: listing services: %w", target, err)
	}
	files := new(protoregistry.Files)
	var services []protoreflect.FullName
	for _, name := range names {
		if infrastructureServices[name] {
			continue
		}
		fd, err := client.FileContainingSymbol(name)
		if err != nil {
			return nil, fmt.Errorf("schema: reflection on %s: file of service %s: %w", target, name, err)
		}
		if err := registerTransitively(files, fd); err != nil {
			return nil, fmt.Errorf("schema: reflection on %s: %w", target, err)
		}
		services = append(services, name)
	}
	return New("reflection on "+target, files, services)
}

// registerTransitively adds fd and everything it imports to files, skipping
// files already there.
func registerTransitively(files *protoregistry.Files, fd protoreflect.FileDescriptor) error {
	if _, err := files.FindFileByPath(fd.Path()); err == nil {
		return nil
	} else if !errors.Is(err, protoregistry.NotFound) {
		return err
	}
	imports := fd.Imports()
	for i := range imports.Len() {
		imp := imports.Get(i)
		if imp.IsPlaceholder() {
			return fmt.Errorf("file %s imports %s, which the server did not provide", fd.Path(), imp.Path())
		}
		if err := registerTransitively(files, imp.FileDescriptor); err != nil {
			return err
		}
	}
	if err := files.RegisterFile(fd); err != nil {
		return fmt.Errorf("registering %s: %w", fd.Path(), err)
	}
	return nil
}
