package transcoder

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CORS is answered by Portico itself: preflights never reach a backend, and
// the Access-Control-* response headers are added by the gateway, so they
// are present on every response, including errors the gateway writes.
//
// The rules, beyond what [CORSOptions] documents field by field:
//
//   - An allowed origin gets Access-Control-Allow-Origin on every response.
//     It is "*" only when AllowedOrigins contains "*" and AllowCredentials
//     is false; otherwise the request's Origin is echoed. A disallowed
//     origin gets no Access-Control-* header at all (the browser then
//     blocks the response), and its preflight is answered 403.
//   - Vary: Origin is added to every response whose CORS headers depend on
//     the Origin (that is, always, except for "*" without credentials, where
//     Access-Control-Allow-Origin: * is sent whether or not Origin is
//     present), so shared caches never serve one origin's answer to another.
//   - A preflight (OPTIONS with Origin and Access-Control-Request-Method) is
//     answered 204 without routing. Allowed methods are GET, HEAD, POST,
//     PUT, PATCH and DELETE, plus the requested method whenever it is a
//     valid HTTP token: which methods exist is the router's business (an
//     unknown one still gets 404 or 405), and CORS only decides which
//     origins may read the answer.
//   - Allowed request headers are the defaults (defaultCORSAllowedHeaders),
//     CORSOptions.AllowedHeaders, and any requested Grpc-Metadata-* header,
//     since that prefix is how clients send gRPC metadata and its names are
//     not known in advance. A requested header outside these is simply not
//     listed; the browser then refuses to send the request and names the
//     header in its console error.
//   - Exposed response headers are the defaults (defaultCORSExposedHeaders),
//     CORSOptions.ExposedHeaders, and, through exposeResponseHeaders, every
//     other header name present on the response when it is written
//     (Grpc-Metadata-*, Grpc-Trailer-*, and whatever else the protocol put
//     there), except CORS-safelisted names (always readable), names
//     browsers never expose (Set-Cookie), hop-by-hop headers and the
//     Access-Control-* and Vary headers themselves. An allowed origin may
//     read the body anyway, so hiding header names from it protects nothing.

// DefaultCORSMaxAge is how long browsers may cache a preflight answer when
// CORSOptions.MaxAge is zero: two hours, the most Chromium honours.
const DefaultCORSMaxAge = 2 * time.Hour

// CORSOptions configure cross-origin access. The zero value disables CORS:
// no CORS headers are added and preflights are not answered specially (they
// are routed like any other OPTIONS request). CORS is enabled as soon as
// AllowedOrigins holds a non-blank entry.
type CORSOptions struct {
	// AllowedOrigins lists the origins whose pages may call the gateway,
	// compared case-insensitively:
	//   - an exact origin, "https://app.example.com" (scheme, host and the
	//     port when not the scheme's default, exactly as browsers send it);
	//   - "*" for any origin. With AllowCredentials this echoes every origin
	//     except "null", which lets any site make credentialed calls: use it
	//     only for gateways whose credentials are not ambient (cookies, TLS
	//     client certificates);
	//   - "scheme://*.domain[:port]" for any subdomain, at any depth, of
	//     domain: "https://*.example.com" allows "https://a.example.com" and
	//     "https://a.b.example.com" but neither "https://example.com" (list it
	//     separately) nor "http://a.example.com" nor
	//     "https://a.example.com:8443".
	// "null" (sandboxed frames, file: pages) is allowed only when listed.
	// Entries using "*" in any other way match nothing.
	AllowedOrigins []string
	// AllowCredentials sends Access-Control-Allow-Credentials: true, which
	// lets pages send cookies and HTTP authentication. Access-Control-Allow-
	// Origin is then never "*": the request's Origin is echoed, and only
	// when allowed.
	AllowCredentials bool
	// AllowedHeaders lists request headers pages may send, in addition to
	// the defaults (Content-Type, the gRPC-Web and Connect protocol headers,
	// Authorization, X-Requested-With) and Grpc-Metadata-*. "*" allows any
	// requested header. Headers named in Options.ForwardHeaders belong here
	// too if browsers are to send them.
	AllowedHeaders []string
	// ExposedHeaders lists response headers pages may read, in addition to
	// the defaults (gRPC status and encoding headers) and the names of all
	// headers present on the response (see exposeResponseHeaders).
	ExposedHeaders []string
	// MaxAge is how long browsers may cache a preflight answer, sent in whole
	// seconds (a positive value below one second is sent as 1). Zero means
	// DefaultCORSMaxAge; a negative value sends 0, asking browsers not to
	// cache preflights at all.
	MaxAge time.Duration
}

