package schema_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/reflection"
	v1alphagrpc "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	testingv1 "github.com/portico-gw/portico/gen/portico/testing/v1"
	"github.com/portico-gw/portico/internal/testbackend"
	"github.com/portico-gw/portico/schema"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startServer serves the testing services with the given reflection
// registration on loopback and returns a client connection to it.
func startServer(t *testing.T, registerReflection func(*grpc.Server)) *grpc.ClientConn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	testingv1.RegisterEchoServiceServer(s, testingv1.UnimplementedEchoServiceServer{})
	testingv1.RegisterOtherServiceServer(s, testingv1.UnimplementedOtherServiceServer{})
	registerReflection(s)
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func serviceNames(s *schema.Schema) string {
	var names []string
	for _, sd := range s.Services() {
		names = append(names, string(sd.FullName()))
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

const testingServices = "portico.testing.v1.EchoService,portico.testing.v1.OtherService"

func TestFromReflection(t *testing.T) {
	for name, register := range map[string]func(*grpc.Server){
		"v1 and v1alpha": func(s *grpc.Server) { reflection.Register(s) },
		"v1 only":        func(s *grpc.Server) { reflection.RegisterV1(s) },
		"v1alpha only": func(s *grpc.Server) {
			v1alphagrpc.RegisterServerReflectionServer(s, reflection.NewServer(reflection.ServerOptions{Services: s}))
		},
	} {
		t.Run(name, func(t *testing.T) {
			conn := startServer(t, register)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := schema.FromReflection(ctx, conn, "test")
			if err != nil {
				t.Fatal(err)
			}
			if got := serviceNames(s); got != testingServices {
				t.Errorf("services %s, want %s (reflection itself is not served)", got, testingServices)
			}
			checkResolves(t, s)
		})
	}
}

func TestFromReflectionUnreachable(t *testing.T) {
	conn, err := grpc.NewClient("127.0.0.1:1", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := schema.FromReflection(ctx, conn, "127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("err %v, want an error naming the target", err)
	}
}

// checkResolves checks that the schema's own resolver knows the test types,
// their imports (well-known types, google.api.HttpBody) and the google.rpc
// details linked into Portico.
func checkResolves(t *testing.T, s *schema.Schema) {
	t.Helper()
	for _, name := range []protoreflect.FullName{
		"portico.testing.v1.Everything", "portico.testing.v1.ErrorInfoDetail",
		"google.api.HttpBody", "google.protobuf.Timestamp", "google.rpc.BadRequest",
	} {
		if _, err := s.Types().FindMessageByName(name); err != nil {
			t.Errorf("resolver: %s: %v", name, err)
		}
	}
	if _, err := s.Types().FindMessageByURL("type.googleapis.com/portico.testing.v1.Nested"); err != nil {
		t.Errorf("resolver by URL: %v", err)
	}
}

func write(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestFromFile(t *testing.T) {
	set := testbackend.DescriptorSet(testingv1.File_portico_testing_v1_echo_proto, testingv1.File_portico_testing_v1_other_proto)
	binary, err := proto.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	jsonSet, err := protojson.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	// Without its imports the set still loads: the well-known types and
	// google/api come from the descriptors linked into Portico.
	onlyOwn := &descriptorpb.FileDescriptorSet{}
	for _, f := range set.File {
		if strings.HasPrefix(f.GetName(), "portico/") {
			onlyOwn.File = append(onlyOwn.File, f)
		}
	}
	onlyOwnBinary, _ := proto.Marshal(onlyOwn)

	for name, data := range map[string][]byte{
		"binary set":       binary,
		"JSON set":         jsonSet,
		"set without deps": onlyOwnBinary,
	} {
		t.Run(name, func(t *testing.T) {
			s, err := schema.FromFile(write(t, "set", data))
			if err != nil {
				t.Fatal(err)
			}
			if got := serviceNames(s); got != testingServices {
				t.Errorf("services %s, want %s", got, testingServices)
			}
			checkResolves(t, s)
		})
	}
}

// TestFromFileBufImage builds a buf image by hand: a FileDescriptorSet whose
// files carry buf's extension (field 8042) marking other.proto as an import,
// whose services must then not be served.
func TestFromFileBufImage(t *testing.T) {
	set := testbackend.DescriptorSet(testingv1.File_portico_testing_v1_echo_proto, testingv1.File_portico_testing_v1_other_proto)
	var binary []byte
	for _, f := range set.File {
		b, err := proto.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		isImport := f.GetName() != "portico/testing/v1/echo.proto"
		var ext []byte
		ext = protowire.AppendTag(ext, 1, protowire.VarintType)
		ext = protowire.AppendVarint(ext, protowire.EncodeBool(isImport))
		b = protowire.AppendTag(b, 8042, protowire.BytesType)
		b = protowire.AppendBytes(b, ext)
		binary = protowire.AppendTag(binary, 1, protowire.BytesType)
		binary = protowire.AppendBytes(binary, b)
	}
	s, err := schema.FromFile(write(t, "image.binpb", binary))
	if err != nil {
		t.Fatal(err)
	}
	if got := serviceNames(s); got != "portico.testing.v1.EchoService" {
		t.Errorf("services %s, want only EchoService (other.proto is an import)", got)
	}

	// The JSON form of a buf image carries the same mark as bufExtension.
	jsonImage := []byte(`{"file":[` + jsonFile(t, set, "google/protobuf/empty.proto", true) + `,` +
		jsonFile(t, set, "portico/testing/v1/other.proto", true) + `]}`)
	s, err = schema.FromFile(write(t, "image.json", jsonImage))
	if err != nil {
		t.Fatal(err)
	}
	if got := serviceNames(s); got != "" {
		t.Errorf("services %q, want none: every file is an import", got)
	}
}

func jsonFile(t *testing.T, set *descriptorpb.FileDescriptorSet, name string, isImport bool) string {
	t.Helper()
	for _, f := range set.File {
		if f.GetName() == name {
			b, err := protojson.Marshal(f)
			if err != nil {
				t.Fatal(err)
			}
			s := strings.TrimSuffix(strings.TrimSpace(string(b)), "}")
			if isImport {
				s += `,"bufExtension":{"isImport":true}`
			}
			return s + "}"
		}
	}
	t.Fatalf("no file %s", name)
	return ""
}

func TestFromFileErrors(t *testing.T) {
	for name, data := range map[string][]byte{
		"not a descriptor set": []byte("hello"),
		"bad JSON":             []byte(`{"file": [`),
		"missing import": mustMarshal(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{{
			Name: proto.String("a.proto"), Dependency: []string{"nowhere/b.proto"},
		}}}),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := schema.FromFile(write(t, "bad", data)); err == nil {
				t.Fatal("loaded a bad descriptor file")
			}
		})
	}
	if _, err := schema.FromFile(filepath.Join(t.TempDir(), "absent.binpb")); err == nil {
		t.Fatal("loaded a file that does not exist")
	}
}

func mustMarshal(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// TestFileDescriptorProtosIsStable: the same schema lists its files in the
// same order every time (the gateway fingerprints schemas by it).
func TestFileDescriptorProtosIsStable(t *testing.T) {
	s, err := schema.FromFileDescriptorSet("test", testbackend.DescriptorSet(testingv1.File_portico_testing_v1_echo_proto, testingv1.File_portico_testing_v1_other_proto))
	if err != nil {
		t.Fatal(err)
	}
	names := func() string {
		var out []string
		for _, f := range s.FileDescriptorProtos() {
			out = append(out, f.GetName())
		}
		return strings.Join(out, ",")
	}
	first := names()
	for range 20 {
		if got := names(); got != first {
			t.Fatalf("order changed:\n%s\n%s", first, got)
		}
	}
}
