package transcoder

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

type testRoute struct {
	method, template, owner string
}

func newTestRouter(t testing.TB, routes []testRoute) *router[string] {
	t.Helper()
	r := &router[string]{}
	for _, rt := range routes {
		tmpl, err := parsePathTemplate(rt.template)
		if err != nil {
			t.Fatal(err)
		}
		owner := rt.owner
		if owner == "" {
			owner = rt.method + " " + rt.template
		}
		if err := r.add(rt.method, tmpl, owner, owner); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

var routerTestRoutes = []testRoute{
	{method: "GET", template: "/v1/shelves"},
	{method: "POST", template: "/v1/shelves"},
	{method: "GET", template: "/v1/shelves/{shelf}"},
	{method: "DELETE", template: "/v1/shelves/{shelf}"},
	{method: "GET", template: "/v1/shelves/special"},
	{method: "GET", template: "/v1/shelves/{shelf}/books/{book}"},
	{method: "GET", template: "/v1/{name=shelves/*/books/*}:archive"},
	// Backtracking: the literal "a" branch dead-ends at "/v2/a/x/z".
	{method: "GET", template: "/v2/a/b/c"},
	{method: "GET", template: "/v2/{first}/x/{last}"},
	{method: "GET", template: "/v2/a/x/only"},
	// "**" with zero and many segments.
	{method: "GET", template: "/v1/files/{path=**}"},
	{method: "GET", template: "/v1/files/readme"},
	{method: "GET", template: "/v3/{rest=**}:download"},
	// Custom verbs.
	{method: "POST", template: "/v1/{name=topics/*}:publish"},
	{method: "GET", template: "/v1/topics/{id}"},
	{method: "POST", template: "/v1/topics/{id}:cancel"},
	{method: "GET", template: "/v1/colon/{x=a:b}"},
	// Same template, different verbs and methods.
	{method: "POST", template: "/v1/jobs/{id}:run"},
	{method: "POST", template: "/v1/jobs/{id}:stop"},
	{method: "PUT", template: "/v1/jobs/{id}"},
	{method: "PATCH", template: "/v1/jobs/{id}"},
	// Multi-segment and literal variables.
	{method: "GET", template: "/v1/{name=projects/*/locations/*}/things"},
	{method: "GET", template: "/v1/lit/{x=only}"},
	// 405 via a path-only match that is followed by a method match.
	{method: "GET", template: "/v4/{a}/x"},
	{method: "POST", template: "/v4/*/{b}"},
	// "**" mid-template, as Firestore's ListDocuments has it.
	{method: "GET", template: "/v5/{parent=projects/*/documents/*/**}/{collection}"},
	{method: "GET", template: "/v6/{a=**}/x/{b}:run"},
}

func TestRouterMatch(t *testing.T) {
	r := newTestRouter(t, routerTestRoutes)
	tests := []struct {
		method, path string
		owner        string   // expected route; "" for no match
		values       []string // expected values when matched
		allow        []string // expected Allow when not matched
	}{
		// Literal vs variable precedence.
		{method: "GET", path: "/v1/shelves/special", owner: "GET /v1/shelves/special", values: []string{}},
		{method: "GET", path: "/v1/shelves/other", owner: "GET /v1/shelves/{shelf}", values: []string{"other"}},
		{method: "DELETE", path: "/v1/shelves/special", owner: "DELETE /v1/shelves/{shelf}", values: []string{"special"}},
		{method: "GET", path: "/v1/shelves", owner: "GET /v1/shelves", values: []string{}},
		{method: "POST", path: "/v1/shelves", owner: "POST /v1/shelves", values: []string{}},
		{method: "GET", path: "/v1/shelves/s1/books/b1", owner: "GET /v1/shelves/{shelf}/books/{book}", values: []string{"s1", "b1"}},

		// Trailing slash and empty segments.
		{method: "GET", path: "/v1/shelves/"},
		{method: "GET", path: "/v1//shelves"},
		{method: "GET", path: ""},
		{method: "GET", path: "v1/shelves"},
		{method: "GET", path: "/"},

		// Backtracking.
		{method: "GET", path: "/v2/a/b/c", owner: "GET /v2/a/b/c", values: []string{}},
		{method: "GET", path: "/v2/a/x/only", owner: "GET /v2/a/x/only", values: []string{}},
		{method: "GET", path: "/v2/a/x/z", owner: "GET /v2/{first}/x/{last}", values: []string{"a", "z"}},
		{method: "GET", path: "/v2/q/x/z", owner: "GET /v2/{first}/x/{last}", values: []string{"q", "z"}},
		{method: "GET", path: "/v2/a/b/d"},

		// "**" mid-template: greedy, leaving the later segments theirs.
		{method: "GET", path: "/v5/projects/p/documents/d/c1/d1/books", owner: "GET /v5/{parent=projects/*/documents/*/**}/{collection}", values: []string{"projects/p/documents/d/c1/d1", "books"}},
		{method: "GET", path: "/v5/projects/p/documents/d/books", owner: "GET /v5/{parent=projects/*/documents/*/**}/{collection}", values: []string{"projects/p/documents/d", "books"}},
		{method: "GET", path: "/v5/projects/p/documents/d"},
		{method: "GET", path: "/v6/a/x/b/x/c:run", owner: "GET /v6/{a=**}/x/{b}:run", values: []string{"a/x/b", "c"}},
		{method: "GET", path: "/v6/x/c:run", owner: "GET /v6/{a=**}/x/{b}:run", values: []string{"", "c"}},
		{method: "POST", path: "/v6/q/x/c:run", allow: []string{"GET"}},

		// "**".
		{method: "GET", path: "/v1/files", owner: "GET /v1/files/{path=**}", values: []string{""}},
		{method: "GET", path: "/v1/files/readme", owner: "GET /v1/files/readme", values: []string{}},
		{method: "GET", path: "/v1/files/a", owner: "GET /v1/files/{path=**}", values: []string{"a"}},
		{method: "GET", path: "/v1/files/a/b/c/d", owner: "GET /v1/files/{path=**}", values: []string{"a/b/c/d"}},
		{method: "GET", path: "/v1/files/a/", owner: "GET /v1/files/{path=**}", values: []string{"a/"}},
		{method: "GET", path: "/v1/files/readme/x", owner: "GET /v1/files/{path=**}", values: []string{"readme/x"}},
		{method: "GET", path: "/v3:download", owner: "GET /v3/{rest=**}:download", values: []string{""}},
		{method: "GET", path: "/v3/a/b:download", owner: "GET /v3/{rest=**}:download", values: []string{"a/b"}},
		{method: "GET", path: "/v3/a/b"},

		// Custom verbs.
		{method: "POST", path: "/v1/topics/t1:publish", owner: "POST /v1/{name=topics/*}:publish", values: []string{"topics/t1"}},
		{method: "GET", path: "/v1/topics/t1", owner: "GET /v1/topics/{id}", values: []string{"t1"}},
		{method: "POST", path: "/v1/topics/t1:cancel", owner: "POST /v1/topics/{id}:cancel", values: []string{"t1"}},
		// No route has the verb "x", so the whole segment "t1:x" is the id.
		{method: "GET", path: "/v1/topics/t1:x", owner: "GET /v1/topics/{id}", values: []string{"t1:x"}},
		// Split at the LAST ':'.
		{method: "POST", path: "/v1/topics/a:b:publish", owner: "POST /v1/{name=topics/*}:publish", values: []string{"topics/a:b"}},
		// An encoded colon never introduces a verb.
		{method: "GET", path: "/v1/topics/t1%3Apublish", owner: "GET /v1/topics/{id}", values: []string{"t1:publish"}},
		{method: "GET", path: "/v1/colon/a:b", owner: "GET /v1/colon/{x=a:b}", values: []string{"a:b"}},
		{method: "POST", path: "/v1/jobs/j1:run", owner: "POST /v1/jobs/{id}:run", values: []string{"j1"}},
		{method: "POST", path: "/v1/jobs/j1:stop", owner: "POST /v1/jobs/{id}:stop", values: []string{"j1"}},
		{method: "PATCH", path: "/v1/jobs/j1", owner: "PATCH /v1/jobs/{id}", values: []string{"j1"}},
		{method: "GET", path: "/v1/jobs/j1:run", allow: []string{"PATCH", "POST", "PUT"}},
		{method: "GET", path: "/v1/jobs/j1", allow: []string{"PATCH", "PUT"}},
		{method: "GET", path: "/v1/topics/t1:publish", owner: "GET /v1/topics/{id}", values: []string{"t1:publish"}},

		// Percent-decoding.
		{method: "GET", path: "/v1/shelves/a%2Fb", owner: "GET /v1/shelves/{shelf}", values: []string{"a/b"}},
		{method: "GET", path: "/v1/shelves/a%20b%e2%82%ac", owner: "GET /v1/shelves/{shelf}", values: []string{"a b€"}},
		{method: "GET", path: "/v1/shelves/%73pecial", owner: "GET /v1/shelves/special", values: []string{}},
		{method: "GET", path: "/v1/files/a%2Fb/c%2fd%20e", owner: "GET /v1/files/{path=**}", values: []string{"a%2Fb/c%2fd e"}},
		{method: "GET", path: "/v1/files/a%2Fb", owner: "GET /v1/files/{path=**}", values: []string{"a%2Fb"}},
		{method: "POST", path: "/v1/topics/a%2Fb%20c:publish", owner: "POST /v1/{name=topics/*}:publish", values: []string{"topics/a%2Fb c"}},
		{method: "GET", path: "/v1/projects/p%2F1/locations/l%201/things", owner: "GET /v1/{name=projects/*/locations/*}/things", values: []string{"projects/p%2F1/locations/l 1"}},
		{method: "GET", path: "/v1/lit/only", owner: "GET /v1/lit/{x=only}", values: []string{"only"}},
		{method: "GET", path: "/v1/lit/o%6Ely", owner: "GET /v1/lit/{x=only}", values: []string{"only"}},
		{method: "GET", path: "/v1/shelves/%zz"},
		{method: "GET", path: "/v1/shelves/%2"},
		{method: "GET", path: "/v1/shelves/a%"},
		{method: "GET", path: "/v1/files/a/%g0"},

		// 405.
		{method: "PUT", path: "/v1/shelves", allow: []string{"GET", "POST"}},
		{method: "POST", path: "/v1/shelves/special", allow: []string{"DELETE", "GET"}},
		{method: "PUT", path: "/v1/shelves/x", allow: []string{"DELETE", "GET"}},
		// The verb attempt finds only POST, so the whole segment is retried
		// as the id, and GET /v1/topics/{id} wins (method beats path-only).
		{method: "GET", path: "/v1/topics/t1:cancel", owner: "GET /v1/topics/{id}", values: []string{"t1:cancel"}},
		{method: "PUT", path: "/v1/topics/t1:cancel", allow: []string{"GET", "POST"}},
		{method: "PUT", path: "/v1/shelves/s1/books/b1:archive", allow: []string{"GET"}},
		// Path-only match on "/v4/{a}/x" (GET) is passed over for POST.
		{method: "POST", path: "/v4/q/x", owner: "POST /v4/*/{b}", values: []string{"x"}},
		{method: "GET", path: "/v4/q/x", owner: "GET /v4/{a}/x", values: []string{"q"}},
		{method: "PUT", path: "/v4/q/x", allow: []string{"GET", "POST"}},
		{method: "PUT", path: "/v4/q/y", allow: []string{"POST"}},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			m, ok, allow := r.match(tt.method, tt.path)
			if tt.owner == "" {
				if ok {
					t.Fatalf("matched %q (values %q), want no match", m.value, m.values)
				}
				if !slices.Equal(allow, tt.allow) || (allow == nil) != (tt.allow == nil) {
					t.Fatalf("allow = %#v, want %#v", allow, tt.allow)
				}
				return
			}
			if !ok {
				t.Fatalf("no match (allow %q), want %q", allow, tt.owner)
			}
			if allow != nil {
				t.Errorf("allow = %q on a match", allow)
			}
			if m.value != tt.owner {
				t.Fatalf("matched %q, want %q", m.value, tt.owner)
			}
			if len(m.values) != len(m.template.variables) {
				t.Fatalf("%d values for %d variables", len(m.values), len(m.template.variables))
			}
			if !slices.Equal(m.values, tt.values) {
				t.Errorf("values = %q, want %q", m.values, tt.values)
			}
		})
	}
}

