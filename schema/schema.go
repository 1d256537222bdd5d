package schema

import (
	"fmt"
	"sort"
	"strings"

	// Linked in so that the fallback of every Resolver, and the imports a
	// descriptor file may leave out, include google/api and the google.rpc
	// error details, which backends attach to statuses without always
	// describing them.
	_ "google.golang.org/genproto/googleapis/api/annotations"
	_ "google.golang.org/genproto/googleapis/api/httpbody"
	_ "google.golang.org/genproto/googleapis/rpc/errdetails"

	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Schema is what Portico knows about one backend: the files that describe
// its API, the services it serves, and a resolver for the types they define.
// A Schema is immutable once built and safe for concurrent use.
type Schema struct {
	// Source says where the schema came from ("reflection on host:port",
	// "file api.binpb"), for logs and error messages.
	Source string

	files    *protoregistry.Files
	services []protoreflect.ServiceDescriptor
	types    *Resolver
}

// Files returns every file of the schema, including imported ones.
func (s *Schema) Files() *protoregistry.Files { return s.files }

// Services returns the services the backend serves, sorted by full name.
func (s *Schema) Services() []protoreflect.ServiceDescriptor { return s.services }

// Types returns the schema's type resolver.
func (s *Schema) Types() *Resolver { return s.types }

// FileDescriptorProtos returns the schema's files as descriptor protos in
// dependency order (every file after its imports), and otherwise in path
// order, so the same schema always gives the same list.
func (s *Schema) FileDescriptorProtos() []*descriptorpb.FileDescriptorProto {
	var out []*descriptorpb.FileDescriptorProto
	seen := map[string]bool{}
	var visit func(fd protoreflect.FileDescriptor)
	visit = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := range imports.Len() {
			visit(imports.Get(i).FileDescriptor)
		}
		out = append(out, protodesc.ToFileDescriptorProto(fd))
	}
	var all []protoreflect.FileDescriptor
	s.files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		all = append(all, fd)
		return true
	})
	sort.Slice(all, func(i, j int) bool { return all[i].Path() < all[j].Path() })
	for _, fd := range all {
		visit(fd)
	}
	return out
}

// New builds a Schema over files, serving the named services. Every name
// must be a service defined in files.
func New(source string, files *protoregistry.Files, serviceNames []protoreflect.FullName) (*Schema, error) {
	s := &Schema{Source: source, files: files, types: newResolver(files)}
	for _, name := range serviceNames {
		d, err := files.FindDescriptorByName(name)
		if err != nil {
			return nil, fmt.Errorf("schema: %s: service %s: %w", source, name, err)
		}
		sd, ok := d.(protoreflect.ServiceDescriptor)
		if !ok {
			return nil, fmt.Errorf("schema: %s: %s is not a service", source, name)
		}
		s.services = append(s.services, sd)
	}
	sort.Slice(s.services, func(i, j int) bool { return s.services[i].FullName() < s.services[j].FullName() })
	return s, nil
}

// Resolver resolves message, enum and extension types from a schema's own
// files first and from the types linked into Portico second. The second
// step exists for types a backend uses without describing them, such as the
// google.rpc error details it attaches to a status.
type Resolver struct {
	local *dynamicpb.Types
}

func newResolver(files *protoregistry.Files) *Resolver {
	return &Resolver{local: dynamicpb.NewTypes(files)}
}

// FindMessageByName implements protoregistry.MessageTypeResolver.
func (r *Resolver) FindMessageByName(name protoreflect.FullName) (protoreflect.MessageType, error) {
	if mt, err := r.local.FindMessageByName(name); err == nil {
		return mt, nil
	}
	return protoregistry.GlobalTypes.FindMessageByName(name)
}

// FindMessageByURL implements protoregistry.MessageTypeResolver.
func (r *Resolver) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	if mt, err := r.local.FindMessageByURL(url); err == nil {
		return mt, nil
	}
	return protoregistry.GlobalTypes.FindMessageByURL(url)
}

// FindExtensionByName implements protoregistry.ExtensionTypeResolver.
func (r *Resolver) FindExtensionByName(name protoreflect.FullName) (protoreflect.ExtensionType, error) {
	if xt, err := r.local.FindExtensionByName(name); err == nil {
		return xt, nil
	}
	return protoregistry.GlobalTypes.FindExtensionByName(name)
}

// FindExtensionByNumber implements protoregistry.ExtensionTypeResolver.
func (r *Resolver) FindExtensionByNumber(message protoreflect.FullName, field protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	if xt, err := r.local.FindExtensionByNumber(message, field); err == nil {
		return xt, nil
	}
	return protoregistry.GlobalTypes.FindExtensionByNumber(message, field)
}

// Merge combines schemas from several sources of one backend (several
// descriptor files, say) into one. A file present in more than one is taken
// once, from the first; a service present in more than one is served once.
func Merge(schemas ...*Schema) (*Schema, error) {
	files := new(protoregistry.Files)
	var services []protoreflect.FullName
	seen := map[protoreflect.FullName]bool{}
	var sources []string
	for _, s := range schemas {
		sources = append(sources, s.Source)
		var err error
		s.files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
			err = registerTransitively(files, fd)
			return err == nil
		})
		if err != nil {
			return nil, fmt.Errorf("schema: merging %s: %w", s.Source, err)
		}
		for _, sd := range s.services {
			if !seen[sd.FullName()] {
				seen[sd.FullName()] = true
				services = append(services, sd.FullName())
			}
		}
	}
	return New(strings.Join(sources, ", "), files, services)
}
