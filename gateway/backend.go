package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/protobuf/proto"

	"github.com/portico-gw/portico/config"
	"github.com/portico-gw/portico/schema"
	"github.com/portico-gw/portico/upstream"
)

// backendRuntime is one configured backend while the gateway runs: its
// connection and the last schema that loaded.
type backendRuntime struct {
	cfg config.Backend
	up  *upstream.Backend
	// tlsStamp identifies the content of the TLS files the connection was
	// made with, so a reload notices files rewritten in place.
	tlsStamp string

	mu          sync.Mutex
	schema      *schema.Schema // last good; nil until the first load
	fingerprint [sha256.Size]byte
	loadedAt    time.Time
	lastErr     error
	lastErrAt   time.Time
	loads       int64 // successful loads
	failures    int64 // failed loads
	fileStamp   string
}

// roundRobin balances calls over every address a backend has.
const roundRobin = `{"loadBalancingConfig":[{"round_robin":{}}]}`

// dialBackend makes a backend's connection from its config. Targets lists
// several addresses, fed to gRPC through a manual resolver; Target is a
// gRPC target URI, so dns:/// names resolve (and re-resolve) through gRPC's
// own resolver. Either way calls are balanced round-robin.
func dialBackend(b *config.Backend) (*upstream.Backend, error) {
	opts := []grpc.DialOption{grpc.WithDefaultServiceConfig(roundRobin)}
	if b.TLS != nil {
		creds, err := clientTLS(b.TLS)
		if err != nil {
			return nil, fmt.Errorf("backend %s: %w", b.Name, err)
		}
		opts = append(opts, grpc.WithTransportCredentials(creds))
	}
	target := b.Target
	if len(b.Targets) > 0 {
		r := manual.NewBuilderWithScheme("portico-" + b.Name)
		addrs := make([]resolver.Address, len(b.Targets))
		for i, a := range b.Targets {
			addrs[i] = resolver.Address{Addr: a}
		}
		r.InitialState(resolver.State{Addresses: addrs})
		opts = append(opts, grpc.WithResolvers(r))
		target = r.Scheme() + ":///" + b.Name
	}
	return upstream.Dial(b.Name, target, opts...)
}

// clientTLS builds the transport credentials of a TLS backend.
func clientTLS(c *config.ClientTLS) (credentials.TransportCredentials, error) {
	cfg := &tls.Config{
		ServerName:         c.ServerName,
		InsecureSkipVerify: c.InsecureSkipVerify, //nolint:gosec // opt-in, documented as testing only
		MinVersion:         tls.VersionTLS12,
	}
	if c.CA != "" {
		pem, err := os.ReadFile(c.CA)
		if err != nil {
			return nil, fmt.Errorf("tls.ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca: %s holds no PEM certificate", c.CA)
		}
		cfg.RootCAs = pool
	}
	if c.Cert != "" {
		cert, err := tls.LoadX509KeyPair(c.Cert, c.Key)
		if err != nil {
			return nil, fmt.Errorf("tls.cert/key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return credentials.NewTLS(cfg), nil
}

// sameConnection reports whether two configs of a backend dial the same
// way, so a reload can keep the connection.
func sameConnection(a, b *config.Backend) bool {
	if a.Target != b.Target || len(a.Targets) != len(b.Targets) {
		return false
	}
	for i := range a.Targets {
		if a.Targets[i] != b.Targets[i] {
			return false
		}
	}
	switch {
	case a.TLS == nil && b.TLS == nil:
		return true
	case a.TLS == nil || b.TLS == nil:
		return false
	}
	return *a.TLS == *b.TLS
}

// inherit takes over prev's last good schema and counters, for a backend
// that a reload keeps by name.
func (b *backendRuntime) inherit(prev *backendRuntime) {
	prev.mu.Lock()
	defer prev.mu.Unlock()
	b.schema, b.fingerprint, b.loadedAt = prev.schema, prev.fingerprint, prev.loadedAt
	b.loads, b.failures, b.lastErr, b.lastErrAt = prev.loads, prev.failures, prev.lastErr, prev.lastErrAt
	b.fileStamp = prev.fileStamp
}

// tlsStamp hashes the contents of a backend's TLS files ("" without TLS).
// A file that cannot be read hashes as its error, which dialing reports.
func tlsStamp(c *config.ClientTLS) string {
	if c == nil {
		return ""
	}
	h := sha256.New()
	for _, path := range []string{c.CA, c.Cert, c.Key} {
		if path == "" {
			h.Write([]byte{0})
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			data = []byte(err.Error())
		}
		h.Write(data)
		h.Write([]byte{0})
	}
	return string(h.Sum(nil))
}

// loadSchema loads a backend's schema from its source, once.
func (b *backendRuntime) loadSchema(ctx context.Context) (*schema.Schema, error) {
	src := b.cfg.Schema
	switch src.EffectiveSource() {
	case config.SourceFiles:
		return loadFiles(src.Files)
	case config.SourceProtos:
		return schema.FromProtos(ctx, src.Protos.Root, src.Protos.Files)
	default:
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return schema.FromReflection(ctx, b.up.Conn, b.up.Target)
	}
}

// loadFiles loads one or more descriptor files as one schema.
func loadFiles(paths []string) (*schema.Schema, error) {
	if len(paths) == 1 {
		return schema.FromFile(paths[0])
	}
	var all []*schema.Schema
	for _, p := range paths {
		s, err := schema.FromFile(p)
		if err != nil {
			return nil, err
		}
		all = append(all, s)
	}
	return schema.Merge(all...)
}

// fingerprint identifies a schema's content: the hash of its files and
// services, so that a reload that changes nothing rebuilds nothing.
func fingerprint(s *schema.Schema) [sha256.Size]byte {
	h := sha256.New()
	for _, fdp := range s.FileDescriptorProtos() {
		b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(fdp)
		h.Write(b)
	}
	var names []string
	for _, sd := range s.Services() {
		names = append(names, string(sd.FullName()))
	}
	sort.Strings(names)
	for _, n := range names {
		h.Write([]byte(n))
		h.Write([]byte{0})
	}
	var out [sha256.Size]byte
	copy(out[:], h.Sum(nil))
	return out
}

// fileStamp summarises the modification times and sizes of the files a
// backend's schema is read from, to notice that they changed.
func (b *backendRuntime) sourceStamp() (string, error) {
	var paths []string
	src := b.cfg.Schema
	switch src.EffectiveSource() {
	case config.SourceFiles:
		paths = src.Files
	case config.SourceProtos:
		// Every .proto under the root, not only the files named: an
		// edited import changes the schema too.
		files, err := schema.ProtoSourcePaths(src.Protos.Root, nil)
		if err != nil {
			return "", err
		}
		paths = files
	default:
		return "", nil
	}
	var stamp []byte
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return "", err
		}
		stamp = fmt.Appendf(stamp, "%s:%d:%d;", p, fi.Size(), fi.ModTime().UnixNano())
	}
	return string(stamp), nil
}

// record stores the outcome of a load and reports whether the schema
// changed.
func (b *backendRuntime) record(s *schema.Schema, err error) (changed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		b.lastErr, b.lastErrAt = err, time.Now()
		b.failures++
		return false
	}
	fp := fingerprint(s)
	changed = b.schema == nil || fp != b.fingerprint
	b.schema, b.fingerprint, b.loadedAt = s, fp, time.Now()
	b.lastErr = nil
	b.loads++
	return changed
}

// current returns the backend's last good schema, or nil.
func (b *backendRuntime) current() *schema.Schema {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.schema
}
