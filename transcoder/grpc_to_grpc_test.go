package transcoder_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	grpcgzip "google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/metadata"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	testingv1 "github.com/portico-gw/portico/gen/portico/testing/v1"
	"github.com/portico-gw/portico/internal/testbackend"
	"github.com/portico-gw/portico/schema"
	"github.com/portico-gw/portico/transcoder"
	"github.com/portico-gw/portico/upstream"
)

// grpcPassDial returns a grpc-go client connection to the gateway.
func grpcPassDial(t testing.TB, url string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(strings.TrimPrefix(url, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func grpcPassCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// grpcPassEverything exercises every kind of field, so pass-through can be
// checked byte for byte.
func grpcPassEverything() *testingv1.Everything {
	opt := int32(-7)
	return &testingv1.Everything{
		DoubleValue:    1.5,
		Int64Value:     -1 << 40,
		Uint64Value:    1 << 63,
		Sint32Value:    -3,
		BoolValue:      true,
		StringValue:    "héllo, gateway",
		BytesValue:     []byte{0, 1, 2, 255},
		Color:          testingv1.Color(1),
		RepeatedInt32:  []int32{1, 2, 3},
		RepeatedString: []string{"a", "b"},
		Nested:         &testingv1.Nested{Label: "n", Count: 2, Child: &testingv1.Nested{Label: "c"}},
		Timestamp:      timestamppb.New(time.Unix(1700000000, 123)),
		Duration:       durationpb.New(1500 * time.Millisecond),
		StringMap:      map[string]string{"k": "v"},
		IntMap:         map[int32]string{7: "seven"},
		Choice:         &testingv1.Everything_ChoiceInt{ChoiceInt: 42},
		OptionalInt32:  &opt,
		Name:           "projects/p/resources/r",
	}
}

func grpcPassWantCode(t *testing.T, err error, code codes.Code) *status.Status {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != code {
		t.Fatalf("error %v, want code %v", err, code)
	}
	return st
}

func TestGRPCToGRPCUnary(t *testing.T) {
	for _, mode := range schemaModes {
		t.Run(mode, func(t *testing.T) {
			backend := testbackend.Start(t, "b")
			gw := startGateway(t, mode, transcoder.Options{}, backend)
			client := testingv1.NewEchoServiceClient(grpcPassDial(t, gw.url))
			ctx := grpcPassCtx(t)

			in := grpcPassEverything()
			out, err := client.Echo(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(in, out) {
				t.Errorf("reply %v, want %v", out, in)
			}
			if !proto.Equal(backend.Last("Echo"), in) {
				t.Errorf("backend got %v, want %v", backend.Last("Echo"), in)
			}
			// An empty message is an empty envelope, not a missing one.
			out, err = client.Echo(ctx, &testingv1.Everything{})
			if err != nil || !proto.Equal(out, &testingv1.Everything{}) {
				t.Errorf("empty echo: %v, %v", out, err)
			}
			ping, err := testingv1.NewOtherServiceClient(grpcPassDial(t, gw.url)).Ping(ctx, &testingv1.PingRequest{Text: "hi"})
			if err != nil || ping.GetText() != "hi" || ping.GetServedBy() != "b" {
				t.Errorf("Ping: %v, %v", ping, err)
			}
		})
	}
}

func TestGRPCToGRPCStreams(t *testing.T) {
	backend := testbackend.Start(t, "b")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	client := testingv1.NewEchoServiceClient(grpcPassDial(t, gw.url))

	t.Run("server", func(t *testing.T) {
		stream, err := client.ServerStream(grpcPassCtx(t), &testingv1.StreamRequest{Count: 5, Text: "s"})
		if err != nil {
			t.Fatal(err)
		}
		for i := range int32(5) {
			reply, err := stream.Recv()
			if err != nil {
				t.Fatalf("reply %d: %v", i, err)
			}
			if reply.GetIndex() != i || reply.GetText() != "s" {
				t.Errorf("reply %d: %v", i, reply)
			}
		}
		if _, err := stream.Recv(); err != io.EOF {
			t.Errorf("after the last reply: %v, want EOF", err)
		}
	})
	t.Run("server fails midway", func(t *testing.T) {
		stream, err := client.ServerStream(grpcPassCtx(t), &testingv1.StreamRequest{Count: 5, FailAfter: 2, FailCode: int32(codes.DataLoss)})
		if err != nil {
			t.Fatal(err)
		}
		var got int
		for {
			_, err = stream.Recv()
			if err != nil {
				break
			}
			got++
		}
		if got != 2 {
			t.Errorf("%d replies before the failure, want 2", got)
		}
		st := grpcPassWantCode(t, err, codes.DataLoss)
		if st.Message() != "failed after 2 replies" {
			t.Errorf("message %q", st.Message())
		}
	})
	t.Run("server none", func(t *testing.T) {
		stream, err := client.ServerStream(grpcPassCtx(t), &testingv1.StreamRequest{Count: 0})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); err != io.EOF {
			t.Errorf("got %v, want EOF", err)
		}
	})
	t.Run("client", func(t *testing.T) {
		stream, err := client.ClientStream(grpcPassCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, text := range []string{"a", "b", "c"} {
			if err := stream.Send(&testingv1.StreamReply{Text: text}); err != nil {
				t.Fatal(err)
			}
		}
		reply, err := stream.CloseAndRecv()
		if err != nil {
			t.Fatal(err)
		}
		if reply.GetIndex() != 3 || reply.GetText() != "a,b,c" {
			t.Errorf("reply %v", reply)
		}
	})
	t.Run("bidi", func(t *testing.T) {
		stream, err := client.BidiStream(grpcPassCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		// Interleaved: each reply is read before the next request is
		// sent, which only works if the gateway streams both ways.
		for i, text := range []string{"x", "y", "z"} {
			if err := stream.Send(&testingv1.StreamReply{Text: text}); err != nil {
				t.Fatal(err)
			}
			reply, err := stream.Recv()
			if err != nil {
				t.Fatal(err)
			}
			if reply.GetIndex() != int32(i) || reply.GetText() != text {
				t.Errorf("reply %d: %v", i, reply)
			}
		}
		if err := stream.CloseSend(); err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); err != io.EOF {
			t.Errorf("after CloseSend: %v, want EOF", err)
		}
	})
}

func TestGRPCToGRPCMetadata(t *testing.T) {
	backend := testbackend.Start(t, "b")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	client := testingv1.NewEchoServiceClient(grpcPassDial(t, gw.url))

	binValue := string([]byte{0, 0xff, 'x'})
	ctx := metadata.AppendToOutgoingContext(grpcPassCtx(t),
		"x-custom", "v1", "x-custom", "v2", "x-raw-bin", binValue, "authorization", "Bearer t")
	var header, trailer metadata.MD
	out, err := client.Metadata(ctx, &emptypb.Empty{}, grpc.Header(&header), grpc.Trailer(&trailer))
	if err != nil {
		t.Fatal(err)
	}
	in := out.GetIncoming()
	for k, want := range map[string]string{
		"x-custom":      "v1,v2",
		"x-raw-bin":     base64.StdEncoding.EncodeToString([]byte(binValue)),
		"authorization": "Bearer t",
	} {
		if in[k] != want {
			t.Errorf("backend saw %s = %q, want %q (all: %v)", k, in[k], want, in)
		}
	}
	if in["x-forwarded-for"] == "" {
		t.Errorf("no x-forwarded-for; backend saw %v", in)
	}
	for k := range in {
		// (content-type, user-agent and grpc-accept-encoding are the
		// gateway's own call's, which grpc-go shows as metadata.)
		if k == "te" || k == "grpc-timeout" || k == "grpc-encoding" {
			t.Errorf("protocol header %s reached the backend as metadata", k)
		}
	}
	if got := header.Get("x-echo-header"); !slices.Equal(got, []string{"h"}) {
		t.Errorf("header x-echo-header = %q", got)
	}
	if got := header.Get("x-echo-bin"); !slices.Equal(got, []string{string([]byte{0, 1, 2})}) {
		t.Errorf("header x-echo-bin = %q", got)
	}
	if got := trailer.Get("x-echo-trailer"); !slices.Equal(got, []string{"t"}) {
		t.Errorf("trailer x-echo-trailer = %q", got)
	}
}

func TestGRPCToGRPCErrorDetails(t *testing.T) {
	backend := testbackend.Start(t, "b")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	client := testingv1.NewEchoServiceClient(grpcPassDial(t, gw.url))

	const msg = "nope: ünïcode 100%\nsecond line"
	var header, trailer metadata.MD
	_, err := client.Fail(grpcPassCtx(t), &testingv1.FailRequest{Code: int32(codes.FailedPrecondition), Message: msg, WithDetails: true},
		grpc.Header(&header), grpc.Trailer(&trailer))
	st := grpcPassWantCode(t, err, codes.FailedPrecondition)
	if st.Message() != msg {
		t.Errorf("message %q, want %q", st.Message(), msg)
	}
	details := st.Details()
	if len(details) != 2 {
		t.Fatalf("details %v, want 2", details)
	}
	if br, ok := details[0].(*errdetails.BadRequest); !ok || br.GetFieldViolations()[0].GetDescription() != msg {
		t.Errorf("detail 0: %T %v", details[0], details[0])
	}
	if info, ok := details[1].(*testingv1.ErrorInfoDetail); !ok || info.GetReason() != "TEST_FAILURE" || info.GetRetryAfterSeconds() != 7 {
		t.Errorf("detail 1: %T %v", details[1], details[1])
	}
	if got := header.Get("x-fail-header"); !slices.Equal(got, []string{"before"}) {
		t.Errorf("header x-fail-header = %q (header %v)", got, header)
	}
	if got := trailer.Get("x-fail-trailer"); !slices.Equal(got, []string{"after"}) {
		t.Errorf("trailer x-fail-trailer = %q (trailer %v)", got, trailer)
	}

	// Without details, there is no grpc-status-details-bin to decode.
	_, err = client.Fail(grpcPassCtx(t), &testingv1.FailRequest{Code: int32(codes.NotFound), Message: "gone"})
	if st := grpcPassWantCode(t, err, codes.NotFound); st.Message() != "gone" || len(st.Details()) != 0 {
		t.Errorf("status %v", st.Proto())
	}
}

func TestGRPCToGRPCDeadline(t *testing.T) {
	backend := testbackend.Start(t, "b")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	client := testingv1.NewEchoServiceClient(grpcPassDial(t, gw.url))

	t.Run("exceeded", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := client.Sleep(ctx, &testingv1.SleepRequest{Duration: durationpb.New(10 * time.Second)})
		grpcPassWantCode(t, err, codes.DeadlineExceeded)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %v", d)
		}
	})
	t.Run("propagated", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		out, err := client.Sleep(ctx, &testingv1.SleepRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if rem := out.GetRemainingDeadline().AsDuration(); !out.GetHadDeadline() || rem <= 3*time.Second || rem > 5*time.Second {
			t.Errorf("backend saw deadline %v (had %v), want about 5s", rem, out.GetHadDeadline())
		}
		out, err = client.Sleep(grpcPassCtx(t), &testingv1.SleepRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if out.GetRemainingDeadline().AsDuration() > 10*time.Second {
			t.Errorf("backend saw deadline %v", out.GetRemainingDeadline().AsDuration())
		}
		out, err = client.Sleep(context.Background(), &testingv1.SleepRequest{})
		if err != nil || out.GetHadDeadline() {
			t.Errorf("without a client deadline: %v, %v", out, err)
		}
	})
	t.Run("capped", func(t *testing.T) {
		gw := startGateway(t, "reflection", transcoder.Options{MaxTimeout: time.Second}, backend)
		client := testingv1.NewEchoServiceClient(grpcPassDial(t, gw.url))
		for _, ctx := range []context.Context{context.Background(), grpcPassCtx(t)} {
			out, err := client.Sleep(ctx, &testingv1.SleepRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if rem := out.GetRemainingDeadline().AsDuration(); !out.GetHadDeadline() || rem > time.Second {
				t.Errorf("backend saw deadline %v (had %v), want at most 1s", rem, out.GetHadDeadline())
			}
		}
	})
}

func TestGRPCToGRPCCancel(t *testing.T) {
	backend := testbackend.Start(t, "b")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	client := testingv1.NewEchoServiceClient(grpcPassDial(t, gw.url))

	t.Run("unary", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(200*time.Millisecond, cancel)
		_, err := client.Sleep(ctx, &testingv1.SleepRequest{Duration: durationpb.New(30 * time.Second)})
		grpcPassWantCode(t, err, codes.Canceled)
		waitFor(t, func() bool { return slices.Contains(backend.Canceled(), "Sleep") })
	})
	t.Run("server stream", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		stream, err := client.ServerStream(ctx, &testingv1.StreamRequest{Count: 1000, Interval: durationpb.New(20 * time.Millisecond)})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, err := stream.Recv(); err != nil {
				t.Fatal(err)
			}
		}
		cancel()
		waitFor(t, func() bool { return slices.Contains(backend.Canceled(), "ServerStream") })
	})
	t.Run("bidi", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		stream, err := client.BidiStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.Send(&testingv1.StreamReply{Text: "a"}); err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); err != nil {
			t.Fatal(err)
		}
		cancel()
		waitFor(t, func() bool { return slices.Contains(backend.Canceled(), "BidiStream") })
	})
}

