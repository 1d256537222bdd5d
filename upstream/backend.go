package upstream

import (
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Backend is one gRPC backend and its connection.
type Backend struct {
	// Name identifies the backend in logs, errors and route listings.
	Name string
	// Target is the address the connection dials, in gRPC's target syntax
	// ("host:port", "dns:///name:port", "unix:///path").
	Target string
	// Conn is the single connection shared by every call to the backend.
	Conn *grpc.ClientConn
}

// Dial makes the connection to a backend. The connection is lazy: it dials
// on first use and reconnects with gRPC's own backoff, so Dial never waits
// and a backend that is down is reported by the calls made to it (as
// UNAVAILABLE). Without extra options the connection is plaintext (h2c),
// the usual setting for backends on a private network.
func Dial(name, target string, opts ...grpc.DialOption) (*Backend, error) {
	all := append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		// Fixed flow-control windows instead of grpc-go's BDP estimation,
		// whose pings cost every call on a busy gateway. They bound what
		// one stream (1 MiB) and one connection (16 MiB) may hold unread,
		// so a slow client still slows its backend down.
		grpc.WithInitialWindowSize(1 << 20),
		grpc.WithInitialConnWindowSize(16 << 20),
	}, opts...)
	conn, err := grpc.NewClient(target, all...)
	if err != nil {
		return nil, fmt.Errorf("upstream: backend %s: %w", name, err)
	}
	return &Backend{Name: name, Target: target, Conn: conn}, nil
}

// Close closes the backend's connection.
func (b *Backend) Close() error { return b.Conn.Close() }
