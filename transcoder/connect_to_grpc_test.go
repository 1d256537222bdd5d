package transcoder_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/google/go-cmp/cmp"

	testingv1 "github.com/portico-gw/portico/gen/portico/testing/v1"
	"github.com/portico-gw/portico/internal/testbackend"
	"github.com/portico-gw/portico/schema"
	"github.com/portico-gw/portico/transcoder"
	"github.com/portico-gw/portico/upstream"
)

const connectEchoPath = "/portico.testing.v1.EchoService/"

// connectRecorder is an http.RoundTripper that records the HTTP method of
// every request and the Content-Encoding of every response, so tests can
// tell a GET from a POST and a compressed reply from a plain one.
type connectRecorder struct {
	base http.RoundTripper

	mu        sync.Mutex
	methods   []string
	encodings []string
}

func (rec *connectRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := rec.base.RoundTrip(r)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.methods = append(rec.methods, r.Method)
	if err == nil {
		rec.encodings = append(rec.encodings, resp.Header.Get("Content-Encoding")+resp.Header.Get("Connect-Content-Encoding"))
	}
	return resp, err
}

func (rec *connectRecorder) last() (method, encoding string) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.methods) == 0 {
		return "", ""
	}
	if len(rec.encodings) < len(rec.methods) {
		return rec.methods[len(rec.methods)-1], ""
	}
	return rec.methods[len(rec.methods)-1], rec.encodings[len(rec.encodings)-1]
}

// connectTransport is one way of reaching the gateway.
type connectTransport struct {
	name string
	h2   bool
}

var connectTransports = []connectTransport{{"http1", false}, {"h2c", true}}

func (tr connectTransport) client(t *testing.T) (*http.Client, *connectRecorder) {
	t.Helper()
	base := http.DefaultClient.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	if tr.h2 {
		base = h2cClient(t).Transport
	}
	rec := &connectRecorder{base: base}
	return &http.Client{Transport: rec}, rec
}

// connectCodecs are the client configurations every unary test runs in.
var connectCodecs = []struct {
	name string
	opts []connect.ClientOption
}{
	{"proto", nil},
	{"proto-gzip", []connect.ClientOption{connect.WithSendGzip()}},
	{"json", []connect.ClientOption{connect.WithProtoJSON()}},
	{"json-gzip", []connect.ClientOption{connect.WithProtoJSON(), connect.WithSendGzip()}},
}

func newConnectClient[Req, Res any](client *http.Client, gw *gateway, method string, opts ...connect.ClientOption) *connect.Client[Req, Res] {
	return connect.NewClient[Req, Res](client, gw.url+connectEchoPath+method, opts...)
}

func connectCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestConnectUnary(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	small := &testingv1.Everything{
		StringValue: "hello", Int64Value: 9007199254740993, BytesValue: []byte{0, 1, 2},
		Color: testingv1.Color_COLOR_GREEN, Nested: &testingv1.Nested{Label: "n"},
		StringMap: map[string]string{"k": "v"}, Duration: durationpb.New(1500 * time.Millisecond),
	}
	// Over the 1 KiB threshold: the reply comes back gzipped.
	large := &testingv1.Everything{StringValue: strings.Repeat("large reply ", 200)}
	for _, tr := range connectTransports {
		for _, codec := range connectCodecs {
			t.Run(tr.name+"/"+codec.name, func(t *testing.T) {
				client, rec := tr.client(t)
				c := newConnectClient[testingv1.Everything, testingv1.Everything](client, gw, "Echo", codec.opts...)
				for _, msg := range []*testingv1.Everything{small, large} {
					res, err := c.CallUnary(connectCtx(t), connect.NewRequest(msg))
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(msg, res.Msg, protocmp.Transform()); diff != "" {
						t.Errorf("reply (-want +got):\n%s", diff)
					}
					if last := backend.Last("Echo"); !proto.Equal(last, msg) {
						t.Errorf("backend received %v", last)
					}
					method, enc := rec.last()
					if method != http.MethodPost {
						t.Errorf("request method %s, want POST", method)
					}
					wantEnc := ""
					if msg == large {
						wantEnc = "gzip"
					}
					if enc != wantEnc {
						t.Errorf("reply Content-Encoding %q, want %q", enc, wantEnc)
					}
				}
			})
		}
	}
}

