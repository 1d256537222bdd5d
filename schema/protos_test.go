package schema_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-gw/portico/schema"
)

// TestFromProtos compiles the repository's own test protos, whose google/api
// imports must come from the descriptors linked into Portico.
func TestFromProtos(t *testing.T) {
	root := filepath.Join("..", "proto")
	for name, files := range map[string][]string{
		"named files": {"portico/testing/v1/echo.proto", "portico/testing/v1/other.proto"},
		"all files":   nil,
	} {
		t.Run(name, func(t *testing.T) {
			s, err := schema.FromProtos(context.Background(), root, files)
			if err != nil {
				t.Fatal(err)
			}
			got := serviceNames(s)
			if !strings.Contains(got, testingServices) {
				t.Errorf("services %s, want %s among them", got, testingServices)
			}
			checkResolves(t, s)
		})
	}
}

func TestFromProtosErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.proto", "syntax = \"proto3\";\npackage a;\nmessage A { Missing m = 1; }\nmessage B { AlsoMissing n = 1; }\n")
	_, err := schema.FromProtos(context.Background(), dir, []string{"a.proto"})
	if err == nil {
		t.Fatal("compiled a broken file")
	}
	for _, want := range []string{"a.proto:3:", "Missing", "a.proto:4:", "AlsoMissing"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q (every error, with positions)", err, want)
		}
	}
	if _, err := schema.FromProtos(context.Background(), filepath.Join(dir, "absent"), nil); err == nil {
		t.Fatal("compiled a directory that does not exist")
	}
}

// TestFromProtosSkipsHiddenDirectories: a Kubernetes ConfigMap mount keeps
// the real files in a "..timestamp" directory behind symlinks; they are
// compiled once, through the symlinks.
func TestFromProtosSkipsHiddenDirectories(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "..2026_01_01")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(data, "api.proto"), []byte("syntax = \"proto3\";\npackage y;\nmessage R {}\nservice Api { rpc Get(R) returns (R); }\n"), 0o644)
	if err := os.Symlink("..2026_01_01", filepath.Join(root, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("..data", "api.proto"), filepath.Join(root, "api.proto")); err != nil {
		t.Fatal(err)
	}
	s, err := schema.FromProtos(context.Background(), root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := serviceNames(s); got != "y.Api" {
		t.Errorf("services %q", got)
	}
}
