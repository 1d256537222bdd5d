package transcoder

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/reflection"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/portico-gw/portico/schema"
)

// Portico answers gRPC server reflection (grpc.reflection.v1 and v1alpha)
// itself, over the merged schemas of every backend in the snapshot, so that
// grpcurl, grpcui or Postman pointed at Portico see every service of every
// backend. The backends' own reflection, health and channelz services are
// never listed; Portico's reflection services are, as a grpc-go server lists
// its own.
//
// The protocol is grpc-go's reflection implementation, served through
// (*grpc.Server).ServeHTTP, so it needs HTTP/2 requests (h2c or TLS), and the
// http.ResponseWriter it is given must implement http.Flusher and trailers
// as net/http's HTTP/2 writer does. One grpc.Server, never listening and
// never stopped, serves every snapshot: it holds no goroutines between
// requests, and a server per snapshot could not be stopped safely (streams of
// a replaced snapshot may still run) and would stay registered in channelz
// forever when channelz is on. The request context carries the snapshot's
// reflection state to the shared server's handlers.

// reflectionPathV1 and reflectionPathV1Alpha are the gRPC paths of the one
// method of each reflection service.
const (
	reflectionPathV1      = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
	reflectionPathV1Alpha = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
)

// isReflectionPath reports whether path is the gRPC path of a server
// reflection method, which the dispatcher sends to
// [Snapshot.reflectionHandler] instead of to a backend.
func isReflectionPath(path string) bool {
	return path == reflectionPathV1 || path == reflectionPathV1Alpha
}

// reflectionHandler returns the http.Handler that answers the reflection
// paths ([isReflectionPath]) for this snapshot. The merged schema behind it
// is built once per snapshot, lazily, on the first call: a snapshot nobody
// asks about by reflection never pays for it.
func (s *Snapshot) reflectionHandler() http.Handler {
	st := &s.reflection
	st.once.Do(func() { st.build(s.backends) })
	return st.handler
}

// reflectionState is one snapshot's reflection service.
type reflectionState struct {
	once    sync.Once
	handler http.Handler
	v1      reflectionv1.ServerReflectionServer
	v1alpha reflectionv1alpha.ServerReflectionServer
}

// build merges the backends' schemas and makes the reflection servers over
// them.
//
// Files are merged by path, the first backend in snapshot order winning:
// Portico's own reflection protos come first, then each backend's files in
// path order, imports before the files that import them. A path seen before
// is not added again, so files the backends share (google/protobuf/*,
// google/api/*) are registered once. Every file is rebuilt against the
// merged set, so its imports are the merged files and a path is always
// answered with the same content, whichever request asked for it. A file
// that cannot be rebuilt that way (it needs a definition that only its own
// backend's copy of a shared path has, or defines a name an earlier backend
// already defines in another file) is served as its backend has it instead,
// found after the merged set: reflection still describes every service, but
// that backend's copy of the shared path may then reach a client alongside
// the first one's. Extensions merge the same way, the first registered
// winning.
func (st *reflectionState) build(backends []*backendState) {
	merged := new(protoregistry.Files)
	exts := new(protoregistry.Types)
	res := &reflectionResolver{merged: merged}
	seen := map[string]bool{}
	addExtensions := func(fd protoreflect.FileDescriptor) {
		rangeExtensions(fd, func(xd protoreflect.ExtensionDescriptor) {
			_ = exts.RegisterExtension(dynamicpb.NewExtensionType(xd)) // a conflict keeps the first
		})
	}

	for _, fd := range []protoreflect.FileDescriptor{
		reflectionv1.File_grpc_reflection_v1_reflection_proto,
		reflectionv1alpha.File_grpc_reflection_v1alpha_reflection_proto,
	} {
		if err := merged.RegisterFile(fd); err != nil {
			panic(fmt.Sprintf("transcoder: registering %s: %v", fd.Path(), err)) // cannot happen: an empty registry
		}
		seen[fd.Path()] = true
	}

	services := serviceList{
		"grpc.reflection.v1.ServerReflection":      {},
		"grpc.reflection.v1alpha.ServerReflection": {},
	}
	for _, b := range backends {
		if b.schema == nil {
			continue
		}
		res.fallback = append(res.fallback, b.schema.Files())
		for _, fd := range filesInDependencyOrder(b.schema.Files()) {
			if seen[fd.Path()] {
				continue
			}
			seen[fd.Path()] = true
			rebuilt, err := protodesc.NewFile(protodesc.ToFileDescriptorProto(fd), merged)
			if err == nil {
				err = merged.RegisterFile(rebuilt)
			}
			if err == nil {
				fd = rebuilt
			}
			addExtensions(fd)
		}
		for _, sd := range b.schema.Services() {
			if !schema.IsInfrastructureService(sd.FullName()) {
				services[string(sd.FullName())] = grpc.ServiceInfo{}
			}
		}
	}

	// Backends attach google.rpc error details to statuses without always
	// describing them; clients such as grpcurl resolve those details by
	// reflection, so the linked-in google/rpc files are served too, after
	// every backend's (a backend's own copy wins).
	for _, fd := range []protoreflect.FileDescriptor{
		errdetails.File_google_rpc_error_details_proto,
		spb.File_google_rpc_status_proto,
	} {
		if seen[fd.Path()] {
			continue
		}
		seen[fd.Path()] = true
		if err := registerTransitivelyInto(merged, fd, seen); err == nil {
			addExtensions(fd)
		}
	}

	opts := reflection.ServerOptions{Services: services, DescriptorResolver: res, ExtensionResolver: exts}
	st.v1 = reflection.NewServerV1(opts)
	st.v1alpha = reflection.NewServer(opts)
	st.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), reflectionStateKey{}, st)
		sharedReflectionServer().ServeHTTP(w, r.WithContext(ctx))
	})
}

