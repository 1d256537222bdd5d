package config

import (
	"fmt"
	"maps"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Validate checks c and returns every problem found (nil if none), each an
// *Error, joined with errors.Join. Parse and ApplyEnv call it; call it
// yourself after building or changing a Config in Go (as the CLI does
// after applying flags with Set).
func (c *Config) Validate() error {
	if errs := c.validate(nil); len(errs) > 0 {
		return joinErrors(errs)
	}
	return nil
}

var (
	backendNameRE = regexp.MustCompile(`^[a-z0-9._-]+$`)
	serviceNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)
	uriSchemeRE   = regexp.MustCompile(`^[a-z][a-z0-9+.-]*$`)
)

// reporter collects validation problems, locating each by its key path.
type reporter struct {
	c    *Config
	bad  map[string]bool // paths that failed to decode: no more noise about them
	errs []*Error
}

func (r *reporter) errorf(path, format string, args ...any) {
	for b := range r.bad {
		if path == b || strings.HasPrefix(path, b+".") || strings.HasPrefix(path, b+"[") {
			return
		}
	}
	e := &Error{Path: path, Msg: fmt.Sprintf(format, args...)}
	// The key itself if it was set, else the closest enclosing key.
	for p := path; ; p = parentPath(p) {
		if loc, ok := r.c.loc[p]; ok {
			e.Env = loc.env
			e.Line = loc.line
			if loc.env == "" && (loc.line > 0 || p != path) {
				e.File = r.c.file
			}
			break
		}
		if p == "" {
			e.File = r.c.file
			break
		}
	}
	r.errs = append(r.errs, e)
}

// parentPath strips the last ".key" or "[index]" from a key path.
func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}

func (c *Config) validate(bad map[string]bool) []*Error {
	r := &reporter{c: c, bad: bad}
	_, versionSet := c.loc["version"]
	switch {
	case c.Version == 0 && !versionSet:
		r.errorf("version", "required: start the file with \"version: %d\"", Version)
	case c.Version != Version:
		r.errorf("version", "unsupported version %d; this Portico reads version %d", c.Version, Version)
	}

	if c.Listen.Address != "" {
		if err := checkHostPort(c.Listen.Address, false); err != nil {
			r.errorf("listen.address", "%v", err)
		}
	}
	if t := c.Listen.TLS; t != nil {
		if t.Cert == "" {
			r.errorf("listen.tls.cert", "required with listen.tls: a PEM certificate file")
		}
		if t.Key == "" {
			r.errorf("listen.tls.key", "required with listen.tls: the PEM private key file of cert")
		}
	}
	if c.Admin.Address != "" && !c.Admin.Disabled {
		if err := checkHostPort(c.Admin.Address, false); err != nil {
			r.errorf("admin.address", "%v", err)
		}
	}

	var none Transcoding
	r.transcoding("transcoding", &c.Transcoding, &none, &none)
	r.cors(&c.CORS)

	if len(c.Backends) == 0 {
		r.errorf("backends", "at least one backend is required")
	}
	firstByName := map[string]int{}
	for i := range c.Backends {
		r.backend(fmt.Sprintf("backends[%d]", i), &c.Backends[i], firstByName, i)
	}

	r.nonNegative("readiness.grace_period", c.Readiness.GracePeriod)
	return r.errs
}

