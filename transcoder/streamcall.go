package transcoder

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/portico-gw/portico/upstream"
)

// clientStream is one client protocol's side of a call (gRPC, gRPC-Web,
// Connect): it reads request messages from the client and writes the
// backend's replies back in its own framing. Messages cross this interface
// in the protobuf wire format; a protocol that speaks JSON transcodes at its
// edge.
type clientStream interface {
	// receive returns the next request message, or io.EOF after the last.
	// The slice belongs to the caller. Other errors are gRPC statuses
	// (INVALID_ARGUMENT for a malformed frame, RESOURCE_EXHAUSTED for an
	// oversized one, CANCELED when the client went away).
	receive() ([]byte, error)
	// sendHeader is called once, before the first reply message, with the
	// backend's header metadata.
	sendHeader(header metadata.MD) error
	// send writes one reply message and flushes it to the client.
	send(msg []byte) error
	// finish ends the call. headerSent says whether sendHeader was called;
	// if not, this is a trailers-only response and header holds whatever
	// header metadata the backend sent.
	finish(st *status.Status, headerSent bool, header, trailer metadata.MD)
	// stopReceiving makes a receive blocked on the client return at once.
	// It is called after finish when the call ended while the client was
	// still sending, so that nothing reads the request after the handler
	// returns.
	stopReceiving()
}

// proxyStream runs one call of any shape between a client protocol and the
// backend that serves m. ctx carries the call's deadline and outgoing
// metadata.
//
// When the method takes a single request message, that message is read and
// checked (exactly one, well-formed) before the backend is called, so bad
// input is never forwarded. Replies are written as they arrive, one at a
// time: a slow client blocks send, which stops reading from the backend, so
// HTTP/2 flow control slows the backend instead of Portico buffering.
func (s *Snapshot) proxyStream(ctx context.Context, m *method, c clientStream) {
	clientStreams := m.desc.IsStreamingClient()
	var first []byte
	if !clientStreams {
		msg, err := c.receive()
		if err == io.EOF {
			err = status.Errorf(codes.InvalidArgument, "%s takes one request message; the request has none", m.desc.FullName())
		}
		if err != nil {
			c.finish(toStatus(err), false, nil, nil)
			return
		}
		if _, err := c.receive(); err != io.EOF {
			if err == nil {
				err = status.Errorf(codes.InvalidArgument, "%s takes one request message; the request has more", m.desc.FullName())
			}
			c.finish(toStatus(err), false, nil, nil)
			return
		}
		first = msg
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	streaming := clientStreams || m.desc.IsStreamingServer()
	var idle *idleTimer
	if d := m.opts.StreamIdleTimeout; streaming && d > 0 {
		idle = newIdleTimer(d, cancel)
		defer idle.stop()
	}
	if p, ok := c.(pinger); ok && streaming {
		if every := m.opts.keepaliveInterval(); every > 0 {
			stopPings := startPings(ctx, p, every)
			defer stopPings()
		}
	}
	desc := &grpc.StreamDesc{
		StreamName:    string(m.desc.Name()),
		ServerStreams: m.desc.IsStreamingServer(),
		ClientStreams: clientStreams,
	}
	cs, err := m.backend.conn.NewStream(ctx, desc, m.grpcPath, rawCodec)
	if err != nil {
		c.finish(toStatus(err), false, nil, nil)
		return
	}

	// clientErr receives the request side's failure, if any, before the call
	// is canceled because of it, so the reply loop can report the client's
	// error rather than the cancellation it caused.
	var clientErr chan error
	var pumpDone chan struct{}
	if clientStreams {
		clientErr = make(chan error, 1)
		pumpDone = make(chan struct{})
		go func() {
			defer close(pumpDone)
			for {
				msg, err := c.receive()
				if err == io.EOF {
					_ = cs.CloseSend()
					return
				}
				if err != nil {
					clientErr <- err
					cancel()
					return
				}
				idle.touch()
				if err := cs.SendMsg(&upstream.Frame{Data: msg}); err != nil {
					// The backend ended the call; its status comes
					// from RecvMsg.
					return
				}
			}
		}()
	} else if err := cs.SendMsg(&upstream.Frame{Data: first}); err == nil {
		_ = cs.CloseSend()
	}

	headerSent := false
	var st *status.Status
	for {
		var reply upstream.Frame
		if err := cs.RecvMsg(&reply); err != nil {
			if err == io.EOF {
				st = statusOK
			} else {
				st = toStatus(err)
			}
			break
		}
		if !headerSent {
			header, _ := cs.Header()
			if err := c.sendHeader(header); err != nil {
				st = sendFailure(err)
				break
			}
			headerSent = true
		}
		if err := c.send(reply.Data); err != nil {
			st = sendFailure(err)
			break
		}
		idle.touch()
	}
	select {
	case err := <-clientErr:
		st = toStatus(err)
	default:
	}
	if idle.expired() {
		st = status.Newf(codes.DeadlineExceeded, "stream idle for %s: no message either way", m.opts.StreamIdleTimeout)
	}
	var header metadata.MD
	if !headerSent {
		header, _ = cs.Header()
	}
	trailer := cs.Trailer()
	cancel()
	c.finish(st, headerSent, header, trailer)
	if pumpDone != nil {
		select {
		case <-pumpDone:
		default:
			c.stopReceiving()
			<-pumpDone
		}
	}
}

// statusOK is the status of every call that succeeds.
var statusOK = status.New(codes.OK, "")

// sendFailure is the status of a call whose reply could not be written: the
// protocol's own status when it has one (a reply it could not transcode),
// else CANCELED, since the client is gone.
func sendFailure(err error) *status.Status {
	if st, ok := status.FromError(err); ok {
		return st
	}
	return status.New(codes.Canceled, "client went away: "+err.Error())
}

// callContext is the context of a call made for r: r's own (so that a
// client going away cancels the call), carrying md as outgoing metadata and
// the timeout as deadline (zero: none). cancel is never nil.
func callContext(r *http.Request, md metadata.MD, timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx := metadata.NewOutgoingContext(r.Context(), md)
	if timeout > 0 {
		return context.WithTimeout(ctx, timeout)
	}
	return ctx, func() {}
}

// pinger is implemented by client streams whose protocol can ping an idle
// stream (WebSocket ping frames, SSE comment lines). ping must be safe to
// call while the stream sends.
type pinger interface {
	ping() error
}

// startPings pings p every interval until ctx ends or stop is called.
func startPings(ctx context.Context, p pinger, every time.Duration) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-done:
				return
			case <-t.C:
				if p.ping() != nil {
					return
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}

// idleTimer cancels a call when no message has moved for its duration.
// A nil *idleTimer does nothing, so calls without a limit pay nothing.
type idleTimer struct {
	d     time.Duration
	timer *time.Timer
	fired atomic.Bool
}

func newIdleTimer(d time.Duration, cancel context.CancelFunc) *idleTimer {
	it := &idleTimer{d: d}
	it.timer = time.AfterFunc(d, func() {
		it.fired.Store(true)
		cancel()
	})
	return it
}

// touch records that a message moved.
func (it *idleTimer) touch() {
	if it != nil {
		it.timer.Reset(it.d)
	}
}

func (it *idleTimer) expired() bool { return it != nil && it.fired.Load() }

func (it *idleTimer) stop() {
	if it != nil {
		it.timer.Stop()
	}
}

// rawCodec makes a call carry messages as bytes (upstream.RawCodec). It is
// made once: a call option per call would be an allocation per call.
var rawCodec = grpc.ForceCodecV2(upstream.RawCodec{})
