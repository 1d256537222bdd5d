// Package testbackend is the gRPC backend Portico's end-to-end tests call:
// portico.testing.v1.EchoService and OtherService, served on loopback with
// reflection registered. Most methods echo their request back, so a test
// can see in the reply exactly which message the gateway sent upstream; the
// rest fail, sleep or echo metadata on request. The backend counts calls, so
// tests can assert that bad input never reached it.
package testbackend

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"

	testingv1 "github.com/portico-gw/portico/gen/portico/testing/v1"
)

// Backend is a running test backend.
type Backend struct {
	// Addr is the backend's loopback address, host:port.
	Addr string
	// Name is what OtherService.Ping reports in served_by.
	Name string

	server *grpc.Server
	files  []protoreflect.FileDescriptor
	calls  atomic.Int64

	mu       sync.Mutex
	canceled []string // methods whose context ended by cancellation
	last     map[string]proto.Message
}

// Start serves a backend on a loopback port until the test ends. With no
// options it serves both services (see WithEcho, WithOther).
func Start(t testing.TB, name string, opts ...Option) *Backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return Serve(t, ln, name, opts...)
}

// Serve is Start on a listener of the caller's choosing.
func Serve(t testing.TB, ln net.Listener, name string, opts ...Option) *Backend {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	if !cfg.echo && !cfg.other {
		cfg.echo, cfg.other = true, true
	}
	b := &Backend{Addr: ln.Addr().String(), Name: name, last: map[string]proto.Message{}}
	serverOpts := []grpc.ServerOption{grpc.ChainUnaryInterceptor(b.record)}
	if cfg.tls != nil {
		serverOpts = append(serverOpts, grpc.Creds(credentials.NewTLS(cfg.tls)))
	}
	b.server = grpc.NewServer(serverOpts...)
	if cfg.echo {
		testingv1.RegisterEchoServiceServer(b.server, &echoService{b: b})
		testingv1.RegisterStreamServiceServer(b.server, &streamService{b: b})
		b.files = append(b.files, testingv1.File_portico_testing_v1_echo_proto, testingv1.File_portico_testing_v1_stream_proto)
	}
	if cfg.other {
		testingv1.RegisterOtherServiceServer(b.server, &otherService{b: b})
		b.files = append(b.files, testingv1.File_portico_testing_v1_other_proto)
	}
	if !cfg.noReflection {
		reflection.Register(b.server)
	}
	go func() { _ = b.server.Serve(ln) }()
	t.Cleanup(b.server.Stop)
	return b
}

// Files returns the descriptor files of the services the backend serves,
// for tests that give the gateway a descriptor file instead of reflection.
func (b *Backend) Files() []protoreflect.FileDescriptor { return b.files }

// Stop stops the backend at once, failing calls in progress.
func (b *Backend) Stop() { b.server.Stop() }

// Option selects what a backend serves.
type Option func(*config)

type config struct {
	echo, other, noReflection bool
	tls                       *tls.Config
}

// WithTLS serves TLS with c (set ClientAuth for mutual TLS).
func WithTLS(c *tls.Config) Option { return func(cfg *config) { cfg.tls = c } }

// WithEcho registers EchoService and StreamService.
func WithEcho() Option { return func(c *config) { c.echo = true } }

// WithOther registers OtherService.
func WithOther() Option { return func(c *config) { c.other = true } }

// WithoutReflection leaves gRPC server reflection unregistered.
func WithoutReflection() Option { return func(c *config) { c.noReflection = true } }

// Calls returns how many calls the backend has received.
func (b *Backend) Calls() int64 { return b.calls.Load() }

// Last returns the last request message received by a method ("Echo",
// "Ping", …), or nil.
func (b *Backend) Last(method string) proto.Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last[method]
}

// Canceled returns the methods whose calls ended because their context was
// canceled, in order.
func (b *Backend) Canceled() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.canceled...)
}

func (b *Backend) record(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	b.calls.Add(1)
	name := info.FullMethod[strings.LastIndexByte(info.FullMethod, '/')+1:]
	b.mu.Lock()
	b.last[name] = proto.Clone(req.(proto.Message))
	b.mu.Unlock()
	resp, err := handler(ctx, req)
	if ctx.Err() == context.Canceled {
		b.mu.Lock()
		b.canceled = append(b.canceled, name)
		b.mu.Unlock()
	}
	return resp, err
}

type echoService struct {
	testingv1.UnimplementedEchoServiceServer
	b *Backend
}

func (s *echoService) Echo(_ context.Context, in *testingv1.Everything) (*testingv1.Everything, error) {
	return in, nil
}

func (s *echoService) EchoResponseBody(_ context.Context, in *testingv1.Everything) (*testingv1.Everything, error) {
	return in, nil
}