func TestRouterAddConflict(t *testing.T) {
	tests := []struct {
		first, second testRoute
		wantErr       bool
	}{
		{testRoute{"GET", "/v1/{a}", "pkg.A.Get"}, testRoute{"GET", "/v1/{b=*}", "pkg.B.Get"}, true},
		{testRoute{"GET", "/v1/{a}", "pkg.A.Get"}, testRoute{"GET", "/v1/*", "pkg.B.Get"}, true},
		{testRoute{"GET", "/v1/{a=x/**}", "pkg.A.Get"}, testRoute{"GET", "/v1/x/{b=**}", "pkg.B.Get"}, true},
		{testRoute{"POST", "/v1/{a}:run", "pkg.A.Run"}, testRoute{"POST", "/v1/{b}:run", "pkg.B.Run"}, true},
		{testRoute{"GET", "/v1/{a}", "pkg.A.Get"}, testRoute{"POST", "/v1/{a}", "pkg.A.Post"}, false},
		{testRoute{"POST", "/v1/{a}:run", "pkg.A.Run"}, testRoute{"POST", "/v1/{a}", "pkg.A.Post"}, false},
		{testRoute{"POST", "/v1/{a}:run", "pkg.A.Run"}, testRoute{"POST", "/v1/{a}:stop", "pkg.A.Stop"}, false},
		{testRoute{"GET", "/v1/*", "pkg.A.Get"}, testRoute{"GET", "/v1/**", "pkg.B.Get"}, false},
		{testRoute{"GET", "/v1/x", "pkg.A.Get"}, testRoute{"GET", "/v1/{x=x}", "pkg.B.Get"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.first.template+" vs "+tt.second.template, func(t *testing.T) {
			r := newTestRouter(t, []testRoute{tt.first})
			tmpl, err := parsePathTemplate(tt.second.template)
			if err != nil {
				t.Fatal(err)
			}
			err = r.add(tt.second.method, tmpl, tt.second.owner, tt.second.owner)
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if r.len() != 2 {
					t.Fatalf("len = %d, want 2", r.len())
				}
				return
			}
			if err == nil {
				t.Fatal("no conflict error")
			}
			for _, want := range []string{tt.first.owner, tt.second.owner, tt.second.template, tt.first.template} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if r.len() != 1 {
				t.Errorf("len = %d after failed add, want 1", r.len())
			}
		})
	}
}

