package transcoder_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/google/go-cmp/cmp"

	testingv1 "github.com/portico-gw/portico/gen/portico/testing/v1"
	"github.com/portico-gw/portico/internal/testbackend"
	"github.com/portico-gw/portico/transcoder"
)

// TestRESTToGRPC sends REST requests covering every HttpRule form in
// echo.proto and checks the message the backend received, which the echo
// methods send back.
func TestRESTToGRPC(t *testing.T) {
	for _, mode := range schemaModes {
		t.Run(mode, func(t *testing.T) {
			backend := testbackend.Start(t, "echo")
			gw := startGateway(t, mode, transcoder.Options{}, backend)
			for _, tc := range restCases {
				t.Run(tc.name, func(t *testing.T) {
					resp := gw.do(t, tc.method, tc.path, []byte(tc.body), tc.header)
					got := resp.everything(t)
					if diff := cmp.Diff(tc.want, got, protocmp.Transform()); diff != "" {
						t.Errorf("backend received (-want +got):\n%s", diff)
					}
					if tc.rpc != "" {
						if last := backend.Last(tc.rpc); !proto.Equal(last, tc.want) {
							t.Errorf("%s received %v, want %v", tc.rpc, last, tc.want)
						}
					}
				})
			}
		})
	}
}

type restCase struct {
	name   string
	method string
	path   string
	body   string
	header map[string]string
	rpc    string // method whose last request must equal want; "" to skip
	want   *testingv1.Everything
}

