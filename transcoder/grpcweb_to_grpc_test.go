package transcoder_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	testingv1 "github.com/portico-gw/portico/gen/portico/testing/v1"
	"github.com/portico-gw/portico/internal/testbackend"
	"github.com/portico-gw/portico/schema"
	"github.com/portico-gw/portico/transcoder"
	"github.com/portico-gw/portico/upstream"
)

const grpcWebEchoPath = "/portico.testing.v1.EchoService/"

// grpcWebHTTP1Client speaks HTTP/1.1 only; its idle connections are closed
// when the test ends.
func grpcWebHTTP1Client(t testing.TB) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

type grpcWebTransport struct {
	name string
	hc   *http.Client
	h2   bool
}

func grpcWebTransports(t *testing.T) []grpcWebTransport {
	return []grpcWebTransport{
		{name: "http1", hc: grpcWebHTTP1Client(t)},
		{name: "h2c", hc: h2cClient(t), h2: true},
	}
}

// grpcWebVariant is one way a connect-go gRPC-Web client can talk.
type grpcWebVariant struct {
	name string
	opts []connect.ClientOption
}

func grpcWebVariants() []grpcWebVariant {
	var out []grpcWebVariant
	for _, codec := range []string{"proto", "json"} {
		for _, gz := range []bool{false, true} {
			v := grpcWebVariant{name: codec, opts: []connect.ClientOption{connect.WithGRPCWeb()}}
			if codec == "json" {
				v.opts = append(v.opts, connect.WithProtoJSON())
			}
			if gz {
				v.name += "+gzip"
				v.opts = append(v.opts, connect.WithSendGzip())
			}
			out = append(out, v)
		}
	}
	return out
}

func grpcWebClient[Req, Res any](hc *http.Client, base, method string, opts []connect.ClientOption) *connect.Client[Req, Res] {
	return connect.NewClient[Req, Res](hc, base+grpcWebEchoPath+method, opts...)
}

func grpcWebContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func grpcWebEverything() *testingv1.Everything {
	return &testingv1.Everything{
		StringValue:    "héllo, wörld \U0001F600",
		Int64Value:     -1 << 60,
		Uint64Value:    1<<64 - 1,
		DoubleValue:    2.5,
		BytesValue:     []byte{0, 1, 2, 0xff},
		BoolValue:      true,
		Color:          testingv1.Color(1),
		RepeatedString: []string{"a", "b", ""},
		RepeatedNested: []*testingv1.Nested{{Label: "x", Count: 1}, {}},
		NestedMap:      map[string]*testingv1.Nested{"k": {Label: "v", Count: 7}},
		Int64Wrapper:   wrapperspb.Int64(42),
		Timestamp:      timestamppb.New(time.Unix(1700000000, 123000000).UTC()),
		Duration:       durationpb.New(1500 * time.Millisecond),
		Name:           "projects/p/resources/r",
	}
}

func TestGRPCWebConnectClient(t *testing.T) {
	for _, mode := range schemaModes {
		t.Run(mode, func(t *testing.T) {
			backend := testbackend.Start(t, "web")
			gw := startGateway(t, mode, transcoder.Options{}, backend)
			for _, tr := range grpcWebTransports(t) {
				for _, v := range grpcWebVariants() {
					t.Run(tr.name+"/"+v.name, func(t *testing.T) {
						testGRPCWebConnect(t, gw, tr, v)
					})
				}
			}
		})
	}
}