func TestRouterLen(t *testing.T) {
	var r router[int]
	if r.len() != 0 {
		t.Fatal("zero router not empty")
	}
	if _, ok, allow := r.match("GET", "/x"); ok || allow != nil {
		t.Fatal("empty router matched")
	}
	r2 := newTestRouter(t, routerTestRoutes)
	if r2.len() != len(routerTestRoutes) {
		t.Fatalf("len = %d, want %d", r2.len(), len(routerTestRoutes))
	}
}

func TestRouterMatchAllocs(t *testing.T) {
	r := newTestRouter(t, routerTestRoutes)
	for _, tt := range []struct {
		path string
		max  float64
	}{
		{"/v1/shelves/special", 0},
		{"/v1/shelves/s1/books/b1", 1},
		{"/v1/files/a/b/c", 2},
	} {
		n := testing.AllocsPerRun(100, func() { r.match("GET", tt.path) })
		if n > tt.max {
			t.Errorf("match(%q): %v allocs, want <= %v", tt.path, n, tt.max)
		}
	}
}

func FuzzRouterMatch(f *testing.F) {
	for _, s := range []string{
		"/v1/shelves/x", "/v1/topics/t:publish", "/v1/files/a/b%2Fc", "/v3/a:download",
		"/v2/a/x/z", "/v1/jobs/j:run", "/", "", "/v1/%zz", "/a:b:c/:", "//:",
	} {
		f.Add("GET", s)
	}
	r := newTestRouter(f, routerTestRoutes)
	f.Fuzz(func(t *testing.T, method, path string) {
		m, ok, allow := r.match(method, path)
		if !ok {
			if m.template != nil || m.values != nil {
				t.Fatalf("non-match with data: %+v", m)
			}
			if !slices.IsSorted(allow) || len(slices.Compact(slices.Clone(allow))) != len(allow) {
				t.Fatalf("allow not sorted/distinct: %q", allow)
			}
			return
		}
		if allow != nil {
			t.Fatalf("allow %q on a match", allow)
		}
		if len(m.values) != len(m.template.variables) {
			t.Fatalf("%d values for %d variables", len(m.values), len(m.template.variables))
		}
		if !strings.HasPrefix(m.value, method+" ") {
			t.Fatalf("method %q matched route %q", method, m.value)
		}
	})
}

func BenchmarkRouterMatch(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			r := &router[int]{}
			for i := range n {
				svc, sub := i/10, i%10
				tmpl, err := parsePathTemplate(fmt.Sprintf("/v1/svc%d/resources/{id}/sub%d", svc, sub))
				if err != nil {
					b.Fatal(err)
				}
				if err := r.add("GET", tmpl, i, "owner"); err != nil {
					b.Fatal(err)
				}
			}
			last := n - 1
			path := fmt.Sprintf("/v1/svc%d/resources/abc123/sub%d", last/10, last%10)
			if _, ok, _ := r.match("GET", path); !ok {
				b.Fatalf("%s did not match", path)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				r.match("GET", path)
			}
		})
	}
}
