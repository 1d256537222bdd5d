package transcoder

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

func mustUnmarshalJSON(t testing.TB, m proto.Message, js string) {
	t.Helper()
	if err := protojson.Unmarshal([]byte(js), m); err != nil {
		t.Fatalf("bad expected JSON %s: %v", js, err)
	}
}

func TestBindQuery(t *testing.T) {
	s := loadTestSchema(t)
	mustPath := func(d string) []protoreflect.FieldDescriptor {
		p, err := resolveFieldPath(s.req, d)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name          string
		query         string
		want          string // protojson of the expected message, when err == ""
		err           string
		rejectUnknown bool
		skip          func([]protoreflect.FieldDescriptor) bool
	}{
		{name: "empty", query: "", want: `{}`},
		{name: "only separators", query: "&&&", want: `{}`},
		{name: "scalars", query: "f_int32=1&fInt64=-2&f_uint32=3&f_bool=true&f_double=NaN&f_string=a+b%20c&f_color=GREEN",
			want: `{"fInt32":1,"fInt64":"-2","fUint32":3,"fBool":true,"fDouble":"NaN","fString":"a b c","fColor":"GREEN"}`},
		{name: "bare key is empty value", query: "f_string&f_bytes=", want: `{}`},
		{name: "bare key for int", query: "f_int32", err: "not an integer"},
		{name: "dotted", query: "inner.child.name=x&inner.count=4&inner.child.child.count=5",
			want: `{"inner":{"count":4,"child":{"name":"x","child":{"count":5}}}}`},
		{name: "json name dotted", query: "choiceMsg.tags=a&choiceMsg.tags=b", want: `{"choiceMsg":{"tags":["a","b"]}}`},
		{name: "repeated", query: "r_int32=1&r_int32=2&rInt32=3&r_string=x&r_color=RED&r_color=5",
			want: `{"rInt32":[1,2,3],"rString":["x"],"rColor":["RED",5]}`},
		{name: "repeated no comma split", query: "r_string=a,b", want: `{"rString":["a,b"]}`},
		{name: "repeated comma int", query: "r_int32=1,2", err: "not an integer"},
		{name: "repeated wkt", query: "r_ts=1970-01-01T00:00:01Z&r_ts=1970-01-01T00:00:02Z",
			want: `{"rTs":["1970-01-01T00:00:01Z","1970-01-01T00:00:02Z"]}`},
		{name: "wkts", query: "ts=2024-01-02T03:04:05Z&dur=2.5s&mask=a.bC,d&val=7&w_int32=0&w_string=",
			want: `{"ts":"2024-01-02T03:04:05Z","dur":"2.500s","mask":"a.bC,d","val":7,"wInt32":0,"wString":""}`},
		{name: "percent-encoded plus in timestamp", query: "ts=2024-01-02T05:04:05%2B02:00", want: `{"ts":"2024-01-02T03:04:05Z"}`},
		{name: "maps", query: "str_map[a]=1&str_map[b%5Dc]=2&strMap[]=e&int_map[-7]=x&enum_map[k]=RED&ts_map[t]=1970-01-01T00:00:00Z",
			want: `{"strMap":{"a":"1","b]c":"2","":"e"},"intMap":{"-7":"x"},"enumMap":{"k":"RED"},"tsMap":{"t":"1970-01-01T00:00:00Z"}}`},
		{name: "encoded brackets", query: "str_map%5Bk%5D=v", want: `{"strMap":{"k":"v"}}`},
		{name: "map bad int key", query: "int_map[x]=1", err: "map key"},
		{name: "map bad enum value", query: "enum_map[k]=PURPLE", err: "not a value"},
		{name: "map duplicate key", query: "str_map[a]=1&str_map[a]=2", err: "set more than once"},
		{name: "map without brackets", query: "str_map=1", err: "is a map"},
		{name: "brackets on non-map", query: "f_string[a]=1", err: "not a map"},
		{name: "brackets on repeated", query: "r_int32[]=1", err: "not a map"},
		{name: "unclosed bracket", query: "str_map[a=1", err: "malformed key"},
		{name: "bracket unknown field ignored", query: "nope[a]=1", want: `{}`},
		{name: "unknown ignored", query: "nope=1&inner.nope=2&_=123&f_int32=5", want: `{"fInt32":5}`},
		{name: "unknown rejected", query: "f_int32=5&nope=1", rejectUnknown: true, err: "no field"},
		{name: "unknown nested rejected", query: "inner.nope=1", rejectUnknown: true, err: "no field"},
		{name: "unknown does not create parent", query: "inner.nope=1", want: `{}`},
		{name: "through repeated", query: "r_inner.name=x", err: "repeated"},
		{name: "through scalar", query: "f_string.x=1", err: "not a message"},
		{name: "message addressed directly", query: "inner=x", err: "set its fields with dotted names"},
		{name: "bad value", query: "f_int32=2147483648", err: "out of range"},
		{name: "bad base64", query: "f_bytes=%%", err: "malformed percent-encoding"},
		{name: "bad escape in key", query: "f_%zzint32=1", err: "malformed percent-encoding"},
		{name: "bad escape in value", query: "f_string=%e", err: "malformed percent-encoding"},
		{name: "bad utf8", query: "f_string=%ff", err: "UTF-8"},
		{name: "duplicate singular", query: "f_int32=1&f_int32=1", err: "set more than once"},
		{name: "duplicate zero value", query: "f_int32=0&fInt32=0", err: "set more than once"},
		{name: "duplicate wkt", query: "ts=1970-01-01T00:00:00Z&ts=1970-01-01T00:00:00Z", err: "set more than once"},
		{name: "duplicate nested", query: "inner.count=1&inner.count=2", err: "set more than once"},
		{name: "duplicate optional", query: "opt_int=0&optInt=1", err: "set more than once"},
		{name: "optional zero kept", query: "opt_int=0", want: `{"optInt":0}`},
		{name: "oneof single", query: "choice_b=9", want: `{"choiceB":"9"}`},
		{name: "oneof conflict", query: "choice_a=x&choice_b=1", err: "oneof"},
		{name: "oneof conflict via nested", query: "choice_a=x&choice_msg.name=y", err: "oneof"},
		{name: "oneof conflict nested first", query: "choice_msg.name=y&choice_a=x", err: "oneof"},
		{name: "oneof same nested member twice", query: "choiceMsg.name=y&choice_msg.count=2", want: `{"choiceMsg":{"name":"y","count":2}}`},
		{name: "skip by prefix", query: "inner.count=1&inner.child.name=x&f_int32=2",
			skip: skipBoundFieldPaths(mustPath("inner")), want: `{"fInt32":2}`},
		{name: "skip exact path var", query: "inner.count=1&inner.child.name=x",
			skip: skipBoundFieldPaths(mustPath("inner.child.name")), want: `{"inner":{"count":1}}`},
		{name: "skip hides duplicate and bad values", query: "f_int32=x&f_int32=y",
			skip: skipBoundFieldPaths(mustPath("f_int32")), want: `{}`},
		{name: "skip map", query: "str_map[a]=1", skip: skipBoundFieldPaths(mustPath("str_map")), want: `{}`},
		{name: "skip everything", query: "f_int32=1&nope=2", skip: skipBoundFieldPaths(nil), want: `{}`},
		{name: "skipped unknown still rejected", query: "nope=2", skip: skipBoundFieldPaths(nil), rejectUnknown: true, err: "no field"},
		{name: "semicolon is not a separator", query: "f_string=a;f_int32=1", want: `{"fString":"a;f_int32=1"}`},
		{name: "equals in value", query: "f_string=a=b", want: `{"fString":"a=b"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg := newTestRequest(t)
			err := bindQuery(msg, tc.query, tc.skip, tc.rejectUnknown)
			if tc.err != "" {
				if err == nil {
					t.Fatalf("got %v, want error containing %q", msg, tc.err)
				}
				if status.Code(err) != codes.InvalidArgument {
					t.Fatalf("error %v has code %v, want InvalidArgument", err, status.Code(err))
				}
				if !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %q does not contain %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			want := newTestRequest(t)
			mustUnmarshalJSON(t, want, tc.want)
			if !proto.Equal(msg, want) {
				got, _ := protojson.Marshal(msg)
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
			if _, err := proto.Marshal(msg); err != nil {
				t.Fatalf("result does not marshal: %v", err)
			}
		})
	}
}

func TestBindQueryErrorNamesParameter(t *testing.T) {
	msg := newTestRequest(t)
	err := bindQuery(msg, "inner.count=abc", nil, false)
	if err == nil || !strings.Contains(err.Error(), `query parameter "inner.count"`) || !strings.Contains(err.Error(), `"abc"`) {
		t.Fatalf("got %v", err)
	}
}

func TestBindQueryAllocs(t *testing.T) {
	msg := newTestRequest(t)
	const q = "f_int32=1&f_string=abc&r_int32=1&r_int32=2&unknown=1"
	allocs := testing.AllocsPerRun(100, func() {
		msg.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
			msg.Clear(fd)
			return true
		})
		if err := bindQuery(msg, q, nil, false); err != nil {
			t.Fatal(err)
		}
	})
	// Path slices, the seen set, list growth and an unknown-field error;
	// no per-byte work. A loose bound catches accidental quadratic copying.
	if allocs > 30 {
		t.Errorf("bindQuery allocates %v times for a 5-parameter query", allocs)
	}
}

func FuzzBindQuery(f *testing.F) {
	for _, seed := range []string{
		"",
		"f_int32=1&f_int32=2",
		"inner.child.name=x&inner.count=3",
		"r_int32=1&r_int32=2&r_color=RED",
		"str_map[a]=b&int_map[1]=x&enum_map[k]=2&ts_map[t]=2024-01-01T00:00:00Z",
		"choice_a=x&choice_msg.name=y",
		"ts=2024-01-01T00:00:00Z&dur=1.5s&mask=a,bC&val={\"a\":1}&strct={}&lv=[]",
		"w_bytes=-_8&f_bytes=%2B%2F8%3D&f_double=NaN&f_float=1e39",
		"f_string=%ff&%zz=1&a[=1&[]=&.=&..=",
		"opt_int=0&optInt=0&customJson=x",
	} {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	s := loadTestSchema(f)
	skip := skipBoundFieldPaths(func() []protoreflect.FieldDescriptor {
		p, err := resolveFieldPath(s.req, "inner.child")
		if err != nil {
			f.Fatal(err)
		}
		return p
	}())
	f.Fuzz(func(t *testing.T, query string, reject bool) {
		for _, sk := range []func([]protoreflect.FieldDescriptor) bool{nil, skip} {
			msg := newTestRequest(t)
			err := bindQuery(msg, query, sk, reject)
			if err != nil {
				if c := status.Code(err); c != codes.InvalidArgument {
					t.Fatalf("bindQuery(%q) error %v has code %v", query, err, c)
				}
				continue
			}
			// A message bound without error must be valid on the wire.
			if _, err := proto.Marshal(msg); err != nil {
				t.Fatalf("bindQuery(%q) produced a message that does not marshal: %v", query, err)
			}
		}
	})
}