func TestGRPCToGRPCGzip(t *testing.T) {
	backend := testbackend.Start(t, "b")
	gw := startGateway(t, "reflection", transcoder.Options{MaxRequestBytes: 64 << 10}, backend)
	client := testingv1.NewEchoServiceClient(grpcPassDial(t, gw.url))
	ctx := grpcPassCtx(t)

	in := grpcPassEverything()
	in.StringValue = strings.Repeat("compressible ", 1000)
	out, err := client.Echo(ctx, in, grpc.UseCompressor(grpcgzip.Name))
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(in, out) {
		t.Error("gzip echo differs")
	}
	stream, err := client.BidiStream(ctx, grpc.UseCompressor(grpcgzip.Name))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		text := strings.Repeat(strconv.Itoa(i), 5000)
		if err := stream.Send(&testingv1.StreamReply{Text: text}); err != nil {
			t.Fatal(err)
		}
		if reply, err := stream.Recv(); err != nil || reply.GetText() != text {
			t.Fatalf("reply %d: %v", i, err)
		}
	}
	_ = stream.CloseSend()
	if _, err := stream.Recv(); err != io.EOF {
		t.Errorf("got %v, want EOF", err)
	}

	// A message that inflates past the limit is refused, though its
	// compressed form fits.
	calls := backend.Calls()
	in.StringValue = strings.Repeat("a", 100<<10)
	_, err = client.Echo(ctx, in, grpc.UseCompressor(grpcgzip.Name))
	grpcPassWantCode(t, err, codes.ResourceExhausted)
	if backend.Calls() != calls {
		t.Error("oversized message reached the backend")
	}
}