var restCases = []restCase{
	{
		name: "post body star", method: "POST", path: "/v1/echo", rpc: "Echo",
		body: `{"stringValue":"s","int32Value":-3,"int64Value":"9007199254740993","uint64Value":"18446744073709551615",
			"doubleValue":1.5,"floatValue":0.25,"boolValue":true,"bytesValue":"AAEC","color":"COLOR_GREEN",
			"repeatedInt32":[1,2],"repeatedNested":[{"label":"a"},{"count":2}],"nested":{"label":"n","child":{"count":1}},
			"int32Wrapper":7,"stringWrapper":"w","timestamp":"2024-01-02T03:04:05.5Z","duration":"1.5s",
			"fieldMask":"a.b,cD","stringMap":{"k":"v"},"intMap":{"1":"one"},"colorMap":{"c":"COLOR_RED"},
			"choiceInt":4,"optionalInt32":0,"structValue":{"x":[1,"y",null]},"value":"v",
			"any":{"@type":"type.googleapis.com/portico.testing.v1.Nested","label":"in any"}}`,
		want: &testingv1.Everything{
			StringValue: "s", Int32Value: -3, Int64Value: 9007199254740993, Uint64Value: 18446744073709551615,
			DoubleValue: 1.5, FloatValue: 0.25, BoolValue: true, BytesValue: []byte{0, 1, 2}, Color: testingv1.Color_COLOR_GREEN,
			RepeatedInt32:  []int32{1, 2},
			RepeatedNested: []*testingv1.Nested{{Label: "a"}, {Count: 2}},
			Nested:         &testingv1.Nested{Label: "n", Child: &testingv1.Nested{Count: 1}},
			Int32Wrapper:   wrapperspb.Int32(7), StringWrapper: wrapperspb.String("w"),
			Timestamp: &timestamppb.Timestamp{Seconds: 1704164645, Nanos: 500000000},
			Duration:  &durationpb.Duration{Seconds: 1, Nanos: 500000000},
			FieldMask: &fieldmaskpb.FieldMask{Paths: []string{"a.b", "c_d"}},
			StringMap: map[string]string{"k": "v"}, IntMap: map[int32]string{1: "one"},
			ColorMap: map[string]testingv1.Color{"c": testingv1.Color_COLOR_RED},
			Choice:   &testingv1.Everything_ChoiceInt{ChoiceInt: 4}, OptionalInt32: proto.Int32(0),
			StructValue: mustStruct(`{"x":[1,"y",null]}`), Value: mustValue(`"v"`),
			Any: mustAny(&testingv1.Nested{Label: "in any"}),
		},
	},
	{
		name: "path variables percent-decoded", method: "GET", path: "/v1/echo/hello%20w%2Frld%3A/42",
		want: &testingv1.Everything{StringValue: "hello w/rld:", Int32Value: 42},
	},
	{
		name: "query of every kind", method: "GET",
		path: "/v1/echo:search?stringValue=a+b&int32_value=-1&int64Value=-9007199254740993&uint32Value=4294967295&uint64Value=18446744073709551615" +
			"&sint32Value=-2&sint64Value=-3&fixed32Value=4&fixed64Value=5&sfixed32Value=-6&sfixed64Value=-7&doubleValue=-Infinity&floatValue=2.5" +
			"&boolValue=true&bytesValue=_-8&color=2&repeatedInt32=1&repeatedInt32=2&repeated_string=x&repeatedString=y&repeatedColor=COLOR_RED&repeatedColor=2" +
			"&nested.label=deep&nested.child.count=3&doubleWrapper=0.5&boolWrapper=false&bytesWrapper=AQ%3D%3D&uint64Wrapper=9" +
			"&timestamp=2024-01-02T03:04:05Z&duration=-0.5s&fieldMask=a,bC.d&stringMap%5Bk%5D=v&string_map[k2]=v2&intMap[7]=seven&colorMap[c]=COLOR_GREEN" +
			"&choiceString=pick&optionalInt32=0&unknownParam=ignored",
		want: &testingv1.Everything{
			StringValue: "a b", Int32Value: -1, Int64Value: -9007199254740993, Uint32Value: 4294967295, Uint64Value: 18446744073709551615,
			Sint32Value: -2, Sint64Value: -3, Fixed32Value: 4, Fixed64Value: 5, Sfixed32Value: -6, Sfixed64Value: -7,
			DoubleValue: negInf(), FloatValue: 2.5, BoolValue: true, BytesValue: []byte{0xff, 0xef}, Color: testingv1.Color_COLOR_GREEN,
			RepeatedInt32: []int32{1, 2}, RepeatedString: []string{"x", "y"},
			RepeatedColor: []testingv1.Color{testingv1.Color_COLOR_RED, testingv1.Color_COLOR_GREEN},
			Nested:        &testingv1.Nested{Label: "deep", Child: &testingv1.Nested{Count: 3}},
			DoubleWrapper: wrapperspb.Double(0.5), BoolWrapper: wrapperspb.Bool(false), BytesWrapper: wrapperspb.Bytes([]byte{1}),
			Uint64Wrapper: wrapperspb.UInt64(9),
			Timestamp:     &timestamppb.Timestamp{Seconds: 1704164645}, Duration: &durationpb.Duration{Nanos: -500000000},
			FieldMask: &fieldmaskpb.FieldMask{Paths: []string{"a", "b_c.d"}},
			StringMap: map[string]string{"k": "v", "k2": "v2"}, IntMap: map[int32]string{7: "seven"},
			ColorMap: map[string]testingv1.Color{"c": testingv1.Color_COLOR_GREEN},
			Choice:   &testingv1.Everything_ChoiceString{ChoiceString: "pick"}, OptionalInt32: proto.Int32(0),
		},
	},
	{
		name: "body field message with path inside it", method: "PUT", path: "/v1/echo/from-path/n?stringValue=q",
		body: `{"label":"from-body","count":5}`,
		want: &testingv1.Everything{Nested: &testingv1.Nested{Label: "from-path", Count: 5}, StringValue: "q"},
	},
	{
		name: "body field repeated", method: "POST", path: "/v1/echo/repeated?int32Value=1",
		body: `[{"label":"a"},{"label":"b"}]`,
		want: &testingv1.Everything{RepeatedNested: []*testingv1.Nested{{Label: "a"}, {Label: "b"}}, Int32Value: 1},
	},
	{
		name: "body field scalar", method: "POST", path: "/v1/echo/scalar/n1", body: `"just a string"`,
		want: &testingv1.Everything{Name: "n1", StringValue: "just a string"},
	},
	{
		name: "patch multi-segment name", method: "PATCH", path: "/v1/echo/things/t1/parts/p%2F2",
		body: `{"name":"overridden","int32Value":3}`,
		want: &testingv1.Everything{Name: "things/t1/parts/p%2F2", Int32Value: 3},
	},
	{
		name: "delete bool", method: "DELETE", path: "/v1/echo/true",
		want: &testingv1.Everything{BoolValue: true},
	},
	{
		name: "typed path values", method: "GET", path: "/v1/typed/-5/7/1e3/COLOR_RED/_-8",
		want: &testingv1.Everything{Int64Value: -5, Uint32Value: 7, DoubleValue: 1000, Color: testingv1.Color_COLOR_RED, BytesValue: []byte{0xff, 0xef}},
	},
	{
		name: "enum path value by number", method: "GET", path: "/v1/typed/0/0/0/2/AQ==",
		want: &testingv1.Everything{Color: testingv1.Color_COLOR_GREEN, BytesValue: []byte{1}},
	},
	{
		name: "well-known types in path", method: "GET", path: "/v1/wkt/2024-01-02T03:04:05Z/90s",
		want: &testingv1.Everything{Timestamp: &timestamppb.Timestamp{Seconds: 1704164645}, Duration: &durationpb.Duration{Seconds: 90}},
	},
	{
		name: "resource name", method: "GET", path: "/v1/projects/p1/resources/r%201",
		want: &testingv1.Everything{Name: "projects/p1/resources/r 1"},
	},
	{
		name: "double wildcard keeps %2F", method: "GET", path: "/v1/files/a/b%2Fc/d%20e",
		want: &testingv1.Everything{Name: "a/b%2Fc/d e"},
	},
	{
		name: "double wildcard one segment", method: "GET", path: "/v1/files/only",
		want: &testingv1.Everything{Name: "only"},
	},
	{
		name: "custom verb", method: "POST", path: "/v1/projects/p/resources/r:publish", body: `{"stringValue":"x"}`,
		want: &testingv1.Everything{Name: "projects/p/resources/r", StringValue: "x"},
	},
	{
		name: "custom HTTP method", method: "SEARCH", path: "/v1/search/thing",
		want: &testingv1.Everything{Name: "thing"},
	},
	{
		name: "grpc-style path for an unannotated method", method: "POST", path: "/portico.testing.v1.EchoService/NoRule",
		body: `{"int32Value":9,"nested":{"label":"x"}}`, rpc: "NoRule",
		want: &testingv1.Everything{Int32Value: 9, Nested: &testingv1.Nested{Label: "x"}},
	},
	{
		name: "grpc-style path for an annotated method", method: "POST", path: "/portico.testing.v1.EchoService/Echo",
		body: `{"name":"n"}`, rpc: "Echo",
		want: &testingv1.Everything{Name: "n"},
	},
	{
		name: "empty body is an empty message", method: "POST", path: "/v1/echo", header: map[string]string{"Content-Type": "application/json"},
		want: &testingv1.Everything{},
	},
	{
		name: "curl -d content type is read as JSON", method: "POST", path: "/v1/echo", body: `{"int32Value":1}`,
		header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
		want:   &testingv1.Everything{Int32Value: 1},
	},
	{
		name: "proto field names in body", method: "POST", path: "/v1/echo", body: `{"string_value":"p","repeated_int32":[3]}`,
		want: &testingv1.Everything{StringValue: "p", RepeatedInt32: []int32{3}},
	},
}

