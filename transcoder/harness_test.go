package transcoder_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/encoding/protojson"

	testingv1 "github.com/portico-gw/portico/gen/portico/testing/v1"
	"github.com/portico-gw/portico/internal/testbackend"
	"github.com/portico-gw/portico/schema"
	"github.com/portico-gw/portico/transcoder"
	"github.com/portico-gw/portico/upstream"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// schemaModes are the two ways a gateway learns a backend's schema; the
// end-to-end tests run in both.
var schemaModes = []string{"reflection", "descriptors"}

// gateway is Portico serving one or more test backends over loopback.
type gateway struct {
	url     string
	handler *transcoder.Handler
}

// startGateway starts Portico in front of backends, learning each schema by
// mode, and stops everything when the test ends.
func startGateway(t *testing.T, mode string, opts transcoder.Options, backends ...*testbackend.Backend) *gateway {
	t.Helper()
	var tb []transcoder.Backend
	for _, b := range backends {
		conn, err := upstream.Dial(b.Name, b.Addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		tb = append(tb, transcoder.Backend{Name: b.Name, Schema: loadSchema(t, mode, conn, b), Conn: conn.Conn})
	}
	snap, err := transcoder.NewSnapshot(tb, opts)
	if err != nil {
		t.Fatal(err)
	}
	h := transcoder.NewHandler(snap)
	return &gateway{url: serveH2C(t, h), handler: h}
}

// serveH2C serves h on a loopback port with HTTP/1.1 and HTTP/2 without TLS
// (h2c), as portico serve does, until the test ends; it returns the base
// URL.
func serveH2C(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: h, Protocols: &protocols}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		srv.Close()
	})
	return "http://" + ln.Addr().String()
}

// h2cClient is an HTTP client that speaks HTTP/2 without TLS, as gRPC
// clients do. Its idle connections are closed when the test ends.
func h2cClient(t *testing.T) *http.Client {
	t.Helper()
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &protocols}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func loadSchema(t *testing.T, mode string, conn *upstream.Backend, b *testbackend.Backend) *schema.Schema {
	t.Helper()
	switch mode {
	case "reflection":
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := schema.FromReflection(ctx, conn.Conn, conn.Target)
		if err != nil {
			t.Fatal(err)
		}
		return s
	case "descriptors":
		path := filepath.Join(t.TempDir(), "testing.binpb")
		testbackend.WriteDescriptorSet(t, path, b.Files()...)
		s, err := schema.FromFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	t.Fatalf("unknown schema mode %q", mode)
	return nil
}

// response is what a test reads back from the gateway.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request to the gateway. body may be nil.
func (g *gateway) do(t *testing.T, method, path string, body []byte, header map[string]string) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, g.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == nil {
		req.Body = http.NoBody
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// everything decodes a reply as portico.testing.v1.Everything.
func (r response) everything(t *testing.T) *testingv1.Everything {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, body %s", r.status, r.body)
	}
	out := &testingv1.Everything{}
	if err := protojson.Unmarshal(r.body, out); err != nil {
		t.Fatalf("reply %s: %v", r.body, err)
	}
	return out
}

// rpcStatus is a google.rpc.Status as JSON.
type rpcStatus struct {
	Code    int               `json:"code"`
	Message string            `json:"message"`
	Details []json.RawMessage `json:"details"`
}

// status decodes an error reply and checks its HTTP status and that the
// body is google.rpc.Status-shaped with the given code.
func (r response) errorStatus(t *testing.T, httpStatus, code int) rpcStatus {
	t.Helper()
	if r.status != httpStatus {
		t.Fatalf("status %d, want %d; body %s", r.status, httpStatus, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type %q, want application/json", ct)
	}
	var st rpcStatus
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		t.Fatalf("error body %s is not a google.rpc.Status: %v", r.body, err)
	}
	if st.Code != code {
		t.Fatalf("code %d, want %d; body %s", st.Code, code, r.body)
	}
	if st.Message == "" {
		t.Errorf("error body %s has no message", r.body)
	}
	return st
}