func TestConnectUnaryGET(t *testing.T) {
	for _, mode := range schemaModes {
		t.Run(mode, func(t *testing.T) {
			backend := testbackend.Start(t, "echo")
			gw := startGateway(t, mode, transcoder.Options{}, backend)
			for _, tr := range connectTransports {
				for _, codec := range connectCodecs {
					t.Run(tr.name+"/"+codec.name, func(t *testing.T) {
						client, rec := tr.client(t)
						opts := append([]connect.ClientOption{connect.WithHTTPGet(),
							connect.WithIdempotency(connect.IdempotencyNoSideEffects)}, codec.opts...)
						c := newConnectClient[testingv1.Everything, testingv1.Everything](client, gw, "GetResource", opts...)
						msg := &testingv1.Everything{Name: "projects/p/resources/r", Int32Value: 7, StringValue: "a&b=c?d %"}
						res, err := c.CallUnary(connectCtx(t), connect.NewRequest(msg))
						if err != nil {
							t.Fatal(err)
						}
						if !proto.Equal(res.Msg, msg) {
							t.Errorf("reply %v, want %v", res.Msg, msg)
						}
						if method, _ := rec.last(); method != http.MethodGet {
							t.Errorf("request method %s, want GET", method)
						}
						if vary := res.Header().Values("Vary"); !connectHeaderHas(vary, "Accept-Encoding") {
							t.Errorf("Vary %q, want Accept-Encoding", vary)
						}
					})
				}
			}

			t.Run("large compressed", func(t *testing.T) {
				// connect-go compresses a GET's message when the URL would
				// otherwise be too long: compression=gzip, base64=1.
				client, rec := connectTransports[0].client(t)
				c := newConnectClient[testingv1.Everything, testingv1.Everything](client, gw, "GetResource",
					connect.WithHTTPGet(), connect.WithIdempotency(connect.IdempotencyNoSideEffects),
					connect.WithSendGzip(), connect.WithHTTPGetMaxURLSize(512, false))
				msg := &testingv1.Everything{StringValue: strings.Repeat("x", 2000)}
				res, err := c.CallUnary(connectCtx(t), connect.NewRequest(msg))
				if err != nil {
					t.Fatal(err)
				}
				if !proto.Equal(res.Msg, msg) {
					t.Errorf("reply differs")
				}
				if method, enc := rec.last(); method != http.MethodGet || enc != "gzip" {
					t.Errorf("request %s, reply encoding %q; want GET, gzip", method, enc)
				}
			})

			t.Run("not side-effect free", func(t *testing.T) {
				calls := backend.Calls()
				c := newConnectClient[testingv1.Everything, testingv1.Everything](http.DefaultClient, gw, "Echo",
					connect.WithHTTPGet(), connect.WithIdempotency(connect.IdempotencyNoSideEffects))
				_, err := c.CallUnary(connectCtx(t), connect.NewRequest(&testingv1.Everything{}))
				if connect.CodeOf(err) != connect.CodeUnimplemented {
					t.Errorf("GET Echo: %v, want unimplemented", err)
				}
				if backend.Calls() != calls {
					t.Error("backend was called")
				}
			})
		})
	}
}

func connectHeaderHas(list []string, s string) bool {
	for _, v := range list {
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), s) {
				return true
			}
		}
	}
	return false
}

