package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/portico-gw/portico/config"
	"github.com/portico-gw/portico/gateway"
	testingv1 "github.com/portico-gw/portico/gen/portico/testing/v1"
	"github.com/portico-gw/portico/internal/testbackend"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// running is a gateway serving on loopback, with its admin API.
type running struct {
	g     *gateway.Gateway
	url   string
	admin string
	done  chan error
}

// run starts g and serves its handlers until the test ends.
func run(t *testing.T, cfg *config.Config, loadConfig func() (*config.Config, error)) *running {
	t.Helper()
	g, err := gateway.New(cfg, loadConfig, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{g: g, done: make(chan error, 1)}
	go func() { r.done <- g.Run(ctx) }()
	srv := httptest.NewServer(g.Handler())
	admin := httptest.NewServer(g.AdminHandler())
	r.url, r.admin = srv.URL, admin.URL
	t.Cleanup(func() {
		srv.Close()
		admin.Close()
		cancel()
		if err := <-r.done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return r
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// eventually polls cond for up to 10 seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func reflectionBackend(name, addr string, refresh time.Duration) config.Backend {
	return config.Backend{Name: name, Target: addr, Schema: config.Schema{Refresh: config.Duration(refresh)}}
}

const dynamicV1 = `syntax = "proto3";
package dyn.v1;
import "google/api/annotations.proto";
message Item { string id = 1; }
service Items {
  rpc Get(Item) returns (Item) { option (google.api.http) = {get: "/v1/items/{id}"}; }
  rpc Old(Item) returns (Item) { option (google.api.http) = {get: "/v1/old"}; }
}`

const dynamicV2 = `syntax = "proto3";
package dyn.v1;
import "google/api/annotations.proto";
message Item { string id = 1; string color = 2; }
service Items {
  rpc Get(Item) returns (Item) { option (google.api.http) = {get: "/v1/items/{id}"}; }
  rpc New(Item) returns (Item) { option (google.api.http) = {get: "/v1/new"}; }
}`

// TestBackendRestartedWithChangedSchema restarts a backend with a new
// field, a new method and a removed method: after its refresh interval
// Portico serves the new schema, with no restart of its own.
func TestBackendRestartedWithChangedSchema(t *testing.T) {
	addr := freeAddr(t)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	v1 := testbackend.StartDynamic(t, ln, map[string]string{"dyn.proto": dynamicV1})
	cfg := &config.Config{Version: 1, Backends: []config.Backend{reflectionBackend("dyn", addr, 100*time.Millisecond)}}
	r := run(t, cfg, nil)
	eventually(t, "v1 served", func() bool { c, _ := get(t, r.url+"/v1/old"); return c == 200 })
	if code, body := get(t, r.url+"/v1/items/a?color=red"); code != 200 || body != `{"id":"a"}` {
		t.Fatalf("v1: %d %s (color is not a field yet, so it is ignored)", code, body)
	}

	v1.Stop()
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	testbackend.StartDynamic(t, ln, map[string]string{"dyn.proto": dynamicV2})
	eventually(t, "v2 served", func() bool { c, _ := get(t, r.url+"/v1/new"); return c == 200 })
	if code, body := get(t, r.url+"/v1/items/a?color=red"); code != 200 || !strings.Contains(body, `"color":"red"`) {
		t.Errorf("new field: %d %s", code, body)
	}
	if code, _ := get(t, r.url+"/v1/old"); code != 404 {
		t.Errorf("removed method: %d, want 404", code)
	}
}

// TestDescriptorFileWatched changes a backend's descriptor file: the watch
// picks it up and the new services are routed.
func TestDescriptorFileWatched(t *testing.T) {
	backend := testbackend.Start(t, "both")
	path := filepath.Join(t.TempDir(), "api.binpb")
	testbackend.WriteDescriptorSet(t, path, testingv1.File_portico_testing_v1_echo_proto)
	cfg := &config.Config{Version: 1, Backends: []config.Backend{{
		Name: "both", Target: backend.Addr,
		Schema: config.Schema{Source: config.SourceFiles, Files: []string{path}},
	}}}
	r := run(t, cfg, nil)
	eventually(t, "ready", r.g.Ready)
	if code, _ := get(t, r.url+"/v1/other/ping/x"); code != 404 {
		t.Fatalf("OtherService is not in the file yet: %d", code)
	}
	time.Sleep(10 * time.Millisecond) // a distinct modification time
	testbackend.WriteDescriptorSet(t, path, testingv1.File_portico_testing_v1_echo_proto, testingv1.File_portico_testing_v1_other_proto)
	eventually(t, "the new file served", func() bool { c, _ := get(t, r.url+"/v1/other/ping/x"); return c == 200 })
}

// TestReloadUnderLoadLosesNothing reloads many times while requests flow:
// every request succeeds.
func TestReloadUnderLoadLosesNothing(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	cfg := &config.Config{Version: 1, Backends: []config.Backend{reflectionBackend("echo", backend.Addr, time.Hour)}}
	r := run(t, cfg, nil)
	eventually(t, "ready", r.g.Ready)

	var ok, failed atomic.Int64
	var firstFailure atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(r.url + "/v1/echo/load/1")
				if err != nil {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, err.Error())
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, resp.Status)
					continue
				}
				ok.Add(1)
			}
		})
	}
	for range 40 {
		if err := r.g.Reload(context.Background()); err != nil {
			t.Errorf("reload: %v", err)
		}
	}
	eventually(t, "enough requests", func() bool { return ok.Load() >= 3000 })
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed during reloads; first: %v", failed.Load(), ok.Load()+failed.Load(), firstFailure.Load())
	}
	t.Logf("%d requests, 40 reloads, 0 failures", ok.Load())
}