func TestRESTResponseBody(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	for _, tc := range []struct{ path, want string }{
		{"/v1/rb/nested?nested.label=x&nested.count=2&stringValue=dropped", `{"label":"x","count":2}`},
		{"/v1/rb/nested", `{}`},
		{"/v1/rb/repeated?stringValue=dropped", `[]`},
		{"/v1/rb/scalar?stringValue=only+me", `"only me"`},
		{"/v1/rb/scalar", `""`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp := gw.do(t, "GET", tc.path, nil, nil)
			if resp.status != 200 {
				t.Fatalf("status %d: %s", resp.status, resp.body)
			}
			assertJSONEqual(t, resp.body, tc.want)
		})
	}
}

func TestRESTOutputOptions(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	for _, tc := range []struct {
		name string
		opts transcoder.Options
		want string
	}{
		{"defaults", transcoder.Options{}, `{"int32Value":1,"color":"COLOR_RED"}`},
		{"proto names", transcoder.Options{UseProtoNames: true}, `{"int32_value":1,"color":"COLOR_RED"}`},
		{"enum numbers", transcoder.Options{UseEnumNumbers: true}, `{"int32Value":1,"color":1}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw := startGateway(t, "reflection", tc.opts, backend)
			resp := gw.do(t, "POST", "/v1/echo", []byte(`{"int32_value":1,"color":1}`), nil)
			assertJSONEqual(t, resp.body, tc.want)
		})
	}
	t.Run("emit unpopulated", func(t *testing.T) {
		gw := startGateway(t, "reflection", transcoder.Options{EmitUnpopulated: true}, backend)
		resp := gw.do(t, "POST", "/v1/echo", []byte(`{}`), nil)
		var got map[string]any
		if err := json.Unmarshal(resp.body, &got); err != nil {
			t.Fatal(err)
		}
		for key, want := range map[string]any{"int32Value": 0.0, "stringValue": "", "repeatedNested": []any{}, "stringMap": map[string]any{}, "nested": nil, "color": "COLOR_UNSPECIFIED"} {
			if v, ok := got[key]; !ok || !cmp.Equal(v, want) {
				t.Errorf("%s = %#v (present %v), want %#v", key, v, ok, want)
			}
		}
	})
}

func TestRESTHEAD(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	resp := gw.do(t, "HEAD", "/v1/echo/x/1", nil, nil)
	if resp.status != 200 || len(resp.body) != 0 || resp.header.Get("Content-Type") != "application/json" {
		t.Fatalf("HEAD: status %d, content type %q, body %q", resp.status, resp.header.Get("Content-Type"), resp.body)
	}
}

func TestRESTTwoBackends(t *testing.T) {
	for _, mode := range schemaModes {
		t.Run(mode, func(t *testing.T) {
			echo := testbackend.Start(t, "echo-backend", testbackend.WithEcho())
			other := testbackend.Start(t, "other-backend", testbackend.WithOther())
			gw := startGateway(t, mode, transcoder.Options{}, echo, other)
			resp := gw.do(t, "GET", "/v1/other/ping/hi", nil, nil)
			assertJSONEqual(t, resp.body, `{"text":"hi","servedBy":"other-backend"}`)
			if echo.Calls() != 0 || other.Calls() != 1 {
				t.Errorf("calls: echo %d, other %d; want 0, 1", echo.Calls(), other.Calls())
			}
			gw.do(t, "GET", "/v1/echo/a/1", nil, nil).everything(t)
			if echo.Calls() != 1 {
				t.Errorf("echo calls %d, want 1", echo.Calls())
			}
		})
	}
}

func TestRESTServiceOnTwoBackendsIsAnError(t *testing.T) {
	a := testbackend.Start(t, "a")
	b := testbackend.Start(t, "b")
	var backends []transcoder.Backend
	for _, be := range []*testbackend.Backend{a, b} {
		conn := dialBackend(t, be)
		backends = append(backends, transcoder.Backend{Name: be.Name, Schema: loadSchema(t, "reflection", conn, be), Conn: conn.Conn})
	}
	_, err := transcoder.NewSnapshot(backends, transcoder.Options{})
	if err == nil {
		t.Fatal("NewSnapshot accepted a service served by two backends")
	}
	for _, want := range []string{"portico.testing.v1.EchoService", "portico.testing.v1.OtherService", " a ", " b"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestRESTHttpBody(t *testing.T) {
	for _, mode := range schemaModes {
		t.Run(mode, func(t *testing.T) {
			backend := testbackend.Start(t, "echo")
			gw := startGateway(t, mode, transcoder.Options{}, backend)

			payload := []byte{0x89, 'P', 'N', 'G', 0, 1, 2, 3}
			resp := gw.do(t, "POST", "/v1/upload", payload, map[string]string{"Content-Type": "image/png"})
			assertJSONEqual(t, resp.body, `{"contentType":"image/png","size":"8","data":"iVBORwABAgM="}`)

			resp = gw.do(t, "POST", "/v1/upload/report?note=first+draft", []byte("a,b\n1,2\n"), map[string]string{"Content-Type": "text/csv"})
			assertJSONEqual(t, resp.body, `{"contentType":"text/csv","size":"8","name":"report|first draft","data":"YSxiCjEsMgo="}`)

			resp = gw.do(t, "GET", "/v1/download/cover?content_type=application/pdf", nil, nil)
			if resp.status != 200 || resp.header.Get("Content-Type") != "application/pdf" || string(resp.body) != "content of cover" {
				t.Errorf("download: %d %q %q", resp.status, resp.header.Get("Content-Type"), resp.body)
			}
		})
	}
}

func TestRESTMetadata(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{ForwardHeaders: []string{"X-Tenant", "Connection", "Grpc-Timeout"}}, backend)
	resp := gw.do(t, "GET", "/v1/metadata", nil, map[string]string{
		"Grpc-Metadata-Request-Id":   "r-1",
		"Grpc-Metadata-Trace-Bin":    "AAEC", // bytes 0, 1, 2
		"Grpc-Metadata-Url-Bin":      "_-8",  // URL-safe alphabet, no padding
		"Grpc-Metadata-Grpc-Timeout": "1S",   // reserved: dropped
		"Authorization":              "Bearer t0ken",
		"X-Tenant":                   "acme",
		"X-Not-Listed":               "dropped",
		"Connection":                 "X-Hop",
		"X-Hop":                      "dropped too",
		"X-Forwarded-For":            "203.0.113.9",
		"Host":                       "api.example.com",
	})
	var got struct {
		Incoming map[string]string `json:"incoming"`
	}
	if resp.status != 200 {
		t.Fatalf("status %d: %s", resp.status, resp.body)
	}
	if err := json.Unmarshal(resp.body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"request-id":       "r-1",
		"trace-bin":        "AAEC", // the backend reports binary values in base64
		"url-bin":          "/+8=",
		"authorization":    "Bearer t0ken",
		"x-tenant":         "acme",
		"x-forwarded-for":  "203.0.113.9, 127.0.0.1",
		"x-forwarded-host": "api.example.com",
	}
	for k, v := range want {
		if got.Incoming[k] != v {
			t.Errorf("backend metadata %s = %q, want %q", k, got.Incoming[k], v)
		}
	}
	for _, k := range []string{"grpc-timeout", "x-not-listed", "connection", "x-hop"} {
		if v, ok := got.Incoming[k]; ok && (k != "grpc-timeout" || v == "1S") {
			t.Errorf("backend received %s = %q; it must not be forwarded", k, v)
		}
	}
	for h, v := range map[string]string{
		"Grpc-Metadata-X-Echo-Header": "h",
		"Grpc-Metadata-X-Echo-Bin":    "AAEC",
		"Grpc-Trailer-X-Echo-Trailer": "t",
	} {
		if got := resp.header.Get(h); got != v {
			t.Errorf("response header %s = %q, want %q", h, got, v)
		}
	}

	bad := gw.do(t, "GET", "/v1/metadata", nil, map[string]string{"Grpc-Metadata-Trace-Bin": "not base64!"})
	bad.errorStatus(t, 400, 3)
}

func TestRESTDeadlines(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	type sleepReply struct {
		RemainingDeadline string `json:"remainingDeadline"`
		HadDeadline       bool   `json:"hadDeadline"`
	}
	remaining := func(t *testing.T, gw *gateway, header map[string]string) (time.Duration, bool) {
		t.Helper()
		resp := gw.do(t, "GET", "/v1/sleep/0s", nil, header)
		var r sleepReply
		if resp.status != 200 {
			t.Fatalf("status %d: %s", resp.status, resp.body)
		}
		if err := json.Unmarshal(resp.body, &r); err != nil {
			t.Fatal(err)
		}
		if !r.HadDeadline {
			return 0, false
		}
		d, err := time.ParseDuration(r.RemainingDeadline)
		if err != nil {
			t.Fatal(err)
		}
		return d, true
	}
	t.Run("none by default", func(t *testing.T) {
		gw := startGateway(t, "reflection", transcoder.Options{}, backend)
		if _, ok := remaining(t, gw, nil); ok {
			t.Error("backend saw a deadline, want none")
		}
	})
	t.Run("client Grpc-Timeout", func(t *testing.T) {
		gw := startGateway(t, "reflection", transcoder.Options{DefaultTimeout: time.Hour}, backend)
		d, ok := remaining(t, gw, map[string]string{"Grpc-Timeout": "30S"})
		if !ok || d > 30*time.Second || d < 25*time.Second {
			t.Errorf("deadline %v (%v), want about 30s", d, ok)
		}
	})
	t.Run("default", func(t *testing.T) {
		gw := startGateway(t, "reflection", transcoder.Options{DefaultTimeout: 20 * time.Second}, backend)
		d, ok := remaining(t, gw, nil)
		if !ok || d > 20*time.Second || d < 15*time.Second {
			t.Errorf("deadline %v (%v), want about 20s", d, ok)
		}
	})
	t.Run("capped", func(t *testing.T) {
		gw := startGateway(t, "reflection", transcoder.Options{MaxTimeout: 10 * time.Second}, backend)
		d, ok := remaining(t, gw, map[string]string{"Grpc-Timeout": "5M"})
		if !ok || d > 10*time.Second || d < 5*time.Second {
			t.Errorf("deadline %v (%v), want about 10s", d, ok)
		}
	})
	t.Run("expires", func(t *testing.T) {
		gw := startGateway(t, "reflection", transcoder.Options{}, backend)
		gw.do(t, "GET", "/v1/sleep/10s", nil, map[string]string{"Grpc-Timeout": "50m"}).errorStatus(t, 504, 4)
	})
	t.Run("bad header", func(t *testing.T) {
		gw := startGateway(t, "reflection", transcoder.Options{}, backend)
		before := backend.Calls()
		gw.do(t, "GET", "/v1/sleep/0s", nil, map[string]string{"Grpc-Timeout": "soon"}).errorStatus(t, 400, 3)
		if backend.Calls() != before {
			t.Error("backend was called")
		}
	})
}

func TestRESTClientCancellationReachesBackend(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", gw.url+"/v1/sleep/30s", nil)
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	waitFor(t, func() bool { return backend.Calls() == 1 })
	cancel()
	<-done
	waitFor(t, func() bool { return len(backend.Canceled()) == 1 })
	if got := backend.Canceled(); got[0] != "Sleep" {
		t.Errorf("canceled %v, want [Sleep]", got)
	}
}

func TestRESTErrors(t *testing.T) {
	for _, mode := range schemaModes {
		t.Run(mode, func(t *testing.T) {
			backend := testbackend.Start(t, "echo")
			gw := startGateway(t, mode, transcoder.Options{}, backend)
			resp := gw.do(t, "POST", "/v1/fail", []byte(`{"code":5,"message":"no such shelf","withDetails":true}`), nil)
			st := resp.errorStatus(t, 404, 5)
			if st.Message != "no such shelf" {
				t.Errorf("message %q", st.Message)
			}
			if len(st.Details) != 2 {
				t.Fatalf("details %s, want 2", resp.body)
			}
			assertJSONEqual(t, st.Details[0], `{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message","description":"no such shelf"}]}`)
			assertJSONEqual(t, st.Details[1], `{"@type":"type.googleapis.com/portico.testing.v1.ErrorInfoDetail","reason":"TEST_FAILURE","retryAfterSeconds":7}`)
			if resp.header.Get("Grpc-Metadata-X-Fail-Header") != "before" || resp.header.Get("Grpc-Trailer-X-Fail-Trailer") != "after" {
				t.Errorf("error response lost metadata: %v", resp.header)
			}
		})
	}
}