func (r *reporter) backend(p string, b *Backend, firstByName map[string]int, i int) {
	switch {
	case b.Name == "":
		r.errorf(p+".name", "required: a name for logs, metrics and errors, such as \"library\"")
	case !backendNameRE.MatchString(b.Name):
		r.errorf(p+".name", "invalid name %q: use a-z, 0-9, '-', '_' and '.'", b.Name)
	default:
		if j, dup := firstByName[b.Name]; dup {
			r.errorf(p+".name", "duplicate backend name %q (also backends[%d])", b.Name, j)
		} else {
			firstByName[b.Name] = i
		}
	}

	switch {
	case b.Target != "" && len(b.Targets) > 0:
		r.errorf(p+".targets", "give target or targets, not both")
	case b.Target == "" && b.Targets == nil:
		r.errorf(p+".target", "required: the backend's address, host:port (or targets: a list of them)")
	case b.Target != "":
		if err := checkTarget(b.Target); err != nil {
			r.errorf(p+".target", "%v", err)
		}
	case len(b.Targets) == 0:
		r.errorf(p+".targets", "empty: list at least one host:port")
	default:
		seen := map[string]int{}
		for j, t := range b.Targets {
			tp := fmt.Sprintf("%s.targets[%d]", p, j)
			if err := checkHostPort(t, true); err != nil {
				r.errorf(tp, "%v (targets takes host:port addresses; use target for a dns:/// name)", err)
			} else if k, dup := seen[t]; dup {
				r.errorf(tp, "duplicate address %q (also targets[%d])", t, k)
			} else {
				seen[t] = j
			}
		}
	}

	if t := b.TLS; t != nil {
		if t.Cert != "" && t.Key == "" {
			r.errorf(p+".tls.key", "required with tls.cert: cert and key go together (mutual TLS)")
		}
		if t.Key != "" && t.Cert == "" {
			r.errorf(p+".tls.cert", "required with tls.key: cert and key go together (mutual TLS)")
		}
	}

	r.schema(p+".schema", &b.Schema)

	var none Transcoding
	r.transcoding(p+".transcoding", &b.Transcoding, &r.c.Transcoding, &none)
	for _, name := range slices.Sorted(maps.Keys(b.Services)) {
		s := b.Services[name]
		sp := p + ".services[" + name + "]"
		if !serviceNameRE.MatchString(name) {
			r.errorf(sp, "invalid service name %q: want a fully-qualified name such as portico.demo.v1.LibraryService", name)
		}
		r.transcoding(sp+".transcoding", &s.Transcoding, &r.c.Transcoding, &b.Transcoding)
	}
}

func (r *reporter) schema(p string, s *Schema) {
	switch s.Source {
	case "", SourceReflection, SourceFiles, SourceProtos:
	default:
		r.errorf(p+".source", "unknown source %q; want reflection, files or protos", s.Source)
		return
	}
	src := s.EffectiveSource()
	if src == SourceFiles {
		if len(s.Files) == 0 {
			r.errorf(p+".files", "required with source files: at least one buf image or descriptor set")
		}
		for j, f := range s.Files {
			if f == "" {
				r.errorf(fmt.Sprintf("%s.files[%d]", p, j), "empty file name")
			}
		}
	} else if s.Files != nil {
		r.errorf(p+".files", "only used with source files (source is %s)", src)
	}
	if src == SourceProtos {
		switch {
		case s.Protos == nil:
			r.errorf(p+".protos", "required with source protos: root (and optionally files)")
		case s.Protos.Root == "":
			r.errorf(p+".protos.root", "required: the directory .proto imports are relative to")
		}
		if s.Protos != nil {
			for j, f := range s.Protos.Files {
				fp := fmt.Sprintf("%s.protos.files[%d]", p, j)
				switch {
				case !strings.HasSuffix(f, ".proto"):
					r.errorf(fp, "%q is not a .proto file", f)
				case !filepath.IsLocal(f) || filepath.Clean(f) != f:
					r.errorf(fp, "%q: want a clean path relative to root, as in imports (such as a/b/c.proto)", f)
				}
			}
		}
	} else if s.Protos != nil {
		r.errorf(p+".protos", "only used with source protos (source is %s)", src)
	}
	r.nonNegative(p+".refresh", s.Refresh)
}

// transcoding checks one level of transcoding settings t, whose ancestors
// (the levels it overrides) are outer, then inner.
func (r *reporter) transcoding(p string, t, outer, inner *Transcoding) {
	if t.StreamIdleTimeout != nil {
		r.nonNegative(p+".stream_idle_timeout", *t.StreamIdleTimeout)
	}
	if t.DefaultTimeout != nil {
		r.nonNegative(p+".default_timeout", *t.DefaultTimeout)
	}
	if t.MaxTimeout != nil {
		r.nonNegative(p+".max_timeout", *t.MaxTimeout)
	}
	for j, h := range t.ForwardHeaders {
		if !isToken(h) {
			r.errorf(fmt.Sprintf("%s.forward_headers[%d]", p, j), "invalid header name %q", h)
		}
	}
	// The effective pair at this level, when this level sets one of them.
	if t.DefaultTimeout == nil && t.MaxTimeout == nil {
		return
	}
	def, defFrom := effective(t.DefaultTimeout, inner.DefaultTimeout, outer.DefaultTimeout)
	maxT, maxFrom := effective(t.MaxTimeout, inner.MaxTimeout, outer.MaxTimeout)
	if def > 0 && maxT > 0 && def > maxT {
		// Blame the key set at this level; of two, the one set last (by
		// the environment or Set, over the file).
		at := p + ".max_timeout"
		if t.MaxTimeout == nil || t.DefaultTimeout != nil && r.overridden(p+".default_timeout") && !r.overridden(at) {
			at = p + ".default_timeout"
		}
		r.errorf(at, "default_timeout %v%s exceeds max_timeout %v%s; max_timeout must be at least default_timeout",
			time.Duration(def), defFrom, time.Duration(maxT), maxFrom)
	}
}