// defaultCORSAllowedHeaders are request headers always allowed: those the
// gRPC-Web, Connect and REST protocols use, plus the usual browser ones.
var defaultCORSAllowedHeaders = []string{
	"content-type",
	"x-grpc-web",
	"x-user-agent",
	"grpc-timeout",
	"connect-protocol-version",
	"connect-timeout-ms",
	"connect-accept-encoding",
	"connect-content-encoding",
	"grpc-accept-encoding",
	"grpc-encoding",
	"authorization",
	"x-requested-with",
}

// defaultCORSExposedHeaders are response headers always exposed: those
// carrying a call's status and encodings.
var defaultCORSExposedHeaders = []string{
	"grpc-status",
	"grpc-message",
	"grpc-status-details-bin",
	"grpc-encoding",
	"grpc-accept-encoding",
	"connect-content-encoding",
	"connect-accept-encoding",
	"content-encoding",
}

// defaultCORSMethods are the methods every successful preflight allows.
var defaultCORSMethods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost,
	http.MethodPut, http.MethodPatch, http.MethodDelete,
}

// corsNeverExposed are response header names (lowercased) that
// exposeResponseHeaders never lists: CORS-safelisted names (readable
// anyway), names browsers never expose, and the CORS and caching headers
// themselves. Hop-by-hop headers are skipped as well, through
// hopByHopHeaders.
var corsNeverExposed = map[string]bool{
	"cache-control":    true,
	"content-language": true,
	"content-length":   true,
	"content-type":     true,
	"expires":          true,
	"last-modified":    true,
	"pragma":           true,
	"set-cookie":       true,
	"set-cookie2":      true,
	"vary":             true,
}

const grpcMetadataRequestPrefix = "grpc-metadata-"

// corsPolicy is CORSOptions compiled once: lowercased lookup sets and the
// static header values. It is immutable, hence safe for concurrent use.
type corsPolicy struct {
	anyOrigin   bool                // "*" listed
	origins     map[string]bool     // exact origins, lowercased
	wildcards   []subdomainWildcard // "scheme://*.domain" entries
	credentials bool

	anyHeader      bool            // "*" in AllowedHeaders
	allowedHeaders map[string]bool // lowercased
	allowHeaders   string          // static Access-Control-Allow-Headers value
	exposeHeaders  string          // static Access-Control-Expose-Headers value
	allowMethods   string          // static Access-Control-Allow-Methods value
	maxAge         string          // Access-Control-Max-Age value
}

// subdomainWildcard matches "scheme://" + one or more DNS labels + suffix,
// where suffix is ".domain" or ".domain:port".
type subdomainWildcard struct {
	prefix string // "https://"
	suffix string // ".example.com"
}

func (w subdomainWildcard) match(origin string) bool {
	if len(origin) <= len(w.prefix)+len(w.suffix) ||
		!strings.HasPrefix(origin, w.prefix) || !strings.HasSuffix(origin, w.suffix) {
		return false
	}
	return validHostLabels(origin[len(w.prefix) : len(origin)-len(w.suffix)])
}