// TestRESTStatusTable checks every gRPC code's HTTP status end to end.
func TestRESTStatusTable(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	want := map[int]int{1: 499, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429, 9: 400, 10: 409, 11: 400, 12: 501, 13: 500, 14: 503, 15: 500, 16: 401}
	for code := 1; code <= 16; code++ {
		resp := gw.do(t, "POST", "/v1/fail", []byte(`{"code":`+itoa(code)+`,"message":"m"}`), nil)
		resp.errorStatus(t, want[code], code)
	}
}

func TestRESTRouting(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)

	gw.do(t, "GET", "/v1/nothing/here", nil, nil).errorStatus(t, 404, 5)
	gw.do(t, "GET", "/v1/echo/", nil, nil).errorStatus(t, 404, 5)

	resp := gw.do(t, "PUT", "/v1/echo", nil, nil)
	resp.errorStatus(t, 405, 12)
	if allow := resp.header.Get("Allow"); allow != "POST" {
		t.Errorf("Allow %q, want POST", allow)
	}
	resp = gw.do(t, "POST", "/v1/echo/a/1", nil, nil)
	resp.errorStatus(t, 405, 12)
	if allow := resp.header.Get("Allow"); allow != "GET, HEAD" {
		t.Errorf("Allow %q, want GET, HEAD", allow)
	}
	if backend.Calls() != 0 {
		t.Errorf("backend called %d times", backend.Calls())
	}
}

