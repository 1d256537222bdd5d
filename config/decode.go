package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// decoder decodes a YAML node tree into the Config types by reflection.
// It does what yaml.v3's strict mode does (unknown and duplicate keys are
// errors) but keeps going after a problem, so that one run reports them
// all, each with its line and key path; and it interpolates ${VAR} in
// scalar values before converting them.
type decoder struct {
	file   string
	lookup func(string) (string, bool)
	errs   []*Error
	loc    map[string]location // key path -> line where it is set
	bad    map[string]bool     // key paths whose value could not be decoded
}

func valueOf(c *Config) reflect.Value { return reflect.ValueOf(c).Elem() }

var durationType = reflect.TypeFor[Duration]()

func (d *decoder) errorf(line int, path, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// fail reports a value that could not be decoded; validation then keeps
// quiet about path and everything under it.
func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.errorf(n.Line, path, format, args...)
	d.bad[path] = true
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names what a node is, for "want X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			return fmt.Sprintf("the string %q", n.Value)
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "an unexpected node"
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// decode decodes n into v, whose key path is path.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	n = resolveAlias(n)
	if _, ok := d.loc[path]; !ok {
		d.loc[path] = location{line: n.Line}
	}
	if isNull(n) {
		return // null is the same as leaving the key out
	}
	t := v.Type()
	switch {
	case t == durationType:
		s, _, ok := d.scalar(n, path, "a duration such as 30s")
		if !ok {
			return
		}
		dur, err := parseDuration(s)
		if err != nil {
			d.fail(n, path, "%v", err)
			return
		}
		v.SetInt(int64(dur))
	case t.Kind() == reflect.Pointer:
		e := reflect.New(t.Elem())
		d.decode(n, e.Elem(), path)
		v.Set(e)
	case t.Kind() == reflect.Struct:
		d.decodeStruct(n, v, path)
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "want a list, got %s", describe(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case t.Kind() == reflect.Map:
		d.decodeMap(n, v, path)
	case t.Kind() == reflect.String:
		s, _, ok := d.scalar(n, path, "a string")
		if ok {
			v.SetString(s)
		}
	case t.Kind() == reflect.Bool:
		s, interpolated, ok := d.scalar(n, path, "true or false")
		if !ok {
			return
		}
		var b bool
		var err error
		if interpolated {
			b, err = strconv.ParseBool(s)
		} else if n.ShortTag() == "!!bool" {
			b, err = strconv.ParseBool(strings.ToLower(s))
		} else {
			err = strconv.ErrSyntax
		}
		if err != nil {
			d.fail(n, path, "want true or false, got %s", describeValue(n, s, interpolated))
			return
		}
		v.SetBool(b)
	case t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
		s, interpolated, ok := d.scalar(n, path, "an integer")
		if !ok {
			return
		}
		if !interpolated && n.ShortTag() != "!!int" {
			d.fail(n, path, "want an integer, got %s", describe(n))
			return
		}
		i, err := strconv.ParseInt(s, 0, t.Bits())
		if err != nil {
			d.fail(n, path, "want an integer (at most %d bits), got %s", t.Bits(), describeValue(n, s, interpolated))
			return
		}
		v.SetInt(i)
	default:
		panic(fmt.Sprintf("config: no decoding for %v", t))
	}
}

func describeValue(n *yaml.Node, s string, interpolated bool) string {
	if interpolated {
		return fmt.Sprintf("%q (after ${...} substitution)", s)
	}
	return describe(n)
}

// scalar returns n's value with ${VAR} references replaced, and whether
// there were any; ok is false (and the problem reported) if n is not a
// scalar or a reference cannot be resolved.
func (d *decoder) scalar(n *yaml.Node, path, want string) (s string, interpolated, ok bool) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "want %s, got %s", want, describe(n))
		return "", false, false
	}
	s, interpolated, problems := interpolate(n.Value, d.lookup)
	if len(problems) > 0 {
		for _, p := range problems {
			d.fail(n, path, "%s", p)
		}
		return "", false, false
	}
	return s, interpolated, true
}

// pair is one key and value of a mapping; merged pairs come from a YAML
// merge key (<<: *anchor) and yield to explicit ones.
type pair struct {
	key, value *yaml.Node
	merged     bool
}

