package transcoder

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func tmplLit(s string) templateSegment { return templateSegment{kind: segmentLiteral, literal: s} }

var (
	tmplStar  = templateSegment{kind: segmentWildcard}
	tmplDStar = templateSegment{kind: segmentDoubleWildcard}
)

func tmplVar(path string, start, end int) templateVariable {
	return templateVariable{fieldPath: strings.Split(path, "."), start: start, end: end}
}

func TestParsePathTemplateGood(t *testing.T) {
	tests := []struct {
		in        string
		canonical string // "" means same as in
		segments  []templateSegment
		verb      string
		variables []templateVariable
	}{
		{in: "/v1", segments: []templateSegment{tmplLit("v1")}},
		{in: "/v1/shelves", segments: []templateSegment{tmplLit("v1"), tmplLit("shelves")}},
		{in: "/v1/*", segments: []templateSegment{tmplLit("v1"), tmplStar}},
		{in: "/v1/**", segments: []templateSegment{tmplLit("v1"), tmplDStar}},
		{in: "/**", segments: []templateSegment{tmplDStar}},
		{in: "/v1/**:get", segments: []templateSegment{tmplLit("v1"), tmplDStar}, verb: "get"},
		{
			in:        "/v1/shelves/{shelf}",
			segments:  []templateSegment{tmplLit("v1"), tmplLit("shelves"), tmplStar},
			variables: []templateVariable{tmplVar("shelf", 2, 3)},
		},
		{
			in:        "/v1/shelves/{shelf=*}",
			canonical: "/v1/shelves/{shelf}",
			segments:  []templateSegment{tmplLit("v1"), tmplLit("shelves"), tmplStar},
			variables: []templateVariable{tmplVar("shelf", 2, 3)},
		},
		{
			in:        "/v1/{name=shelves/*/books/*}",
			segments:  []templateSegment{tmplLit("v1"), tmplLit("shelves"), tmplStar, tmplLit("books"), tmplStar},
			variables: []templateVariable{tmplVar("name", 1, 5)},
		},
		{
			in:        "/v1/{name=topics/*}:publish",
			segments:  []templateSegment{tmplLit("v1"), tmplLit("topics"), tmplStar},
			verb:      "publish",
			variables: []templateVariable{tmplVar("name", 1, 3)},
		},
		{
			in:        "/v1/{book.name=shelves/*}/books/{book.id}",
			segments:  []templateSegment{tmplLit("v1"), tmplLit("shelves"), tmplStar, tmplLit("books"), tmplStar},
			variables: []templateVariable{tmplVar("book.name", 1, 3), tmplVar("book.id", 4, 5)},
		},
		{
			in:        "/v1/{path=**}",
			segments:  []templateSegment{tmplLit("v1"), tmplDStar},
			variables: []templateVariable{tmplVar("path", 1, 2)},
		},
		{
			in:        "/v1/{path=files/**}:download",
			segments:  []templateSegment{tmplLit("v1"), tmplLit("files"), tmplDStar},
			verb:      "download",
			variables: []templateVariable{tmplVar("path", 1, 3)},
		},
		{
			in:        "/v1/{x=lit}",
			segments:  []templateSegment{tmplLit("v1"), tmplLit("lit")},
			variables: []templateVariable{tmplVar("x", 1, 2)},
		},
		{in: "/v1/a:b", segments: []templateSegment{tmplLit("v1"), tmplLit("a")}, verb: "b"},
		{in: "/v1/a:b:c", segments: []templateSegment{tmplLit("v1"), tmplLit("a:b")}, verb: "c"},
		{in: "/v1/a:b/c", segments: []templateSegment{tmplLit("v1"), tmplLit("a:b"), tmplLit("c")}},
		{in: "/v1/*:cancel", segments: []templateSegment{tmplLit("v1"), tmplStar}, verb: "cancel"},
		{
			in:        "/v1/{x=a:b}",
			segments:  []templateSegment{tmplLit("v1"), tmplLit("a:b")},
			variables: []templateVariable{tmplVar("x", 1, 2)},
		},
		{in: "/v1/a=b.c-d~e%20", segments: []templateSegment{tmplLit("v1"), tmplLit("a=b.c-d~e%20")}},
		{
			in:        "/{_a1.B_2}",
			segments:  []templateSegment{tmplStar},
			variables: []templateVariable{tmplVar("_a1.B_2", 0, 1)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parsePathTemplate(tt.in)
			if err != nil {
				t.Fatalf("parsePathTemplate(%q): %v", tt.in, err)
			}
			if got.raw != tt.in {
				t.Errorf("raw = %q", got.raw)
			}
			if !reflect.DeepEqual(got.segments, tt.segments) {
				t.Errorf("segments = %+v, want %+v", got.segments, tt.segments)
			}
			if got.verb != tt.verb {
				t.Errorf("verb = %q, want %q", got.verb, tt.verb)
			}
			if !reflect.DeepEqual(got.variables, tt.variables) {
				t.Errorf("variables = %+v, want %+v", got.variables, tt.variables)
			}
			want := tt.canonical
			if want == "" {
				want = tt.in
			}
			if s := got.String(); s != want {
				t.Errorf("String() = %q, want %q", s, want)
			}
			again, err := parsePathTemplate(got.String())
			if err != nil {
				t.Fatalf("re-parse of %q: %v", got.String(), err)
			}
			if !sameTemplate(got, again) {
				t.Errorf("re-parse of %q differs: %+v vs %+v", got.String(), again, got)
			}
		})
	}
}