// TestRESTBadInput sends input that must be refused before the backend is
// called, with a precise 4xx and a google.rpc.Status body.
func TestRESTBadInput(t *testing.T) {
	for _, mode := range schemaModes {
		t.Run(mode, func(t *testing.T) {
			backend := testbackend.Start(t, "echo")
			gw := startGateway(t, mode, transcoder.Options{MaxRequestBytes: 1024}, backend)
			for _, tc := range []struct {
				name, method, path, body string
				header                   map[string]string
				status, code             int
			}{
				{"malformed JSON", "POST", "/v1/echo", `{"int32Value":`, nil, 400, 3},
				{"unknown JSON field", "POST", "/v1/echo", `{"noSuchField":1}`, nil, 400, 3},
				{"wrong JSON type", "POST", "/v1/echo", `{"int32Value":"x"}`, nil, 400, 3},
				{"int32 overflow in JSON", "POST", "/v1/echo", `{"int32Value":2147483648}`, nil, 400, 3},
				{"trailing garbage", "POST", "/v1/echo", `{} {}`, nil, 400, 3},
				{"body field smuggling", "POST", "/v1/echo/scalar/n", `"a", "int32Value": 5`, nil, 400, 3},
				{"bad path int", "GET", "/v1/echo/s/notanumber", "", nil, 400, 3},
				{"bad path bool", "DELETE", "/v1/echo/maybe", "", nil, 400, 3},
				{"negative uint32 in path", "GET", "/v1/typed/1/-1/1/COLOR_RED/AQ", "", nil, 400, 3},
				{"unknown enum in path", "GET", "/v1/typed/1/1/1/COLOR_BLUE/AQ", "", nil, 400, 3},
				{"bad base64 in path", "GET", "/v1/typed/1/1/1/COLOR_RED/%21%21", "", nil, 400, 3},
				{"bad timestamp in path", "GET", "/v1/wkt/yesterday/1s", "", nil, 400, 3},
				{"bad query int", "GET", "/v1/echo:search?int32Value=1.5", "", nil, 400, 3},
				{"bad query escape", "GET", "/v1/echo:search?stringValue=%zz", "", nil, 400, 3},
				{"bad query duration", "GET", "/v1/echo:search?duration=forever", "", nil, 400, 3},
				{"singular query twice", "GET", "/v1/echo:search?int32Value=1&int32Value=2", "", nil, 400, 3},
				{"oneof twice", "GET", "/v1/echo:search?choiceString=a&choiceInt=1", "", nil, 400, 3},
				{"message whole, then a part", "GET", "/v1/echo:search?timestamp=2020-01-01T00:00:00Z&timestamp.seconds=5", "", nil, 400, 3},
				{"message part, then whole", "GET", "/v1/echo:search?timestamp.seconds=5&timestamp=2020-01-01T00:00:00Z", "", nil, 400, 3},
				{"body too large", "POST", "/v1/echo", `{"stringValue":"` + strings.Repeat("x", 2000) + `"}`, nil, 413, 8},
				{"unsupported content type", "POST", "/v1/echo", `<xml/>`, map[string]string{"Content-Type": "application/xml"}, 415, 3},
			} {
				t.Run(tc.name, func(t *testing.T) {
					before := backend.Calls()
					gw.do(t, tc.method, tc.path, []byte(tc.body), tc.header).errorStatus(t, tc.status, tc.code)
					if backend.Calls() != before {
						t.Error("the backend was called")
					}
				})
			}
		})
	}
}

