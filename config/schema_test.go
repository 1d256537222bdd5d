package config

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

const schemaFile = "portico.schema.json"

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	data, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(schemaFile, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(schemaFile) // also checks it against the 2020-12 meta-schema
	if err != nil {
		t.Fatalf("compiling %s: %v", schemaFile, err)
	}
	return sch
}

// yamlToJSON turns YAML into the JSON value editors validate, the way
// yaml-language-server does (anchors and merge keys resolved).
func yamlToJSON(t *testing.T, src string) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(src), &v); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestSchemaAcceptsGoodConfigs(t *testing.T) {
	sch := compileSchema(t)
	example, err := os.ReadFile("../examples/portico.yaml")
	if err != nil {
		t.Fatal(err)
	}
	goods := map[string]string{
		"examples/portico.yaml": string(example),
		"minimal":               minimal,
		"targets and interpolation": `version: 1
x-anchors: {timeout: &t 5s}
transcoding: {emit_unpopulated: "${EMIT:-false}", max_request_bytes: -1, default_timeout: *t, max_timeout: 1h30m}
cors: {max_age: -1s, allowed_headers: ["*"]}
backends:
  - name: a
    targets: ["a:1", "b:1"]
    tls: {}
    schema: {source: protos, protos: {root: proto}}
    services:
      pkg.v1.Svc: {transcoding: {forward_headers: []}}
`,
	}
	for name, src := range goods {
		if err := sch.Validate(yamlToJSON(t, src)); err != nil {
			t.Errorf("%s: rejected by the schema: %v", name, err)
		}
		if _, err := parse([]byte(src), "portico.yaml", env("EMIT", "true")); err != nil {
			t.Errorf("%s: rejected by Parse: %v", name, err)
		}
	}
}

// TestSchemaRejectsBadConfigs checks that the schema rejects what Parse
// rejects, for the mistakes an editor can catch.
func TestSchemaRejectsBadConfigs(t *testing.T) {
	sch := compileSchema(t)
	withBackend := func(extra string) string { return minimal + extra }
	bads := map[string]string{
		"unknown top-level key": minimal + "lisen: {}\n",
		"unknown backend key":   withBackend("    colour: blue\n"),
		"version 2":             strings.Replace(minimal, "version: 1", "version: 2", 1),
		"no version":            strings.Replace(minimal, "version: 1\n", "", 1),
		"no backends":           "version: 1\n",
		"empty backends":        "version: 1\nbackends: []\n",
		"unknown source":        withBackend("    schema: {source: reflect}\n"),
		"files without files":   withBackend("    schema: {source: files}\n"),
		"files with reflection": withBackend("    schema: {files: [a.binpb]}\n"),
		"protos without root":   withBackend("    schema: {source: protos, protos: {files: [a.proto]}}\n"),
		"target and targets":    withBackend("    targets: [b:1]\n"),
		"neither target":        "version: 1\nbackends: [{name: a}]\n",
		"no name":               "version: 1\nbackends: [{target: a:1}]\n",
		"bad name":              "version: 1\nbackends: [{name: My API, target: a:1}]\n",
		"cert without key":      withBackend("    tls: {cert: c.pem}\n"),
		"listen tls no key":     minimal + "listen: {tls: {cert: c.pem}}\n",
		"negative timeout":      minimal + "transcoding: {default_timeout: -1s}\n",
		"duration without unit": minimal + "transcoding: {default_timeout: 30}\n",
		"bool as string":        minimal + "transcoding: {use_proto_names: \"yes\"}\n",
		"bad header":            minimal + "transcoding: {forward_headers: [\"a b\"]}\n",
		"bad service name":      withBackend("    services: {\"not a name\": {}}\n"),
	}
	for name, src := range bads {
		if err := sch.Validate(yamlToJSON(t, src)); err == nil {
			t.Errorf("%s: accepted by the schema", name)
		}
		if _, err := parse([]byte(src), "portico.yaml", noEnv); err == nil {
			t.Errorf("%s: accepted by Parse", name)
		}
	}
}