// pairs returns n's key/value pairs, with "<<" merge keys expanded.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	var explicit, merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			v = resolveAlias(v)
			var sources []*yaml.Node
			switch v.Kind {
			case yaml.MappingNode:
				sources = []*yaml.Node{v}
			case yaml.SequenceNode:
				for _, s := range v.Content {
					sources = append(sources, resolveAlias(s))
				}
			}
			for _, s := range sources {
				if s.Kind != yaml.MappingNode {
					d.fail(k, path, "a merge key (<<) takes a mapping or a list of mappings, got %s", describe(s))
					continue
				}
				for _, p := range d.pairs(s, path) {
					p.merged = true
					merged = append(merged, p)
				}
			}
			continue
		}
		explicit = append(explicit, pair{key: k, value: v})
	}
	// Explicit keys override merged ones; among merged ones the first wins.
	seen := map[string]bool{}
	for _, p := range explicit {
		if p.key.Kind == yaml.ScalarNode {
			seen[p.key.Value] = true
		}
	}
	out := explicit
	for _, p := range merged {
		if !seen[p.key.Value] {
			seen[p.key.Value] = true
			out = append(out, p)
		}
	}
	return out
}

// mapKey returns a pair's key, checking it is a scalar and not a
// duplicate of an explicit key met before.
func (d *decoder) mapKey(p pair, path string, firstLine map[string]int) (string, bool) {
	k := resolveAlias(p.key)
	if k.Kind != yaml.ScalarNode {
		d.fail(k, path, "want a key, got %s", describe(k))
		return "", false
	}
	if line, dup := firstLine[k.Value]; dup && !p.merged {
		d.fail(k, joinPath(path, k.Value), "duplicate key (first given on line %d)", line)
		return "", false
	}
	firstLine[k.Value] = k.Line
	return k.Value, true
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping, got %s", describe(n))
		return
	}
	info := fieldsOf(v.Type())
	firstLine := map[string]int{}
	for _, p := range d.pairs(n, path) {
		key, ok := d.mapKey(p, path, firstLine)
		if !ok {
			continue
		}
		if path == "" && strings.HasPrefix(key, "x-") {
			continue // a place for YAML anchors, ignored
		}
		keyPath := joinPath(path, key)
		idx, known := info.index[key]
		if !known {
			d.errorf(p.key.Line, keyPath, "unknown key %q%s", key, suggest(key, info.names))
			d.bad[keyPath] = true
			continue
		}
		d.loc[keyPath] = location{line: p.key.Line}
		d.decode(p.value, v.Field(idx), keyPath)
	}
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping, got %s", describe(n))
		return
	}
	t := v.Type()
	m := reflect.MakeMap(t)
	firstLine := map[string]int{}
	for _, p := range d.pairs(n, path) {
		key, ok := d.mapKey(p, path, firstLine)
		if !ok {
			continue
		}
		keyPath := path + "[" + key + "]"
		d.loc[keyPath] = location{line: p.key.Line}
		e := reflect.New(t.Elem()).Elem()
		d.decode(p.value, e, keyPath)
		m.SetMapIndex(reflect.ValueOf(key).Convert(t.Key()), e)
	}
	v.Set(m)
}

// structFields is a struct type's yaml keys.
type structFields struct {
	index map[string]int // yaml key -> field index
	names []string       // yaml keys in field order
}

var fieldCache sync.Map // reflect.Type -> *structFields

func fieldsOf(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	f := &structFields{index: map[string]int{}}
	for i := range t.NumField() {
		sf := t.Field(i)
		name := yamlName(sf)
		if name == "" {
			continue
		}
		f.index[name] = i
		f.names = append(f.names, name)
	}
	fieldCache.Store(t, f)
	return f
}

// yamlName is a field's key in the file, "" for fields that have none.
func yamlName(sf reflect.StructField) string {
	if !sf.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

// suggest proposes the closest known key to a misspelt one, or lists them
// all.
func suggest(key string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if dist := editDistance(strings.ToLower(key), k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best != "" {
		return fmt.Sprintf("; did you mean %q?", best)
	}
	return "; want one of " + strings.Join(known, ", ")
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