func TestRESTBackendUnavailable(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	gw.do(t, "GET", "/v1/echo/a/1", nil, nil).everything(t)
	backend.Stop()
	gw.do(t, "GET", "/v1/echo/a/1", nil, nil).errorStatus(t, 503, 14)
}

// TestRESTCORS checks CORS through the whole handler: a preflight is
// answered by Portico without reaching a backend, and a reply's metadata
// headers are exposed to the page.
func TestRESTCORS(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{CORS: transcoder.CORSOptions{AllowedOrigins: []string{"https://app.example.com"}}}, backend)

	pre := gw.do(t, "OPTIONS", "/v1/metadata", nil, map[string]string{
		"Origin":                         "https://app.example.com",
		"Access-Control-Request-Method":  "GET",
		"Access-Control-Request-Headers": "x-grpc-web, grpc-metadata-request-id",
	})
	if pre.status != 204 || pre.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Fatalf("preflight: %d %v", pre.status, pre.header)
	}
	if allowed := strings.ToLower(pre.header.Get("Access-Control-Allow-Headers")); !strings.Contains(allowed, "x-grpc-web") || !strings.Contains(allowed, "grpc-metadata-request-id") {
		t.Errorf("Access-Control-Allow-Headers %q", allowed)
	}
	if backend.Calls() != 0 {
		t.Fatal("a preflight reached the backend")
	}

	resp := gw.do(t, "GET", "/v1/metadata", nil, map[string]string{"Origin": "https://app.example.com"})
	if resp.status != 200 || resp.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Fatalf("GET: %d %v", resp.status, resp.header)
	}
	exposed := strings.ToLower(strings.Join(resp.header.Values("Access-Control-Expose-Headers"), ","))
	for _, h := range []string{"grpc-metadata-x-echo-header", "grpc-trailer-x-echo-trailer", "grpc-status"} {
		if !strings.Contains(exposed, h) {
			t.Errorf("Access-Control-Expose-Headers %q lacks %s", exposed, h)
		}
	}

	denied := gw.do(t, "GET", "/v1/nothing", nil, map[string]string{"Origin": "https://evil.example.org"})
	if denied.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a denied origin got CORS headers: %v", denied.header)
	}
	errResp := gw.do(t, "GET", "/v1/nothing", nil, map[string]string{"Origin": "https://app.example.com"})
	if errResp.status != 404 || errResp.header.Get("Access-Control-Allow-Origin") == "" {
		t.Errorf("error response without CORS headers: %d %v", errResp.status, errResp.header)
	}
}

