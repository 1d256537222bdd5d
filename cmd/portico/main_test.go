package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	testingv1 "github.com/portico-gw/portico/gen/portico/testing/v1"
	"github.com/portico-gw/portico/internal/testbackend"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServe runs serve on a loopback port until the test ends and returns
// the gateway's base URL.
func startServe(t *testing.T, cfg serveConfig, logs io.Writer) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, ln, slog.New(slog.NewTextHandler(logs, nil))) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
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

// getEventually repeats a GET while Portico is still loading schemas (503)
// until it answers want or 10 seconds pass, and returns the last answer.
func getEventually(t *testing.T, url string, want int) (int, string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := get(t, url)
		if code == want || code != http.StatusServiceUnavailable || time.Now().After(deadline) {
			return code, body
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestServeReflection(t *testing.T) {
	echo := testbackend.Start(t, "echo", testbackend.WithEcho())
	other := testbackend.Start(t, "other", testbackend.WithOther())
	url := startServe(t, serveConfig{backends: []string{echo.Addr, other.Addr}}, io.Discard)
	if code, body := getEventually(t, url+"/v1/echo/hi/7", 200); code != 200 || !strings.Contains(body, `"int32Value":7`) {
		t.Errorf("echo: %d %s", code, body)
	}
	if code, body := get(t, url+"/v1/other/ping/x"); code != 200 || !strings.Contains(body, `"servedBy":"other"`) {
		t.Errorf("ping: %d %s", code, body)
	}
}

func TestServeDescriptors(t *testing.T) {
	echo := testbackend.Start(t, "echo", testbackend.WithEcho(), testbackend.WithoutReflection())
	path := filepath.Join(t.TempDir(), "echo.binpb")
	testbackend.WriteDescriptorSet(t, path, testingv1.File_portico_testing_v1_echo_proto)
	url := startServe(t, serveConfig{backends: []string{echo.Addr}, descriptors: []string{path}}, io.Discard)
	if code, body := getEventually(t, url+"/v1/echo/hi/7", 200); code != 200 || !strings.Contains(body, `"stringValue":"hi"`) {
		t.Errorf("echo: %d %s", code, body)
	}
}

func TestServeServiceOnTwoBackends(t *testing.T) {
	a := testbackend.Start(t, "a")
	b := testbackend.Start(t, "b")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	err = serve(context.Background(), serveConfig{backends: []string{a.Addr, b.Addr}}, ln, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "served by two backends") {
		t.Fatalf("serve: %v; want a two-backends error", err)
	}
}

// TestServeWaitsForBackend starts the gateway before its backend exists:
// start-up retries reflection with backoff, logging each attempt, and serves
// once the backend is up.
func TestServeWaitsForBackend(t *testing.T) {
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.Addr().String()
	probe.Close()

	var logs syncBuffer
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, serveConfig{backends: []string{addr}}, ln, slog.New(slog.NewTextHandler(&logs, nil)))
	}()
	defer func() {
		cancel()
		<-done
	}()

	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "retrying") {
		if time.Now().After(deadline) {
			t.Fatalf("no retry logged; logs:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	backendLn, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s was taken meanwhile: %v", addr, err)
	}
	testbackend.Serve(t, backendLn, "late")
	if code, body := getEventually(t, "http://"+ln.Addr().String()+"/v1/echo/late/1", 200); code != 200 {
		t.Fatalf("after the backend came up: %d %s", code, body)
	}
}

// TestServeReadinessGrace: a backend that never loads keeps Portico
// answering 503 until the grace period ends; then the gateway serves (here,
// nothing: a 404).
func TestServeReadinessGrace(t *testing.T) {
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.Addr().String()
	probe.Close()
	url := startServe(t, serveConfig{backends: []string{addr}, grace: 500 * time.Millisecond}, io.Discard)
	if code, body := get(t, url+"/v1/anything"); code != 503 || !strings.Contains(body, "starting") {
		t.Fatalf("before the grace period: %d %s", code, body)
	}
	if code, body := getEventually(t, url+"/v1/anything", 404); code != 404 {
		t.Fatalf("after the grace period: %d %s", code, body)
	}
}

func TestDemo(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- runDemoOn(ctx, ln, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), &out) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo: %v", err)
		}
	}()
	base := "http://" + ln.Addr().String()
	code, body := getEventually(t, base+"/v1/shelves", 200)
	if code != 200 || !strings.Contains(body, "shelves/") {
		t.Fatalf("GET /v1/shelves: %d %s", code, body)
	}
	if !strings.Contains(out.String(), "curl "+base+"/v1/shelves") {
		t.Errorf("demo did not print curl lines for %s:\n%s", base, out.String())
	}
}

func TestCLI(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		code     int
		contains string
	}{
		{[]string{"version"}, 0, "portico dev"},
		{[]string{"help"}, 0, "Commands:"},
		{[]string{}, 2, "Usage:"},
		{[]string{"nope"}, 2, "unknown command"},
		{[]string{"serve"}, 2, "at least one --backend"},
		{[]string{"serve", "--help"}, 0, "--backend"},
		{[]string{"help", "serve"}, 0, "--descriptors"},
		{[]string{"serve", "--backend", "a:1", "--backend", "b:1", "--descriptors", "x"}, 2, "one per backend"},
		{[]string{"demo", "--help"}, 0, "--listen"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stdout.String()+stderr.String(), tc.contains) {
			t.Errorf("portico %v: exit %d, output %q; want exit %d containing %q", tc.args, code, stdout.String()+stderr.String(), tc.code, tc.contains)
		}
	}
}

// TestServeTLS serves with a certificate: HTTP/2 is negotiated by ALPN and
// HTTP/1.1 still works.
func TestServeTLS(t *testing.T) {
	certFile, keyFile, pool := selfSignedCert(t)
	echo := testbackend.Start(t, "echo", testbackend.WithEcho())
	url := startServe(t, serveConfig{backends: []string{echo.Addr}, tlsCert: certFile, tlsKey: keyFile}, io.Discard)
	url = strings.Replace(url, "http://", "https://", 1)
	for _, h2 := range []bool{true, false} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: h2}
		if !h2 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		var resp *http.Response
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			var err error
			if resp, err = client.Get(url + "/v1/echo/tls/1"); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
				break
			}
			resp.Body.Close() // still loading the schema
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		tr.CloseIdleConnections()
		wantProto := map[bool]int{true: 2, false: 1}[h2]
		if resp.StatusCode != 200 || resp.ProtoMajor != wantProto || !strings.Contains(string(body), `"stringValue":"tls"`) {
			t.Errorf("h2=%v: %d %s %s", h2, resp.StatusCode, resp.Proto, body)
		}
	}
}

// selfSignedCert writes a certificate for 127.0.0.1 and its key to PEM
// files and returns them with a pool that trusts the certificate.
func selfSignedCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "portico test"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
