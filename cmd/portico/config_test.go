package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	testingv1 "github.com/portico-gw/portico/gen/portico/testing/v1"
	"github.com/portico-gw/portico/internal/testbackend"
)

// exampleDir copies examples/portico.yaml into a temporary directory with
// everything it refers to: the billing descriptor set, TLS files and the
// proto tree.
func exampleDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	example, err := os.ReadFile(filepath.Join("..", "..", "examples", "portico.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "examples", "descriptors"), 0o755))
	must(os.MkdirAll(filepath.Join(dir, "examples", "tls"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "examples", "portico.yaml"), example, 0o644))
	testbackend.WriteDescriptorSet(t, filepath.Join(dir, "examples", "descriptors", "billing.binpb"), testingv1.File_portico_testing_v1_other_proto)
	cert, key, _ := selfSignedCert(t)
	certPEM, _ := os.ReadFile(cert)
	keyPEM, _ := os.ReadFile(key)
	for name, data := range map[string][]byte{"ca.pem": certPEM, "portico-client.pem": certPEM, "portico-client.key": keyPEM} {
		must(os.WriteFile(filepath.Join(dir, "examples", "tls", name), data, 0o600))
	}
	abs, err := filepath.Abs(filepath.Join("..", "..", "proto"))
	must(err)
	must(os.Symlink(abs, filepath.Join(dir, "proto")))
	return filepath.Join(dir, "examples", "portico.yaml")
}

func TestValidateExample(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"validate", "--config", exampleDir(t)}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "valid") || !strings.Contains(stdout.String(), "library") {
		t.Errorf("output %q: want it valid, with the reflection backend listed as not checked", stdout.String())
	}
}

// TestValidateReportsEveryProblem: config errors come all at once, with
// lines; schema errors name the method and template.
func TestValidateReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("version: 1\nlisten: {adress: x}\nbackends:\n  - name: a\n    target: a:1\n    schema: {source: reflect}\n"), 0o644)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"validate", "--config", bad}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d for a bad config", code)
	}
	for _, want := range []string{"bad.yaml:2", "adress", "bad.yaml:6", "reflect"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr %q lacks %q", stderr.String(), want)
		}
	}

	// Two backends whose descriptor files both define OtherService's route.
	set := filepath.Join(dir, "other.binpb")
	testbackend.WriteDescriptorSet(t, set, testingv1.File_portico_testing_v1_other_proto)
	conflict := filepath.Join(dir, "conflict.yaml")
	os.WriteFile(conflict, []byte("version: 1\nbackends:\n  - {name: a, target: 'a:1', schema: {source: files, files: [other.binpb]}}\n  - {name: b, target: 'b:1', schema: {source: files, files: [other.binpb]}}\n"), 0o644)
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"validate", "--config", conflict}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "portico.testing.v1.OtherService") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestRoutesCommand(t *testing.T) {
	backend := testbackend.Start(t, "echo", testbackend.WithOther())
	path := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(path, []byte("version: 1\nbackends:\n  - name: other\n    target: "+backend.Addr+"\n"), 0o644)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"routes", "--config", path}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"METHOD", "GET", "/v1/other/ping/{text}", "portico.testing.v1.OtherService.Ping", "other"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("routes output lacks %q:\n%s", want, stdout.String())
		}
	}
}

// TestServeConfigFile runs serve from a config file with its admin
// listener, reloads it by SIGHUP and by POST /admin/reload, and checks
// that flags override the file.
func TestServeConfigFile(t *testing.T) {
	echo := testbackend.Start(t, "echo", testbackend.WithEcho())
	other := testbackend.Start(t, "other", testbackend.WithOther())
	admin := freePort(t)
	path := filepath.Join(t.TempDir(), "portico.yaml")
	write := func(backends string) {
		t.Helper()
		cfg := "version: 1\nadmin: {address: " + admin + "}\ntranscoding: {use_proto_names: false}\nbackends:\n" + backends
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("  - {name: echo, target: '" + echo.Addr + "'}\n")
	url := startServe(t, serveConfig{configPath: path, settings: [][2]string{{"transcoding.use_proto_names", "true"}}}, io.Discard)
	if code, body := getEventually(t, url+"/v1/echo/x/5", 200); code != 200 || !strings.Contains(body, `"int32_value":5`) {
		t.Fatalf("flag over file: %d %s", code, body)
	}
	if code, _ := get(t, "http://"+admin+"/readyz"); code != 200 {
		t.Fatalf("readyz: %d", code)
	}

	write("  - {name: echo, target: '" + echo.Addr + "'}\n  - {name: other, target: '" + other.Addr + "'}\n")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventuallyCode(t, url+"/v1/other/ping/x", 200)

	write("  - {name: other, target: '" + other.Addr + "'}\n")
	resp, err := http.Post("http://"+admin+"/admin/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST /admin/reload: %d", resp.StatusCode)
	}
	if code, _ := get(t, url+"/v1/echo/x/5"); code != 404 {
		t.Errorf("after removing echo: %d", code)
	}
}

func eventuallyCode(t *testing.T, url string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := get(t, url)
		if code == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %d %s, want %d", url, code, body, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