func TestGRPCToGRPCUnknownMethod(t *testing.T) {
	backend := testbackend.Start(t, "b")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	conn := grpcPassDial(t, gw.url)
	for _, path := range []string{"/portico.testing.v1.EchoService/Nope", "/no.Such/Method"} {
		err := conn.Invoke(grpcPassCtx(t), path, &emptypb.Empty{}, &emptypb.Empty{})
		if st := grpcPassWantCode(t, err, codes.Unimplemented); !strings.Contains(st.Message(), path) {
			t.Errorf("message %q does not name %s", st.Message(), path)
		}
	}
	if backend.Calls() != 0 {
		t.Error("the backend was called")
	}
}

// TestGRPCToGRPCReflectionDispatch checks only that reflection requests
// reach Portico's reflection service rather than a backend.
func TestGRPCToGRPCReflectionDispatch(t *testing.T) {
	backend := testbackend.Start(t, "b")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	stream, err := reflectionv1.NewServerReflectionClient(grpcPassDial(t, gw.url)).ServerReflectionInfo(grpcPassCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionv1.ServerReflectionRequest{
		MessageRequest: &reflectionv1.ServerReflectionRequest_ListServices{},
	}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, svc := range resp.GetListServicesResponse().GetService() {
		names = append(names, svc.GetName())
	}
	if !slices.Contains(names, "portico.testing.v1.EchoService") {
		t.Errorf("services %v", names)
	}
	_ = stream.CloseSend()
}

func TestGRPCToGRPCBackendDown(t *testing.T) {
	backend := testbackend.Start(t, "b")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	backend.Stop()
	client := testingv1.NewEchoServiceClient(grpcPassDial(t, gw.url))
	_, err := client.Echo(grpcPassCtx(t), &testingv1.Everything{StringValue: "x"})
	grpcPassWantCode(t, err, codes.Unavailable)
}

func TestGRPCToGRPCConnectClient(t *testing.T) {
	backend := testbackend.Start(t, "b")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	httpClient := h2cClient(t)
	const svc = "/portico.testing.v1.EchoService/"

	for _, codec := range []string{"proto", "json"} {
		for _, gz := range []bool{false, true} {
			t.Run(codec+"/gzip="+strconv.FormatBool(gz), func(t *testing.T) {
				opts := []connect.ClientOption{connect.WithGRPC()}
				if codec == "json" {
					opts = append(opts, connect.WithProtoJSON())
				}
				if gz {
					opts = append(opts, connect.WithSendGzip())
				}
				ctx := grpcPassCtx(t)

				echo := connect.NewClient[testingv1.Everything, testingv1.Everything](httpClient, gw.url+svc+"Echo", opts...)
				in := grpcPassEverything()
				res, err := echo.CallUnary(ctx, connect.NewRequest(in))
				if err != nil {
					t.Fatal(err)
				}
				if !proto.Equal(in, res.Msg) {
					t.Errorf("reply %v, want %v", res.Msg, in)
				}
				if !proto.Equal(backend.Last("Echo"), in) {
					t.Errorf("backend got %v", backend.Last("Echo"))
				}
				wantCT := "application/grpc" // connect-go's name for the proto codec
				if codec == "json" {
					wantCT = "application/grpc+json"
				}
				if ct := res.Header().Get("Content-Type"); ct != wantCT {
					t.Errorf("Content-Type %q, want %q", ct, wantCT)
				}
				if enc := res.Header().Get("Grpc-Encoding"); (enc == "gzip") != gz {
					t.Errorf("Grpc-Encoding %q with gzip=%v", enc, gz)
				}

				fail := connect.NewClient[testingv1.FailRequest, emptypb.Empty](httpClient, gw.url+svc+"Fail", opts...)
				_, err = fail.CallUnary(ctx, connect.NewRequest(&testingv1.FailRequest{Code: int32(codes.Aborted), Message: "m", WithDetails: true}))
				var cerr *connect.Error
				if !errors.As(err, &cerr) || cerr.Code() != connect.CodeAborted || cerr.Message() != "m" || len(cerr.Details()) != 2 {
					t.Errorf("Fail: %v", err)
				}

				server := connect.NewClient[testingv1.StreamRequest, testingv1.StreamReply](httpClient, gw.url+svc+"ServerStream", opts...)
				ss, err := server.CallServerStream(ctx, connect.NewRequest(&testingv1.StreamRequest{Count: 5, Text: "t"}))
				if err != nil {
					t.Fatal(err)
				}
				var n int32
				for ss.Receive() {
					if ss.Msg().GetIndex() != n || ss.Msg().GetText() != "t" {
						t.Errorf("reply %d: %v", n, ss.Msg())
					}
					n++
				}
				if err := ss.Err(); err != nil || n != 5 {
					t.Errorf("server stream: %d replies, %v", n, err)
				}
				_ = ss.Close()

				client := connect.NewClient[testingv1.StreamReply, testingv1.StreamReply](httpClient, gw.url+svc+"ClientStream", opts...)
				cs := client.CallClientStream(ctx)
				for _, text := range []string{"p", "q"} {
					if err := cs.Send(&testingv1.StreamReply{Text: text}); err != nil {
						t.Fatal(err)
					}
				}
				reply, err := cs.CloseAndReceive()
				if err != nil {
					t.Fatal(err)
				}
				if reply.Msg.GetIndex() != 2 || reply.Msg.GetText() != "p,q" {
					t.Errorf("client stream reply %v", reply.Msg)
				}

				bidi := connect.NewClient[testingv1.StreamReply, testingv1.StreamReply](httpClient, gw.url+svc+"BidiStream", opts...)
				bs := bidi.CallBidiStream(ctx)
				for i, text := range []string{"u", "v", "w"} {
					if err := bs.Send(&testingv1.StreamReply{Text: text}); err != nil {
						t.Fatal(err)
					}
					got, err := bs.Receive()
					if err != nil {
						t.Fatal(err)
					}
					if got.GetIndex() != int32(i) || got.GetText() != text {
						t.Errorf("bidi reply %d: %v", i, got)
					}
				}
				if err := bs.CloseRequest(); err != nil {
					t.Fatal(err)
				}
				if _, err := bs.Receive(); !errors.Is(err, io.EOF) {
					t.Errorf("after CloseRequest: %v, want EOF", err)
				}
				_ = bs.CloseResponse()
			})
		}
	}
}

// grpcPassFrame frames msg as one gRPC envelope.
func grpcPassFrame(flags byte, msg []byte) []byte {
	out := make([]byte, 5, 5+len(msg))
	out[0] = flags
	binary.BigEndian.PutUint32(out[1:], uint32(len(msg)))
	return append(out, msg...)
}

func grpcPassGzip(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// grpcPassResponse is a gRPC response as seen on the wire.
type grpcPassResponse struct {
	status  int
	header  http.Header
	trailer http.Header
	body    []byte
}

// grpcField returns a gRPC status field from the headers (Trailers-Only)
// or the trailers.
func (r grpcPassResponse) grpcField(name string) string {
	if v := r.header.Get(name); v != "" {
		return v
	}
	return r.trailer.Get(name)
}

func (r grpcPassResponse) code(t *testing.T) codes.Code {
	t.Helper()
	v := r.grpcField("Grpc-Status")
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("grpc-status %q (header %v, trailer %v)", v, r.header, r.trailer)
	}
	return codes.Code(n)
}

// frames splits the response body into envelopes.
func (r grpcPassResponse) frames(t *testing.T) (flags []byte, msgs [][]byte) {
	t.Helper()
	b := r.body
	for len(b) > 0 {
		if len(b) < 5 {
			t.Fatalf("truncated response frame %x", b)
		}
		n := int(binary.BigEndian.Uint32(b[1:5]))
		if len(b) < 5+n {
			t.Fatalf("truncated response frame")
		}
		flags = append(flags, b[0])
		msgs = append(msgs, b[5:5+n])
		b = b[5+n:]
	}
	return flags, msgs
}

func grpcPassPost(t *testing.T, client *http.Client, url string, header map[string]string, body []byte) grpcPassResponse {
	t.Helper()
	req, err := http.NewRequestWithContext(grpcPassCtx(t), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return grpcPassResponse{status: resp.StatusCode, header: resp.Header, trailer: resp.Trailer, body: b}
}

func TestGRPCToGRPCMalformed(t *testing.T) {
	backend := testbackend.Start(t, "b")
	gw := startGateway(t, "reflection", transcoder.Options{MaxRequestBytes: 1024}, backend)
	client := h2cClient(t)
	echo := gw.url + "/portico.testing.v1.EchoService/Echo"
	good, _ := proto.Marshal(&testingv1.Everything{StringValue: "ok"})
	big, _ := proto.Marshal(&testingv1.Everything{StringValue: strings.Repeat("x", 2000)})
	gzipHeader := map[string]string{"Grpc-Encoding": "gzip"}

	cases := []struct {
		name   string
		header map[string]string
		body   []byte
		code   codes.Code
	}{
		{"empty body", nil, nil, codes.InvalidArgument},
		{"truncated frame header", nil, []byte{0, 0, 0}, codes.InvalidArgument},
		{"length prefix beyond body", nil, append([]byte{0, 0, 0, 0, 50}, good...), codes.InvalidArgument},
		{"trailing garbage", nil, append(grpcPassFrame(0, good), 0, 0), codes.InvalidArgument},
		{"two messages", nil, append(grpcPassFrame(0, good), grpcPassFrame(0, good)...), codes.InvalidArgument},
		{"oversized", nil, grpcPassFrame(0, big), codes.ResourceExhausted},
		{"oversized prefix only", nil, []byte{0, 0xff, 0xff, 0xff, 0xff}, codes.ResourceExhausted},
		{"oversized inflated", gzipHeader, grpcPassFrame(1, grpcPassGzip(t, big)), codes.ResourceExhausted},
		{"invalid gzip", gzipHeader, grpcPassFrame(1, []byte("not gzip at all")), codes.InvalidArgument},
		{"compressed without encoding", nil, grpcPassFrame(1, grpcPassGzip(t, good)), codes.Internal},
		{"unknown flags", nil, grpcPassFrame(0x80, good), codes.InvalidArgument},
		{"unknown encoding", map[string]string{"Grpc-Encoding": "snappy"}, grpcPassFrame(1, good), codes.Unimplemented},
		{"unknown subtype", map[string]string{"Content-Type": "application/grpc+cbor"}, grpcPassFrame(0, good), codes.Unimplemented},
		{"bad grpc-timeout", map[string]string{"Grpc-Timeout": "soon"}, grpcPassFrame(0, good), codes.InvalidArgument},
		{"bad binary metadata", map[string]string{"X-Thing-Bin": "!!!"}, grpcPassFrame(0, good), codes.InvalidArgument},
		{"invalid JSON", map[string]string{"Content-Type": "application/grpc+json"}, grpcPassFrame(0, []byte(`{"stringValue":`)), codes.InvalidArgument},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls := backend.Calls()
			resp := grpcPassPost(t, client, echo, tc.header, tc.body)
			if resp.status != http.StatusOK {
				t.Fatalf("HTTP status %d, want 200", resp.status)
			}
			if code := resp.code(t); code != tc.code {
				t.Errorf("grpc-status %v, want %v; grpc-message %q", code, tc.code, resp.grpcField("Grpc-Message"))
			}
			if resp.header.Get("Grpc-Status") == "" {
				t.Error("not a Trailers-Only response")
			}
			if len(resp.body) != 0 {
				t.Errorf("body %x", resp.body)
			}
			if resp.grpcField("Grpc-Message") == "" {
				t.Error("no grpc-message")
			}
			if !strings.HasPrefix(resp.header.Get("Content-Type"), "application/grpc") {
				t.Errorf("Content-Type %q", resp.header.Get("Content-Type"))
			}
			if got := resp.header.Get("Grpc-Accept-Encoding"); got != "gzip" {
				t.Errorf("Grpc-Accept-Encoding %q", got)
			}
			if backend.Calls() != calls {
				t.Error("the backend was called")
			}
		})
	}

	t.Run("stalled request body hits the deadline", func(t *testing.T) {
		pr, pw := io.Pipe()
		t.Cleanup(func() { pw.Close() })
		go func() { _, _ = pw.Write([]byte{0, 0, 0, 0, 100, 1, 2}) }()
		req, _ := http.NewRequestWithContext(grpcPassCtx(t), http.MethodPost, echo, pr)
		req.Header.Set("Content-Type", "application/grpc")
		req.Header.Set("Grpc-Timeout", "300m")
		calls := backend.Calls()
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if got := resp.Header.Get("Grpc-Status"); got != strconv.Itoa(int(codes.DeadlineExceeded)) {
			t.Errorf("grpc-status %q, want DEADLINE_EXCEEDED; message %q", got, resp.Header.Get("Grpc-Message"))
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("answered after %v", d)
		}
		if backend.Calls() != calls {
			t.Error("the backend was called")
		}
	})

	t.Run("client stream truncated after a message", func(t *testing.T) {
		msg, _ := proto.Marshal(&testingv1.StreamReply{Text: "a"})
		resp := grpcPassPost(t, client, gw.url+"/portico.testing.v1.EchoService/ClientStream", nil, append(grpcPassFrame(0, msg), 0, 0, 0, 0, 9))
		if code := resp.code(t); code != codes.InvalidArgument {
			t.Errorf("grpc-status %v, want InvalidArgument (%s)", code, resp.grpcField("Grpc-Message"))
		}
	})

	t.Run("HTTP/1.1", func(t *testing.T) {
		tr := &http.Transport{}
		t.Cleanup(tr.CloseIdleConnections)
		resp := grpcPassPost(t, &http.Client{Transport: tr}, echo, nil, grpcPassFrame(0, good))
		if resp.status != http.StatusHTTPVersionNotSupported {
			t.Errorf("HTTP status %d, want 505", resp.status)
		}
	})
	t.Run("GET", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(grpcPassCtx(t), http.MethodGet, echo, nil)
		req.Header.Set("Content-Type", "application/grpc")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
			t.Errorf("HTTP status %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
		}
	})
}