// validHostLabels reports whether s is one or more non-empty dot-separated
// labels of letters, digits and hyphens (s is already lowercased).
func validHostLabels(s string) bool {
	for label := range strings.SplitSeq(s, ".") {
		if label == "" {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// newCORSPolicy compiles o. It returns nil, meaning CORS is disabled, when o
// allows no origin at all (the zero value).
func newCORSPolicy(o CORSOptions) *corsPolicy {
	p := &corsPolicy{
		origins:        map[string]bool{},
		credentials:    o.AllowCredentials,
		allowedHeaders: map[string]bool{},
	}
	enabled := false
	for _, raw := range o.AllowedOrigins {
		origin := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(raw)), "/")
		if origin == "" {
			continue
		}
		enabled = true
		switch {
		case origin == "*":
			p.anyOrigin = true
		case !strings.Contains(origin, "*"):
			p.origins[origin] = true
		default:
			// Only "scheme://*.rest" is a wildcard; any other use of "*"
			// matches nothing.
			scheme, rest, ok := strings.Cut(origin, "://*.")
			if ok && scheme != "" && isToken(scheme) && rest != "" &&
				!strings.ContainsAny(rest, "*/@?#") {
				p.wildcards = append(p.wildcards, subdomainWildcard{
					prefix: scheme + "://",
					suffix: "." + rest,
				})
			}
		}
	}
	if !enabled {
		return nil
	}

	var allow []string
	for _, h := range slices.Concat(defaultCORSAllowedHeaders, o.AllowedHeaders) {
		h = strings.ToLower(strings.TrimSpace(h))
		switch {
		case h == "*":
			p.anyHeader = true
		case h != "" && isToken(h) && !p.allowedHeaders[h]:
			p.allowedHeaders[h] = true
			allow = append(allow, h)
		}
	}
	p.allowHeaders = strings.Join(allow, ", ")

	var expose []string
	seen := map[string]bool{}
	for _, h := range slices.Concat(defaultCORSExposedHeaders, o.ExposedHeaders) {
		h = strings.ToLower(strings.TrimSpace(h))
		if h != "" && isToken(h) && !seen[h] {
			seen[h] = true
			expose = append(expose, h)
		}
	}
	p.exposeHeaders = strings.Join(expose, ", ")

	p.allowMethods = strings.Join(defaultCORSMethods, ", ")

	maxAge := o.MaxAge
	switch {
	case maxAge == 0:
		maxAge = DefaultCORSMaxAge
	case maxAge < 0:
		maxAge = 0
	case maxAge < time.Second:
		maxAge = time.Second
	}
	p.maxAge = strconv.FormatInt(int64(maxAge/time.Second), 10)
	return p
}

// constantOrigin reports whether Access-Control-Allow-Origin is "*" for
// every request, so that responses do not depend on Origin.
func (p *corsPolicy) constantOrigin() bool { return p.anyOrigin && !p.credentials }

// allowOrigin returns the Access-Control-Allow-Origin value for origin, or
// "" when origin is not allowed.
func (p *corsPolicy) allowOrigin(origin string) string {
	if p.constantOrigin() {
		return "*"
	}
	if origin == "" {
		return ""
	}
	lower := strings.ToLower(origin)
	if p.origins[lower] {
		return origin
	}
	if lower == "null" {
		return "" // only when listed, handled above
	}
	if p.anyOrigin {
		return origin
	}
	for _, w := range p.wildcards {
		if w.match(lower) {
			return origin
		}
	}
	return ""
}

// handle applies CORS to a request. It returns true when it has fully
// answered the request (a preflight: OPTIONS with Origin and
// Access-Control-Request-Method, allowed with 204 or denied with 403); the
// caller must then not route it. For other requests it adds the CORS
// response headers to w.Header() before any handler writes, so they appear
// on error responses too, and returns false. A nil policy does nothing.
func (p *corsPolicy) handle(w http.ResponseWriter, r *http.Request) (answered bool) {
	if p == nil {
		return false
	}
	h := w.Header()
	origin := r.Header.Get("Origin")
	if !p.constantOrigin() {
		addVary(h, "Origin")
	}
	allowed := p.allowOrigin(origin)

	if r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != "" {
		addVary(h, "Access-Control-Request-Method", "Access-Control-Request-Headers")
		method := strings.TrimSpace(r.Header.Get("Access-Control-Request-Method"))
		if allowed == "" || !isToken(method) {
			w.WriteHeader(http.StatusForbidden)
			return true
		}
		p.setOriginHeaders(h, allowed)
		methods := p.allowMethods
		if !slices.Contains(defaultCORSMethods, method) {
			methods += ", " + method
		}
		h.Set("Access-Control-Allow-Methods", methods)
		if headers := p.allowRequestHeaders(r.Header.Values("Access-Control-Request-Headers")); headers != "" {
			h.Set("Access-Control-Allow-Headers", headers)
		}
		h.Set("Access-Control-Max-Age", p.maxAge)
		w.WriteHeader(http.StatusNoContent)
		return true
	}

	if allowed != "" {
		p.setOriginHeaders(h, allowed)
		h.Set("Access-Control-Expose-Headers", p.exposeHeaders)
	}
	return false
}

func (p *corsPolicy) setOriginHeaders(h http.Header, allowed string) {
	h.Set("Access-Control-Allow-Origin", allowed)
	if p.credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
}

// allowRequestHeaders returns the Access-Control-Allow-Headers value of a
// preflight: the static list, plus those requested headers allowed only
// dynamically (Grpc-Metadata-*, or any header under "*").
func (p *corsPolicy) allowRequestHeaders(requested []string) string {
	value := p.allowHeaders
	var extra map[string]bool
	for _, line := range requested {
		for name := range strings.SplitSeq(line, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" || !isToken(name) || p.allowedHeaders[name] || extra[name] {
				continue
			}
			if !p.anyHeader && !strings.HasPrefix(name, grpcMetadataRequestPrefix) {
				continue
			}
			if extra == nil {
				extra = map[string]bool{}
			}
			extra[name] = true
			if value != "" {
				value += ", "
			}
			value += name
		}
	}
	return value
}

