// Package jsonwire transcodes between protobuf wire bytes and the protobuf
// JSON mapping directly, driven by run-time descriptors, without building
// dynamicpb messages.
//
//	MarshalOptions{...}.AppendJSON(dst, md, wire)   // wire → JSON
//	UnmarshalOptions{...}.AppendWire(dst, md, json) // JSON → wire
//
// # Contract
//
// The reference is what Portico did before: proto.Unmarshal into a
// dynamicpb.Message then protojson.Marshal (wire→JSON), and
// protojson.Unmarshal into a dynamicpb.Message then proto.Marshal
// (JSON→wire), with the same Resolver.
//
//   - AppendJSON output equals protojson's after removing insignificant
//     whitespace (protojson adds random spaces on purpose); it fails exactly
//     when proto.Unmarshal or protojson.Marshal would fail (malformed wire,
//     invalid UTF-8 in proto3 strings, even ones that are later overwritten,
//     missing required fields, out-of-range Timestamp/Duration, unresolvable
//     Any, a Value with no kind or a non-finite number_value, an
//     irreversible FieldMask path, recursion deeper than 10000, …).
//   - AppendWire accepts exactly the JSON protojson.Unmarshal accepts, and
//     its output unmarshals to a message proto.Equal to protojson's. Fields
//     are written in JSON order (proto.Equal does not care); Any.value is
//     byte-identical to protojson's (see below). Errors carry "(line L:C)"
//     positions in protojson's style.
//
// Semantics mirrored (both directions): field order = declaration order
// then extensions by full name (protojson's order.IndexNameFieldOrder); map
// keys sorted (false<true, numeric, bytewise strings) with bool/int keys
// quoted; 64-bit integers as strings; protojson's float formatting
// (strconv shortest, 'e' below 1e-6 and from 1e21, "NaN"/"Infinity", e-07 →
// e-7); bytes as padded std base64 (input: std or URL alphabet, padded or
// not, CR/LF ignored); enums by name, unknown numbers as numbers,
// google.protobuf.NullValue as null; proto3 implicit-presence fields are
// omitted at their zero value (-0.0 is not zero); proto2/optional presence;
// EmitUnpopulated (null for presence fields, never oneof members or
// extensions); JSON and proto names accepted on input (protojson's
// ByJSONName-then-ByTextName lookup, including group names); JSON null skips
// a field except for Value/NullValue; duplicate fields, duplicate map keys
// (compared by parsed key) and a second oneof member are errors; integers as
// numbers or strings, with exponents/fractions that are whole (1.0, 1e2,
// and protojson's quirk "1e"); DiscardUnknown also drops unknown enum
// names. All well-known types: Any (Resolver; embedded WKTs under
// "value"), Timestamp, Duration, FieldMask, Struct/Value/ListValue, the nine
// wrappers, Empty. Extensions ("[full.name]") and proto2 groups are
// supported natively.
//
// Wire semantics are those of dynamicpb's (slow-path) decoder: a repeated
// scalar accepts packed and unpacked occurrences, mixed; a non-repeated
// scalar takes its last occurrence; message occurrences merge (the message
// is decoded from the list of its occurrences' payloads, without copying);
// a oneof keeps only the last member set, and a message member merges only
// the occurrences after the last switch; map entries with equal keys: last
// wins, missing key/value means default; an occurrence with the wrong wire
// type is an unknown field; unknown fields are dropped. Occurrences that
// never reach the output (overwritten scalars/oneof members/map entries)
// are still validated like proto.Unmarshal does.
//
// # Design
//
// Plans. Each message descriptor gets an immutable msgPlan, built once
// (together with every message reachable from it) under a mutex and then
// published in a sync.Map keyed by the descriptor: a field table by number
// (dense slice, or map for sparse numbers), a name table, per-field kind,
// wire type, packed-ness, presence, oneof index, required bit, UTF-8 rule,
// precomputed quoted JSON/proto keys (`"name":`), precomputed wire tags,
// enum name tables (quoted), map key/value plans and the well-known-type
// kind. Extension plans are cached the same way per extension descriptor.
// Descriptor sets are immutable per snapshot, so plans never change; a plan
// lives as long as the process (one per distinct descriptor).
//
// Wire→JSON. A message is scanned once: each known-field occurrence
// becomes an entry (field plan, payload slice or decoded varint/fixed value,
// wire sequence number) on a scratch stack shared by the whole call; the
// entries of one message are sorted into declaration order only if they are
// not already (the usual case). JSON is then written straight from the
// entries into dst. Nested messages recurse on their payload slices (a
// merged message is a list of segments). Everything is pooled: the common
// case allocates nothing.
//
// JSON→wire. A hand-written tokenizer with protojson's exact grammar feeds a
// schema-driven recursive parser that appends wire bytes to dst as it goes.
// Length prefixes: one byte is reserved before a length-delimited value;
// if the value turns out to be 128 bytes or more, it is shifted right by
// the extra varint bytes (one memmove of the submessage per nesting level;
// small submessages, the vast majority, never move). Seen-field and oneof
// bitsets live on a pooled stack. Any is the exception: its payload is
// re-encoded deterministically through the resolved type (a dynamicpb or
// generated message) so that Any.value bytes equal proto.Marshal's.
//
// # Fallback
//
// A plan is marked fallback — and that message type is transcoded through
// dynamicpb+protojson, transparently — when a message reachable from it has
// more than 64 required fields (required-field presence is tracked in one
// uint64). proto1 MessageSets are rejected, as protojson rejects them.
// Editions descriptors are supported through the descriptor API
// (HasPresence, IsPacked, delimited encoding as groups, the UTF-8
// validation feature).
//
// Known reference quirks: protobuf-go's slow-path decoder panics on a map
// entry whose key (or value) field occurs with the right wire type and then
// again with a wrong one; this package treats the second occurrence as
// unknown instead.
package jsonwire
