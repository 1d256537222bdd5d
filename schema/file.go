package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// bufImageExtensionField is the field number under which a buf image stores
// its per-file extension (buf.alpha.image.v1.ImageFile.buf_extension). A buf
// image is otherwise wire-compatible with a FileDescriptorSet.
const bufImageExtensionField = 8042

// FromFile reads a schema from a descriptor file: a buf image (buf build -o
// image.binpb) or a FileDescriptorSet (protoc --include_imports
// --descriptor_set_out=set.pb), in the binary encoding or in the protobuf
// JSON encoding of the same (buf build -o image.json). The format is told by
// content: a file whose first non-space byte is '{' is JSON.
//
// The schema serves every service defined in the file, except the services of
// files a buf image marks as imports. Imports the file does not include are
// taken from the descriptors linked into Portico (the well-known types,
// google/api and google/rpc), so a set built without --include_imports still
// loads when those are all it lacks.
func FromFile(path string) (*Schema, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	set, imports, err := decodeDescriptorSet(data)
	if err != nil {
		return nil, fmt.Errorf("schema: %s: %w", path, err)
	}
	return fromDescriptorSet("file "+path, set, imports)
}

// FromFileDescriptorSet builds a schema that serves every service in set.
func FromFileDescriptorSet(source string, set *descriptorpb.FileDescriptorSet) (*Schema, error) {
	return fromDescriptorSet(source, set, nil)
}

func decodeDescriptorSet(data []byte) (*descriptorpb.FileDescriptorSet, map[string]bool, error) {
	set := new(descriptorpb.FileDescriptorSet)
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, set); err != nil {
			return nil, nil, fmt.Errorf("decoding JSON descriptor set: %w", err)
		}
		imports, err := bufImageImportsJSON(data)
		return set, imports, err
	}
	if err := proto.Unmarshal(data, set); err != nil {
		return nil, nil, fmt.Errorf("decoding binary descriptor set: %w", err)
	}
	imports := map[string]bool{}
	for _, f := range set.GetFile() {
		if bufImageIsImport(f.ProtoReflect().GetUnknown()) {
			imports[f.GetName()] = true
		}
		f.ProtoReflect().SetUnknown(nil)
	}
	return set, imports, nil
}

// bufImageIsImport reads buf_extension.is_import (field 1 of the extension
// message) from a file's unknown fields.
func bufImageIsImport(unknown []byte) bool {
	for len(unknown) > 0 {
		num, typ, n := protowire.ConsumeTag(unknown)
		if n < 0 {
			return false
		}
		unknown = unknown[n:]
		if num == bufImageExtensionField && typ == protowire.BytesType {
			ext, n := protowire.ConsumeBytes(unknown)
			if n < 0 {
				return false
			}
			for len(ext) > 0 {
				enum, etyp, m := protowire.ConsumeTag(ext)
				if m < 0 {
					return false
				}
				ext = ext[m:]
				if enum == 1 && etyp == protowire.VarintType {
					v, k := protowire.ConsumeVarint(ext)
					return k > 0 && v != 0
				}
				k := protowire.ConsumeFieldValue(enum, etyp, ext)
				if k < 0 {
					return false
				}
				ext = ext[k:]
			}
			return false
		}
		n = protowire.ConsumeFieldValue(num, typ, unknown)
		if n < 0 {
			return false
		}
		unknown = unknown[n:]
	}
	return false
}

// bufImageImportsJSON finds the files a JSON buf image marks as imports.
func bufImageImportsJSON(data []byte) (map[string]bool, error) {
	var image struct {
		File []struct {
			Name         string `json:"name"`
			BufExtension *struct {
				IsImport bool `json:"isImport"`
			} `json:"bufExtension"`
		} `json:"file"`
	}
	if err := json.Unmarshal(data, &image); err != nil {
		return nil, fmt.Errorf("decoding JSON descriptor set: %w", err)
	}
	imports := map[string]bool{}
	for _, f := range image.File {
		if f.BufExtension != nil && f.BufExtension.IsImport {
			imports[f.Name] = true
		}
	}
	return imports, nil
}

func fromDescriptorSet(source string, set *descriptorpb.FileDescriptorSet, imports map[string]bool) (*Schema, error) {
	byName := make(map[string]*descriptorpb.FileDescriptorProto, len(set.GetFile()))
	for _, f := range set.GetFile() {
		if _, dup := byName[f.GetName()]; dup {
			return nil, fmt.Errorf("schema: %s: file %s appears twice", source, f.GetName())
		}
		byName[f.GetName()] = f
	}
	files := new(protoregistry.Files)
	var build func(name string, chain []string) error
	build = func(name string, chain []string) error {
		if _, err := files.FindFileByPath(name); err == nil {
			return nil
		}
		for _, c := range chain {
			if c == name {
				return fmt.Errorf("import cycle through %s", name)
			}
		}
		fdp, ok := byName[name]
		if !ok {
			linked, err := protoregistry.GlobalFiles.FindFileByPath(name)
			if err != nil {
				return fmt.Errorf("file %s is imported but not in the set (build it with --include_imports)", name)
			}
			return registerTransitively(files, linked)
		}
		for _, dep := range fdp.GetDependency() {
			if err := build(dep, append(chain, name)); err != nil {
				return err
			}
		}
		fd, err := protodesc.NewFile(fdp, files)
		if err != nil {
			return fmt.Errorf("file %s: %w", name, err)
		}
		return files.RegisterFile(fd)
	}
	var services []protoreflect.FullName
	var errs []error
	for _, f := range set.GetFile() {
		if err := build(f.GetName(), nil); err != nil {
			errs = append(errs, err)
			continue
		}
		if imports[f.GetName()] {
			continue
		}
		for _, svc := range f.GetService() {
			name := protoreflect.FullName(svc.GetName())
			if pkg := f.GetPackage(); pkg != "" {
				name = protoreflect.FullName(pkg + "." + svc.GetName())
			}
			if !infrastructureServices[name] {
				services = append(services, name)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("schema: %s: %w", source, err)
	}
	return New(source, files, services)
}
