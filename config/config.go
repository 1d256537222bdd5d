package config

import (
	"fmt"
	"slices"
	"time"

	"github.com/portico-gw/portico/transcoder"
)

// Version is the only config file format version this Portico reads.
const Version = 1

// Defaults that the zero values below stand for.
const (
	// DefaultListenAddress is the gateway's address when listen.address is
	// empty.
	DefaultListenAddress = ":8080"
	// DefaultAdminAddress is the admin listener's address when
	// admin.address is empty: loopback only.
	DefaultAdminAddress = "127.0.0.1:9901"
	// DefaultReflectionRefresh is how often a reflection schema is polled
	// when schema.refresh is zero.
	DefaultReflectionRefresh = 30 * time.Second
)

// Config is a whole Portico config file. Every field documents what its
// zero value means, so a Config built in Go needs only the fields that
// differ from the defaults (plus Version and Backends).
//
// Keys in the file are the yaml names of the fields; a key left out, or
// given as null (~), is the zero value. Top-level keys starting with "x-"
// are ignored (a place for YAML anchors); any other unknown key is an
// error.
type Config struct {
	// Version is the format of the file. It is required, and 1 is the only
	// version there is.
	Version int `yaml:"version"`

	// Listen is where the gateway serves clients: REST/JSON, gRPC-Web,
	// Connect and gRPC, all on one port.
	Listen Listen `yaml:"listen,omitempty"`

	// Admin is the admin listener (reload, route listing, health).
	Admin Admin `yaml:"admin,omitempty"`

	// Transcoding holds the transcoding settings every backend starts from;
	// each backend, and each service of a backend, may override them key by
	// key. Keys left out here mean the transcoder's own defaults.
	Transcoding Transcoding `yaml:"transcoding,omitempty"`

	// CORS configures cross-origin access for browser clients, for the
	// whole gateway (preflights are answered before any routing, so CORS
	// cannot differ between backends). The zero value disables CORS.
	CORS CORS `yaml:"cors,omitempty"`

	// Backends are the gRPC backends behind the gateway. At least one is
	// required. Each service is routed to the backend whose schema has it;
	// a service found on two backends is an error when schemas load.
	Backends []Backend `yaml:"backends"`

	// Readiness tunes the readiness health check.
	Readiness Readiness `yaml:"readiness,omitempty"`

	// file is the config file's name as given to Load or Parse ("" for a
	// Config built in Go); loc maps key paths to where they were set, for
	// error messages.
	file string
	loc  map[string]location
}

// Listen is the gateway's client-facing listener.
type Listen struct {
	// Address is host:port to listen on. Empty means DefaultListenAddress
	// (":8080", every interface). Without TLS the port speaks HTTP/1.1 and
	// HTTP/2 in cleartext (h2c, as gRPC clients do).
	Address string `yaml:"address,omitempty"`
	// TLS, when set, makes the listener speak TLS, with HTTP/1.1 or HTTP/2
	// chosen by ALPN. Nil means no TLS.
	TLS *ServerTLS `yaml:"tls,omitempty"`
}

// ServerTLS is the certificate a listener serves.
type ServerTLS struct {
	// Cert is a PEM file holding the certificate chain, leaf first.
	// Required. A relative path is relative to the config file's directory.
	Cert string `yaml:"cert"`
	// Key is the PEM file holding Cert's private key. Required. A relative
	// path is relative to the config file's directory.
	Key string `yaml:"key"`
}

// Admin is the admin listener: reload, route listing and health (liveness
// and readiness). It has no authentication of its own, which is why it
// listens on loopback by default.
type Admin struct {
	// Address is host:port to listen on. Empty means DefaultAdminAddress
	// ("127.0.0.1:9901", loopback only). Anyone who can reach a
	// non-loopback address can reload the gateway: put such an address
	// behind a firewall or an authenticating proxy.
	Address string `yaml:"address,omitempty"`
	// Disabled turns the admin listener off (Address is then ignored).
	// False means the admin listener runs.
	Disabled bool `yaml:"disabled,omitempty"`
}