func TestParsePathTemplateBad(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"", "must start with '/' at offset 0"},
		{"v1/a", "must start with '/' at offset 0"},
		{"/", "empty segment at offset 1"},
		{"/v1//a", "empty segment at offset 4"},
		{"/v1/", "empty segment at offset 4"},
		{"/v1/**/a/**", "a template may have only one '**' at offset 9"},
		{"/v1/{x=**}/{y=**}", "a template may have only one '**'"},
		{"/v1/***", "must be a whole segment at offset 4"},
		{"/v1/*a", "must be a whole segment at offset 4"},
		{"/v1/a*", "must be a whole segment at offset 5"},
		{"/v1/a{x}", "'{' must start a segment at offset 5"},
		{"/v1/{x=a/{y}}", "nested variable at offset 9"},
		{"/v1/{x}/{x}", "duplicate variable \"x\" at offset 8"},
		{"/v1/{a.b}/{a.b=c}", "duplicate variable \"a.b\""},
		{"/v1/{1x}", "invalid field path: expected identifier, found '1' at offset 5"},
		{"/v1/{}", "invalid field path: expected identifier, found '}' at offset 5"},
		{"/v1/{a.}", "expected identifier, found '}' at offset 7"},
		{"/v1/{a-b}", "invalid field path: unexpected character '-' at offset 6"},
		{"/v1/{x", "unterminated '{' at offset 4"},
		{"/v1/{x=a/b", "unterminated '{' at offset 4"},
		{"/v1/{x=", "empty segment at offset 7"},
		{"/v1/{x=}", "empty segment at offset 7"},
		{"/v1/{x=a/}", "empty segment at offset 9"},
		{"/v1/a}", "unexpected '}' outside a variable at offset 5"},
		{"/v1/}", "unexpected '}' outside a variable at offset 4"},
		{"/v1/a:", "empty verb after ':' at offset 6"},
		{"/v1/{x}:", "empty verb"},
		{"/v1/a:b*", "invalid character '*' in verb at offset 7"},
		{"/v1/a:{b}", "invalid character '{' in verb at offset 6"},
		{"/v1/a\tb", "invalid character '\\t' in literal at offset 5"},
		{"/:verb", "empty segment at offset 1"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parsePathTemplate(tt.in)
			if err == nil {
				t.Fatalf("parsePathTemplate(%q) = %q, want error containing %q", tt.in, got.String(), tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			prefix := "path template " + strconv.Quote(tt.in) + ": "
			if !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("error %q lacks prefix %q", err, prefix)
			}
		})
	}
}

// sameTemplate compares templates ignoring raw.
func sameTemplate(a, b *pathTemplate) bool {
	return reflect.DeepEqual(a.segments, b.segments) && a.verb == b.verb &&
		reflect.DeepEqual(a.variables, b.variables)
}

func FuzzParsePathTemplate(f *testing.F) {
	for _, s := range []string{
		"/v1/shelves/{shelf}", "/v1/{name=shelves/*/books/*}", "/v1/{name=topics/*}:publish",
		"/v1/{path=**}", "/v1/a:b:c", "/v1/{x=a:b}", "/v1/**:get", "/{a.b.c=x/*/**}",
		"", "/", "/v1/{x", "/v1/}{", "/a/**/b", "/{a}/{a}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tmpl, err := parsePathTemplate(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "path template ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		canon := tmpl.String()
		again, err := parsePathTemplate(canon)
		if err != nil {
			t.Fatalf("parse(%q) ok, but its String %q fails: %v", s, canon, err)
		}
		if !sameTemplate(tmpl, again) {
			t.Fatalf("parse(%q) = %+v, parse(String()=%q) = %+v", s, tmpl, canon, again)
		}
		if again.String() != canon {
			t.Fatalf("String not stable: %q vs %q", canon, again.String())
		}
	})
}
