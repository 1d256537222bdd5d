package transcoder

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// corsRun sends r through p.handle and, unless answered, through next (a
// handler that answers 200 when nil), the way the gateway wires CORS in.
func corsRun(p *corsPolicy, r *http.Request, next http.HandlerFunc) (rec *httptest.ResponseRecorder, answered, nextCalled bool) {
	rec = httptest.NewRecorder()
	answered = p.handle(rec, r)
	if !answered {
		nextCalled = true
		if next == nil {
			next = func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }
		}
		next(rec, r)
	}
	return rec, answered, nextCalled
}

func corsRequest(method, origin string, headers ...string) *http.Request {
	r := httptest.NewRequest(method, "http://gw.example.net/v1/things", nil)
	if origin != "" {
		r.Header.Set("Origin", origin)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

func preflight(origin, method, reqHeaders string) *http.Request {
	h := []string{"Access-Control-Request-Method", method}
	if reqHeaders != "" {
		h = append(h, "Access-Control-Request-Headers", reqHeaders)
	}
	return corsRequest(http.MethodOptions, origin, h...)
}

// headerList splits a comma-separated header (all its lines) into
// lowercased names.
func headerList(h http.Header, name string) []string {
	var out []string
	for _, line := range h.Values(name) {
		for v := range strings.SplitSeq(line, ",") {
			if v = strings.ToLower(strings.TrimSpace(v)); v != "" {
				out = append(out, v)
			}
		}
	}
	return out
}

func accessControlHeaders(h http.Header) []string {
	var out []string
	for name := range h {
		if strings.HasPrefix(strings.ToLower(name), "access-control-") {
			out = append(out, name)
		}
	}
	return out
}

func TestCORSPreflight(t *testing.T) {
	exact := CORSOptions{AllowedOrigins: []string{"https://app.example.com"}}
	wild := CORSOptions{AllowedOrigins: []string{"https://*.example.com"}}
	creds := CORSOptions{AllowedOrigins: []string{"https://app.example.com"}, AllowCredentials: true}
	anyCreds := CORSOptions{AllowedOrigins: []string{"*"}, AllowCredentials: true}
	anyOrigin := CORSOptions{AllowedOrigins: []string{"*"}}

	tests := []struct {
		name         string
		opts         CORSOptions
		req          *http.Request
		wantCode     int    // 0: not answered, routed to the next handler
		wantOrigin   string // Access-Control-Allow-Origin; "" means absent
		wantCreds    bool
		wantMethods  []string // subset of Access-Control-Allow-Methods
		wantHeaders  []string // subset of Access-Control-Allow-Headers
		avoidHeaders []string // must not be in Access-Control-Allow-Headers
		wantMaxAge   string
	}{
		{
			name: "exact origin allowed", opts: exact,
			req:      preflight("https://app.example.com", "PUT", "Content-Type, X-Grpc-Web"),
			wantCode: 204, wantOrigin: "https://app.example.com",
			wantMethods: []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"},
			wantHeaders: []string{"content-type", "x-grpc-web", "authorization", "connect-protocol-version", "grpc-timeout"},
			wantMaxAge:  "7200",
		},
		{
			name: "origin compared case-insensitively", opts: exact,
			req:      preflight("HTTPS://App.Example.com", "POST", ""),
			wantCode: 204, wantOrigin: "HTTPS://App.Example.com",
		},
		{
			name: "other origin denied", opts: exact,
			req:      preflight("https://evil.example.org", "POST", "content-type"),
			wantCode: 403,
		},
		{
			name: "other port denied", opts: exact,
			req:      preflight("https://app.example.com:8443", "POST", ""),
			wantCode: 403,
		},
		{
			name: "other scheme denied", opts: exact,
			req:      preflight("http://app.example.com", "POST", ""),
			wantCode: 403,
		},
		{
			name: "wildcard subdomain", opts: wild,
			req:      preflight("https://api.example.com", "POST", ""),
			wantCode: 204, wantOrigin: "https://api.example.com",
		},
		{
			name: "wildcard deep subdomain", opts: wild,
			req:      preflight("https://a.b.example.com", "POST", ""),
			wantCode: 204, wantOrigin: "https://a.b.example.com",
		},
		{
			name: "wildcard excludes the bare domain", opts: wild,
			req:      preflight("https://example.com", "POST", ""),
			wantCode: 403,
		},
		{
			name: "wildcard excludes look-alike domains", opts: wild,
			req:      preflight("https://evilexample.com", "POST", ""),
			wantCode: 403,
		},
		{
			name: "wildcard excludes suffix tricks", opts: wild,
			req:      preflight("https://a.example.com.evil.org", "POST", ""),
			wantCode: 403,
		},
		{
			name: "wildcard excludes other scheme", opts: wild,
			req:      preflight("http://api.example.com", "POST", ""),
			wantCode: 403,
		},
		{
			name: "wildcard excludes userinfo", opts: wild,
			req:      preflight("https://x@a.example.com", "POST", ""),
			wantCode: 403,
		},
		{
			name: "credentials echo origin", opts: creds,
			req:      preflight("https://app.example.com", "POST", "authorization"),
			wantCode: 204, wantOrigin: "https://app.example.com", wantCreds: true,
			wantHeaders: []string{"authorization"},
		},
		{
			name: "any origin with credentials echoes, never *", opts: anyCreds,
			req:      preflight("https://whoever.test", "POST", ""),
			wantCode: 204, wantOrigin: "https://whoever.test", wantCreds: true,
		},
		{
			name: "any origin with credentials refuses null", opts: anyCreds,
			req:      preflight("null", "POST", ""),
			wantCode: 403,
		},
		{
			name: "any origin without credentials is *", opts: anyOrigin,
			req:      preflight("https://whoever.test", "POST", ""),
			wantCode: 204, wantOrigin: "*",
		},
		{
			name: "custom verb allowed when a token", opts: exact,
			req:      preflight("https://app.example.com", "SEARCH", ""),
			wantCode: 204, wantOrigin: "https://app.example.com",
			wantMethods: []string{"SEARCH", "GET"},
		},
		{
			name: "method that is not a token denied", opts: exact,
			req:      preflight("https://app.example.com", "GET /x", ""),
			wantCode: 403,
		},
		{
			name: "grpc-metadata headers allowed, unknown ones not", opts: exact,
			req:         preflight("https://app.example.com", "POST", "grpc-metadata-tenant, x-custom, grpc-metadata-trace-bin"),
			wantCode:    204,
			wantOrigin:  "https://app.example.com",
			wantHeaders: []string{"grpc-metadata-tenant", "grpc-metadata-trace-bin", "content-type"},
			avoidHeaders: []string{
				"x-custom",
			},
		},
		{
			name:     "configured headers added to defaults",
			opts:     CORSOptions{AllowedOrigins: []string{"https://app.example.com"}, AllowedHeaders: []string{"X-Custom"}},
			req:      preflight("https://app.example.com", "POST", "x-custom"),
			wantCode: 204, wantOrigin: "https://app.example.com",
			wantHeaders: []string{"x-custom", "content-type", "x-user-agent"},
		},
		{
			name:     "star allows any requested header",
			opts:     CORSOptions{AllowedOrigins: []string{"https://app.example.com"}, AllowedHeaders: []string{"*"}},
			req:      preflight("https://app.example.com", "POST", "x-anything"),
			wantCode: 204, wantOrigin: "https://app.example.com",
			wantHeaders: []string{"x-anything", "content-type"},
		},
		{
			name:     "custom max age",
			opts:     CORSOptions{AllowedOrigins: []string{"https://app.example.com"}, MaxAge: 90 * time.Second},
			req:      preflight("https://app.example.com", "POST", ""),
			wantCode: 204, wantOrigin: "https://app.example.com", wantMaxAge: "90",
		},
		{
			name:     "negative max age disables caching",
			opts:     CORSOptions{AllowedOrigins: []string{"https://app.example.com"}, MaxAge: -1},
			req:      preflight("https://app.example.com", "POST", ""),
			wantCode: 204, wantOrigin: "https://app.example.com", wantMaxAge: "0",
		},
		{
			name: "OPTIONS without Access-Control-Request-Method is routed", opts: exact,
			req:      corsRequest(http.MethodOptions, "https://app.example.com"),
			wantCode: 0, wantOrigin: "https://app.example.com",
		},
		{
			name: "OPTIONS without Origin is routed", opts: exact,
			req:      corsRequest(http.MethodOptions, "", "Access-Control-Request-Method", "POST"),
			wantCode: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newCORSPolicy(tt.opts)
			if p == nil {
				t.Fatal("newCORSPolicy returned nil for enabled options")
			}
			rec, answered, nextCalled := corsRun(p, tt.req, nil)
			if tt.wantCode == 0 {
				if answered || !nextCalled {
					t.Fatalf("answered = %v, want the request routed", answered)
				}
			} else {
				if !answered || nextCalled {
					t.Fatalf("answered = %v, next called = %v; want answered without routing", answered, nextCalled)
				}
				if rec.Code != tt.wantCode {
					t.Fatalf("status = %d, want %d", rec.Code, tt.wantCode)
				}
				if rec.Body.Len() != 0 {
					t.Errorf("preflight body = %q, want empty", rec.Body.String())
				}
			}
			h := rec.Header()
			if got := h.Get("Access-Control-Allow-Origin"); got != tt.wantOrigin {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, tt.wantOrigin)
			}
			if tt.wantOrigin == "" {
				if ac := accessControlHeaders(h); len(ac) != 0 {
					t.Errorf("denied request got CORS headers %v", ac)
				}
				return
			}
			if got := h.Get("Access-Control-Allow-Credentials"); (got == "true") != tt.wantCreds {
				t.Errorf("Access-Control-Allow-Credentials = %q, want credentials %v", got, tt.wantCreds)
			}
			if tt.wantCreds && h.Get("Access-Control-Allow-Origin") == "*" {
				t.Error("Access-Control-Allow-Origin is * with credentials")
			}
			if tt.wantCode != 204 {
				return
			}
			methods := h.Values("Access-Control-Allow-Methods")
			for _, m := range tt.wantMethods {
				if !slices.ContainsFunc(methods, func(line string) bool {
					return slices.Contains(strings.Split(strings.ReplaceAll(line, " ", ""), ","), m)
				}) {
					t.Errorf("Access-Control-Allow-Methods %q lacks %s", methods, m)
				}
			}
			allowed := headerList(h, "Access-Control-Allow-Headers")
			for _, name := range tt.wantHeaders {
				if !slices.Contains(allowed, name) {
					t.Errorf("Access-Control-Allow-Headers %v lacks %s", allowed, name)
				}
			}
			for _, name := range tt.avoidHeaders {
				if slices.Contains(allowed, name) {
					t.Errorf("Access-Control-Allow-Headers %v has %s", allowed, name)
				}
			}
			wantMaxAge := tt.wantMaxAge
			if wantMaxAge == "" {
				wantMaxAge = "7200"
			}
			if got := h.Get("Access-Control-Max-Age"); got != wantMaxAge {
				t.Errorf("Access-Control-Max-Age = %q, want %q", got, wantMaxAge)
			}
			vary := headerList(h, "Vary")
			for _, v := range []string{"access-control-request-method", "access-control-request-headers"} {
				if !slices.Contains(vary, v) {
					t.Errorf("Vary %v lacks %s", vary, v)
				}
			}
			if h.Get("Access-Control-Allow-Origin") != "*" && !slices.Contains(vary, "origin") {
				t.Errorf("Vary %v lacks origin", vary)
			}
		})
	}
}