// Transcoding is a set of transcoding settings. Every field is optional,
// and a field left out (nil) does not override: at the top level it means
// the transcoder's default, in a backend the top-level value, and in a
// service the backend's value. See [Config.TranscoderOptions].
type Transcoding struct {
	// UseProtoNames writes JSON field names as in the .proto file
	// (snake_case) instead of lowerCamelCase. Input accepts both either
	// way. Default false.
	UseProtoNames *bool `yaml:"use_proto_names,omitempty"`
	// EmitUnpopulated writes fields that hold their default value (0, "",
	// false, empty lists and maps, null messages) instead of leaving them
	// out. Default false.
	EmitUnpopulated *bool `yaml:"emit_unpopulated,omitempty"`
	// UseEnumNumbers writes enum values as numbers instead of names. Input
	// accepts both either way. Default false.
	UseEnumNumbers *bool `yaml:"use_enum_numbers,omitempty"`
	// DefaultTimeout is the deadline given to a call whose client sent no
	// Grpc-Timeout, as a Go duration ("5s", "1m30s"). Default 0: no
	// deadline. Must not be negative.
	DefaultTimeout *Duration `yaml:"default_timeout,omitempty"`
	// MaxTimeout caps every deadline, including the ones clients ask for.
	// Default 0: no cap. Must not be negative, nor, when both are set,
	// below DefaultTimeout.
	MaxTimeout *Duration `yaml:"max_timeout,omitempty"`
	// MaxRequestBytes limits the size of a request body; larger bodies are
	// answered 413. Default 0: transcoder.DefaultMaxRequestBytes (4 MiB).
	// A negative value means no limit.
	MaxRequestBytes *int64 `yaml:"max_request_bytes,omitempty"`
	// ForwardHeaders lists request headers, besides Authorization and
	// Grpc-Metadata-*, forwarded to the backend as gRPC metadata. A list
	// given here replaces the inherited one (it does not add to it); an
	// empty list ([]) forwards none. Left out: inherited (top level: none).
	ForwardHeaders []string `yaml:"forward_headers,omitempty"`
	// RejectUnknownQueryParameters answers 400 to a query parameter that
	// names no field of the request. Default false: such parameters are
	// ignored.
	RejectUnknownQueryParameters *bool `yaml:"reject_unknown_query_parameters,omitempty"`
	// StreamIdleTimeout ends a streaming call in which no message has
	// moved either way for this long (DEADLINE_EXCEEDED). It limits
	// idleness, never a stream's length. Default 0: no limit. Must not be
	// negative.
	StreamIdleTimeout *Duration `yaml:"stream_idle_timeout,omitempty"`
	// KeepaliveInterval is how often an idle stream is pinged where the
	// protocol has pings (WebSocket ping frames, SSE comment lines), so that
	// intermediaries do not drop it. Default 0: 30s. Negative: no pings.
	KeepaliveInterval *Duration `yaml:"keepalive_interval,omitempty"`
}

// CORS configures cross-origin access for browser clients; see
// transcoder.CORSOptions for the exact rules.
type CORS struct {
	// AllowedOrigins lists the origins whose pages may call the gateway:
	// an exact origin ("https://app.example.com"), a subdomain wildcard
	// ("https://*.example.com") or "*" for any. Empty means CORS is off.
	AllowedOrigins []string `yaml:"allowed_origins,omitempty"`
	// AllowCredentials lets pages from the allowed origins send cookies and
	// HTTP authentication. Default false.
	AllowCredentials bool `yaml:"allow_credentials,omitempty"`
	// AllowedHeaders lists request headers pages may send, beyond the
	// protocol headers always allowed. "*" allows any. Empty: only those.
	AllowedHeaders []string `yaml:"allowed_headers,omitempty"`
	// ExposedHeaders lists response headers pages may read, beyond the
	// status headers and the headers present on the response. Empty: only
	// those.
	ExposedHeaders []string `yaml:"exposed_headers,omitempty"`
	// MaxAge is how long browsers may cache a preflight answer. Zero means
	// transcoder.DefaultCORSMaxAge (2h); a negative value asks browsers not
	// to cache preflights at all (the one duration that may be negative).
	MaxAge Duration `yaml:"max_age,omitempty"`
}