// TestReloadFailureKeepsServing: a reload whose config is broken changes
// nothing; the error is counted and shown on the admin API.
func TestReloadFailureKeepsServing(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	cfg := &config.Config{Version: 1, Backends: []config.Backend{reflectionBackend("echo", backend.Addr, time.Hour)}}
	broken := false
	r := run(t, cfg, func() (*config.Config, error) {
		if broken {
			return config.Parse([]byte("version: 1\nbackends:\n  - name: echo\n    targte: x\n"), "portico.yaml")
		}
		return cfg, nil
	})
	eventually(t, "ready", r.g.Ready)
	broken = true
	resp, err := http.Post(r.admin+"/admin/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || !strings.Contains(string(body), "portico.yaml:4") {
		t.Fatalf("reload: %d %s", resp.StatusCode, body)
	}
	if code, _ := get(t, r.url+"/v1/echo/still/1"); code != 200 {
		t.Errorf("after a failed reload: %d", code)
	}
	var st gateway.Status
	_, statusBody := get(t, r.admin+"/admin/status")
	if err := json.Unmarshal([]byte(statusBody), &st); err != nil {
		t.Fatal(err)
	}
	if st.ReloadFailures != 1 || !strings.Contains(st.LastError, "targte") {
		t.Errorf("status %+v", st)
	}
	if _, metrics := get(t, r.admin+"/metrics"); !strings.Contains(metrics, `portico_reloads_total{result="error"} 1`) {
		t.Errorf("metrics:\n%s", metrics)
	}

	broken = false
	resp, err = http.Post(r.admin+"/admin/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("a good reload: %d", resp.StatusCode)
	}
}

// TestBackendDownKeepsLastGoodSchema: a backend that goes away keeps its
// routes; its calls fail with 503 UNAVAILABLE, not 404.
func TestBackendDownKeepsLastGoodSchema(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	cfg := &config.Config{Version: 1, Backends: []config.Backend{reflectionBackend("echo", backend.Addr, 50*time.Millisecond)}}
	r := run(t, cfg, nil)
	eventually(t, "ready", r.g.Ready)
	backend.Stop()
	eventually(t, "a failed refresh", func() bool {
		_, body := get(t, r.admin+"/admin/status")
		return strings.Contains(body, `"last_error"`)
	})
	if code, body := get(t, r.url+"/v1/echo/x/1"); code != 503 || !strings.Contains(body, `"code":14`) {
		t.Errorf("backend down: %d %s", code, body)
	}
}

// TestReadinessWaitsForBackends: an unreachable backend keeps /readyz 503
// (and clients get 503) until its schema loads.
func TestReadinessWaitsForBackends(t *testing.T) {
	addr := freeAddr(t)
	cfg := &config.Config{Version: 1, Backends: []config.Backend{reflectionBackend("late", addr, time.Hour)}}
	r := run(t, cfg, nil)
	if code, body := get(t, r.admin+"/readyz"); code != 503 || !strings.Contains(body, "late") {
		t.Fatalf("readyz before the backend: %d %s", code, body)
	}
	if code, _ := get(t, r.url+"/v1/echo/x/1"); code != 503 {
		t.Fatalf("a request before the backend: %d", code)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	testbackend.Serve(t, ln, "late")
	eventually(t, "ready", func() bool { c, _ := get(t, r.admin+"/readyz"); return c == 200 })
	if code, _ := get(t, r.url+"/v1/echo/x/1"); code != 200 {
		t.Errorf("after the backend loaded: %d", code)
	}
}

// TestReloadAddsAndRemovesBackends reconciles the backend set on reload.
func TestReloadAddsAndRemovesBackends(t *testing.T) {
	echo := testbackend.Start(t, "echo", testbackend.WithEcho())
	other := testbackend.Start(t, "other", testbackend.WithOther())
	one := &config.Config{Version: 1, Backends: []config.Backend{reflectionBackend("echo", echo.Addr, time.Hour)}}
	two := &config.Config{Version: 1, Backends: []config.Backend{reflectionBackend("echo", echo.Addr, time.Hour), reflectionBackend("other", other.Addr, time.Hour)}}
	current := one
	r := run(t, one, func() (*config.Config, error) { return current, nil })
	eventually(t, "ready", r.g.Ready)
	if code, _ := get(t, r.url+"/v1/other/ping/x"); code != 404 {
		t.Fatalf("before: %d", code)
	}
	current = two
	if err := r.g.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, r.url+"/v1/other/ping/x"); code != 200 || !strings.Contains(body, `"servedBy":"other"`) {
		t.Fatalf("after adding: %d %s", code, body)
	}
	current = &config.Config{Version: 1, Backends: []config.Backend{reflectionBackend("other", other.Addr, time.Hour)}}
	if err := r.g.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, r.url+"/v1/echo/x/1"); code != 404 {
		t.Errorf("after removing echo: %d", code)
	}
}