func testGRPCWebConnect(t *testing.T, gw *gateway, tr grpcWebTransport, v grpcWebVariant) {
	t.Run("unary", func(t *testing.T) {
		c := grpcWebClient[testingv1.Everything, testingv1.Everything](tr.hc, gw.url, "Echo", v.opts)
		in := grpcWebEverything()
		res, err := c.CallUnary(grpcWebContext(t), connect.NewRequest(in))
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(res.Msg, in) {
			t.Errorf("reply %v, want %v", res.Msg, in)
		}
		if ct := res.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/grpc-web") {
			t.Errorf("Content-Type %q", ct)
		}
	})

	t.Run("unary large", func(t *testing.T) {
		// Big enough for the reply to be compressed when the client accepts
		// gzip (connect-go always does).
		c := grpcWebClient[testingv1.Everything, testingv1.Everything](tr.hc, gw.url, "Echo", v.opts)
		in := &testingv1.Everything{StringValue: strings.Repeat("portico ", 20000)}
		res, err := c.CallUnary(grpcWebContext(t), connect.NewRequest(in))
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(res.Msg, in) {
			t.Errorf("reply differs (%d bytes of string)", len(res.Msg.GetStringValue()))
		}
		if got := res.Header().Get("Grpc-Encoding"); got != "gzip" {
			t.Errorf("Grpc-Encoding %q, want gzip", got)
		}
	})

	t.Run("server stream", func(t *testing.T) {
		c := grpcWebClient[testingv1.StreamRequest, testingv1.StreamReply](tr.hc, gw.url, "ServerStream", v.opts)
		stream, err := c.CallServerStream(grpcWebContext(t), connect.NewRequest(&testingv1.StreamRequest{Count: 5, Text: "s"}))
		if err != nil {
			t.Fatal(err)
		}
		defer stream.Close()
		var n int32
		for stream.Receive() {
			if got := stream.Msg(); got.GetIndex() != n || got.GetText() != "s" {
				t.Errorf("reply %d = %v", n, got)
			}
			n++
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if n != 5 {
			t.Errorf("%d replies, want 5", n)
		}
	})

	t.Run("server stream error", func(t *testing.T) {
		c := grpcWebClient[testingv1.StreamRequest, testingv1.StreamReply](tr.hc, gw.url, "ServerStream", v.opts)
		stream, err := c.CallServerStream(grpcWebContext(t), connect.NewRequest(&testingv1.StreamRequest{Count: 5, FailAfter: 2, FailCode: 9}))
		if err != nil {
			t.Fatal(err)
		}
		defer stream.Close()
		n := 0
		for stream.Receive() {
			n++
		}
		if n != 2 || connect.CodeOf(stream.Err()) != connect.CodeFailedPrecondition {
			t.Errorf("%d replies then %v; want 2 then FAILED_PRECONDITION", n, stream.Err())
		}
	})

	t.Run("client stream", func(t *testing.T) {
		c := grpcWebClient[testingv1.StreamReply, testingv1.StreamReply](tr.hc, gw.url, "ClientStream", v.opts)
		stream := c.CallClientStream(grpcWebContext(t))
		for _, s := range []string{"a", "b", "c"} {
			if err := stream.Send(&testingv1.StreamReply{Text: s}); err != nil {
				t.Fatal(err)
			}
		}
		res, err := stream.CloseAndReceive()
		if err != nil {
			t.Fatal(err)
		}
		if res.Msg.GetIndex() != 3 || res.Msg.GetText() != "a,b,c" {
			t.Errorf("reply %v, want index 3, text a,b,c", res.Msg)
		}
	})

	t.Run("bidi stream", func(t *testing.T) {
		if !tr.h2 {
			t.Skip("full-duplex streams need HTTP/2")
		}
		c := grpcWebClient[testingv1.StreamReply, testingv1.StreamReply](tr.hc, gw.url, "BidiStream", v.opts)
		stream := c.CallBidiStream(grpcWebContext(t))
		// Each reply arrives before the next request is sent: the stream is
		// really interactive, not buffered.
		for i, s := range []string{"x", "y", "z"} {
			if err := stream.Send(&testingv1.StreamReply{Text: s}); err != nil {
				t.Fatal(err)
			}
			got, err := stream.Receive()
			if err != nil {
				t.Fatal(err)
			}
			if got.GetIndex() != int32(i) || got.GetText() != s {
				t.Errorf("reply %d = %v", i, got)
			}
		}
		if err := stream.CloseRequest(); err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Receive(); !errors.Is(err, io.EOF) {
			t.Errorf("after the last reply: %v, want io.EOF", err)
		}
		if err := stream.CloseResponse(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("error with details", func(t *testing.T) {
		c := grpcWebClient[testingv1.FailRequest, emptypb.Empty](tr.hc, gw.url, "Fail", v.opts)
		msg := "no such thing: 100% naïve\nsecond line"
		_, err := c.CallUnary(grpcWebContext(t), connect.NewRequest(&testingv1.FailRequest{Code: 5, Message: msg, WithDetails: true}))
		var cerr *connect.Error
		if !errors.As(err, &cerr) {
			t.Fatalf("error %v, want a *connect.Error", err)
		}
		if cerr.Code() != connect.CodeNotFound || cerr.Message() != msg {
			t.Errorf("error %v, want NOT_FOUND %q", cerr, msg)
		}
		details := cerr.Details()
		if len(details) != 2 {
			t.Fatalf("%d details, want 2", len(details))
		}
		d0, err := details[0].Value()
		if err != nil {
			t.Fatal(err)
		}
		if br, ok := d0.(*errdetails.BadRequest); !ok || br.GetFieldViolations()[0].GetDescription() != msg {
			t.Errorf("detail 0 = %v", d0)
		}
		d1, err := details[1].Value()
		if err != nil {
			t.Fatal(err)
		}
		if info, ok := d1.(*testingv1.ErrorInfoDetail); !ok || info.GetReason() != "TEST_FAILURE" || info.GetRetryAfterSeconds() != 7 {
			t.Errorf("detail 1 = %v", d1)
		}
		if got := cerr.Meta().Get("X-Fail-Header"); got != "before" {
			t.Errorf("header metadata x-fail-header %q, want before", got)
		}
		if got := cerr.Meta().Get("X-Fail-Trailer"); got != "after" {
			t.Errorf("trailer metadata x-fail-trailer %q, want after", got)
		}
	})

	t.Run("metadata", func(t *testing.T) {
		c := grpcWebClient[emptypb.Empty, testingv1.MetadataResponse](tr.hc, gw.url, "Metadata", v.opts)
		req := connect.NewRequest(&emptypb.Empty{})
		req.Header().Set("X-Custom", "value 1")
		req.Header().Add("X-Multi", "a")
		req.Header().Add("X-Multi", "b")
		req.Header().Set("Authorization", "Bearer t0k3n")
		req.Header().Set("X-Data-Bin", connect.EncodeBinaryHeader([]byte{0xff, 0, 1}))
		res, err := c.CallUnary(grpcWebContext(t), req)
		if err != nil {
			t.Fatal(err)
		}
		in := res.Msg.GetIncoming()
		want := map[string]string{
			"x-custom":      "value 1",
			"x-multi":       "a,b",
			"authorization": "Bearer t0k3n",
			"x-data-bin":    base64.StdEncoding.EncodeToString([]byte{0xff, 0, 1}),
		}
		for k, w := range want {
			if in[k] != w {
				t.Errorf("backend saw %s = %q, want %q", k, in[k], w)
			}
		}
		for _, k := range []string{"x-grpc-web", "x-user-agent", "grpc-timeout", "accept-encoding"} {
			if _, ok := in[k]; ok {
				t.Errorf("framing header %s reached the backend as metadata", k)
			}
		}
		if got := res.Header().Get("X-Echo-Header"); got != "h" {
			t.Errorf("response header x-echo-header %q, want h", got)
		}
		if b, err := connect.DecodeBinaryHeader(res.Header().Get("X-Echo-Bin")); err != nil || !bytes.Equal(b, []byte{0, 1, 2}) {
			t.Errorf("response header x-echo-bin = %x, %v; want 000102", b, err)
		}
		if got := res.Trailer().Get("X-Echo-Trailer"); got != "t" {
			t.Errorf("trailer x-echo-trailer %q, want t", got)
		}
	})

	t.Run("deadline", func(t *testing.T) {
		c := grpcWebClient[testingv1.SleepRequest, testingv1.SleepResponse](tr.hc, gw.url, "Sleep", v.opts)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		res, err := c.CallUnary(ctx, connect.NewRequest(&testingv1.SleepRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		if rem := res.Msg.GetRemainingDeadline().AsDuration(); !res.Msg.GetHadDeadline() || rem <= 0 || rem > 5*time.Second {
			t.Errorf("backend saw deadline %v (had: %v), want within 5s", rem, res.Msg.GetHadDeadline())
		}

		ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err = c.CallUnary(ctx, connect.NewRequest(&testingv1.SleepRequest{Duration: durationpb.New(10 * time.Second)}))
		if connect.CodeOf(err) != connect.CodeDeadlineExceeded {
			t.Errorf("error %v, want DEADLINE_EXCEEDED", err)
		}
	})
}

// TestGRPCWebGatewayDeadline checks the deadline the gateway imposes itself
// (Options.DefaultTimeout) when the client sends none: the backend's
// DEADLINE_EXCEEDED reaches the client as the call's status.
func TestGRPCWebGatewayDeadline(t *testing.T) {
	backend := testbackend.Start(t, "web")
	gw := startGateway(t, "descriptors", transcoder.Options{DefaultTimeout: 100 * time.Millisecond}, backend)
	c := grpcWebClient[testingv1.SleepRequest, testingv1.SleepResponse](h2cClient(t), gw.url, "Sleep", []connect.ClientOption{connect.WithGRPCWeb()})
	start := time.Now()
	_, err := c.CallUnary(context.Background(), connect.NewRequest(&testingv1.SleepRequest{Duration: durationpb.New(10 * time.Second)}))
	if connect.CodeOf(err) != connect.CodeDeadlineExceeded {
		t.Errorf("error %v, want DEADLINE_EXCEEDED", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("call took %v", d)
	}
}

// webFrame is one frame of a gRPC-Web response.
type webFrame struct {
	flags byte
	data  []byte
}

// grpcWebPost sends a raw gRPC-Web request.
func grpcWebPost(t *testing.T, hc *http.Client, url, contentType string, body io.Reader, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(grpcWebContext(t), http.MethodPost, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func webEnvelope(flags byte, msg []byte) []byte {
	out := make([]byte, 5, 5+len(msg))
	out[0] = flags
	binary.BigEndian.PutUint32(out[1:], uint32(len(msg)))
	return append(out, msg...)
}

// parseWebFrames splits a response body into frames. In text mode every
// frame must be base64 on its own, padded: it is decoded alone, as a client
// decoding as it reads would.
func parseWebFrames(t *testing.T, body []byte, text bool) []webFrame {
	t.Helper()
	var frames []webFrame
	for len(body) > 0 {
		var frame []byte
		if text {
			if len(body) < 8 {
				t.Fatalf("text body ends in a partial frame header: %q", body)
			}
			head, err := base64.StdEncoding.DecodeString(string(body[:8]))
			if err != nil {
				t.Fatalf("frame header %q: %v", body[:8], err)
			}
			n := 5 + int(binary.BigEndian.Uint32(head[1:5]))
			chars := (n + 2) / 3 * 4
			if len(body) < chars {
				t.Fatalf("text body ends inside a frame")
			}
			frame, err = base64.StdEncoding.DecodeString(string(body[:chars]))
			if err != nil {
				t.Fatalf("frame %q is not base64 on its own: %v", body[:chars], err)
			}
			body = body[chars:]
		} else {
			if len(body) < 5 {
				t.Fatalf("body ends in a partial frame header: %x", body)
			}
			n := 5 + int(binary.BigEndian.Uint32(body[1:5]))
			if len(body) < n {
				t.Fatalf("body ends inside a frame")
			}
			frame, body = body[:n], body[n:]
		}
		frames = append(frames, webFrame{flags: frame[0], data: frame[5:]})
	}
	return frames
}

// webTrailer parses a trailer frame, checking its keys are lowercase.
func webTrailer(t *testing.T, f webFrame) http.Header {
	t.Helper()
	if f.flags&0x80 == 0 {
		t.Fatalf("last frame has flags %#x, want a trailer frame", f.flags)
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(f.data), "\r\n"), "\r\n") {
		k, _, _ := strings.Cut(line, ":")
		if k != strings.ToLower(k) {
			t.Errorf("trailer key %q is not lowercase", k)
		}
	}
	h, err := textproto.NewReader(bufio.NewReader(strings.NewReader(string(f.data) + "\r\n"))).ReadMIMEHeader()
	if err != nil {
		t.Fatalf("trailer frame %q: %v", f.data, err)
	}
	return http.Header(h)
}

// pipeBody streams data in chunks of the given sizes through a pipe, so the
// server sees it arrive in pieces.
func pipeBody(t *testing.T, data []byte, sizes ...int) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		for i := 0; len(data) > 0; i++ {
			n := min(sizes[i%len(sizes)], len(data))
			if _, err := pw.Write(data[:n]); err != nil {
				return
			}
			data = data[n:]
			time.Sleep(time.Millisecond)
		}
		pw.Close()
	}()
	t.Cleanup(func() { pr.Close() })
	return pr
}

func TestGRPCWebText(t *testing.T) {
	backend := testbackend.Start(t, "web")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	for _, tr := range grpcWebTransports(t) {
		t.Run(tr.name, func(t *testing.T) {
			t.Run("unary", func(t *testing.T) {
				in := grpcWebEverything()
				msg, _ := proto.Marshal(in)
				env := webEnvelope(0, msg)
				// Two separately padded base64 chunks, so padding sits in the
				// middle of the body, sent in odd-sized pieces.
				text := base64.StdEncoding.EncodeToString(env[:7]) + base64.StdEncoding.EncodeToString(env[7:])
				if !strings.Contains(strings.TrimRight(text, "="), "=") {
					t.Fatal("test body has no padding mid-stream")
				}
				resp, body := grpcWebPost(t, tr.hc, gw.url+grpcWebEchoPath+"Echo", "application/grpc-web-text",
					pipeBody(t, []byte(text), 1, 2, 3, 5, 7, 11), map[string]string{"Accept": "application/grpc-web-text"})
				if resp.StatusCode != 200 {
					t.Fatalf("HTTP %d", resp.StatusCode)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "application/grpc-web-text" {
					t.Errorf("Content-Type %q, want application/grpc-web-text", ct)
				}
				frames := parseWebFrames(t, body, true)
				if len(frames) != 2 {
					t.Fatalf("%d frames, want a message and the trailer", len(frames))
				}
				out := &testingv1.Everything{}
				if err := proto.Unmarshal(frames[0].data, out); err != nil || !proto.Equal(out, in) {
					t.Errorf("reply %v (%v), want %v", out, err, in)
				}
				if tr := webTrailer(t, frames[1]); tr.Get("Grpc-Status") != "0" {
					t.Errorf("trailer %v, want grpc-status 0", tr)
				}
			})

			t.Run("server stream", func(t *testing.T) {
				msg, _ := proto.Marshal(&testingv1.StreamRequest{Count: 3, Text: "txt"})
				text := base64.StdEncoding.EncodeToString(webEnvelope(0, msg))
				resp, body := grpcWebPost(t, tr.hc, gw.url+grpcWebEchoPath+"ServerStream", "application/grpc-web-text+proto",
					pipeBody(t, []byte(text), 4, 1), nil)
				if ct := resp.Header.Get("Content-Type"); ct != "application/grpc-web-text+proto" {
					t.Errorf("Content-Type %q, want application/grpc-web-text+proto", ct)
				}
				frames := parseWebFrames(t, body, true)
				if len(frames) != 4 {
					t.Fatalf("%d frames, want 3 messages and the trailer", len(frames))
				}
				for i, f := range frames[:3] {
					out := &testingv1.StreamReply{}
					if err := proto.Unmarshal(f.data, out); err != nil || out.GetIndex() != int32(i) || out.GetText() != "txt" {
						t.Errorf("reply %d = %v (%v)", i, out, err)
					}
				}
				if tr := webTrailer(t, frames[3]); tr.Get("Grpc-Status") != "0" {
					t.Errorf("trailer %v, want grpc-status 0", tr)
				}
			})

			t.Run("error in trailer frame", func(t *testing.T) {
				msg, _ := proto.Marshal(&testingv1.StreamRequest{Count: 3, FailAfter: 1, FailCode: 10})
				text := base64.StdEncoding.EncodeToString(webEnvelope(0, msg))
				_, body := grpcWebPost(t, tr.hc, gw.url+grpcWebEchoPath+"ServerStream", "application/grpc-web-text",
					strings.NewReader(text), nil)
				frames := parseWebFrames(t, body, true)
				if len(frames) != 2 {
					t.Fatalf("%d frames, want 1 message and the trailer", len(frames))
				}
				trailer := webTrailer(t, frames[1])
				if trailer.Get("Grpc-Status") != "10" || trailer.Get("Grpc-Message") != "failed after 1 replies" {
					t.Errorf("trailer %v, want grpc-status 10", trailer)
				}
			})
		})
	}
}

func TestGRPCWebBinaryRaw(t *testing.T) {
	backend := testbackend.Start(t, "web")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	hc := grpcWebHTTP1Client(t)

	t.Run("compressed replies", func(t *testing.T) {
		for _, size := range []int{10, 5000} {
			in := &testingv1.Everything{StringValue: strings.Repeat("z", size)}
			msg, _ := proto.Marshal(in)
			resp, body := grpcWebPost(t, hc, gw.url+grpcWebEchoPath+"Echo", "application/grpc-web+proto",
				bytes.NewReader(webEnvelope(0, msg)), map[string]string{"Grpc-Accept-Encoding": "deflate, gzip"})
			if got := resp.Header.Get("Grpc-Encoding"); got != "gzip" {
				t.Errorf("Grpc-Encoding %q, want gzip", got)
			}
			frames := parseWebFrames(t, body, false)
			if len(frames) != 2 {
				t.Fatalf("%d frames", len(frames))
			}
			data := frames[0].data
			switch {
			case size < 512 && frames[0].flags != 0:
				t.Errorf("small reply has flags %#x, want it uncompressed", frames[0].flags)
			case size >= 512:
				if frames[0].flags != 1 {
					t.Fatalf("large reply has flags %#x, want compressed", frames[0].flags)
				}
				zr, err := gzip.NewReader(bytes.NewReader(data))
				if err != nil {
					t.Fatal(err)
				}
				if data, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			out := &testingv1.Everything{}
			if err := proto.Unmarshal(data, out); err != nil || !proto.Equal(out, in) {
				t.Errorf("reply differs: %v", err)
			}
			if frames[1].flags != 0x80 {
				t.Errorf("trailer flags %#x, want 0x80 (never compressed)", frames[1].flags)
			}
		}
	})

	t.Run("no compression unless accepted", func(t *testing.T) {
		msg, _ := proto.Marshal(&testingv1.Everything{StringValue: strings.Repeat("z", 5000)})
		resp, body := grpcWebPost(t, hc, gw.url+grpcWebEchoPath+"Echo", "application/grpc-web",
			bytes.NewReader(webEnvelope(0, msg)), nil)
		if got := resp.Header.Get("Grpc-Encoding"); got != "" {
			t.Errorf("Grpc-Encoding %q, want none", got)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/grpc-web" {
			t.Errorf("Content-Type %q, want application/grpc-web", ct)
		}
		if frames := parseWebFrames(t, body, false); len(frames) != 2 || frames[0].flags != 0 {
			t.Errorf("frames %v, want an uncompressed message and the trailer", frames)
		}
	})

	t.Run("json", func(t *testing.T) {
		resp, body := grpcWebPost(t, hc, gw.url+grpcWebEchoPath+"Echo", "application/grpc-web+json; charset=utf-8",
			bytes.NewReader(webEnvelope(0, []byte(`{"stringValue":"j","int64Value":"5"}`))), nil)
		if ct := resp.Header.Get("Content-Type"); ct != "application/grpc-web+json" {
			t.Errorf("Content-Type %q, want application/grpc-web+json", ct)
		}
		frames := parseWebFrames(t, body, false)
		if len(frames) != 2 {
			t.Fatalf("%d frames", len(frames))
		}
		assertJSONEqual(t, frames[0].data, `{"stringValue":"j","int64Value":"5"}`)
	})

	t.Run("trailers-only", func(t *testing.T) {
		msg, _ := proto.Marshal(&testingv1.FailRequest{Code: 7, Message: "denied", WithDetails: true})
		resp, body := grpcWebPost(t, hc, gw.url+grpcWebEchoPath+"Fail", "application/grpc-web+proto",
			bytes.NewReader(webEnvelope(0, msg)), nil)
		if resp.StatusCode != 200 || len(body) != 0 {
			t.Fatalf("HTTP %d, body %q; want 200 and an empty body", resp.StatusCode, body)
		}
		h := resp.Header
		if h.Get("Grpc-Status") != "7" || h.Get("Grpc-Message") != "denied" || h.Get("Grpc-Status-Details-Bin") == "" {
			t.Errorf("headers %v, want grpc-status 7 with message and details", h)
		}
		if h.Get("X-Fail-Header") != "before" || h.Get("X-Fail-Trailer") != "after" {
			t.Errorf("headers %v, want the backend's header and trailer metadata", h)
		}
	})
}

// TestGRPCWebBadInput sends malformed requests: each gets its grpc-status
// in the gRPC-Web form and none reaches the backend.
func TestGRPCWebBadInput(t *testing.T) {
	backend := testbackend.Start(t, "web")
	gw := startGateway(t, "reflection", transcoder.Options{MaxRequestBytes: 1024}, backend)
	echo, _ := proto.Marshal(&testingv1.Everything{StringValue: "x"})
	var badGzip = webEnvelope(1, []byte("not gzip"))
	var bigGzip bytes.Buffer
	zw := gzip.NewWriter(&bigGzip)
	_, _ = zw.Write(make([]byte, 100000))
	_ = zw.Close()

	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		header      map[string]string
		body        []byte
		httpStatus  int
		code        int
	}{
		{name: "truncated header", body: []byte{0, 0, 0}, code: 3},
		{name: "truncated message", body: append([]byte{0, 0, 0, 0, 100}, echo...), code: 3},
		{name: "empty body", body: nil, code: 3},
		{name: "two messages", body: append(webEnvelope(0, echo), webEnvelope(0, echo)...), code: 3},
		{name: "trailing garbage", body: append(webEnvelope(0, echo), 0), code: 3},
		{name: "oversized", body: append([]byte{0, 0, 0, 0x13, 0x88}, make([]byte, 5000)...), code: 8},
		{name: "oversized prefix only", body: []byte{0, 0xff, 0xff, 0xff, 0xff}, code: 8},
		{name: "decompresses too big", header: map[string]string{"Grpc-Encoding": "gzip"}, body: webEnvelope(1, bigGzip.Bytes()), code: 8},
		{name: "bad frame flags", body: webEnvelope(0x80, echo), code: 3},
		{name: "compressed without encoding", body: webEnvelope(1, echo), code: 13},
		{name: "bad gzip", header: map[string]string{"Grpc-Encoding": "gzip"}, body: badGzip, code: 3},
		{name: "unknown encoding", header: map[string]string{"Grpc-Encoding": "br"}, body: webEnvelope(0, echo), code: 12},
		{name: "bad base64", contentType: "application/grpc-web-text", body: []byte("AAAA$$$$"), code: 3},
		{name: "base64 ends inside a group", contentType: "application/grpc-web-text", body: []byte("AAAAA"), code: 3},
		{name: "base64 of a truncated frame", contentType: "application/grpc-web-text", body: []byte(base64.StdEncoding.EncodeToString([]byte{0, 0, 0, 0, 9, 1})), code: 3},
		{name: "bad JSON", contentType: "application/grpc-web+json", body: webEnvelope(0, []byte(`{"stringValue":`)), code: 3},
		{name: "unknown field in JSON", contentType: "application/grpc-web+json", body: webEnvelope(0, []byte(`{"nope":1}`)), code: 3},
		{name: "bad timeout", header: map[string]string{"Grpc-Timeout": "soon"}, body: webEnvelope(0, echo), code: 3},
		{name: "bad binary metadata", header: map[string]string{"X-Thing-Bin": "***"}, body: webEnvelope(0, echo), code: 3},
		{name: "unknown method", path: grpcWebEchoPath + "Nope", body: webEnvelope(0, echo), code: 12},
		{name: "unknown service", path: "/no.Such/Method", body: webEnvelope(0, echo), code: 12},
		{name: "GET", method: http.MethodGet, body: nil, httpStatus: http.StatusMethodNotAllowed, code: 12},
		{name: "unsupported codec", contentType: "application/grpc-web+thrift", body: webEnvelope(0, echo), httpStatus: http.StatusUnsupportedMediaType, code: 12},
	}
	for _, tr := range grpcWebTransports(t) {
		for _, tt := range tests {
			t.Run(tr.name+"/"+tt.name, func(t *testing.T) {
				method, path, ct := tt.method, tt.path, tt.contentType
				if method == "" {
					method = http.MethodPost
				}
				if path == "" {
					path = grpcWebEchoPath + "Echo"
				}
				if ct == "" {
					ct = "application/grpc-web+proto"
				}
				before := backend.Calls()
				req, err := http.NewRequestWithContext(grpcWebContext(t), method, gw.url+path, bytes.NewReader(tt.body))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", ct)
				for k, v := range tt.header {
					req.Header.Set(k, v)
				}
				resp, err := tr.hc.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				want := tt.httpStatus
				if want == 0 {
					want = http.StatusOK
				}
				if resp.StatusCode != want {
					t.Errorf("HTTP %d, want %d", resp.StatusCode, want)
				}
				if got := resp.Header.Get("Grpc-Status"); got != strconv.Itoa(tt.code) {
					t.Errorf("grpc-status %q (%s), want %d", got, resp.Header.Get("Grpc-Message"), tt.code)
				}
				if resp.Header.Get("Grpc-Message") == "" {
					t.Error("no grpc-message")
				}
				if len(body) != 0 {
					t.Errorf("trailers-only response has a body: %q", body)
				}
				if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/grpc-web") {
					t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
				}
				if after := backend.Calls(); after != before {
					t.Errorf("backend got %d calls", after-before)
				}
			})
		}
	}
}

// TestGRPCWebConnectErrors checks connect-go reads the gateway's own
// errors (trailers-only, before any call) as statuses.
func TestGRPCWebConnectErrors(t *testing.T) {
	backend := testbackend.Start(t, "web")
	gw := startGateway(t, "reflection", transcoder.Options{MaxRequestBytes: 100}, backend)
	for _, tr := range grpcWebTransports(t) {
		t.Run(tr.name, func(t *testing.T) {
			opts := []connect.ClientOption{connect.WithGRPCWeb()}
			c := grpcWebClient[testingv1.Everything, testingv1.Everything](tr.hc, gw.url, "Echo", opts)
			_, err := c.CallUnary(grpcWebContext(t), connect.NewRequest(&testingv1.Everything{StringValue: strings.Repeat("x", 200)}))
			if connect.CodeOf(err) != connect.CodeResourceExhausted {
				t.Errorf("oversized: %v, want RESOURCE_EXHAUSTED", err)
			}
			c = grpcWebClient[testingv1.Everything, testingv1.Everything](tr.hc, gw.url, "Missing", opts)
			_, err = c.CallUnary(grpcWebContext(t), connect.NewRequest(&testingv1.Everything{}))
			if connect.CodeOf(err) != connect.CodeUnimplemented {
				t.Errorf("unknown method: %v, want UNIMPLEMENTED", err)
			}
			if backend.Calls() != 0 {
				t.Errorf("backend got %d calls", backend.Calls())
			}
		})
	}
}

func BenchmarkGRPCWebUnary(b *testing.B) {
	backend := testbackend.Start(b, "bench")
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
	hc := &http.Client{Transport: tr}

	for _, v := range []grpcWebVariant{
		{name: "proto", opts: []connect.ClientOption{connect.WithGRPCWeb()}},
		{name: "json", opts: []connect.ClientOption{connect.WithGRPCWeb(), connect.WithProtoJSON()}},
	} {
		b.Run(v.name, func(b *testing.B) {
			c := connect.NewClient[testingv1.Everything, testingv1.Everything](hc, "http://"+ln.Addr().String()+grpcWebEchoPath+"Echo", v.opts...)
			req := connect.NewRequest(grpcWebEverything())
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.CallUnary(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