func TestCORSActualRequest(t *testing.T) {
	tests := []struct {
		name       string
		opts       CORSOptions
		origin     string
		wantOrigin string
		wantCreds  bool
		wantVary   bool
	}{
		{name: "exact", opts: CORSOptions{AllowedOrigins: []string{"https://app.example.com"}},
			origin: "https://app.example.com", wantOrigin: "https://app.example.com", wantVary: true},
		{name: "denied", opts: CORSOptions{AllowedOrigins: []string{"https://app.example.com"}},
			origin: "https://evil.example.org", wantVary: true},
		{name: "no origin", opts: CORSOptions{AllowedOrigins: []string{"https://app.example.com"}},
			wantVary: true},
		{name: "wildcard", opts: CORSOptions{AllowedOrigins: []string{" https://*.Example.com/ "}},
			origin: "https://api.example.com", wantOrigin: "https://api.example.com", wantVary: true},
		{name: "credentials", opts: CORSOptions{AllowedOrigins: []string{"https://app.example.com"}, AllowCredentials: true},
			origin: "https://app.example.com", wantOrigin: "https://app.example.com", wantCreds: true, wantVary: true},
		{name: "star with credentials echoes", opts: CORSOptions{AllowedOrigins: []string{"*"}, AllowCredentials: true},
			origin: "https://x.test", wantOrigin: "https://x.test", wantCreds: true, wantVary: true},
		{name: "star", opts: CORSOptions{AllowedOrigins: []string{"*"}},
			origin: "https://x.test", wantOrigin: "*"},
		{name: "star without origin", opts: CORSOptions{AllowedOrigins: []string{"*"}},
			wantOrigin: "*"},
		{name: "null only when listed", opts: CORSOptions{AllowedOrigins: []string{"https://app.example.com", "null"}},
			origin: "null", wantOrigin: "null", wantVary: true},
		{name: "null not matched by wildcard", opts: CORSOptions{AllowedOrigins: []string{"https://*.example.com"}},
			origin: "null", wantVary: true},
		{name: "malformed wildcard matches nothing", opts: CORSOptions{AllowedOrigins: []string{"https://app.*.com"}},
			origin: "https://app.x.com", wantVary: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newCORSPolicy(tt.opts)
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				rec, answered, _ := corsRun(p, corsRequest(method, tt.origin), nil)
				if answered {
					t.Fatalf("%s: actual request answered by CORS", method)
				}
				h := rec.Header()
				if got := h.Get("Access-Control-Allow-Origin"); got != tt.wantOrigin {
					t.Errorf("%s: Access-Control-Allow-Origin = %q, want %q", method, got, tt.wantOrigin)
				}
				if got := h.Get("Access-Control-Allow-Credentials") == "true"; got != tt.wantCreds {
					t.Errorf("%s: Access-Control-Allow-Credentials = %v, want %v", method, got, tt.wantCreds)
				}
				if got := slices.Contains(headerList(h, "Vary"), "origin"); got != tt.wantVary {
					t.Errorf("%s: Vary %q has Origin = %v, want %v", method, h.Values("Vary"), got, tt.wantVary)
				}
				if tt.wantOrigin == "" {
					if ac := accessControlHeaders(h); len(ac) != 0 {
						t.Errorf("%s: denied request got CORS headers %v", method, ac)
					}
					continue
				}
				exposed := headerList(h, "Access-Control-Expose-Headers")
				for _, name := range defaultCORSExposedHeaders {
					if !slices.Contains(exposed, name) {
						t.Errorf("%s: Access-Control-Expose-Headers %v lacks %s", method, exposed, name)
					}
				}
				if h.Get("Access-Control-Allow-Methods") != "" || h.Get("Access-Control-Max-Age") != "" {
					t.Errorf("%s: preflight-only headers on an actual request", method)
				}
			}
		})
	}
}