// TestRESTPerBackendOptions gives one backend, and one service of another,
// their own options, overriding the snapshot's.
func TestRESTPerBackendOptions(t *testing.T) {
	echo := testbackend.Start(t, "echo", testbackend.WithEcho())
	other := testbackend.Start(t, "other", testbackend.WithOther())
	var backends []transcoder.Backend
	for _, be := range []*testbackend.Backend{echo, other} {
		conn := dialBackend(t, be)
		backends = append(backends, transcoder.Backend{Name: be.Name, Schema: loadSchema(t, "reflection", conn, be), Conn: conn.Conn})
	}
	backends[0].Options = &transcoder.Options{UseProtoNames: true, MaxRequestBytes: 64}
	backends[1].ServiceOptions = map[protoreflect.FullName]*transcoder.Options{
		"portico.testing.v1.OtherService": {EmitUnpopulated: true},
	}
	snap, err := transcoder.NewSnapshot(backends, transcoder.Options{UseEnumNumbers: true})
	if err != nil {
		t.Fatal(err)
	}
	gw := &gateway{url: serveH2C(t, transcoder.NewHandler(snap))}

	resp := gw.do(t, "POST", "/v1/echo", []byte(`{"int32Value":1,"color":"COLOR_RED"}`), nil)
	assertJSONEqual(t, resp.body, `{"int32_value":1,"color":"COLOR_RED"}`) // the backend's options replace the snapshot's
	gw.do(t, "POST", "/v1/echo", []byte(`{"stringValue":"`+strings.Repeat("x", 100)+`"}`), nil).errorStatus(t, 413, 8)

	resp = gw.do(t, "GET", "/v1/other/ping/x", nil, nil)
	assertJSONEqual(t, resp.body, `{"text":"x","servedBy":"other"}`)
	resp = gw.do(t, "GET", "/v1/other/ping/", nil, nil)
	if resp.status != 404 {
		t.Errorf("empty segment: %d", resp.status)
	}
	resp = gw.do(t, "POST", "/portico.testing.v1.OtherService/Ping", []byte(`{}`), nil)
	assertJSONEqual(t, resp.body, `{"text":"","servedBy":"other"}`) // EmitUnpopulated for this service only
}

