package jsonwire

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
)

var everythingJSONCases = []string{
	`{}`, ` { } `, `{"int32Value": 1.0}`, `{"int32Value": 1.5}`, `{"int32Value": "1"}`, `{"int32Value": " 1"}`,
	`{"int32Value": "1e2"}`, `{"int32Value": 1e}`, `{"int32Value": 1E+}`, `{"int32Value": -0}`, `{"uint32Value": -0}`,
	`{"uint32Value": "-0"}`, `{"uint32Value": -1}`, `{"int64Value": "9223372036854775807"}`, `{"int64Value": "9223372036854775808"}`,
	`{"int64Value": -9223372036854775808}`, `{"uint64Value": 18446744073709551615}`, `{"uint64Value": 18446744073709551616}`,
	`{"int32Value": 2147483648}`, `{"int32Value": -2147483648}`, `{"int32Value": 0.0000}`, `{"int32Value": 1e-0}`,
	`{"int32Value": 100e-2}`, `{"int32Value": 1e20}`, `{"int64Value": 1e19}`, `{"uint64Value": 1.8e19}`, `{"int32Value": 01}`, `{"int32Value": 1.}`,
	`{"int32Value": .5}`, `{"int32Value": +1}`, `{"int32Value": null}`, `{"int32Value": 0e99999999999}`, `{"int32Value": 1e99999999999}`,
	`{"sint32Value": -5}`, `{"sint64Value": "-5"}`, `{"sfixed32Value": -1}`, `{"fixed64Value": "12"}`, `{"fixed32Value": 4294967295}`,
	`{"floatValue": 3.5e38}`, `{"floatValue": 3.4e38}`, `{"floatValue": "NaN"}`, `{"floatValue": "nan"}`, `{"floatValue": -0}`,
	`{"doubleValue": "-Infinity"}`, `{"doubleValue": "1e400"}`, `{"doubleValue": 1e-400}`, `{"doubleValue": "  1"}`, `{"doubleValue": "1.5"}`,
	`{"doubleValue": -0.0}`, `{"doubleValue": 0}`, `{"boolValue": false}`, `{"boolValue": "true"}`, `{"boolValue": 1}`,
	`{"bytesValue": "AQID"}`, `{"bytesValue": "AQI"}`, `{"bytesValue": "-_-_"}`, `{"bytesValue": "AQ=="}`, `{"bytesValue": "AQ="}`,
	`{"bytesValue": "A\nQ=="}`, `{"bytesValue": "A\\nQ=="}`, `{"bytesValue": "A\\rQ=="}`, `{"bytesValue": ""}`, `{"bytesValue": "_w"}`, `{"bytesValue": "+/8="}`,
	`{"stringValue": "\ud83d\ude00"}`, `{"stringValue": "\ud83d"}`, `{"stringValue": "\ude00\ud83d"}`, `{"stringValue": "\u0000"}`,
	`{"stringValue": "a\u001fb\/"}`, "{\"stringValue\": \"tab\there\"}", `{"stringValue": "\x"}`, `{"stringValue": ""}`, "{\"stringValue\": \"\xff\"}",
	`{"color": "COLOR_RED"}`, `{"color": 1}`, `{"color": "1"}`, `{"color": 99}`, `{"color": -1}`, `{"color": "NOPE"}`, `{"color": null}`, `{"color": 1.0}`,
	`{"repeatedInt32": [1, "2", 3.0]}`, `{"repeatedInt32": [1,]}`, `{"repeatedInt32": [,1]}`, `{"repeatedInt32": null}`, `{"repeatedInt32": []}`,
	`{"repeatedInt32": [null]}`, `{"repeatedInt32": [[1]]}`, `{"repeatedInt32": 1}`, `{"repeatedColor": ["NOPE", "COLOR_RED"]}`, `{"repeatedString": ["a", 1]}`,
	`{"repeatedNested": [{}, {"label": "x", "child": {"count": 2}}]}`, `{"repeatedNested": [null]}`, `{"repeatedNested": [{} {}]}`,
	`{"stringMap": {"a": "b", "a": "c"}}`, `{"stringMap": {"a": "b", "b": null}}`, `{"stringMap": {"a": 1}}`, `{"intMap": {"1": "a", "01": "b"}}`,
	`{"intMap": {"+1": "a"}}`, `{"intMap": {"x": "a"}}`, `{"intMap": {" 1": "a"}}`, `{"intMap": {"2147483648": "a"}}`, `{"intMap": {"-2147483648": ""}}`,
	`{"colorMap": {"a": "NOPE"}}`, `{"colorMap": {"a": "NOPE", "a": "COLOR_RED"}}`, `{"colorMap": {"a": null}}`, `{"nestedMap": {"k": null}}`,
	`{"nestedMap": {"k": {}, "j": {"label": "q"}}}`, `{"stringMap": null}`, `{"stringMap": []}`, `{"stringMap": {"a": "b",}}`,
	`{"choiceString": "a", "choiceInt": 1}`, `{"choiceString": null, "choiceInt": 1}`, `{"choiceInt": 0}`, `{"optionalInt32": 0}`,
	`{"int32Value": 1, "int32_value": 2}`, `{"int32_value": 2}`, `{"unknownField": 1}`, `{"unknownField": {"a": [1, {"b": null}]}}`,
	`{"unknownField": [1,]}`, `{"unknownField": {"a" 1}}`,
	`{"timestamp": "2020-01-01T00:00:00Z"}`, `{"timestamp": "2020-01-01T00:00:00.123456789Z"}`, `{"timestamp": "2020-01-01T00:00:00.1234567890Z"}`,
	`{"timestamp": "2020-01-01T00:00:00+01:00"}`, `{"timestamp": "2020-01-01T00:00:00.5-01:30"}`, `{"timestamp": "2020-01-01t00:00:00z"}`,
	`{"timestamp": "0000-01-01T00:00:00Z"}`, `{"timestamp": "0001-01-01T00:00:00Z"}`, `{"timestamp": "9999-12-31T23:59:59.999999999Z"}`,
	`{"timestamp": "2020-02-30T00:00:00Z"}`, `{"timestamp": "2020-02-29T00:00:00Z"}`, `{"timestamp": "2100-02-29T00:00:00Z"}`,
	`{"timestamp": "2020-01-01T24:00:00Z"}`, `{"timestamp": "2020-01-01T00:00:60Z"}`, `{"timestamp": "2020-01-01T00:00:00.Z"}`,
	`{"timestamp": "2020-01-01 00:00:00Z"}`, `{"timestamp": 1}`, `{"timestamp": null}`, `{"timestamp": "1970-01-01T00:00:00Z"}`,
	`{"duration": "1s"}`, `{"duration": ".5s"}`, `{"duration": "-.5s"}`, `{"duration": "1.s"}`, `{"duration": ".s"}`, `{"duration": "-0s"}`,
	`{"duration": "1.0000000001s"}`, `{"duration": "315576000001s"}`, `{"duration": "315576000000s"}`, `{"duration": "+1s"}`, `{"duration": "01s"}`,
	`{"duration": "1"}`, `{"duration": "-1.5s"}`, `{"duration": "99999999999999999999s"}`, `{"duration": "s"}`, `{"duration": "-s"}`,
	`{"fieldMask": "fooBar,baz"}`, `{"fieldMask": "foo_bar"}`, `{"fieldMask": " a , b"}`, `{"fieldMask": ""}`, `{"fieldMask": "a..b"}`,
	`{"fieldMask": "a.bC"}`, `{"fieldMask": ","}`, `{"fieldMask": "\u00a0a"}`, `{"fieldMask": "A"}`,
	`{"structValue": {"a": [1, null, {"b": true}], "c": "s"}}`, `{"structValue": null}`, `{"structValue": {"a": {"a": {}}}}`,
	`{"structValue": {"a": 1, "a": 2}}`, `{"value": null}`, `{"value": 1e400}`, `{"value": "NaN"}`, `{"value": []}`, `{"value": [[]]}`,
	`{"value": {"x": null}}`, `{"value": true}`, `{"value": -0}`,
	`{"any": {"@type": "type.googleapis.com/portico.testing.v1.Nested", "label": "x"}}`,
	`{"any": {"label": "x", "@type": "type.googleapis.com/portico.testing.v1.Nested"}}`,
	`{"any": {"@type": "type.googleapis.com/portico.testing.v1.Nested", "label": "x", "@type": "x"}}`,
	`{"any": {"@type": "type.googleapis.com/portico.testing.v1.Nested", "nope": "x"}}`,
	`{"any": {"@type": "type.googleapis.com/google.protobuf.Timestamp", "value": "2020-01-01T00:00:00Z"}}`,
	`{"any": {"@type": "type.googleapis.com/google.protobuf.Timestamp"}}`,
	`{"any": {"@type": "type.googleapis.com/google.protobuf.Timestamp", "value": "2020-01-01T00:00:00Z", "value": 1}}`,
	`{"any": {"@type": "type.googleapis.com/google.protobuf.Timestamp", "value": "2020-01-01T00:00:00Z", "x": 1}}`,
	`{"any": {"@type": "type.googleapis.com/google.protobuf.Empty"}}`, `{"any": {"@type": "type.googleapis.com/google.protobuf.Empty", "value": {}}}`,
	`{"any": {"@type": "type.googleapis.com/google.protobuf.Empty", "value": {"a": 1}}}`,
	`{"any": {"@type": "type.googleapis.com/google.protobuf.Any", "value": {"@type": "type.googleapis.com/google.protobuf.Int32Value", "value": 5}}}`,
	`{"any": {}}`, `{"any": {"a": 1}}`, `{"any": {"@type": null}}`, `{"any": {"@type": ""}}`, `{"any": {"@type": "type.googleapis.com/no.Such"}}`,
	`{"any": null}`, `{"any": []}`, `{"any": {"@type": "type.googleapis.com/portico.testing.v1.Everything", "any": {"@type": "type.googleapis.com/google.protobuf.Value", "value": [1]}}}`,
	`{"any": {"@type": "type.googleapis.com/portico.testing.v1.Everything", "stringMap": {"b": "1", "a": "2"}, "int32Value": 5, "choiceInt": 3}}`,
	`{"int64Wrapper": "5"}`, `{"int64Wrapper": 5}`, `{"stringWrapper": null}`, `{"boolWrapper": false}`, `{"stringWrapper": ""}`,
	`{"bytesWrapper": "AA=="}`, `{"floatWrapper": "Infinity"}`, `{"uint32Wrapper": -1}`,
	`{"a" 1}`, `{"int32Value":1}x`, `{"int32Value":1} {}`, `[]`, `null`, ``, `{`, `{"int32Value":tru}`, `{"int32Value":true1}`,
	`{"boolValue":true1}`, `{'a':1}`, `{"int32Value":1,}`, `{,}`, `{"int32Value":1 "uint32Value":2}`, `{"int32Value"}`, `{"int32Value":}`,
	" \n{\"int32Value\":\n 1}\n ", `{"nested": {"child": {"child": {"label": "deep"}}}}`, `{"nested": 5}`, `{"nested": {"nope": 1}}`,
}

