package transcoder

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// bindQuery binds the raw query string of a request (r.URL.RawQuery) into
// msg, the method's input message. The rules:
//
//   - The query is split on "&" (";" is not a separator). Each parameter is
//     key=value, or a bare key meaning the empty value; empty parameters
//     ("a=1&&b=2") are skipped. Key and value are percent-decoded as
//     application/x-www-form-urlencoded: "+" is a space, and a malformed
//     escape ("%zz", a lone "%") is an InvalidArgument error.
//   - The key is a dotted field path ("a.b.c"), each segment a proto name or
//     a JSON name; every segment but the last must be a singular message
//     field. Values are parsed as described in fieldvalue.go.
//   - Repeated fields take one element per occurrence of the key:
//     "?ids=1&ids=2". A value is never split on commas ("?ids=1,2" is an
//     error for an integer field and one element "1,2" for a string field).
//   - Map fields take one entry per parameter: "m[key]=value", also after a
//     dotted prefix ("a.m[key]=value"). The key text is everything between
//     the first "[" and the final "]" and is parsed as the map's key kind;
//     the value as its value kind (scalars, enums, well-known types). An
//     entry whose key is already present is an error.
//   - A key whose path names no field is ignored, or, if rejectUnknown is
//     set, an error. A key that names a field but is otherwise unusable
//     (a path through a repeated, map or scalar field, brackets on a field
//     that is not a map, a map without brackets) is always an error.
//   - skip is called with the resolved path of each parameter (for a map
//     entry, the path to the map field); if it returns true the parameter
//     is ignored. The router passes a predicate covering the fields bound
//     from the URL path and the body, see [skipBoundFieldPaths]. skip may
//     be nil.
//   - A singular field may be set only once per query ("set more than
//     once"), whatever its value; and at most one member of a oneof may be
//     set, counting oneof members that intermediate path segments create.
//   - A message-typed field may be addressed directly only if it is a
//     well-known type with a text form (Timestamp, Duration, wrappers...);
//     other messages must be filled through their fields.
//
// Every error is a gRPC InvalidArgument status error: badQueryValue for a
// parameter that cannot be bound, malformedRequest for a query that cannot
// be decoded or an unknown parameter that rejectUnknown forbids. msg may
// have been partly modified when an error is returned.
func bindQuery(msg protoreflect.Message, rawQuery string, skip func(path []protoreflect.FieldDescriptor) bool, rejectUnknown bool) error {
	md := msg.Descriptor()
	// seen records the singular fields set by this query, so a second
	// assignment is caught even when the first set the zero value (which
	// Has cannot tell from unset in proto3). Allocated on first use.
	var seen map[querySetKey]struct{}
	for rest := rawQuery; rest != ""; {
		var param string
		param, rest, _ = strings.Cut(rest, "&")
		if param == "" {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(param, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			return malformedRequest("query parameter %q: malformed percent-encoding", rawKey)
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return malformedRequest("query parameter %q: value %q: malformed percent-encoding", key, rawValue)
		}

		name, mapKey, isMapEntry := key, "", false
		if i := strings.IndexByte(key, '['); i >= 0 {
			if !strings.HasSuffix(key, "]") || i == len(key)-1 {
				return badQueryValue(key, value, errors.New(`malformed key: expected name[key]`))
			}
			name, mapKey, isMapEntry = key[:i], key[i+1:len(key)-1], true
		}

		path, err := resolveFieldPath(md, name)
		if err != nil {
			if errors.Is(err, errFieldPathUnknown) {
				if rejectUnknown {
					return malformedRequest("query parameter %q: %v", key, err)
				}
				continue
			}
			return badQueryValue(key, value, err)
		}
		if skip != nil && skip(path) {
			continue
		}
		last := path[len(path)-1]
		switch {
		case isMapEntry && !last.IsMap():
			return badQueryValue(key, value, fmt.Errorf("field %s is not a map", last.Name()))
		case !isMapEntry && last.IsMap():
			return badQueryValue(key, value, fmt.Errorf("field %s is a map; set its entries with %s[key]=value", last.Name(), name))
		}

		// Walk to the message holding the last field, creating intermediate
		// messages. Resolution succeeded, so nothing is created for an
		// unknown parameter.
		m := msg
		for _, fd := range path[:len(path)-1] {
			if err := checkOneofFree(m, fd); err != nil {
				return badQueryValue(key, value, err)
			}
			if _, whole := seen[querySetKey{m, fd}]; whole {
				// timestamp=…&timestamp.seconds=…: the message was set
				// whole already.
				return badQueryValue(key, value, fmt.Errorf("field %s set more than once", fd.Name()))
			}
			m = m.Mutable(fd).Message()
		}
		if err := checkOneofFree(m, last); err != nil {
			return badQueryValue(key, value, err)
		}

		switch {
		case isMapEntry:
			if err := setQueryMapEntry(m, last, mapKey, value); err != nil {
				return badQueryValue(key, value, err)
			}
		case last.IsList():
			v, err := parseFieldValue(m, last, value)
			if err != nil {
				return badQueryValue(key, value, err)
			}
			m.Mutable(last).List().Append(v)
		default:
			sk := querySetKey{m, last}
			if _, dup := seen[sk]; dup {
				return badQueryValue(key, value, errors.New("set more than once"))
			}
			if last.Kind() == protoreflect.MessageKind && m.Has(last) {
				// timestamp.seconds=…&timestamp=…: parts were set already.
				return badQueryValue(key, value, errors.New("set more than once"))
			}
			v, err := parseFieldValue(m, last, value)
			if err != nil {
				return badQueryValue(key, value, err)
			}
			m.Set(last, v)
			if seen == nil {
				seen = make(map[querySetKey]struct{}, 4)
			}
			seen[sk] = struct{}{}
		}
	}
	return nil
}

// querySetKey identifies one singular field of one message instance.
type querySetKey struct {
	m  protoreflect.Message
	fd protoreflect.FieldDescriptor
}

// setQueryMapEntry parses keyText and valueText for map field fd of m and
// adds the entry. Message values (well-known types only) are made by the
// map itself, so they have its value type.
func setQueryMapEntry(m protoreflect.Message, fd protoreflect.FieldDescriptor, keyText, valueText string) error {
	kv, err := parseScalarText(fd.MapKey(), keyText)
	if err != nil {
		return fmt.Errorf("map key %q: %w", keyText, err)
	}
	mk := kv.MapKey()
	mm := m.Mutable(fd).Map()
	if mm.Has(mk) {
		return fmt.Errorf("map key %q set more than once", keyText)
	}
	vfd := fd.MapValue()
	var v protoreflect.Value
	if k := vfd.Kind(); k == protoreflect.MessageKind || k == protoreflect.GroupKind {
		v, err = parseWKTValue(vfd, valueText, func() protoreflect.Message { return mm.NewValue().Message() })
	} else {
		v, err = parseScalarText(vfd, valueText)
	}
	if err != nil {
		return err
	}
	mm.Set(mk, v)
	return nil
}

// skipBoundFieldPaths returns a skip predicate for bindQuery that ignores a
// query parameter whose path is a prefix of, or has as prefix, one of the
// bound paths (those set from the URL path or the body). Thus a body bound
// to "book" hides "book.title" and a path variable bound to "book.name"
// hides both "book.name" and, being part of it, "book". An empty bound path
// (a body bound with "*") hides every parameter. Paths are compared
// field by field by full name, so paths resolved separately against the
// same descriptors match.
func skipBoundFieldPaths(bound ...[]protoreflect.FieldDescriptor) func([]protoreflect.FieldDescriptor) bool {
	if len(bound) == 0 {
		return nil
	}
	return func(path []protoreflect.FieldDescriptor) bool {
		for _, b := range bound {
			n := min(len(b), len(path))
			match := true
			for i := 0; i < n; i++ {
				if b[i] != path[i] && b[i].FullName() != path[i].FullName() {
					match = false
					break
				}
			}
			if match {
				return true
			}
		}
		return false
	}
}