func TestCORSHeadersOnErrorResponse(t *testing.T) {
	p := newCORSPolicy(CORSOptions{
		AllowedOrigins:   []string{"https://app.example.com"},
		AllowCredentials: true,
		ExposedHeaders:   []string{"X-Request-Id"},
	})
	next := func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", "2")
		h.Set("Grpc-Metadata-Tenant", "acme")
		h.Set("Grpc-Trailer-Retry-Info-Bin", "AAAA")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Set-Cookie", "a=b")
		h.Set("Connection", "close")
		p.exposeResponseHeaders(h)
		p.exposeResponseHeaders(h) // idempotent
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("{}"))
	}
	rec, answered, _ := corsRun(p, corsRequest(http.MethodGet, "https://app.example.com"), next)
	if answered {
		t.Fatal("actual request answered by CORS")
	}
	if rec.Code != http.StatusNotFound {
		t.Fatalf("status = %d, want 404", rec.Code)
	}
	h := rec.Header()
	if got := h.Get("Access-Control-Allow-Origin"); got != "https://app.example.com" {
		t.Errorf("Access-Control-Allow-Origin = %q", got)
	}
	if got := h.Get("Access-Control-Allow-Credentials"); got != "true" {
		t.Errorf("Access-Control-Allow-Credentials = %q", got)
	}
	if got := h.Values("Access-Control-Expose-Headers"); len(got) != 1 {
		t.Errorf("Access-Control-Expose-Headers has %d lines, want 1: %q", len(got), got)
	}
	exposed := headerList(h, "Access-Control-Expose-Headers")
	for _, name := range []string{
		"grpc-status", "grpc-message", "grpc-status-details-bin", "grpc-encoding",
		"content-encoding", "x-request-id",
		"grpc-metadata-tenant", "grpc-trailer-retry-info-bin", "x-content-type-options",
	} {
		if !slices.Contains(exposed, name) {
			t.Errorf("Access-Control-Expose-Headers %v lacks %s", exposed, name)
		}
	}
	for _, name := range []string{"set-cookie", "connection", "content-type", "content-length", "vary", "access-control-allow-origin"} {
		if slices.Contains(exposed, name) {
			t.Errorf("Access-Control-Expose-Headers %v has %s", exposed, name)
		}
	}
	seen := map[string]bool{}
	for _, name := range exposed {
		if seen[name] {
			t.Errorf("Access-Control-Expose-Headers lists %s twice: %v", name, exposed)
		}
		seen[name] = true
	}
}

