package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/portico-gw/portico/transcoder"
)

// env returns a lookup function over a fixed environment.
func env(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

var noEnv = env()

func mustParse(t *testing.T, src string, lookup func(string) (string, bool)) *Config {
	t.Helper()
	c, err := parse([]byte(src), "portico.yaml", lookup)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return c
}

const minimal = `version: 1
backends:
  - name: library
    target: localhost:9090
`

func TestExampleLoads(t *testing.T) {
	const path = "../examples/portico.yaml"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := parse(data, path, noEnv)
	if err != nil {
		t.Fatalf("examples/portico.yaml: %v", err)
	}
	dir, _ := filepath.Abs("../examples")
	var names []string
	for _, b := range c.Backends {
		names = append(names, b.Name)
	}
	if want := []string{"library", "billing", "echo"}; !slices.Equal(names, want) {
		t.Errorf("backends %v, want %v", names, want)
	}
	sources := []SchemaSource{SourceReflection, SourceFiles, SourceProtos}
	for i, b := range c.Backends {
		if got := b.Schema.EffectiveSource(); got != sources[i] {
			t.Errorf("backend %s: source %s, want %s", b.Name, got, sources[i])
		}
	}
	if got := c.Backends[0].Target; got != "localhost:9090" {
		t.Errorf("library target %q (from ${LIBRARY_ADDR:-localhost:9090})", got)
	}
	billing := c.Backend("billing")
	if got, want := billing.TLS.CA, filepath.Join(dir, "tls/ca.pem"); got != want {
		t.Errorf("billing tls.ca %q, want %q", got, want)
	}
	if got, want := billing.Schema.Files, []string{filepath.Join(dir, "descriptors/billing.binpb")}; !slices.Equal(got, want) {
		t.Errorf("billing schema.files %q, want %q", got, want)
	}
	// The merge key copied the defaults, and use_proto_names overrides.
	if o := c.TranscoderOptions("billing", ""); !o.UseProtoNames || o.DefaultTimeout != 30*time.Second || !slices.Equal(o.ForwardHeaders, []string{"X-Request-Id"}) {
		t.Errorf("billing options %+v", o)
	}
	if got, want := c.Backend("echo").Schema.Protos.Root, filepath.Join(filepath.Dir(dir), "proto"); got != want {
		t.Errorf("echo protos.root %q, want %q", got, want)
	}
	// The example's protos backend names a real file of the repository.
	p := c.Backend("echo").Schema.Protos
	if _, err := os.Stat(filepath.Join(p.Root, p.Files[0])); err != nil {
		t.Errorf("example protos file: %v", err)
	}
	o := c.TranscoderOptions("library", "portico.demo.v1.LibraryService")
	if !o.EmitUnpopulated || o.DefaultTimeout != 10*time.Second || o.MaxTimeout != 2*time.Minute {
		t.Errorf("library service options %+v", o)
	}
	if len(o.CORS.AllowedOrigins) != 2 || o.CORS.MaxAge != 2*time.Hour {
		t.Errorf("CORS %+v", o.CORS)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "portico.yaml")
	if err := os.WriteFile(path, []byte(minimal+"    tls: {ca: ca.pem}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.File() != path || c.Backends[0].TLS.CA != filepath.Join(dir, "ca.pem") {
		t.Errorf("file %q, ca %q", c.File(), c.Backends[0].TLS.CA)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

func TestParseGood(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		env   func(string) (string, bool)
		check func(t *testing.T, c *Config)
	}{
		{
			name: "minimal",
			src:  minimal,
			check: func(t *testing.T, c *Config) {
				b := c.Backends[0]
				if c.Version != 1 || b.Name != "library" || b.Target != "localhost:9090" || b.TLS != nil ||
					b.Schema.EffectiveSource() != SourceReflection || c.Listen.Address != "" || c.Admin.Disabled {
					t.Errorf("%+v", c)
				}
				if diff := cmp.Diff(transcoder.Options{}, c.TranscoderOptions("library", "")); diff != "" {
					t.Errorf("options of a minimal file are not the zero value (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "targets, empty tls, nulls",
			src: `version: 1
listen: ~
admin: {disabled: true, address: ""}
backends:
  - name: pool.a_b-1
    targets: [10.0.0.1:9090, "[::1]:9090"]
    tls: {}
    transcoding: {forward_headers: []}
    schema: {refresh: ~}
`,
			check: func(t *testing.T, c *Config) {
				b := c.Backends[0]
				if !slices.Equal(b.Addresses(), []string{"10.0.0.1:9090", "[::1]:9090"}) {
					t.Errorf("addresses %v", b.Addresses())
				}
				if b.TLS == nil || *b.TLS != (ClientTLS{}) {
					t.Errorf("tls: {} gave %+v, want an empty non-nil ClientTLS", b.TLS)
				}
				if b.Transcoding.ForwardHeaders == nil {
					t.Error("forward_headers: [] decoded as nil (inherit), want empty (none)")
				}
				if !c.Admin.Disabled {
					t.Error("admin.disabled")
				}
			},
		},
		{
			name: "target URIs",
			src: `version: 1
backends:
  - {name: a, target: "dns:///library.internal:9090"}
  - {name: b, target: "unix:///run/lib.sock"}
  - {name: c, target: "unix:lib.sock"}
  - {name: d, target: "[::1]:9090"}
`,
		},
		{
			name: "schema sources",
			src: `version: 1
backends:
  - name: f
    target: a:1
    schema: {source: files, files: [a.binpb, /abs/b.json], refresh: 1m}
  - name: p
    target: a:2
    schema: {source: protos, protos: {root: proto}}
  - name: r
    target: a:3
    schema: {source: reflection, refresh: 5s}
`,
			check: func(t *testing.T, c *Config) {
				if c.Backends[0].Schema.Refresh != Duration(time.Minute) || c.Backends[1].Schema.Protos.Files != nil {
					t.Errorf("%+v", c.Backends)
				}
			},
		},
		{
			name: "anchors and merge keys",
			src: `version: 1
transcoding: &d {use_proto_names: true, default_timeout: 5s}
backends:
  - name: a
    target: a:1
    transcoding:
      <<: *d
      default_timeout: 7s
  - name: b
    target: b:1
    transcoding: *d
`,
			check: func(t *testing.T, c *Config) {
				if o := c.TranscoderOptions("a", ""); !o.UseProtoNames || o.DefaultTimeout != 7*time.Second {
					t.Errorf("a: %+v", o)
				}
				if o := c.TranscoderOptions("b", ""); !o.UseProtoNames || o.DefaultTimeout != 5*time.Second {
					t.Errorf("b: %+v", o)
				}
			},
		},
		{
			name: "x- keys hold anchors",
			src: `version: 1
x-strict: &strict {reject_unknown_query_parameters: true, max_timeout: 30s}
x-unused: {anything: "${UNSET}"}
backends:
  - name: a
    target: a:1
    transcoding: *strict
`,
			check: func(t *testing.T, c *Config) {
				if o := c.TranscoderOptions("a", ""); !o.RejectUnknownQueryParameters || o.MaxTimeout != 30*time.Second {
					t.Errorf("%+v", o)
				}
			},
		},
		{
			name: "interpolation into every type",
			src: `version: 1
transcoding:
  emit_unpopulated: ${EMIT}
  max_request_bytes: ${MAX_BYTES}
  default_timeout: "${TIMEOUT:-3s}"
  forward_headers: ["${HDR}"]
backends:
  - name: a
    target: ${HOST}:${PORT:-9090}
    tls: {server_name: "$${NOT_EXPANDED}", ca: "${CA_DIR:-}/ca.pem"}
`,
			env: env("EMIT", "true", "MAX_BYTES", "1024", "HDR", "X-Tenant", "HOST", "10.1.2.3", "PORT", ""),
			check: func(t *testing.T, c *Config) {
				o := c.TranscoderOptions("a", "")
				if !o.EmitUnpopulated || o.MaxRequestBytes != 1024 || o.DefaultTimeout != 3*time.Second || !slices.Equal(o.ForwardHeaders, []string{"X-Tenant"}) {
					t.Errorf("options %+v", o)
				}
				b := c.Backends[0]
				if b.Target != "10.1.2.3:9090" || b.TLS.ServerName != "${NOT_EXPANDED}" || b.TLS.CA != "/ca.pem" {
					t.Errorf("target %q, server_name %q, ca %q", b.Target, b.TLS.ServerName, b.TLS.CA)
				}
			},
		},
		{
			name: "integers and durations in YAML forms",
			src: `version: 1
transcoding: {max_request_bytes: 0x100, default_timeout: 0, max_timeout: 1h2m3.5s}
cors: {max_age: -1s}
backends: [{name: a, target: "a:1"}]
`,
			check: func(t *testing.T, c *Config) {
				o := c.TranscoderOptions("", "")
				if o.MaxRequestBytes != 256 || o.DefaultTimeout != 0 || o.MaxTimeout != time.Hour+2*time.Minute+3500*time.Millisecond || o.CORS.MaxAge != -time.Second {
					t.Errorf("%+v", o)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lookup := tt.env
			if lookup == nil {
				lookup = noEnv
			}
			c := mustParse(t, tt.src, lookup)
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		env  func(string) (string, bool)
		// want are substrings of the error, each expected on its own line
		// of the joined message, in this order.
		want []string
	}{
		{"empty file", ``, nil, []string{"portico.yaml: version: required", "portico.yaml: backends: at least one backend is required"}},
		{"version missing", "backends: [{name: a, target: a:1}]\n", nil, []string{`portico.yaml:1: version: required: start the file with "version: 1"`}},
		{"version 2", "version: 2\n" + strings.TrimPrefix(minimal, "version: 1\n"), nil, []string{"portico.yaml:1: version: unsupported version 2; this Portico reads version 1"}},
		{"version as string", "version: \"1\"\nbackends: [{name: a, target: a:1}]\n", nil, []string{`portico.yaml:1: version: want an integer, got the string "1"`}},
		{"unknown key", minimal + "lisen: {address: \":80\"}\n", nil, []string{`portico.yaml:5: lisen: unknown key "lisen"; did you mean "listen"?`}},
		{"unknown nested key", minimal + "    schema: {source: files, file: [a.binpb]}\n", nil, []string{
			`portico.yaml:5: backends[0].schema.file: unknown key "file"; did you mean "files"?`,
			`portico.yaml:5: backends[0].schema.files: required with source files`,
		}},
		{"unknown key, far from any", minimal + "    colour: blue\n", nil, []string{`portico.yaml:5: backends[0].colour: unknown key "colour"; want one of name, target, targets, tls, schema, transcoding, services`}},
		{"duplicate key", "version: 1\nversion: 1\nbackends: [{name: a, target: a:1}]\n", nil, []string{"portico.yaml:2: version: duplicate key (first given on line 1)"}},
		{"YAML syntax", "version: 1\nbackends:\n  - name: a\n   target: x\n", nil, []string{"portico.yaml:2: invalid YAML: did not find expected '-' indicator"}},
		{"two documents", minimal + "---\nversion: 1\n", nil, []string{"portico.yaml:5: a config file holds one YAML document; remove the second one (after ---)"}},
		{"wrong types", `version: 1
listen: ":8080"
transcoding:
  use_proto_names: "yes"
  emit_unpopulated: yes
  max_request_bytes: 4MiB
  forward_headers: X-Request-Id
backends:
  - name: a
    target: [a:1]
`, nil, []string{
			`portico.yaml:2: listen: want a mapping, got the string ":8080"`,
			`portico.yaml:4: transcoding.use_proto_names: want true or false, got the string "yes"`,
			`portico.yaml:5: transcoding.emit_unpopulated: want true or false, got "yes"`,
			`portico.yaml:6: transcoding.max_request_bytes: want an integer, got "4MiB"`,
			`portico.yaml:7: transcoding.forward_headers: want a list, got "X-Request-Id"`,
			// No "target: required" noise after the wrong type.
			`portico.yaml:10: backends[0].target: want a string, got a list`,
		}},
		{"durations", `version: 1
transcoding: {default_timeout: 30, max_timeout: -1s}
backends:
  - name: a
    target: a:1
    schema: {refresh: -5s}
readiness: {grace_period: soon}
`, nil, []string{
			`portico.yaml:2: transcoding.default_timeout: want a duration such as 30s, 1m30s or 250ms, got "30"`,
			`portico.yaml:2: transcoding.max_timeout: negative duration -1s; want 0 or more`,
			`portico.yaml:6: backends[0].schema.refresh: negative duration -5s`,
			`portico.yaml:7: readiness.grace_period: want a duration`,
		}},
		{"max_timeout below default_timeout", `version: 1
transcoding:
  default_timeout: 10s
  max_timeout: 5s
backends:
  - name: a
    target: a:1
    transcoding:
      max_timeout: 1m
  - name: b
    target: b:1
    transcoding:
      default_timeout: 1m
    services:
      pkg.v1.Svc:
        transcoding:
          max_timeout: 30s
`, nil, []string{
			"portico.yaml:4: transcoding.max_timeout: default_timeout 10s exceeds max_timeout 5s;",
			"portico.yaml:13: backends[1].transcoding.default_timeout: default_timeout 1m0s exceeds max_timeout 5s (from the top-level transcoding)",
			"portico.yaml:17: backends[1].services[pkg.v1.Svc].transcoding.max_timeout: default_timeout 1m0s (from the backend's transcoding) exceeds max_timeout 30s",
		}},
		{"backends", `version: 1
backends:
  - name: Library
    target: localhost
  - name: b
  - name: c
    target: c:1
    targets: [c:2]
  - name: c
    targets: [d:1, d:1, "dns:///x:1"]
  - target: "e:1"
  - name: f
    targets: []
`, nil, []string{
			`portico.yaml:3: backends[0].name: invalid name "Library"`,
			`portico.yaml:4: backends[0].target: invalid address "localhost": want host:port`,
			`portico.yaml:5: backends[1].target: required`,
			`portico.yaml:8: backends[2].targets: give target or targets, not both`,
			`portico.yaml:9: backends[3].name: duplicate backend name "c" (also backends[2])`,
			`portico.yaml:10: backends[3].targets[1]: duplicate address "d:1" (also targets[0])`,
			`portico.yaml:10: backends[3].targets[2]: invalid address "dns:///x:1"`,
			`portico.yaml:11: backends[4].name: required`,
			`portico.yaml:13: backends[5].targets: empty`,
		}},
		{"no backends", "version: 1\nbackends: []\n", nil, []string{"portico.yaml:2: backends: at least one backend is required"}},
		{"schema", `version: 1
backends:
  - name: a
    target: a:1
    schema: {source: reflect}
  - name: b
    target: b:1
    schema:
      source: files
  - name: c
    target: c:1
    schema: {files: [x.binpb], protos: {root: p}}
  - name: d
    target: d:1
    schema:
      source: protos
      protos:
        files: [/abs.proto, a/../b.proto, readme.md]
  - name: e
    target: e:1
    schema: {source: protos}
`, nil, []string{
			`portico.yaml:5: backends[0].schema.source: unknown source "reflect"; want reflection, files or protos`,
			`portico.yaml:8: backends[1].schema.files: required with source files`,
			`portico.yaml:12: backends[2].schema.files: only used with source files (source is reflection)`,
			`portico.yaml:12: backends[2].schema.protos: only used with source protos (source is reflection)`,
			`portico.yaml:17: backends[3].schema.protos.root: required`,
			`portico.yaml:18: backends[3].schema.protos.files[0]: "/abs.proto": want a clean path relative to root`,
			`portico.yaml:18: backends[3].schema.protos.files[1]: "a/../b.proto"`,
			`portico.yaml:18: backends[3].schema.protos.files[2]: "readme.md" is not a .proto file`,
			`portico.yaml:21: backends[4].schema.protos: required with source protos`,
		}},
		{"tls", `version: 1
listen:
  tls: {cert: c.pem}
backends:
  - name: a
    target: a:1
    tls: {key: k.pem}
`, nil, []string{
			"portico.yaml:3: listen.tls.key: required with listen.tls",
			"portico.yaml:7: backends[0].tls.cert: required with tls.key: cert and key go together",
		}},
		{"addresses, cors, headers, services", `version: 1
listen: {address: "localhost"}
admin: {address: "127.0.0.1:99999"}
transcoding: {forward_headers: ["X Bad"]}
cors:
  allowed_origins: ["https://app.example.com", "app.example.com", "https://*.example.com/path", "https://a.*.com", "*", "null"]
  allowed_headers: ["*", "a:b"]
  exposed_headers: [""]
backends:
  - name: a
    target: a:1
    services:
      "not a name": {}
`, nil, []string{
			`portico.yaml:2: listen.address: invalid address "localhost"`,
			`portico.yaml:3: admin.address: invalid address "127.0.0.1:99999": port "99999" is not a number from 0 to 65535`,
			`portico.yaml:4: transcoding.forward_headers[0]: invalid header name "X Bad"`,
			`portico.yaml:6: cors.allowed_origins[1]: invalid origin "app.example.com"`,
			`portico.yaml:6: cors.allowed_origins[2]: invalid origin "https://*.example.com/path": an origin is scheme, host and port only`,
			`portico.yaml:6: cors.allowed_origins[3]: invalid origin "https://a.*.com": * works only`,
			`portico.yaml:7: cors.allowed_headers[1]: invalid header name "a:b"`,
			`portico.yaml:8: cors.exposed_headers[0]: invalid header name ""`,
			`portico.yaml:13: backends[0].services[not a name]: invalid service name "not a name"`,
		}},
		{"interpolation", `version: 1
listen: {address: "${ADDR}"}
backends:
  - name: a
    target: "${HOST}:${PORT}"
    tls: {server_name: "${oops", ca: "${1BAD}"}
    transcoding: {emit_unpopulated: "${FLAG}"}
`, env("FLAG", "maybe"), []string{
			"portico.yaml:2: listen.address: environment variable ADDR is not set (referenced as ${ADDR}; ${ADDR:-default} gives a default)",
			"portico.yaml:5: backends[0].target: environment variable HOST is not set",
			"portico.yaml:5: backends[0].target: environment variable PORT is not set",
			`portico.yaml:6: backends[0].tls.server_name: unclosed "${oops"`,
			`portico.yaml:6: backends[0].tls.ca: invalid reference "${1BAD}"`,
			`portico.yaml:7: backends[0].transcoding.emit_unpopulated: want true or false, got "maybe" (after ${...} substitution)`,
		}},
		{"bad merge key", "version: 1\ntranscoding:\n  <<: [1]\nbackends: [{name: a, target: a:1}]\n", nil, []string{"portico.yaml:3: transcoding: a merge key (<<) takes a mapping or a list of mappings"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lookup := tt.env
			if lookup == nil {
				lookup = noEnv
			}
			c, err := parse([]byte(tt.src), "portico.yaml", lookup)
			if err == nil {
				t.Fatalf("no error; config %+v", c)
			}
			if c != nil {
				t.Error("a Config was returned with the error")
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Errorf("%d errors, want %d:\n%s", len(lines), len(tt.want), err)
			}
			for i, w := range tt.want {
				if i >= len(lines) || !strings.HasPrefix(lines[i], w) && !strings.Contains(lines[i], w) {
					t.Errorf("error %d: want %q in:\n%s", i, w, err)
				}
			}
			var e *Error
			if !errors.As(err, &e) || e.File != "portico.yaml" {
				t.Errorf("errors.As(*Error) = %+v", e)
			}
		})
	}
}

func TestInterpolate(t *testing.T) {
	lookup := env("A", "alpha", "EMPTY", "", "SPECIAL", "x: [y]\n# z")
	tests := []struct {
		in, want string
		problems int
	}{
		{"plain", "plain", 0},
		{"$A and $ alone and $$", "$A and $ alone and $$", 0},
		{"${A}", "alpha", 0},
		{"<${A}-${A}>", "<alpha-alpha>", 0},
		{"$${A}", "${A}", 0},
		{"$$${A}", "$${A}", 0}, // "$", then "$${A}" as a literal "${A}"
		{"${EMPTY}", "", 0},
		{"${EMPTY:-def}", "def", 0},
		{"${UNSET:-def}", "def", 0},
		{"${UNSET:-}", "", 0},
		{"${A:-def}", "alpha", 0},
		{"${UNSET:-a:b/c}", "a:b/c", 0},
		{"${SPECIAL}", "x: [y]\n# z", 0},
		{"${UNSET}", "", 1},
		{"${UNSET} ${ALSO_UNSET}", "", 2},
		{"${}", "", 1},
		{"${A B}", "", 1},
		{"${A-def}", "", 1},
		{"${A", "", 1},
	}
	for _, tt := range tests {
		got, _, problems := interpolate(tt.in, lookup)
		if len(problems) != tt.problems {
			t.Errorf("interpolate(%q): problems %q, want %d", tt.in, problems, tt.problems)
			continue
		}
		if tt.problems == 0 && got != tt.want {
			t.Errorf("interpolate(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// A value never becomes YAML structure.
	c := mustParse(t, minimal+"    tls: {server_name: \"${SPECIAL}\"}\n", lookup)
	if got := c.Backends[0].TLS.ServerName; got != "x: [y]\n# z" {
		t.Errorf("server_name %q", got)
	}
	// Comments are not interpolated.
	mustParse(t, minimal+"# ${NOT_SET_ANYWHERE}\n", noEnv)
}

func TestSettings(t *testing.T) {
	var got []string
	for _, s := range Settings() {
		if s.Env != EnvName(s.Key) {
			t.Errorf("%+v: env name is not EnvName(key)", s)
		}
		got = append(got, s.Env)
	}
	want := []string{
		"PORTICO_LISTEN_ADDRESS",
		"PORTICO_LISTEN_TLS_CERT",
		"PORTICO_LISTEN_TLS_KEY",
		"PORTICO_ADMIN_ADDRESS",
		"PORTICO_ADMIN_DISABLED",
		"PORTICO_TRANSCODING_USE_PROTO_NAMES",
		"PORTICO_TRANSCODING_EMIT_UNPOPULATED",
		"PORTICO_TRANSCODING_USE_ENUM_NUMBERS",
		"PORTICO_TRANSCODING_DEFAULT_TIMEOUT",
		"PORTICO_TRANSCODING_MAX_TIMEOUT",
		"PORTICO_TRANSCODING_MAX_REQUEST_BYTES",
		"PORTICO_TRANSCODING_REJECT_UNKNOWN_QUERY_PARAMETERS",
		"PORTICO_TRANSCODING_STREAM_IDLE_TIMEOUT",
		"PORTICO_TRANSCODING_KEEPALIVE_INTERVAL",
		"PORTICO_CORS_ALLOW_CREDENTIALS",
		"PORTICO_CORS_MAX_AGE",
		"PORTICO_READINESS_GRACE_PERIOD",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Settings() (-want +got):\n%s", diff)
	}
}

func TestApplyEnv(t *testing.T) {
	const file = `version: 1
listen: {address: ":8080"}
transcoding:
  default_timeout: 5s
  max_timeout: 1m
backends: [{name: a, target: "a:1"}]
`
	tests := []struct {
		name    string
		environ []string
		check   func(t *testing.T, c *Config)
		wantErr []string
	}{
		{
			name: "overrides",
			environ: []string{
				"PATH=/usr/bin",
				"PORTICO_LISTEN_ADDRESS=:9000",
				"PORTICO_LISTEN_TLS_CERT=c.pem",
				"PORTICO_LISTEN_TLS_KEY=k.pem",
				"PORTICO_ADMIN_DISABLED=1",
				"PORTICO_TRANSCODING_DEFAULT_TIMEOUT=30s",
				"PORTICO_TRANSCODING_USE_ENUM_NUMBERS=true",
				"PORTICO_TRANSCODING_MAX_REQUEST_BYTES=-1",
				"PORTICO_CORS_MAX_AGE=10m",
				"PORTICO_READINESS_GRACE_PERIOD=1m",
				"PORTICO_CONFIG=/etc/portico.yaml", // not a setting, not a section: ignored
				"PORTICO_VERSION=2.3.4",            // version is not overridable: ignored
				"PORTICO_TRANSCODING_MAX_TIMEOUT=", // empty: ignored
			},
			check: func(t *testing.T, c *Config) {
				o := c.TranscoderOptions("a", "")
				if c.Listen.Address != ":9000" || c.Listen.TLS == nil || c.Listen.TLS.Cert != "c.pem" || !c.Admin.Disabled ||
					o.DefaultTimeout != 30*time.Second || o.MaxTimeout != time.Minute || !o.UseEnumNumbers || o.MaxRequestBytes != -1 ||
					o.CORS.MaxAge != 10*time.Minute || c.Readiness.GracePeriod != Duration(time.Minute) || c.Version != 1 {
					t.Errorf("config %+v, options %+v", c, o)
				}
			},
		},
		{
			name: "bad values and unknown variables",
			environ: []string{
				"PORTICO_TRANSCODING_DEFAULT_TIMEOUT=30",
				"PORTICO_ADMIN_DISABLED=nope",
				"PORTICO_LISTEN_ADRESS=:1",
				"PORTICO_TRANSCODING_FORWARD_HEADERS=X-A",
				"PORTICO_BACKENDS_0_TARGET=b:1",
			},
			wantErr: []string{
				"environment variable PORTICO_ADMIN_DISABLED: admin.disabled: want true or false, got \"nope\"",
				"environment variable PORTICO_BACKENDS_0_TARGET: names no setting that the environment can override (lists and backend settings are set in the file only)",
				"environment variable PORTICO_LISTEN_ADRESS: names no setting that the environment can override; did you mean PORTICO_LISTEN_ADDRESS?",
				"environment variable PORTICO_TRANSCODING_DEFAULT_TIMEOUT: transcoding.default_timeout: want a duration",
				"environment variable PORTICO_TRANSCODING_FORWARD_HEADERS: names no setting",
			},
		},
		{
			name:    "validated after overriding",
			environ: []string{"PORTICO_TRANSCODING_DEFAULT_TIMEOUT=10m", "PORTICO_LISTEN_TLS_KEY=k.pem", "PORTICO_ADMIN_ADDRESS=nowhere"},
			wantErr: []string{
				"environment variable PORTICO_ADMIN_ADDRESS: admin.address: invalid address \"nowhere\"",
				"environment variable PORTICO_TRANSCODING_DEFAULT_TIMEOUT: transcoding.default_timeout: default_timeout 10m0s exceeds max_timeout 1m0s",
				"listen.tls.cert: required with listen.tls",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, file, noEnv)
			err := ApplyEnv(c, tt.environ)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				tt.check(t, c)
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("want %q in:\n%s", w, err)
				}
			}
			if n := len(strings.Split(err.Error(), "\n")); n != len(tt.wantErr) {
				t.Errorf("%d errors, want %d:\n%s", n, len(tt.wantErr), err)
			}
		})
	}
}

// TestPrecedence: flags (Set) override the environment, which overrides
// the file, which overrides the defaults.
func TestPrecedence(t *testing.T) {
	c := mustParse(t, `version: 1
listen: {address: ":1000"}
admin: {address: "127.0.0.1:1001"}
transcoding: {default_timeout: 1s, max_timeout: 1h}
backends: [{name: a, target: "a:1"}]
`, noEnv)
	err := ApplyEnv(c, []string{
		"PORTICO_ADMIN_ADDRESS=127.0.0.1:2001",
		"PORTICO_TRANSCODING_DEFAULT_TIMEOUT=2s",
		"PORTICO_TRANSCODING_USE_PROTO_NAMES=true",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range [][2]string{{"transcoding.default_timeout", "3s"}, {"cors.allow_credentials", "true"}} {
		if err := c.Set(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	o := c.TranscoderOptions("a", "")
	if c.Listen.Address != ":1000" || // file
		c.Admin.Address != "127.0.0.1:2001" || // env over file
		!o.UseProtoNames || // env over default
		o.DefaultTimeout != 3*time.Second || // flag over env over file
		o.MaxTimeout != time.Hour || // file
		!o.CORS.AllowCredentials { // flag over default
		t.Errorf("config %+v, options %+v", c, o)
	}

	if err := c.Set("transcoding.forward_headers", "X"); !errors.Is(err, errUnknownSetting) {
		t.Errorf("Set of a list: %v", err)
	}
	if err := c.Set("backends", "x"); !errors.Is(err, errUnknownSetting) {
		t.Errorf("Set of backends: %v", err)
	}
	if err := c.Set("transcoding.max_timeout", "1"); err == nil {
		t.Error("Set accepted a duration without unit")
	}
	// A flag set to an invalid value is reported by Validate, by key path.
	if err := c.Set("transcoding.max_timeout", "1s"); err != nil {
		t.Fatal(err)
	}
	err = c.Validate()
	if err == nil || !strings.HasPrefix(err.Error(), "transcoding.max_timeout: default_timeout 3s exceeds max_timeout 1s") {
		t.Errorf("Validate after Set: %v", err)
	}
}

func TestDefaultAndGoBuilt(t *testing.T) {
	c := Default()
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "backends: at least one backend is required") {
		t.Errorf("Default().Validate() = %v", err)
	}
	c.Backends = append(c.Backends, Backend{Name: "a", Target: "localhost:9090"})
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if err := (&Config{Backends: c.Backends}).Validate(); err == nil || err.Error() != "version: required: start the file with \"version: 1\"" {
		t.Errorf("Validate without version: %v", err)
	}
	if err := c.Set("listen.tls.cert", "relative.pem"); err != nil || c.Listen.TLS.Cert != "relative.pem" {
		t.Errorf("Set listen.tls.cert: %v, %+v", err, c.Listen.TLS)
	}
}

func TestTranscoderOptionsMerging(t *testing.T) {
	c := mustParse(t, `version: 1
transcoding:
  use_proto_names: true
  default_timeout: 10s
  max_request_bytes: 100
  forward_headers: [X-Top]
cors: {allowed_origins: ["*"], allowed_headers: [X-A], exposed_headers: [X-B], max_age: 1m, allow_credentials: true}
backends:
  - name: a
    target: a:1
    transcoding:
      use_proto_names: false
      emit_unpopulated: true
      forward_headers: [X-Backend]
    services:
      pkg.S:
        transcoding:
          default_timeout: 1s
          forward_headers: []
          reject_unknown_query_parameters: true
      pkg.Empty: {}
  - name: b
    target: b:1
`, noEnv)
	cors := transcoder.CORSOptions{AllowedOrigins: []string{"*"}, AllowCredentials: true, AllowedHeaders: []string{"X-A"}, ExposedHeaders: []string{"X-B"}, MaxAge: time.Minute}
	top := transcoder.Options{UseProtoNames: true, DefaultTimeout: 10 * time.Second, MaxRequestBytes: 100, ForwardHeaders: []string{"X-Top"}, CORS: cors}
	backendA := transcoder.Options{EmitUnpopulated: true, DefaultTimeout: 10 * time.Second, MaxRequestBytes: 100, ForwardHeaders: []string{"X-Backend"}, CORS: cors}
	tests := []struct {
		backend, service string
		want             transcoder.Options
	}{
		{"", "", top},
		{"nope", "pkg.S", top},
		{"b", "", top},
		{"b", "pkg.S", top},
		{"a", "", backendA},
		{"a", "pkg.Other", backendA},
		{"a", "pkg.Empty", backendA},
		{"a", "pkg.S", transcoder.Options{
			EmitUnpopulated: true, DefaultTimeout: time.Second, MaxRequestBytes: 100,
			ForwardHeaders: []string{}, RejectUnknownQueryParameters: true, CORS: cors,
		}},
	}
	for _, tt := range tests {
		got := c.TranscoderOptions(tt.backend, tt.service)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("TranscoderOptions(%q, %q) (-want +got):\n%s", tt.backend, tt.service, diff)
		}
	}
	// The result shares no slice with the Config.
	o := c.TranscoderOptions("", "")
	o.ForwardHeaders[0] = "changed"
	o.CORS.AllowedOrigins[0] = "changed"
	if c.Transcoding.ForwardHeaders[0] != "X-Top" || c.CORS.AllowedOrigins[0] != "*" {
		t.Error("TranscoderOptions aliases the Config's slices")
	}
}

func TestRelativePaths(t *testing.T) {
	const src = `version: 1
listen:
  tls: {cert: tls/server.pem, key: /abs/server.key}
backends:
  - name: a
    target: a:1
    tls: {ca: ca.pem, cert: ../client.pem, key: ./client.key, server_name: a.internal}
    schema: {source: files, files: [api.binpb, /abs/api.json, sub/../other.binpb]}
  - name: b
    target: b:1
    schema: {source: protos, protos: {root: proto, files: [a/b.proto]}}
`
	cwd, _ := os.Getwd()
	base := filepath.Join(string(filepath.Separator), "etc", "portico")
	tests := []struct {
		filename, dir string
	}{
		{filepath.Join(base, "portico.yaml"), base},
		{"portico.yaml", cwd},
		{"conf/portico.yaml", filepath.Join(cwd, "conf")},
		{"", cwd},
	}
	for _, tt := range tests {
		c, err := parse([]byte(src), tt.filename, noEnv)
		if err != nil {
			t.Fatal(err)
		}
		j := func(p string) string { return filepath.Join(tt.dir, p) }
		a, b := c.Backends[0], c.Backends[1]
		got := []string{c.Listen.TLS.Cert, c.Listen.TLS.Key, a.TLS.CA, a.TLS.Cert, a.TLS.Key, a.TLS.ServerName,
			a.Schema.Files[0], a.Schema.Files[1], a.Schema.Files[2], b.Schema.Protos.Root, b.Schema.Protos.Files[0]}
		want := []string{j("tls/server.pem"), "/abs/server.key", j("ca.pem"), filepath.Join(filepath.Dir(tt.dir), "client.pem"), j("client.key"), "a.internal",
			j("api.binpb"), "/abs/api.json", j("other.binpb"), j("proto"), "a/b.proto"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("filename %q (-want +got):\n%s", tt.filename, diff)
		}
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{File: "p.yaml", Line: 3, Path: "a.b", Msg: "bad"}, "p.yaml:3: a.b: bad"},
		{Error{File: "p.yaml", Path: "a", Msg: "bad"}, "p.yaml: a: bad"},
		{Error{File: "p.yaml", Line: 1, Msg: "bad"}, "p.yaml:1: bad"},
		{Error{Env: "PORTICO_X", Path: "x", Msg: "bad"}, "environment variable PORTICO_X: x: bad"},
		{Error{Path: "x", Msg: "bad"}, "x: bad"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.e, got, tt.want)
		}
	}
}