func TestGRPCToGRPCWire(t *testing.T) {
	backend := testbackend.Start(t, "b")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	client := h2cClient(t)
	echo := gw.url + "/portico.testing.v1.EchoService/Echo"
	in := &testingv1.Everything{StringValue: strings.Repeat("wire ", 100)}
	msg, _ := proto.Marshal(in)

	t.Run("content type mirrored, status in trailers", func(t *testing.T) {
		for _, ct := range []string{"application/grpc", "application/grpc+proto", "Application/GRPC+Proto; charset=utf-8"} {
			resp := grpcPassPost(t, client, echo, map[string]string{"Content-Type": ct}, grpcPassFrame(0, msg))
			want := strings.ToLower(strings.TrimSuffix(ct, "; charset=utf-8"))
			if got := resp.header.Get("Content-Type"); got != want {
				t.Errorf("Content-Type %q for request %q", got, ct)
			}
			if resp.header.Get("Grpc-Status") != "" || resp.trailer.Get("Grpc-Status") != "0" {
				t.Errorf("grpc-status header %q, trailer %q", resp.header.Get("Grpc-Status"), resp.trailer.Get("Grpc-Status"))
			}
			flags, msgs := resp.frames(t)
			if len(msgs) != 1 || flags[0] != 0 || !bytes.Equal(msgs[0], msg) {
				t.Errorf("reply frames %v %x", flags, msgs)
			}
		}
	})
	t.Run("gzip mirrored", func(t *testing.T) {
		for _, accept := range []string{"", "gzip", "identity, gzip", "identity"} {
			resp := grpcPassPost(t, client, echo, map[string]string{"Grpc-Encoding": "gzip", "Grpc-Accept-Encoding": accept}, grpcPassFrame(1, grpcPassGzip(t, msg)))
			wantGzip := accept != "identity"
			if got := resp.header.Get("Grpc-Encoding"); (got == "gzip") != wantGzip {
				t.Errorf("accept %q: Grpc-Encoding %q", accept, got)
			}
			flags, msgs := resp.frames(t)
			if len(msgs) != 1 {
				t.Fatalf("accept %q: %d frames, status %s", accept, len(msgs), resp.grpcField("Grpc-Message"))
			}
			reply := msgs[0]
			if (flags[0] == 1) != wantGzip {
				t.Errorf("accept %q: flags %d", accept, flags[0])
			}
			if flags[0] == 1 {
				zr, err := gzip.NewReader(bytes.NewReader(reply))
				if err != nil {
					t.Fatal(err)
				}
				if reply, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(reply, msg) {
				t.Errorf("accept %q: reply differs", accept)
			}
		}
		// Declared gzip, but the message itself is not compressed.
		resp := grpcPassPost(t, client, echo, map[string]string{"Grpc-Encoding": "gzip"}, grpcPassFrame(0, msg))
		if resp.code(t) != codes.OK {
			t.Errorf("uncompressed message on a gzip stream: %s", resp.grpcField("Grpc-Message"))
		}
	})
	t.Run("status fields", func(t *testing.T) {
		const message = "ünïcode 100%"
		req, _ := proto.Marshal(&testingv1.FailRequest{Code: int32(codes.InvalidArgument), Message: message, WithDetails: true})
		resp := grpcPassPost(t, client, gw.url+"/portico.testing.v1.EchoService/Fail", nil, grpcPassFrame(0, req))
		if resp.code(t) != codes.InvalidArgument {
			t.Fatalf("grpc-status %v", resp.code(t))
		}
		if got := resp.grpcField("Grpc-Message"); got != "%C3%BCn%C3%AFcode 100%25" {
			t.Errorf("grpc-message %q", got)
		}
		raw, err := base64.RawStdEncoding.DecodeString(resp.grpcField("Grpc-Status-Details-Bin"))
		if err != nil {
			t.Fatal(err)
		}
		var sp spb.Status
		if err := proto.Unmarshal(raw, &sp); err != nil {
			t.Fatal(err)
		}
		if sp.GetCode() != int32(codes.InvalidArgument) || sp.GetMessage() != message || len(sp.GetDetails()) != 2 {
			t.Errorf("grpc-status-details-bin %v", &sp)
		}
		// The backend sent header metadata before failing: headers, then
		// trailers, as the backend itself sends them.
		if resp.header.Get("X-Fail-Header") != "before" || resp.trailer.Get("X-Fail-Trailer") != "after" {
			t.Errorf("header %v, trailer %v", resp.header, resp.trailer)
		}
	})
	t.Run("binary metadata", func(t *testing.T) {
		empty, _ := proto.Marshal(&emptypb.Empty{})
		resp := grpcPassPost(t, client, gw.url+"/portico.testing.v1.EchoService/Metadata",
			map[string]string{"X-In-Bin": base64.RawURLEncoding.EncodeToString([]byte{0xfb, 0xff})}, grpcPassFrame(0, empty))
		if got := resp.header.Get("X-Echo-Bin"); got != "AAEC" {
			t.Errorf("x-echo-bin %q, want AAEC", got)
		}
		_, msgs := resp.frames(t)
		var out testingv1.MetadataResponse
		if len(msgs) != 1 || proto.Unmarshal(msgs[0], &out) != nil {
			t.Fatalf("reply %x", msgs)
		}
		if got := out.GetIncoming()["x-in-bin"]; got != base64.StdEncoding.EncodeToString([]byte{0xfb, 0xff}) {
			t.Errorf("backend saw x-in-bin %q", got)
		}
	})
}

// BenchmarkGRPCPassThroughUnary measures a unary call from a grpc-go client
// through the gateway to the backend and back.
func BenchmarkGRPCPassThroughUnary(b *testing.B) {
	backend := testbackend.Start(b, "bench")
	conn, err := upstream.Dial(backend.Name, backend.Addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	sch, err := schema.FromReflection(ctx, conn.Conn, conn.Target)
	cancel()
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
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: transcoder.NewHandler(snap), Protocols: &protocols}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { srv.Close() })

	client := testingv1.NewEchoServiceClient(grpcPassDial(b, "http://"+ln.Addr().String()))
	in := grpcPassEverything()
	if _, err := client.Echo(context.Background(), in); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := client.Echo(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}