// exposeResponseHeaders adds to Access-Control-Expose-Headers the names of
// the headers in h that a page could not read otherwise: Grpc-Metadata-*,
// Grpc-Trailer-* and any other custom header (see the rules at the top of
// this file). Protocol handlers call it right before WriteHeader, once the
// response headers are complete; calling it again is harmless. It does
// nothing when the policy is nil or handle did not allow the request's
// origin (h has no Access-Control-Allow-Origin).
func (p *corsPolicy) exposeResponseHeaders(h http.Header) {
	if p == nil || h.Get("Access-Control-Allow-Origin") == "" {
		return
	}
	listed := map[string]bool{}
	for _, line := range h.Values("Access-Control-Expose-Headers") {
		for name := range strings.SplitSeq(line, ",") {
			if name = strings.ToLower(strings.TrimSpace(name)); name != "" {
				listed[name] = true
			}
		}
	}
	var extra []string
	for name := range h {
		lower := strings.ToLower(name)
		if listed[lower] || corsNeverExposed[lower] || hopByHopHeaders[lower] ||
			strings.HasPrefix(lower, "access-control-") || !isToken(lower) {
			continue
		}
		listed[lower] = true
		extra = append(extra, lower)
	}
	if len(extra) == 0 {
		return
	}
	slices.Sort(extra)
	value := p.exposeHeaders
	if cur := h.Values("Access-Control-Expose-Headers"); len(cur) > 0 {
		value = strings.Join(cur, ", ")
	}
	if value != "" {
		value += ", "
	}
	h.Set("Access-Control-Expose-Headers", value+strings.Join(extra, ", "))
}

// addVary adds names to the Vary header unless already listed (or Vary is
// "*"), keeping whatever else it holds.
func addVary(h http.Header, names ...string) {
	present := map[string]bool{}
	for _, line := range h.Values("Vary") {
		for v := range strings.SplitSeq(line, ",") {
			present[strings.ToLower(strings.TrimSpace(v))] = true
		}
	}
	if present["*"] {
		return
	}
	for _, n := range names {
		if !present[strings.ToLower(n)] {
			h.Add("Vary", n)
		}
	}
}

// isToken reports whether s is a non-empty HTTP token (RFC 9110 §5.6.2):
// the syntax of method and header names.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