func TestCORSExposeResponseHeadersWithoutAllowedOrigin(t *testing.T) {
	p := newCORSPolicy(CORSOptions{AllowedOrigins: []string{"https://app.example.com"}})
	next := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Grpc-Metadata-Tenant", "acme")
		p.exposeResponseHeaders(w.Header())
		w.WriteHeader(http.StatusOK)
	}
	for _, origin := range []string{"", "https://evil.example.org"} {
		rec, _, _ := corsRun(p, corsRequest(http.MethodGet, origin), next)
		if ac := accessControlHeaders(rec.Header()); len(ac) != 0 {
			t.Errorf("origin %q: got CORS headers %v", origin, ac)
		}
	}
	var nilPolicy *corsPolicy
	h := http.Header{"Grpc-Metadata-Tenant": {"acme"}, "Access-Control-Allow-Origin": {"*"}}
	nilPolicy.exposeResponseHeaders(h)
	if h.Get("Access-Control-Expose-Headers") != "" {
		t.Error("nil policy exposed headers")
	}
}

func TestCORSVaryKeepsExistingValues(t *testing.T) {
	p := newCORSPolicy(CORSOptions{AllowedOrigins: []string{"https://app.example.com"}})
	rec := httptest.NewRecorder()
	rec.Header().Set("Vary", "Accept-Encoding, origin")
	p.handle(rec, corsRequest(http.MethodGet, "https://app.example.com"))
	if got := headerList(rec.Header(), "Vary"); !slices.Equal(got, []string{"accept-encoding", "origin"}) {
		t.Errorf("Vary = %v, want [accept-encoding origin]", got)
	}
}

