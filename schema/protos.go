package schema

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/reporter"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// FromProtos compiles .proto source files at load time and serves every
// service they define. root is the import root: files are named relative to
// it, as in their import statements. With no files given, every .proto file
// under root is compiled.
//
// Imports that are not under root are resolved from the descriptors linked
// into Portico: the well-known types (google/protobuf/*.proto), google/api
// (annotations, http, httpbody) and google/rpc (status, error details,
// code). Every compile error is reported, each with its file, line and
// column, not only the first.
func FromProtos(ctx context.Context, root string, files []string) (*Schema, error) {
	source := "protos under " + root
	if len(files) == 0 {
		var err error
		if files, err = protoFilesUnder(root); err != nil {
			return nil, fmt.Errorf("schema: %s: %w", source, err)
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("schema: %s: no .proto files", source)
		}
	}
	var compileErrs []error
	compiler := protocompile.Compiler{
		Resolver: protocompile.CompositeResolver{
			&protocompile.SourceResolver{ImportPaths: []string{root}},
			protocompile.ResolverFunc(linkedFile),
		},
		Reporter: reporter.NewReporter(
			func(err reporter.ErrorWithPos) error {
				compileErrs = append(compileErrs, err)
				return nil // keep going: report every error
			},
			nil,
		),
	}
	compiled, err := compiler.Compile(ctx, files...)
	if len(compileErrs) > 0 {
		return nil, fmt.Errorf("schema: %s: %w", source, errors.Join(compileErrs...))
	}
	if err != nil {
		return nil, fmt.Errorf("schema: %s: %w", source, err)
	}
	registry := new(protoregistry.Files)
	var services []protoreflect.FullName
	for _, fd := range compiled {
		if err := registerTransitively(registry, fd); err != nil {
			return nil, fmt.Errorf("schema: %s: %w", source, err)
		}
		svcs := fd.Services()
		for i := range svcs.Len() {
			if name := svcs.Get(i).FullName(); !infrastructureServices[name] {
				services = append(services, name)
			}
		}
	}
	return New(source, registry, services)
}

// linkedFile resolves an import from the descriptors linked into Portico.
func linkedFile(path string) (protocompile.SearchResult, error) {
	fd, err := protoregistry.GlobalFiles.FindFileByPath(path)
	if err != nil {
		return protocompile.SearchResult{}, err
	}
	return protocompile.SearchResult{Desc: fd}, nil
}

// protoFilesUnder lists the .proto files under root, relative to it, with
// forward slashes, sorted.
func protoFilesUnder(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			// Hidden directories are not sources; Kubernetes mounts a
			// ConfigMap as symlinks into a "..timestamp" one, which would
			// otherwise be compiled a second time.
			if path != root && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".proto") {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("directory %s does not exist", root)
	}
	sort.Strings(out)
	return out, err
}

// ProtoSourcePaths returns the paths of the .proto files FromProtos would
// compile for root and files (every .proto file under root when files is
// empty), for watching them for changes. Imports outside root are not
// included.
func ProtoSourcePaths(root string, files []string) ([]string, error) {
	if len(files) == 0 {
		var err error
		if files, err = protoFilesUnder(root); err != nil {
			return nil, err
		}
	}
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = filepath.Join(root, filepath.FromSlash(f))
	}
	return out, nil
}