// TestSchemaMatchesGoTypes walks the Go types and the schema together, so
// that neither can gain, lose or rename a key without the other, nor
// change a scalar's type; and every key has a description for editors.
func TestSchemaMatchesGoTypes(t *testing.T) {
	data, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	w := &schemaWalker{t: t, root: root}
	w.walk(reflect.TypeFor[Config](), root, "")
	if w.keys < 40 {
		t.Errorf("only %d keys checked: the walk is broken", w.keys)
	}
}

type schemaWalker struct {
	t    *testing.T
	root map[string]any
	keys int
}

// expand returns node and every subschema it refers to or combines
// ($ref, allOf, anyOf, oneOf), which together say what node allows.
func (w *schemaWalker) expand(node map[string]any) []map[string]any {
	out := []map[string]any{node}
	if ref, ok := node["$ref"].(string); ok {
		name, ok := strings.CutPrefix(ref, "#/$defs/")
		if !ok {
			w.t.Fatalf("unexpected $ref %q", ref)
		}
		def, ok := w.root["$defs"].(map[string]any)[name].(map[string]any)
		if !ok {
			w.t.Fatalf("$ref %q: no such definition", ref)
		}
		out = append(out, w.expand(def)...)
	}
	for _, k := range []string{"allOf", "anyOf", "oneOf"} {
		subs, _ := node[k].([]any)
		for _, s := range subs {
			out = append(out, w.expand(s.(map[string]any))...)
		}
	}
	return out
}

// get returns the first value of key in node's expansion.
func (w *schemaWalker) get(node map[string]any, key string) any {
	for _, n := range w.expand(node) {
		if v, ok := n[key]; ok {
			return v
		}
	}
	return nil
}

func (w *schemaWalker) walk(t reflect.Type, node map[string]any, path string) {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var types []string
	for _, n := range w.expand(node) {
		if ty, ok := n["type"].(string); ok {
			types = append(types, ty)
		}
		if _, ok := n["const"]; ok && t.Kind() == reflect.Int {
			types = append(types, "integer") // version: const 1
		}
		if _, ok := n["enum"]; ok && t.Kind() == reflect.String {
			types = append(types, "string") // schema.source
		}
	}
	want := map[reflect.Kind]string{
		reflect.Struct: "object", reflect.Map: "object", reflect.Slice: "array",
		reflect.String: "string", reflect.Bool: "boolean", reflect.Int: "integer",
	}[t.Kind()]
	switch {
	case t == durationType:
		want = "string"
	case t.Kind() == reflect.Int64:
		want = "integer"
	}
	if !slices.Contains(types, want) {
		w.t.Errorf("%s: Go %v is a JSON %s, schema allows %v", display(path), t, want, types)
		return
	}
	switch {
	case t == durationType:
	case t.Kind() == reflect.Struct:
		if w.get(node, "additionalProperties") != false {
			w.t.Errorf("%s: schema object allows unknown keys (additionalProperties is not false)", display(path))
		}
		props, _ := w.get(node, "properties").(map[string]any)
		info := fieldsOf(t)
		for _, name := range info.names {
			w.keys++
			p := joinPath(path, name)
			sub, ok := props[name].(map[string]any)
			if !ok {
				w.t.Errorf("%s: in the Go types, missing from %s", p, schemaFile)
				continue
			}
			if w.get(sub, "description") == nil {
				w.t.Errorf("%s: no description in %s", p, schemaFile)
			}
			w.walk(t.Field(info.index[name]).Type, sub, p)
		}
		for name := range props {
			if _, ok := info.index[name]; !ok {
				w.t.Errorf("%s: in %s, missing from the Go types", joinPath(path, name), schemaFile)
			}
		}
	case t.Kind() == reflect.Slice:
		items, _ := w.get(node, "items").(map[string]any)
		if items == nil {
			w.t.Errorf("%s: schema array without items", display(path))
			return
		}
		w.walk(t.Elem(), items, path+"[0]")
	case t.Kind() == reflect.Map:
		elem, _ := w.get(node, "additionalProperties").(map[string]any)
		if elem == nil {
			w.t.Errorf("%s: schema map without additionalProperties", display(path))
			return
		}
		w.walk(t.Elem(), elem, path+"[name]")
	}
}

func display(path string) string {
	if path == "" {
		return "(top level)"
	}
	return path
}