func TestConnectServerStream(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	for _, tr := range connectTransports {
		for _, codec := range connectCodecs {
			t.Run(tr.name+"/"+codec.name, func(t *testing.T) {
				client, _ := tr.client(t)
				c := newConnectClient[testingv1.StreamRequest, testingv1.StreamReply](client, gw, "ServerStream", codec.opts...)
				ctx := connectCtx(t)

				text := "t"
				if strings.HasSuffix(codec.name, "gzip") {
					text = strings.Repeat("big ", 400) // replies over 1 KiB are compressed
				}
				stream, err := c.CallServerStream(ctx, connect.NewRequest(&testingv1.StreamRequest{Count: 5, Text: text}))
				if err != nil {
					t.Fatal(err)
				}
				var got []int32
				for stream.Receive() {
					if stream.Msg().GetText() != text {
						t.Errorf("reply text %q", stream.Msg().GetText())
					}
					got = append(got, stream.Msg().GetIndex())
				}
				if err := stream.Err(); err != nil {
					t.Fatal(err)
				}
				if !cmp.Equal(got, []int32{0, 1, 2, 3, 4}) {
					t.Errorf("indexes %v", got)
				}
				if strings.HasSuffix(codec.name, "gzip") {
					if enc := stream.ResponseHeader().Get("Connect-Content-Encoding"); enc != "gzip" {
						t.Errorf("Connect-Content-Encoding %q, want gzip", enc)
					}
				}
				_ = stream.Close()

				// A failure after two replies: both arrive, then the error.
				stream, err = c.CallServerStream(ctx, connect.NewRequest(&testingv1.StreamRequest{Count: 5, FailAfter: 2, FailCode: 9}))
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for stream.Receive() {
					n++
				}
				if n != 2 {
					t.Errorf("received %d replies before the failure, want 2", n)
				}
				if connect.CodeOf(stream.Err()) != connect.CodeFailedPrecondition {
					t.Errorf("stream error %v, want failed_precondition", stream.Err())
				}
				_ = stream.Close()
			})
		}
	}
}