var p2JSONCases = []string{
	`{"reqInt": 1}`, `{}`, `{"reqInt": null}`, `{"reqInt": 1, "inner": {}}`, `{"reqInt": 1, "inner": {"req": "a"}}`,
	`{"reqInt":1, "[jsonwire.test.ext_int]": 5}`, `{"reqInt":1, "[jsonwire.test.ext_int]": 5, "[jsonwire.test.ext_int]": 6}`,
	`{"reqInt":1, "[jsonwire.test.unknown]": 5}`, `{"reqInt":1, "[portico.testing.v1.Everything]": 1}`,
	`{"reqInt":1, "[jsonwire.test.ext_msg]": {"req": "z"}}`, `{"reqInt":1, "[jsonwire.test.ext_msg]": {}}`,
	`{"reqInt":1, "[jsonwire.test.ext_rep]": ["a", "b"]}`, `{"reqInt":1, "[jsonwire.test.ext_packed]": [1, 2, 3]}`,
	`{"reqInt": 1, "grp": {"a": "5"}}`, `{"reqInt": 1, "Grp": {}}`, `{"reqInt": 1, "grp": {}, "Grp": {}}`,
	`{"reqInt": 1, "repgrp": [{"x": 1}, {}]}`, `{"reqInt": 1, "RepGrp": [{"x": 1}]}`,
	`{"reqInt":1, "renamed": 1}`, `{"reqInt":1, "custom_json": 1}`, `{"reqInt":1, "customJson": 1}`,
	`{"reqInt":1,"null":null}`, `{"reqInt":1,"null":"NULL_VALUE"}`, `{"reqInt":1,"null":0}`, `{"reqInt":1,"repNull":[null, 0]}`, `{"reqInt":1,"repNull":null}`,
	`{"reqInt":1,"values":[null, 1, "a", [], {}]}`, `{"reqInt":1,"values":null}`, `{"reqInt":1,"s32map":{"-5":"AQ=="}}`,
	`{"reqInt":1,"bmap":{"true":{"req":"x"},"false":{"req":"y"}}}`, `{"reqInt":1,"bmap":{"True":{}}}`, `{"reqInt":1,"bmap":{"true":{}}}`,
	`{"reqInt":1,"optEnum":"C_ALIAS"}`, `{"reqInt":1,"optEnum":"C"}`, `{"reqInt":1,"optEnum":-3}`, `{"reqInt":1,"optEnum":"A"}`,
	`{"reqInt":1,"f64map":{"18446744073709551615":"B"}}`, `{"reqInt":1,"f64map":{"1":"NOPE"}}`, `{"reqInt":1,"i64map":{"-9223372036854775808":"x"}}`,
	`{"reqInt":1,"o2":{"req":"a"}, "o1": null}`, `{"reqInt":1,"o3":"NaN"}`, `{"reqInt":1,"o3":0}`, `{"reqInt":1,"optStr":""}`, `{"reqInt":0}`,
	`{"reqInt":1,"repPacked":[]}`, `{"reqInt":1,"repPacked":["-1", 5]}`, `{"reqInt":1,"repUnpacked":[0, 4294967295]}`, `{"reqInt":1,"repBytes":["", "AA"]}`,
	`{"reqInt":1,"child":{"reqInt":2,"child":{}}}`, `{"reqInt":1,"b2":false,"sf64":"-1"}`, `{"req_int":1,"opt_u64":"0"}`,
	`{"reqInt":1,"any":{"@type":"type.googleapis.com/jsonwire.test.P2.Inner"}}`,
	`{"reqInt":1,"any":{"@type":"type.googleapis.com/jsonwire.test.P2","child":{}}}`,
	`{"reqInt":1,"repEnum":["B", "NOPE", -3, 7]}`,
}

func TestJSONToWireEdgeCases(t *testing.T) {
	run := func(md protoreflect.MessageDescriptor, cases []string) {
		for _, c := range cases {
			for _, disc := range []bool{false, true} {
				o := UnmarshalOptions{DiscardUnknown: disc, Resolver: testRes}
				if msg := checkJSONToWire(o, md, []byte(c)); msg != "" {
					t.Errorf("%s discard=%v %s: %s", md.FullName(), disc, c, msg)
				}
			}
		}
	}
	run(testMsgs[0], everythingJSONCases)
	run(p2Desc, p2JSONCases)
}

func TestJSONErrorsHavePositions(t *testing.T) {
	_, err := UnmarshalOptions{}.AppendWire(nil, testMsgs[0], []byte("{\n  \"int32Value\": 1,\n  \"nope\": 2}"))
	if err == nil || !strings.Contains(err.Error(), "line 3:3") {
		t.Fatalf("error %v lacks position 3:3", err)
	}
	_, err = UnmarshalOptions{}.AppendWire(nil, testMsgs[0], []byte(`{"int32Value": 1,}`))
	if err == nil || !strings.Contains(err.Error(), "syntax error (line 1:18)") {
		t.Fatalf("error %v lacks syntax position", err)
	}
}