// Backend is one gRPC backend.
type Backend struct {
	// Name identifies the backend in logs, errors, metrics and the admin
	// API. Required, unique, made of a-z, 0-9, '-', '_' and '.'.
	Name string `yaml:"name"`
	// Target is the backend's address: "host:port", or a gRPC target URI
	// such as "dns:///name:port" (every address the name resolves to,
	// round-robin) or "unix:///path/to.sock". Exactly one of Target and
	// Targets is required.
	Target string `yaml:"target,omitempty"`
	// Targets lists several "host:port" addresses of one backend, called
	// round-robin. Exactly one of Target and Targets is required.
	Targets []string `yaml:"targets,omitempty"`
	// TLS, when set, makes the connection to the backend use TLS. Nil means
	// plaintext (h2c), the usual setting on a private network.
	TLS *ClientTLS `yaml:"tls,omitempty"`
	// Schema says where the backend's protobuf schema comes from. The zero
	// value is gRPC server reflection on the backend itself.
	Schema Schema `yaml:"schema,omitempty"`
	// Transcoding overrides the top-level transcoding settings for this
	// backend, key by key.
	Transcoding Transcoding `yaml:"transcoding,omitempty"`
	// Services overrides settings for single services of this backend,
	// keyed by fully-qualified service name ("portico.demo.v1.LibraryService").
	// A service named here that the backend turns out not to serve is
	// logged, not an error: schemas change at run time.
	Services map[string]Service `yaml:"services,omitempty"`
}

// Addresses returns the backend's addresses: Targets, or Target alone.
func (b *Backend) Addresses() []string {
	if len(b.Targets) > 0 {
		return slices.Clone(b.Targets)
	}
	if b.Target == "" {
		return nil
	}
	return []string{b.Target}
}

// ClientTLS is how Portico connects to a backend over TLS.
type ClientTLS struct {
	// CA is a PEM file of the certificate authorities that sign the
	// backend's certificate. Empty means the system's roots. A relative
	// path is relative to the config file's directory.
	CA string `yaml:"ca,omitempty"`
	// Cert is a PEM client certificate (chain) for mutual TLS, with Key.
	// Empty means no client certificate. Cert and Key go together.
	Cert string `yaml:"cert,omitempty"`
	// Key is the PEM private key of Cert.
	Key string `yaml:"key,omitempty"`
	// ServerName is the name the backend's certificate is verified against
	// (and sent as SNI). Empty means the host part of the target.
	ServerName string `yaml:"server_name,omitempty"`
	// InsecureSkipVerify accepts any certificate the backend presents.
	// For testing only: it makes TLS open to interception. Default false.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify,omitempty"`
}

// SchemaSource names where a backend's schema comes from.
type SchemaSource string

// The schema sources. The zero value, "", means SourceReflection.
const (
	// SourceReflection asks the backend by gRPC server reflection
	// (grpc.reflection.v1, falling back to v1alpha).
	SourceReflection SchemaSource = "reflection"
	// SourceFiles reads buf images or FileDescriptorSets (binary or JSON).
	SourceFiles SchemaSource = "files"
	// SourceProtos compiles .proto source files at load time.
	SourceProtos SchemaSource = "protos"
)

// Schema says where a backend's schema comes from and how often it is
// looked at again.
type Schema struct {
	// Source is reflection, files or protos. Empty means reflection.
	Source SchemaSource `yaml:"source,omitempty"`
	// Files lists the descriptor files of source "files": buf images
	// (buf build -o api.binpb) or FileDescriptorSets (protoc
	// --include_imports --descriptor_set_out), binary or JSON. Required
	// (non-empty) with that source, not allowed with the others. Relative
	// paths are relative to the config file's directory.
	Files []string `yaml:"files,omitempty"`
	// Protos is the .proto source tree of source "protos". Required with
	// that source, not allowed with the others.
	Protos *Protos `yaml:"protos,omitempty"`
	// Refresh is how often the schema is looked at again, so that new
	// methods and fields appear without a restart. For reflection it is the
	// polling interval, and zero means DefaultReflectionRefresh (30s). For
	// files and protos, zero means the files are watched for changes and
	// reloaded when they change; a positive value polls them at that
	// interval instead. Must not be negative.
	Refresh Duration `yaml:"refresh,omitempty"`
}

// EffectiveSource returns s.Source, with "" read as SourceReflection.
func (s *Schema) EffectiveSource() SchemaSource {
	if s.Source == "" {
		return SourceReflection
	}
	return s.Source
}

// Protos is a directory of .proto files compiled when the schema loads.
// Imports outside Root are resolved from the descriptors linked into
// Portico: the well-known types, google/api and google/rpc.
type Protos struct {
	// Root is the import root: the directory .proto imports are relative
	// to. Required. A relative path is relative to the config file's
	// directory.
	Root string `yaml:"root"`
	// Files lists the files to compile, relative to Root, as they are
	// named in imports ("portico/demo/v1/library.proto"). Empty means every
	// .proto file under Root.
	Files []string `yaml:"files,omitempty"`
}