func (s *echoService) GetResource(_ context.Context, in *testingv1.Everything) (*testingv1.Everything, error) {
	return in, nil
}

func (s *echoService) NoRule(_ context.Context, in *testingv1.Everything) (*testingv1.Everything, error) {
	return in, nil
}

// Fail returns the status the request asks for, with the details echo.proto
// documents; code 0 answers Empty.
func (s *echoService) Fail(ctx context.Context, in *testingv1.FailRequest) (*emptypb.Empty, error) {
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-fail-header", "before"))
	_ = grpc.SetTrailer(ctx, metadata.Pairs("x-fail-trailer", "after"))
	if in.GetCode() == 0 {
		return &emptypb.Empty{}, nil
	}
	st := status.New(codes.Code(in.GetCode()), in.GetMessage())
	if in.GetWithDetails() {
		withDetails, err := st.WithDetails(
			&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "message", Description: in.GetMessage()}}},
			&testingv1.ErrorInfoDetail{Reason: "TEST_FAILURE", RetryAfterSeconds: 7},
		)
		if err != nil {
			return nil, err
		}
		st = withDetails
	}
	return nil, st.Err()
}

// Metadata reports the metadata it received, values joined by ",", binary
// values base64-encoded (standard alphabet); it sends header x-echo-header, trailer x-echo-trailer
// and binary header x-echo-bin (bytes 0, 1, 2).
func (s *echoService) Metadata(ctx context.Context, _ *emptypb.Empty) (*testingv1.MetadataResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	out := &testingv1.MetadataResponse{Incoming: map[string]string{}}
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		values := md[k]
		if strings.HasSuffix(k, "-bin") {
			values = make([]string, len(md[k]))
			for i, v := range md[k] {
				values[i] = base64.StdEncoding.EncodeToString([]byte(v))
			}
		}
		out.Incoming[k] = strings.Join(values, ",")
	}
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-echo-header", "h", "x-echo-bin", string([]byte{0, 1, 2})))
	_ = grpc.SetTrailer(ctx, metadata.Pairs("x-echo-trailer", "t"))
	return out, nil
}

// Sleep waits for the requested duration or until its context ends, and
// reports the deadline it saw.
func (s *echoService) Sleep(ctx context.Context, in *testingv1.SleepRequest) (*testingv1.SleepResponse, error) {
	out := &testingv1.SleepResponse{}
	if dl, ok := ctx.Deadline(); ok {
		out.HadDeadline = true
		out.RemainingDeadline = durationpb.New(time.Until(dl))
	}
	select {
	case <-time.After(in.GetDuration().AsDuration()):
		return out, nil
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}

func (s *echoService) Upload(_ context.Context, in *httpbody.HttpBody) (*testingv1.UploadResponse, error) {
	return &testingv1.UploadResponse{ContentType: in.GetContentType(), Size: int64(len(in.GetData())), Data: in.GetData()}, nil
}

func (s *echoService) UploadField(_ context.Context, in *testingv1.UploadFieldRequest) (*testingv1.UploadResponse, error) {
	return &testingv1.UploadResponse{
		ContentType: in.GetFile().GetContentType(),
		Size:        int64(len(in.GetFile().GetData())),
		Name:        in.GetName() + "|" + in.GetNote(),
		Data:        in.GetFile().GetData(),
	}, nil
}

// Download returns "content of <name>" with the requested content type
// (text/plain by default).
func (s *echoService) Download(_ context.Context, in *testingv1.DownloadRequest) (*httpbody.HttpBody, error) {
	ct := in.GetContentType()
	switch ct {
	case "":
		ct = "text/plain; charset=utf-8"
	case "none":
		ct = ""
	}
	return &httpbody.HttpBody{ContentType: ct, Data: []byte("content of " + in.GetName())}, nil
}

type otherService struct {
	testingv1.UnimplementedOtherServiceServer
	b *Backend
}

func (s *otherService) Ping(_ context.Context, in *testingv1.PingRequest) (*testingv1.PingResponse, error) {
	return &testingv1.PingResponse{Text: in.GetText(), ServedBy: s.b.Name}, nil
}

// ServerStream sends the replies echo.proto documents.
func (s *echoService) ServerStream(in *testingv1.StreamRequest, stream grpc.ServerStreamingServer[testingv1.StreamReply]) error {
	s.b.calls.Add(1)
	s.b.mu.Lock()
	s.b.last["ServerStream"] = proto.Clone(in)
	s.b.mu.Unlock()
	if d := in.GetInitialDelay(); d != nil {
		select {
		case <-time.After(d.AsDuration()):
		case <-stream.Context().Done():
			s.b.noteCanceled(stream.Context(), "ServerStream")
			return status.FromContextError(stream.Context().Err()).Err()
		}
	}
	for i := range in.GetCount() {
		if (in.GetFailAfter() > 0 || in.GetFailCode() != 0) && i == in.GetFailAfter() {
			break
		}
		if i > 0 && in.GetInterval() != nil {
			select {
			case <-time.After(in.GetInterval().AsDuration()):
			case <-stream.Context().Done():
				s.b.noteCanceled(stream.Context(), "ServerStream")
				return status.FromContextError(stream.Context().Err()).Err()
			}
		}
		if err := stream.Send(&testingv1.StreamReply{Index: i, Text: in.GetText()}); err != nil {
			s.b.noteCanceled(stream.Context(), "ServerStream")
			return err
		}
	}
	if in.GetFailAfter() > 0 || in.GetFailCode() != 0 {
		code := codes.Code(in.GetFailCode())
		if code == codes.OK {
			code = codes.Unknown
		}
		return status.Errorf(code, "failed after %d replies", in.GetFailAfter())
	}
	return nil
}

// ClientStream answers once with the count and texts of its requests.
func (s *echoService) ClientStream(stream grpc.ClientStreamingServer[testingv1.StreamReply, testingv1.StreamReply]) error {
	s.b.calls.Add(1)
	var texts []string
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&testingv1.StreamReply{Index: int32(len(texts)), Text: strings.Join(texts, ",")})
		}
		if err != nil {
			s.b.noteCanceled(stream.Context(), "ClientStream")
			return err
		}
		texts = append(texts, in.GetText())
	}
}