func TestCORSDisabled(t *testing.T) {
	for _, opts := range []CORSOptions{
		{},
		{AllowedOrigins: []string{"", "  "}, AllowCredentials: true, MaxAge: time.Hour},
		{AllowedHeaders: []string{"x-custom"}, ExposedHeaders: []string{"x-other"}},
	} {
		p := newCORSPolicy(opts)
		if p != nil {
			t.Fatalf("newCORSPolicy(%+v) = %+v, want nil", opts, p)
		}
		for _, r := range []*http.Request{
			preflight("https://app.example.com", "POST", "content-type"),
			corsRequest(http.MethodGet, "https://app.example.com"),
		} {
			rec, answered, nextCalled := corsRun(p, r, nil)
			if answered || !nextCalled {
				t.Errorf("%s: disabled policy answered the request", r.Method)
			}
			if len(rec.Header()) != 0 {
				t.Errorf("%s: disabled policy added headers %v", r.Method, rec.Header())
			}
			p.exposeResponseHeaders(rec.Header())
		}
	}
}

func TestCORSPolicyConcurrentUse(t *testing.T) {
	p := newCORSPolicy(CORSOptions{AllowedOrigins: []string{"https://*.example.com"}, AllowCredentials: true})
	done := make(chan struct{})
	for range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 100 {
				rec, _, _ := corsRun(p, preflight("https://a.example.com", "POST", "grpc-metadata-x"), nil)
				if rec.Code != http.StatusNoContent {
					t.Errorf("status = %d", rec.Code)
					return
				}
				rec, _, _ = corsRun(p, corsRequest(http.MethodGet, "https://a.example.com"), func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Grpc-Metadata-X", "1")
					p.exposeResponseHeaders(w.Header())
				})
				if !slices.Contains(headerList(rec.Header(), "Access-Control-Expose-Headers"), "grpc-metadata-x") {
					t.Error("grpc-metadata-x not exposed")
					return
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
}