// TestProtosSource compiles the backend's schema from .proto sources.
func TestProtosSource(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	cfg := &config.Config{Version: 1, Backends: []config.Backend{{
		Name: "echo", Target: backend.Addr,
		Schema: config.Schema{Source: config.SourceProtos, Protos: &config.Protos{
			Root: filepath.Join("..", "proto"), Files: []string{"portico/testing/v1/echo.proto"},
		}},
	}}}
	r := run(t, cfg, nil)
	eventually(t, "ready", r.g.Ready)
	if code, body := get(t, r.url+"/v1/echo/protos/3"); code != 200 || !strings.Contains(body, `"stringValue":"protos"`) {
		t.Errorf("%d %s", code, body)
	}
	_, routes := get(t, r.admin+"/admin/routes")
	if !strings.Contains(routes, "GET") || !strings.Contains(routes, "/v1/echo/{string_value}/{int32_value}") || !strings.Contains(routes, "portico.testing.v1.EchoService.Echo") {
		t.Errorf("routes:\n%s", routes)
	}
}

// TestStartupConflictIsAnError: two backends serving the same service make
// Run fail at start-up, naming both.
func TestStartupConflictIsAnError(t *testing.T) {
	a := testbackend.Start(t, "a")
	b := testbackend.Start(t, "b")
	cfg := &config.Config{Version: 1, Backends: []config.Backend{reflectionBackend("a", a.Addr, time.Hour), reflectionBackend("b", b.Addr, time.Hour)}}
	g, err := gateway.New(cfg, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = g.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "served by two backends") || !strings.Contains(err.Error(), "a and b") && !strings.Contains(err.Error(), "b and a") {
		t.Fatalf("Run: %v", err)
	}
}

// Regressions found in review.

// TestReloadFailureBeforeReadyIsNotFatal: a broken reload while a backend
// has not loaded yet leaves the gateway running.
func TestReloadFailureBeforeReadyIsNotFatal(t *testing.T) {
	a := testbackend.Start(t, "a", testbackend.WithOther())
	c := testbackend.Start(t, "c", testbackend.WithOther())
	down := freeAddr(t)
	one := &config.Config{Version: 1, Backends: []config.Backend{reflectionBackend("a", a.Addr, time.Hour), reflectionBackend("b", down, time.Hour)}}
	conflicting := &config.Config{Version: 1, Backends: []config.Backend{reflectionBackend("a", a.Addr, time.Hour), reflectionBackend("b", down, time.Hour), reflectionBackend("c", c.Addr, time.Hour)}}
	current := one
	r := run(t, one, func() (*config.Config, error) { return current, nil })
	eventually(t, "a loaded", func() bool {
		_, body := get(t, r.admin+"/admin/status")
		return strings.Contains(body, `"loaded": true`)
	})
	current = conflicting
	if err := r.g.Reload(context.Background()); err == nil || !strings.Contains(err.Error(), "two backends") {
		t.Fatalf("reload: %v, want the conflict", err)
	}
	select {
	case err := <-r.done:
		t.Fatalf("Run ended after a failed reload: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	current = one
}

// TestReloadKeepsSchemaWhenTargetChanges: a backend whose address changes
// keeps its routes while the new address is not up (503, not 404), and its
// counters.
func TestReloadKeepsSchemaWhenTargetChanges(t *testing.T) {
	backend := testbackend.Start(t, "echo", testbackend.WithOther())
	moved := freeAddr(t)
	cfg := &config.Config{Version: 1, Backends: []config.Backend{reflectionBackend("other", backend.Addr, time.Hour)}}
	current := cfg
	r := run(t, cfg, func() (*config.Config, error) { return current, nil })
	eventually(t, "ready", r.g.Ready)
	current = &config.Config{Version: 1, Backends: []config.Backend{reflectionBackend("other", moved, time.Hour)}}
	if err := r.g.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, r.url+"/v1/other/ping/x"); code != 503 {
		t.Errorf("after moving to an address nobody listens on: %d %s, want 503", code, body)
	}
	var st gateway.Status
	_, body := get(t, r.admin+"/admin/status")
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Backends) != 1 || st.Backends[0].Loads < 1 || !st.Backends[0].Loaded {
		t.Errorf("status after the move: %+v", st.Backends)
	}
}