func TestConnectClientAndBidiStream(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	for _, codec := range connectCodecs {
		t.Run(codec.name, func(t *testing.T) {
			client := h2cClient(t)
			ctx := connectCtx(t)

			cs := newConnectClient[testingv1.StreamReply, testingv1.StreamReply](client, gw, "ClientStream", codec.opts...).CallClientStream(ctx)
			for _, text := range []string{"a", "b", strings.Repeat("c", 3000)} {
				if err := cs.Send(&testingv1.StreamReply{Text: text}); err != nil {
					t.Fatal(err)
				}
			}
			res, err := cs.CloseAndReceive()
			if err != nil {
				t.Fatal(err)
			}
			if res.Msg.GetIndex() != 3 || res.Msg.GetText() != "a,b,"+strings.Repeat("c", 3000) {
				t.Errorf("client stream reply %d %.20q", res.Msg.GetIndex(), res.Msg.GetText())
			}

			bidi := newConnectClient[testingv1.StreamReply, testingv1.StreamReply](client, gw, "BidiStream", codec.opts...).CallBidiStream(ctx)
			bidi.RequestHeader().Set("X-Bidi", "1")
			for i, text := range []string{"x", "y", "z"} {
				// Each reply comes back before the next request is sent: the
				// gateway streams both ways at once.
				if err := bidi.Send(&testingv1.StreamReply{Text: text}); err != nil {
					t.Fatal(err)
				}
				reply, err := bidi.Receive()
				if err != nil {
					t.Fatal(err)
				}
				if reply.GetIndex() != int32(i) || reply.GetText() != text {
					t.Errorf("bidi reply %v, want %d %q", reply, i, text)
				}
			}
			if err := bidi.CloseRequest(); err != nil {
				t.Fatal(err)
			}
			if _, err := bidi.Receive(); !errors.Is(err, io.EOF) {
				t.Errorf("after the last reply: %v, want EOF", err)
			}
			if err := bidi.CloseResponse(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestConnectErrorDetails(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "descriptors", transcoder.Options{}, backend)
	for _, tr := range connectTransports {
		for _, codec := range connectCodecs {
			t.Run(tr.name+"/"+codec.name, func(t *testing.T) {
				client, _ := tr.client(t)
				c := newConnectClient[testingv1.FailRequest, emptypb.Empty](client, gw, "Fail", codec.opts...)
				_, err := c.CallUnary(connectCtx(t), connect.NewRequest(&testingv1.FailRequest{Code: 5, Message: "no such thing", WithDetails: true}))
				var cerr *connect.Error
				if !errors.As(err, &cerr) {
					t.Fatalf("error %v is not a *connect.Error", err)
				}
				if cerr.Code() != connect.CodeNotFound || cerr.Message() != "no such thing" {
					t.Errorf("error %v, want not_found: no such thing", cerr)
				}
				var types []string
				for _, d := range cerr.Details() {
					types = append(types, d.Type())
					v, err := d.Value()
					if err != nil {
						t.Errorf("detail %s: %v", d.Type(), err)
						continue
					}
					if br, ok := v.(*errdetails.BadRequest); ok && br.GetFieldViolations()[0].GetDescription() != "no such thing" {
						t.Errorf("BadRequest detail %v", br)
					}
					if info, ok := v.(*testingv1.ErrorInfoDetail); ok && (info.GetReason() != "TEST_FAILURE" || info.GetRetryAfterSeconds() != 7) {
						t.Errorf("ErrorInfoDetail %v", info)
					}
				}
				if !cmp.Equal(types, []string{"google.rpc.BadRequest", "portico.testing.v1.ErrorInfoDetail"}) {
					t.Errorf("detail types %v", types)
				}
				if got := cerr.Meta().Get("X-Fail-Header"); got != "before" {
					t.Errorf("error header metadata %q, want before", got)
				}
				if got := cerr.Meta().Get("X-Fail-Trailer"); got != "after" {
					t.Errorf("error trailer metadata %q, want after", got)
				}
			})
		}
	}
}

// TestConnectErrorCodes checks every code against the Connect
// specification's code-to-HTTP table and names.
func TestConnectErrorCodes(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	table := []struct {
		code   int
		name   string
		status int
	}{
		{1, "canceled", 499}, {2, "unknown", 500}, {3, "invalid_argument", 400},
		{4, "deadline_exceeded", 504}, {5, "not_found", 404}, {6, "already_exists", 409},
		{7, "permission_denied", 403}, {8, "resource_exhausted", 429}, {9, "failed_precondition", 400},
		{10, "aborted", 409}, {11, "out_of_range", 400}, {12, "unimplemented", 501},
		{13, "internal", 500}, {14, "unavailable", 503}, {15, "data_loss", 500}, {16, "unauthenticated", 401},
	}
	for _, tc := range table {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"code":` + itoa(tc.code) + `,"message":"m","withDetails":true}`
			resp := gw.connectPost(t, "Fail", "application/json", []byte(body), nil)
			e := resp.connectError(t, tc.status, tc.name)
			if e.Message != "m" || len(e.Details) != 2 {
				t.Fatalf("error %s", resp.body)
			}
			d := e.Details[0]
			if d.Type != "google.rpc.BadRequest" || strings.HasSuffix(d.Value, "=") {
				t.Errorf("detail %+v: want type google.rpc.BadRequest, unpadded value", d)
			}
			raw, err := base64.RawStdEncoding.DecodeString(d.Value)
			if err != nil {
				t.Fatal(err)
			}
			var br errdetails.BadRequest
			if err := proto.Unmarshal(raw, &br); err != nil || br.GetFieldViolations()[0].GetField() != "message" {
				t.Errorf("detail value %v %v", &br, err)
			}
			assertJSONEqual(t, d.Debug, `{"fieldViolations":[{"field":"message","description":"m"}]}`)
			if got := resp.header.Get("Trailer-X-Fail-Trailer"); got != "after" {
				t.Errorf("Trailer-X-Fail-Trailer %q", got)
			}
		})
	}
}

func TestConnectMetadata(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	for _, tr := range connectTransports {
		for _, codec := range connectCodecs {
			t.Run(tr.name+"/"+codec.name, func(t *testing.T) {
				client, _ := tr.client(t)
				c := newConnectClient[emptypb.Empty, testingv1.MetadataResponse](client, gw, "Metadata", codec.opts...)
				req := connect.NewRequest(&emptypb.Empty{})
				req.Header().Set("X-Custom", "custom value")
				req.Header().Add("X-Multi", "1")
				req.Header().Add("X-Multi", "2")
				req.Header().Set("X-Data-Bin", connect.EncodeBinaryHeader([]byte{0xff, 0, 0xfe}))
				req.Header().Set("Authorization", "Bearer t")
				res, err := c.CallUnary(connectCtx(t), req)
				if err != nil {
					t.Fatal(err)
				}
				in := res.Msg.GetIncoming()
				for k, want := range map[string]string{
					"x-custom":      "custom value",
					"x-multi":       "1,2",
					"x-data-bin":    base64.StdEncoding.EncodeToString([]byte{0xff, 0, 0xfe}),
					"authorization": "Bearer t",
				} {
					if in[k] != want {
						t.Errorf("backend got %s=%q, want %q", k, in[k], want)
					}
				}
				for k := range in {
					if strings.HasPrefix(k, "connect-") || k == "content-encoding" || k == "accept-encoding" {
						t.Errorf("framing header %s reached the backend", k)
					}
				}
				if got := res.Header().Get("X-Echo-Header"); got != "h" {
					t.Errorf("header metadata %q, want h", got)
				}
				if b, err := connect.DecodeBinaryHeader(res.Header().Get("X-Echo-Bin")); err != nil || !bytes.Equal(b, []byte{0, 1, 2}) {
					t.Errorf("binary header metadata %v %v", b, err)
				}
				if got := res.Trailer().Get("X-Echo-Trailer"); got != "t" {
					t.Errorf("trailer metadata %q, want t", got)
				}
			})
		}
	}

	t.Run("stream", func(t *testing.T) {
		c := newConnectClient[testingv1.StreamRequest, testingv1.StreamReply](h2cClient(t), gw, "ServerStream")
		stream, err := c.CallServerStream(connectCtx(t), connect.NewRequest(&testingv1.StreamRequest{Count: 1, FailAfter: 1, FailCode: 14}))
		if err != nil {
			t.Fatal(err)
		}
		for stream.Receive() {
		}
		if connect.CodeOf(stream.Err()) != connect.CodeUnavailable {
			t.Errorf("stream error %v", stream.Err())
		}
		if ct := stream.ResponseHeader().Get("Content-Type"); ct != "application/connect+proto" {
			t.Errorf("Content-Type %q", ct)
		}
		_ = stream.Close()
	})
}

func TestConnectTimeout(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	for _, tr := range connectTransports {
		t.Run(tr.name, func(t *testing.T) {
			client, _ := tr.client(t)
			c := newConnectClient[testingv1.SleepRequest, testingv1.SleepResponse](client, gw, "Sleep")

			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			_, err := c.CallUnary(ctx, connect.NewRequest(&testingv1.SleepRequest{Duration: durationpb.New(10 * time.Second)}))
			if connect.CodeOf(err) != connect.CodeDeadlineExceeded {
				t.Errorf("Sleep past the deadline: %v, want deadline_exceeded", err)
			}

			// The deadline reached the backend.
			ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			res, err := c.CallUnary(ctx, connect.NewRequest(&testingv1.SleepRequest{}))
			if err != nil {
				t.Fatal(err)
			}
			if rem := res.Msg.GetRemainingDeadline().AsDuration(); !res.Msg.GetHadDeadline() || rem <= 0 || rem > 5*time.Second {
				t.Errorf("backend deadline %v %v, want within 5s", res.Msg.GetHadDeadline(), rem)
			}
		})
	}

	t.Run("server side", func(t *testing.T) {
		// Without a client-side deadline, only the header can end the call.
		resp := gw.connectPost(t, "Sleep", "application/json", []byte(`{"duration":"10s"}`),
			map[string]string{"Connect-Timeout-Ms": "50"})
		resp.connectError(t, 504, "deadline_exceeded")
	})

	t.Run("capped", func(t *testing.T) {
		gw := startGateway(t, "reflection", transcoder.Options{MaxTimeout: time.Second}, backend)
		resp := gw.connectPost(t, "Sleep", "application/json", []byte(`{}`), map[string]string{"Connect-Timeout-Ms": "60000"})
		var out testingv1.SleepResponse
		if err := protojson.Unmarshal(resp.body, &out); err != nil || resp.status != 200 {
			t.Fatalf("%d %s", resp.status, resp.body)
		}
		if rem := out.GetRemainingDeadline().AsDuration(); rem > time.Second || rem <= 0 {
			t.Errorf("backend deadline %v, want at most the 1s cap", rem)
		}
	})
}

// connectRawError is a Connect error object as a client reads it.
type connectRawError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details []struct {
		Type  string          `json:"type"`
		Value string          `json:"value"`
		Debug json.RawMessage `json:"debug"`
	} `json:"details"`
}

// connectPost sends a raw unary Connect POST.
func (g *gateway) connectPost(t *testing.T, method, contentType string, body []byte, header map[string]string) response {
	t.Helper()
	h := map[string]string{"Content-Type": contentType, "Connect-Protocol-Version": "1"}
	for k, v := range header {
		h[k] = v
	}
	return g.do(t, http.MethodPost, connectEchoPath+method, body, h)
}

// connectError checks a unary Connect error response.
func (r response) connectError(t *testing.T, httpStatus int, code string) connectRawError {
	t.Helper()
	if r.status != httpStatus {
		t.Fatalf("status %d, want %d; body %s", r.status, httpStatus, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type %q, want application/json", ct)
	}
	var e connectRawError
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body %s is not a Connect error: %v", r.body, err)
	}
	if e.Code != code {
		t.Fatalf("code %q, want %q; body %s", e.Code, code, r.body)
	}
	if e.Message == "" {
		t.Errorf("error %s has no message", r.body)
	}
	return e
}

// connectStreamPost sends a raw Connect streaming request and returns its
// end-of-stream message, after checking that it is the last envelope.
func (g *gateway) connectStreamPost(t *testing.T, method string, body []byte, header map[string]string) (messages int, end connectEndStream) {
	t.Helper()
	h := map[string]string{"Content-Type": "application/connect+json"}
	for k, v := range header {
		h[k] = v
	}
	resp := g.do(t, http.MethodPost, connectEchoPath+method, body, h)
	if resp.status != 200 {
		t.Fatalf("status %d, body %s", resp.status, resp.body)
	}
	b := resp.body
	for len(b) >= 5 {
		flags, n := b[0], binary.BigEndian.Uint32(b[1:5])
		if int(n) > len(b)-5 {
			t.Fatalf("truncated reply envelope")
		}
		payload := b[5 : 5+n]
		b = b[5+n:]
		if flags&0x02 != 0 {
			if len(b) != 0 {
				t.Fatalf("%d bytes after the end-of-stream message", len(b))
			}
			dec := json.NewDecoder(bytes.NewReader(payload))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&end); err != nil {
				t.Fatalf("end of stream %s: %v", payload, err)
			}
			return messages, end
		}
		messages++
	}
	t.Fatalf("no end-of-stream message in %q", resp.body)
	return 0, end
}

type connectEndStream struct {
	Error    *connectRawError    `json:"error"`
	Metadata map[string][]string `json:"metadata"`
}

func connectEnvelope(flags byte, msg []byte) []byte {
	out := []byte{flags, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(out[1:], uint32(len(msg)))
	return append(out, msg...)
}

func connectGzip(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestConnectBadInput(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{MaxRequestBytes: 1024}, backend)
	big := []byte(`{"stringValue":"` + strings.Repeat("x", 2000) + `"}`)

	unary := []struct {
		name        string
		method      string
		contentType string
		body        []byte
		header      map[string]string
		status      int
		code        string
	}{
		{"bad JSON", "Echo", "application/json", []byte(`{"int32Value":"x"`), nil, 400, "invalid_argument"},
		{"unknown JSON field", "Echo", "application/json", []byte(`{"nope":1}`), nil, 400, "invalid_argument"},
		{"bad proto", "Echo", "application/proto", []byte{0xff, 0xff, 0xff}, nil, 400, "invalid_argument"},
		{"truncated proto", "Echo", "application/proto", []byte{0x72, 0x05, 'a'}, nil, 400, "invalid_argument"},
		{"oversize", "Echo", "application/json", big, nil, 429, "resource_exhausted"},
		{"oversize after gzip", "Echo", "application/json", connectGzip(t, big), map[string]string{"Content-Encoding": "gzip"}, 429, "resource_exhausted"},
		{"bad gzip", "Echo", "application/json", []byte("not gzip"), map[string]string{"Content-Encoding": "gzip"}, 400, "invalid_argument"},
		{"unsupported compression", "Echo", "application/json", []byte(`{}`), map[string]string{"Content-Encoding": "br"}, 501, "unimplemented"},
		{"protocol version", "Echo", "application/json", []byte(`{}`), map[string]string{"Connect-Protocol-Version": "2"}, 400, "invalid_argument"},
		{"proto protocol version", "Echo", "application/proto", nil, map[string]string{"Connect-Protocol-Version": "0"}, 400, "invalid_argument"},
		{"timeout not a number", "Echo", "application/json", []byte(`{}`), map[string]string{"Connect-Timeout-Ms": "1s"}, 400, "invalid_argument"},
		{"timeout too long", "Echo", "application/json", []byte(`{}`), map[string]string{"Connect-Timeout-Ms": "12345678901"}, 400, "invalid_argument"},
		{"timeout negative", "Echo", "application/json", []byte(`{}`), map[string]string{"Connect-Timeout-Ms": "-1"}, 400, "invalid_argument"},
		{"unknown method", "Nope", "application/json", []byte(`{}`), nil, 404, "unimplemented"},
		{"streaming method", "ServerStream", "application/json", []byte(`{}`), nil, 415, "invalid_argument"},
		{"bad binary metadata", "Echo", "application/json", []byte(`{}`), map[string]string{"X-Data-Bin": "!!"}, 400, "invalid_argument"},
	}
	for _, tc := range unary {
		t.Run(tc.name, func(t *testing.T) {
			calls := backend.Calls()
			resp := gw.connectPost(t, tc.method, tc.contentType, tc.body, tc.header)
			resp.connectError(t, tc.status, tc.code)
			if backend.Calls() != calls {
				t.Error("backend was called")
			}
		})
	}

	get := []struct {
		name, method, query string
		status              int
		code                string
	}{
		{"GET side effects", "Echo", "connect=v1&encoding=json&message=%7B%7D", 405, "unimplemented"},
		{"GET bad JSON", "GetResource", "connect=v1&encoding=json&message=%7B", 400, "invalid_argument"},
		{"GET bad base64", "GetResource", "connect=v1&encoding=proto&base64=1&message=%21%21", 400, "invalid_argument"},
		{"GET no encoding", "GetResource", "connect=v1&message=%7B%7D", 400, "invalid_argument"},
		{"GET unknown encoding", "GetResource", "connect=v1&encoding=xml&message=x", 415, "invalid_argument"},
		{"GET no message", "GetResource", "connect=v1&encoding=json", 400, "invalid_argument"},
		{"GET oversize", "GetResource", "connect=v1&encoding=json&message=" + url.QueryEscape(string(big)), 429, "resource_exhausted"},
	}
	for _, tc := range get {
		t.Run(tc.name, func(t *testing.T) {
			calls := backend.Calls()
			resp := gw.do(t, http.MethodGet, connectEchoPath+tc.method+"?"+tc.query, nil, nil)
			resp.connectError(t, tc.status, tc.code)
			if tc.status == 405 && resp.header.Get("Allow") != "POST" {
				t.Errorf("Allow %q, want POST", resp.header.Get("Allow"))
			}
			if backend.Calls() != calls {
				t.Error("backend was called")
			}
		})
	}

	stream := []struct {
		name   string
		method string
		body   []byte
		header map[string]string
		code   string
	}{
		{"truncated header", "ServerStream", []byte{0, 0, 0}, nil, "invalid_argument"},
		{"length past body", "ServerStream", append([]byte{0, 0, 0, 0, 100}, `{}`...), nil, "invalid_argument"},
		{"bad JSON", "ServerStream", connectEnvelope(0, []byte(`{"count":`)), nil, "invalid_argument"},
		{"no message", "ServerStream", nil, nil, "invalid_argument"},
		{"two messages", "ServerStream", append(connectEnvelope(0, []byte(`{}`)), connectEnvelope(0, []byte(`{}`))...), nil, "invalid_argument"},
		{"oversize", "ServerStream", connectEnvelope(0, big), nil, "resource_exhausted"},
		{"oversize after gzip", "ServerStream", connectEnvelope(1, connectGzip(t, big)), map[string]string{"Connect-Content-Encoding": "gzip"}, "resource_exhausted"},
		{"compressed without encoding", "ServerStream", connectEnvelope(1, connectGzip(t, []byte(`{}`))), nil, "invalid_argument"},
		{"end-stream flag from client", "ServerStream", connectEnvelope(2, []byte(`{}`)), nil, "invalid_argument"},
		{"unsupported compression", "ServerStream", connectEnvelope(0, []byte(`{}`)), map[string]string{"Connect-Content-Encoding": "br"}, "unimplemented"},
		{"protocol version", "ServerStream", connectEnvelope(0, []byte(`{}`)), map[string]string{"Connect-Protocol-Version": "2"}, "invalid_argument"},
		{"timeout", "ServerStream", connectEnvelope(0, []byte(`{}`)), map[string]string{"Connect-Timeout-Ms": "x"}, "invalid_argument"},
		{"client stream bad message", "ClientStream", append(connectEnvelope(0, []byte(`{}`)), connectEnvelope(0, []byte(`[]`))...), nil, "invalid_argument"},
	}
	for _, tc := range stream {
		t.Run("stream "+tc.name, func(t *testing.T) {
			calls := backend.Calls()
			n, end := gw.connectStreamPost(t, tc.method, tc.body, tc.header)
			if n != 0 || end.Error == nil || end.Error.Code != tc.code {
				t.Fatalf("%d messages, end of stream %+v; want error %s", n, end.Error, tc.code)
			}
			if tc.method != "ClientStream" && backend.Calls() != calls {
				t.Error("backend was called")
			}
		})
	}

	t.Run("stream unknown method", func(t *testing.T) {
		resp := gw.do(t, http.MethodPost, connectEchoPath+"Nope", connectEnvelope(0, []byte(`{}`)), map[string]string{"Content-Type": "application/connect+json"})
		resp.connectError(t, 404, "unimplemented")
	})
	t.Run("stream protocol for unary method", func(t *testing.T) {
		resp := gw.do(t, http.MethodPost, connectEchoPath+"Echo", connectEnvelope(0, []byte(`{}`)), map[string]string{"Content-Type": "application/connect+json"})
		resp.connectError(t, 415, "invalid_argument")
		if resp.header.Get("Accept-Post") == "" {
			t.Error("no Accept-Post header")
		}
	})
}

// TestConnectRawStream checks the wire form of a Connect stream: JSON
// envelopes and the end-of-stream message with trailers.
func TestConnectRawStream(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	n, end := gw.connectStreamPost(t, "ServerStream", connectEnvelope(0, []byte(`{"count":3,"text":"r"}`)), nil)
	if n != 3 || end.Error != nil {
		t.Errorf("%d messages, error %+v; want 3, none", n, end.Error)
	}
	n, end = gw.connectStreamPost(t, "ServerStream", connectEnvelope(0, []byte(`{"count":3,"failAfter":1,"failCode":8}`)), nil)
	if n != 1 || end.Error == nil || end.Error.Code != "resource_exhausted" || end.Error.Message != "failed after 1 replies" {
		t.Errorf("%d messages, error %+v; want 1, resource_exhausted", n, end.Error)
	}
}

// BenchmarkConnectUnary measures one unary Connect call through the
// gateway, binary protobuf over h2c.
func BenchmarkConnectUnary(b *testing.B) {
	backend := testbackend.Start(b, "echo")
	conn, err := upstream.Dial(backend.Name, backend.Addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sch, err := schema.FromReflection(ctx, conn.Conn, conn.Target)
	if err != nil {
		b.Fatal(err)
	}
	snap, err := transcoder.NewSnapshot([]transcoder.Backend{{Name: backend.Name, Schema: sch, Conn: conn.Conn}}, transcoder.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: transcoder.NewHandler(snap), Protocols: &protocols}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { srv.Close() })

	var clientProtocols http.Protocols
	clientProtocols.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &clientProtocols}
	b.Cleanup(tr.CloseIdleConnections)
	c := connect.NewClient[testingv1.Everything, testingv1.Everything](&http.Client{Transport: tr},
		"http://"+ln.Addr().String()+connectEchoPath+"Echo")
	msg := connect.NewRequest(&testingv1.Everything{StringValue: "bench", Int32Value: 42, Nested: &testingv1.Nested{Label: "n"}})

	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.CallUnary(context.Background(), msg); err != nil {
			b.Fatal(err)
		}
	}
}