// filesInDependencyOrder lists every file of files and every file they
// import, each once, sorted by path except that imports come before the
// files that import them.
func filesInDependencyOrder(files *protoregistry.Files) []protoreflect.FileDescriptor {
	var roots []protoreflect.FileDescriptor
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		roots = append(roots, fd)
		return true
	})
	sort.Slice(roots, func(i, j int) bool { return roots[i].Path() < roots[j].Path() })
	var out []protoreflect.FileDescriptor
	visited := map[string]bool{}
	var visit func(fd protoreflect.FileDescriptor)
	visit = func(fd protoreflect.FileDescriptor) {
		if fd.IsPlaceholder() || visited[fd.Path()] {
			return
		}
		visited[fd.Path()] = true
		imports := fd.Imports()
		for i := range imports.Len() {
			visit(imports.Get(i).FileDescriptor)
		}
		out = append(out, fd)
	}
	for _, fd := range roots {
		visit(fd)
	}
	return out
}

// rangeExtensions calls f for every extension fd declares, at top level or
// nested in a message.
func rangeExtensions(fd protoreflect.FileDescriptor, f func(protoreflect.ExtensionDescriptor)) {
	var inMessages func(protoreflect.MessageDescriptors)
	inMessages = func(msgs protoreflect.MessageDescriptors) {
		for i := range msgs.Len() {
			md := msgs.Get(i)
			for j := range md.Extensions().Len() {
				f(md.Extensions().Get(j))
			}
			inMessages(md.Messages())
		}
	}
	for i := range fd.Extensions().Len() {
		f(fd.Extensions().Get(i))
	}
	inMessages(fd.Messages())
}

// reflectionResolver finds files and descriptors in the merged set first,
// then in each backend's own files, in snapshot order.
type reflectionResolver struct {
	merged   *protoregistry.Files
	fallback []*protoregistry.Files
}

func (r *reflectionResolver) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	if fd, err := r.merged.FindFileByPath(path); err == nil {
		return fd, nil
	}
	for _, files := range r.fallback {
		if fd, err := files.FindFileByPath(path); err == nil {
			return fd, nil
		}
	}
	return nil, fmt.Errorf("file %q: %w", path, protoregistry.NotFound)
}

func (r *reflectionResolver) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	if d, err := r.merged.FindDescriptorByName(name); err == nil {
		return d, nil
	}
	for _, files := range r.fallback {
		if d, err := files.FindDescriptorByName(name); err == nil {
			return d, nil
		}
	}
	return nil, fmt.Errorf("symbol %q: %w", name, protoregistry.NotFound)
}

// serviceList is the reflection's ServiceInfoProvider: the names are all it
// reads.
type serviceList map[string]grpc.ServiceInfo

func (l serviceList) GetServiceInfo() map[string]grpc.ServiceInfo { return l }

// reflectionStateKey is the request context key under which a snapshot's
// reflectionState reaches the shared server's handlers.
type reflectionStateKey struct{}

func reflectionStateFrom(ctx context.Context) (*reflectionState, error) {
	st, ok := ctx.Value(reflectionStateKey{}).(*reflectionState)
	if !ok {
		return nil, status.Error(codes.Internal, "transcoder: reflection request without a snapshot")
	}
	return st, nil
}

// sharedReflectionServer is the grpc.Server whose ServeHTTP runs every
// reflection stream, whatever its snapshot.
var sharedReflectionServer = sync.OnceValue(func() *grpc.Server {
	srv := grpc.NewServer()
	reflectionv1.RegisterServerReflectionServer(srv, reflectionV1{})
	reflectionv1alpha.RegisterServerReflectionServer(srv, reflectionV1Alpha{})
	return srv
})

// reflectionV1 and reflectionV1Alpha hand each stream to the reflection
// server of the snapshot it came in on.
type (
	reflectionV1 struct {
		reflectionv1.UnimplementedServerReflectionServer
	}
	reflectionV1Alpha struct {
		reflectionv1alpha.UnimplementedServerReflectionServer
	}
)

func (reflectionV1) ServerReflectionInfo(stream reflectionv1.ServerReflection_ServerReflectionInfoServer) error {
	st, err := reflectionStateFrom(stream.Context())
	if err != nil {
		return err
	}
	return st.v1.ServerReflectionInfo(stream)
}

func (reflectionV1Alpha) ServerReflectionInfo(stream reflectionv1alpha.ServerReflection_ServerReflectionInfoServer) error {
	st, err := reflectionStateFrom(stream.Context())
	if err != nil {
		return err
	}
	return st.v1alpha.ServerReflectionInfo(stream)
}

// registerTransitivelyInto registers fd in files after the imports it
// needs that files does not have yet.
func registerTransitivelyInto(files *protoregistry.Files, fd protoreflect.FileDescriptor, seen map[string]bool) error {
	imports := fd.Imports()
	for i := range imports.Len() {
		imp := imports.Get(i).FileDescriptor
		if _, err := files.FindFileByPath(imp.Path()); err == nil {
			continue
		}
		seen[imp.Path()] = true
		if err := registerTransitivelyInto(files, imp, seen); err != nil {
			return err
		}
	}
	return files.RegisterFile(fd)
}