// effective returns the value of one setting at a level and, when it is
// inherited, a note saying where from.
func effective(here, inner, outer *Duration) (Duration, string) {
	switch {
	case here != nil:
		return *here, ""
	case inner != nil:
		return *inner, " (from the backend's transcoding)"
	case outer != nil:
		return *outer, " (from the top-level transcoding)"
	}
	return 0, ""
}

// overridden reports whether the key at path was set after the file was
// read: by ApplyEnv or Set.
func (r *reporter) overridden(path string) bool {
	loc, ok := r.c.loc[path]
	return ok && loc.line == 0
}

func (r *reporter) cors(c *CORS) {
	for j, o := range c.AllowedOrigins {
		if err := checkOrigin(o); err != nil {
			r.errorf(fmt.Sprintf("cors.allowed_origins[%d]", j), "%v", err)
		}
	}
	for j, h := range c.AllowedHeaders {
		if h != "*" && !isToken(h) {
			r.errorf(fmt.Sprintf("cors.allowed_headers[%d]", j), "invalid header name %q", h)
		}
	}
	for j, h := range c.ExposedHeaders {
		if !isToken(h) {
			r.errorf(fmt.Sprintf("cors.exposed_headers[%d]", j), "invalid header name %q", h)
		}
	}
}

func (r *reporter) nonNegative(p string, d Duration) {
	if d < 0 {
		r.errorf(p, "negative duration %v; want 0 or more", time.Duration(d))
	}
}

// checkHostPort checks "host:port" (host optional unless needHost), with a
// numeric port.
func checkHostPort(s string, needHost bool) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("invalid address %q: want host:port, such as localhost:9090", s)
	}
	if needHost && host == "" {
		return fmt.Errorf("invalid address %q: no host", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("invalid address %q: port %q is not a number from 0 to 65535", s, port)
	}
	return nil
}

// checkTarget checks a backend target: host:port, or a gRPC target URI
// (scheme://[authority]/endpoint, or unix:path).
func checkTarget(s string) error {
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		if !uriSchemeRE.MatchString(scheme) {
			return fmt.Errorf("invalid target %q: %q is not a URI scheme", s, scheme)
		}
		if strings.Trim(rest, "/") == "" {
			return fmt.Errorf("invalid target %q: nothing after %s://", s, scheme)
		}
		return nil
	}
	if rest, ok := strings.CutPrefix(s, "unix:"); ok && rest != "" {
		return nil
	}
	if err := checkHostPort(s, true); err != nil {
		return fmt.Errorf("%w, or a gRPC target such as dns:///name:port", err)
	}
	return nil
}

// checkOrigin checks a CORS allowed origin, as transcoder.CORSOptions
// reads them; entries it would silently match nothing with are errors here.
func checkOrigin(o string) error {
	o = strings.TrimSuffix(strings.TrimSpace(o), "/")
	if o == "*" || strings.EqualFold(o, "null") {
		return nil
	}
	scheme, host, ok := strings.Cut(o, "://")
	if !ok || !isToken(scheme) || host == "" {
		return fmt.Errorf("invalid origin %q: want scheme://host[:port] (https://app.example.com), https://*.example.com or *", o)
	}
	if strings.ContainsAny(host, "/?#@ ") {
		return fmt.Errorf("invalid origin %q: an origin is scheme, host and port only, without path", o)
	}
	if rest, wild := strings.CutPrefix(host, "*."); wild {
		host = rest
	}
	if host == "" || strings.Contains(host, "*") {
		return fmt.Errorf("invalid origin %q: * works only as the whole origin or as scheme://*.domain", o)
	}
	return nil
}

// isToken reports whether s is an HTTP token (RFC 9110), as header names
// are.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