// BidiStream echoes each request at once.
func (s *echoService) BidiStream(stream grpc.BidiStreamingServer[testingv1.StreamReply, testingv1.StreamReply]) error {
	s.b.calls.Add(1)
	for i := int32(0); ; i++ {
		in, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			s.b.noteCanceled(stream.Context(), "BidiStream")
			return err
		}
		if err := stream.Send(&testingv1.StreamReply{Index: i, Text: in.GetText()}); err != nil {
			return err
		}
	}
}

func (b *Backend) noteCanceled(ctx context.Context, method string) {
	if ctx.Err() == context.Canceled {
		b.mu.Lock()
		b.canceled = append(b.canceled, method)
		b.mu.Unlock()
	}
}

type streamService struct {
	testingv1.UnimplementedStreamServiceServer
	b *Backend
}

// UploadStream reports what the stream of chunks added up to.
func (s *streamService) UploadStream(stream grpc.ClientStreamingServer[httpbody.HttpBody, testingv1.UploadResponse]) error {
	s.b.calls.Add(1)
	out := &testingv1.UploadResponse{}
	chunks := 0
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			out.Name = strconv.Itoa(chunks)
			return stream.SendAndClose(out)
		}
		if err != nil {
			s.b.noteCanceled(stream.Context(), "UploadStream")
			return err
		}
		if chunks == 0 {
			out.ContentType = in.GetContentType()
		}
		chunks++
		out.Size += int64(len(in.GetData()))
	}
}

// UploadFieldStream is UploadStream with the body in a field.
func (s *streamService) UploadFieldStream(stream grpc.ClientStreamingServer[testingv1.UploadFieldRequest, testingv1.UploadResponse]) error {
	s.b.calls.Add(1)
	out := &testingv1.UploadResponse{}
	var first *testingv1.UploadFieldRequest
	chunks := 0
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			out.Name = first.GetName() + "|" + first.GetNote() + "|" + strconv.Itoa(chunks)
			return stream.SendAndClose(out)
		}
		if err != nil {
			return err
		}
		if first == nil {
			first = in
			out.ContentType = in.GetFile().GetContentType()
		}
		chunks++
		out.Size += int64(len(in.GetFile().GetData()))
	}
}

// DownloadStream sends the chunks stream.proto documents.
func (s *streamService) DownloadStream(in *testingv1.DownloadStreamRequest, stream grpc.ServerStreamingServer[httpbody.HttpBody]) error {
	s.b.calls.Add(1)
	for i := range in.GetCount() {
		if i > 0 && in.GetInterval() != nil {
			select {
			case <-time.After(in.GetInterval().AsDuration()):
			case <-stream.Context().Done():
				s.b.noteCanceled(stream.Context(), "DownloadStream")
				return status.FromContextError(stream.Context().Err()).Err()
			}
		}
		chunk := &httpbody.HttpBody{Data: bytes.Repeat([]byte{byte(i)}, int(in.GetSize()))}
		if i == 0 {
			chunk.ContentType = "application/octet-stream"
		}
		if err := stream.Send(chunk); err != nil {
			s.b.noteCanceled(stream.Context(), "DownloadStream")
			return err
		}
	}
	return nil
}