// Regressions found in review.

// TestRESTResponseBodyPresenceFields: response_body naming an unset field
// with presence (proto3 optional, oneof member) writes its default value.
func TestRESTResponseBodyPresenceFields(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	for path, want := range map[string]string{
		"/v1/rb/optional":                 `0`,
		"/v1/rb/optional?optionalInt32=7": `7`,
		"/v1/rb/choice":                   `""`,
		"/v1/rb/choice?choiceString=x":    `"x"`,
		"/v1/rb/choice?choiceInt=3":       `""`,
	} {
		resp := gw.do(t, "GET", path, nil, nil)
		if resp.status != 200 {
			t.Errorf("%s: %d %s", path, resp.status, resp.body)
			continue
		}
		assertJSONEqual(t, resp.body, want)
	}
}

// TestRESTHttpBodyWithoutContentType: an HttpBody reply without a content
// type is served as application/octet-stream, never sniffed (a backend's
// bytes must not become HTML on the gateway's origin).
func TestRESTHttpBodyWithoutContentType(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	resp := gw.do(t, "GET", "/v1/download/x?content_type=none", nil, nil)
	if ct := resp.header.Get("Content-Type"); ct != "application/octet-stream" || resp.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("Content-Type %q, X-Content-Type-Options %q", ct, resp.header.Get("X-Content-Type-Options"))
	}
}

// TestRESTZeroTimeout: Grpc-Timeout 0 is a deadline already passed, not
// the absence of one.
func TestRESTZeroTimeout(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	gw.do(t, "GET", "/v1/sleep/1s", nil, map[string]string{"Grpc-Timeout": "0n"}).errorStatus(t, 504, 4)
}

// TestRESTEmptyCustomVerb: a trailing ':' is part of the segment, not an
// empty custom verb.
func TestRESTEmptyCustomVerb(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	resp := gw.do(t, "GET", "/v1/projects/p/resources/r:", nil, nil)
	if got := resp.everything(t); got.GetName() != "projects/p/resources/r:" {
		t.Errorf("name %q, want the colon kept", got.GetName())
	}
}

// TestRESTBinaryMetadataLists: a -bin header may carry several base64
// values separated by commas.
func TestRESTBinaryMetadataLists(t *testing.T) {
	backend := testbackend.Start(t, "echo")
	gw := startGateway(t, "reflection", transcoder.Options{}, backend)
	resp := gw.do(t, "GET", "/v1/metadata", nil, map[string]string{"Grpc-Metadata-X-Multi-Bin": "AAE=, AgM"})
	if resp.status != 200 || !strings.Contains(string(resp.body), `"x-multi-bin":"AAE=,AgM="`) {
		t.Errorf("%d %s", resp.status, resp.body)
	}
}