// Service holds the overrides of one service.
type Service struct {
	// Transcoding overrides the backend's transcoding settings for this
	// service, key by key.
	Transcoding Transcoding `yaml:"transcoding,omitempty"`
}

// Readiness tunes the readiness check (the admin listener's /ready): it is
// false until every backend's schema has loaded once.
type Readiness struct {
	// GracePeriod bounds how long a backend whose schema has never loaded
	// keeps the gateway unready. After it, the gateway reports ready and
	// serves the backends that did load; the missing one's routes appear
	// when its schema loads. Zero means no bound: unready until every
	// backend has loaded. Must not be negative.
	GracePeriod Duration `yaml:"grace_period,omitempty"`
}

// Duration is a time.Duration written as a Go duration string ("30s",
// "1m30s", "250ms"; "0" is zero). A number without a unit is an error.
type Duration time.Duration

// String formats d as time.Duration does.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes d as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := parseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

func parseDuration(s string) (Duration, error) {
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("want a duration such as 30s, 1m30s or 250ms, got %q", s)
	}
	return Duration(v), nil
}

// Default returns the Config that an empty file with only "version: 1"
// would give: every setting at its default, and no backends (which the CLI
// adds from its flags before calling Validate).
func Default() *Config { return &Config{Version: Version} }

// File returns the name of the file c was loaded from, as given to Load or
// Parse, or "" for a Config built in Go.
func (c *Config) File() string { return c.file }

// Backend returns the backend named name, or nil.
func (c *Config) Backend(name string) *Backend {
	for i := range c.Backends {
		if c.Backends[i].Name == name {
			return &c.Backends[i]
		}
	}
	return nil
}

// TranscoderOptions returns the transcoder options for one service of one
// backend. Settings merge key by key, each level overriding only the keys
// it sets: the top-level transcoding, then the backend's, then the
// service's. CORS is always the top-level cors section. An empty backend
// (or one not in c) gives the top-level settings alone; an empty service
// (or one with no overrides) gives the backend's. Logger is left nil.
func (c *Config) TranscoderOptions(backend, service string) transcoder.Options {
	var o transcoder.Options
	c.Transcoding.applyTo(&o)
	if b := c.Backend(backend); b != nil {
		b.Transcoding.applyTo(&o)
		if s, ok := b.Services[service]; ok {
			s.Transcoding.applyTo(&o)
		}
	}
	o.ForwardHeaders = slices.Clone(o.ForwardHeaders)
	o.CORS = transcoder.CORSOptions{
		AllowedOrigins:   slices.Clone(c.CORS.AllowedOrigins),
		AllowCredentials: c.CORS.AllowCredentials,
		AllowedHeaders:   slices.Clone(c.CORS.AllowedHeaders),
		ExposedHeaders:   slices.Clone(c.CORS.ExposedHeaders),
		MaxAge:           time.Duration(c.CORS.MaxAge),
	}
	return o
}

// applyTo sets in o every field t sets.
func (t *Transcoding) applyTo(o *transcoder.Options) {
	if t.UseProtoNames != nil {
		o.UseProtoNames = *t.UseProtoNames
	}
	if t.EmitUnpopulated != nil {
		o.EmitUnpopulated = *t.EmitUnpopulated
	}
	if t.UseEnumNumbers != nil {
		o.UseEnumNumbers = *t.UseEnumNumbers
	}
	if t.DefaultTimeout != nil {
		o.DefaultTimeout = time.Duration(*t.DefaultTimeout)
	}
	if t.MaxTimeout != nil {
		o.MaxTimeout = time.Duration(*t.MaxTimeout)
	}
	if t.MaxRequestBytes != nil {
		o.MaxRequestBytes = *t.MaxRequestBytes
	}
	if t.ForwardHeaders != nil {
		o.ForwardHeaders = t.ForwardHeaders
	}
	if t.RejectUnknownQueryParameters != nil {
		o.RejectUnknownQueryParameters = *t.RejectUnknownQueryParameters
	}
	if t.StreamIdleTimeout != nil {
		o.StreamIdleTimeout = time.Duration(*t.StreamIdleTimeout)
	}
	if t.KeepaliveInterval != nil {
		o.KeepaliveInterval = time.Duration(*t.KeepaliveInterval)
	}
}
