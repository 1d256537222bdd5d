package transcoder

import (
	"log/slog"
	"time"
)

// DefaultMaxRequestBytes is the request body limit when
// Options.MaxRequestBytes is zero: 4 MiB, gRPC's own default message limit.
const DefaultMaxRequestBytes = 4 << 20

// Options configure how a [Snapshot] transcodes. The zero value is usable:
// every field documents what its zero value means.
type Options struct {
	// UseProtoNames writes JSON field names as in the .proto file
	// (snake_case) instead of the lowerCamelCase JSON names. Input accepts
	// both either way.
	UseProtoNames bool
	// EmitUnpopulated writes fields that hold their default value (0, "",
	// false, empty lists and maps, null for unset messages) instead of
	// leaving them out.
	EmitUnpopulated bool
	// UseEnumNumbers writes enum values as numbers instead of names. Input
	// accepts both either way.
	UseEnumNumbers bool

	// DefaultTimeout is the deadline given to a call whose client sent no
	// Grpc-Timeout header. Zero means no deadline.
	DefaultTimeout time.Duration
	// MaxTimeout caps every deadline, including those clients ask for with
	// Grpc-Timeout. Zero means no cap.
	MaxTimeout time.Duration

	// MaxRequestBytes limits the size of a request body. Zero means
	// DefaultMaxRequestBytes; a negative value means no limit.
	MaxRequestBytes int64

	// ForwardHeaders lists request headers, besides Authorization and the
	// Grpc-Metadata-* headers, that are forwarded to the backend as metadata
	// (lowercased, names compared case-insensitively). Hop-by-hop headers and
	// names reserved by gRPC are never forwarded even when listed.
	ForwardHeaders []string

	// RejectUnknownQueryParameters makes a query parameter that names no
	// field of the request message an error (400). By default such
	// parameters are ignored, since clients and intermediaries add their own
	// (cache busters, tracking tags).
	RejectUnknownQueryParameters bool

	// StreamIdleTimeout ends a streaming call in which no message has moved
	// either way for this long, with DEADLINE_EXCEEDED. It limits
	// idleness, never a stream's length. Zero means no limit.
	StreamIdleTimeout time.Duration
	// KeepaliveInterval is how often an idle stream is pinged where the
	// client protocol has pings: WebSocket ping frames, Server-Sent Events
	// comment lines. Zero means DefaultKeepaliveInterval; negative, none.
	// (HTTP/2 connections are pinged by the server itself.)
	KeepaliveInterval time.Duration

	// CORS configures cross-origin access for browser clients. Portico
	// answers preflights itself; they never reach a backend. The zero value
	// disables CORS. Headers in ForwardHeaders are added to the allowed
	// request headers.
	CORS CORSOptions

	// Logger receives the gateway's log records. Nil means slog.Default().
	Logger *slog.Logger
}

// DefaultKeepaliveInterval is the ping interval of idle streams when
// Options.KeepaliveInterval is zero.
const DefaultKeepaliveInterval = 30 * time.Second

func (o *Options) keepaliveInterval() time.Duration {
	switch {
	case o.KeepaliveInterval == 0:
		return DefaultKeepaliveInterval
	case o.KeepaliveInterval < 0:
		return 0
	default:
		return o.KeepaliveInterval
	}
}

func (o *Options) maxRequestBytes() int64 {
	switch {
	case o.MaxRequestBytes == 0:
		return DefaultMaxRequestBytes
	case o.MaxRequestBytes < 0:
		return -1
	default:
		return o.MaxRequestBytes
	}
}

func (o *Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}
