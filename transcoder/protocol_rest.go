package transcoder

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/portico-gw/portico/jsonwire"
	"github.com/portico-gw/portico/upstream"
)

// The REST protocol: an HTTP request matched to a route by the trie, its
// path, query and JSON body bound into the method's input message, one
// unary gRPC call, and the output message written back as JSON (or as raw
// bytes for google.api.HttpBody).

// bufferPool recycles the buffers requests are read into and messages are
// encoded into.
var bufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuffer() *bytes.Buffer { return bufferPool.Get().(*bytes.Buffer) }

func putBuffer(b *bytes.Buffer) {
	if b.Cap() > 1<<20 { // keep the pool from pinning huge buffers
		return
	}
	b.Reset()
	bufferPool.Put(b)
}

// webSocketMethods are the HTTP methods whose streaming routes a WebSocket
// handshake may open, in order of preference.
var webSocketMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// lookupREST finds the route for a request. A HEAD request with no route of
// its own is served by the GET route of the same path, without a body.
func (s *Snapshot) lookupREST(r *http.Request) (routeMatch[*route], error) {
	path := r.URL.EscapedPath()
	if r.Method == http.MethodGet && isWebSocketUpgrade(r) {
		// A WebSocket handshake is always a GET; it opens the streaming
		// method bound to the path, under whichever HTTP method.
		for _, method := range webSocketMethods {
			if m, ok, _ := s.routes.match(method, path); ok && m.value.method.streaming() {
				return m, nil
			}
		}
	}
	m, ok, allow := s.routes.match(r.Method, path)
	if ok {
		return m, nil
	}
	if r.Method == http.MethodHead {
		if m, ok, _ := s.routes.match(http.MethodGet, path); ok {
			return m, nil
		}
	}
	if len(allow) == 0 {
		return m, routeNotFound(r.Method, path)
	}
	if slices.Contains(allow, http.MethodGet) && !slices.Contains(allow, http.MethodHead) {
		allow = append(allow, http.MethodHead)
		slices.Sort(allow)
	}
	return m, &methodNotAllowedError{method: r.Method, path: path, allow: allow}
}

func (s *Snapshot) serveREST(w http.ResponseWriter, r *http.Request) {
	match, err := s.lookupREST(r)
	if err != nil {
		s.writeRESTError(w, r, nil, nil, nil, err)
		return
	}
	rt := match.value
	m := rt.method
	ctx, cancel, err := s.restCallContext(r, m)
	if err != nil {
		s.writeRESTError(w, r, m, nil, nil, err)
		return
	}
	defer cancel()
	if m.streaming() {
		s.serveRESTStream(ctx, w, r, rt, match.values)
		return
	}

	reqBuf := getBuffer()
	defer putBuffer(reqBuf)
	if err := s.buildRESTRequest(r, rt, match.values, reqBuf); err != nil {
		s.writeRESTError(w, r, m, nil, nil, err)
		return
	}
	var header, trailer metadata.MD
	var reply upstream.Frame
	err = m.backend.conn.Invoke(ctx, m.grpcPath, &upstream.Frame{Data: reqBuf.Bytes()}, &reply,
		rawCodec, grpc.Header(&header), grpc.Trailer(&trailer))
	if err != nil {
		s.writeRESTError(w, r, m, header, trailer, err)
		return
	}
	s.writeRESTReply(w, r, rt, header, trailer, reply.Data)
}

// restCallContext derives a REST call's context from the request: its
// deadline (Grpc-Timeout, or the defaults) and its outgoing metadata.
func (s *Snapshot) restCallContext(r *http.Request, m *method) (context.Context, context.CancelFunc, error) {
	timeout, err := m.opts.callTimeout(r.Header.Get("Grpc-Timeout"))
	if err != nil {
		return nil, nil, err
	}
	md, err := m.opts.outgoingMetadata(r, m.forward)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := callContext(r, md, timeout)
	return ctx, cancel, nil
}

// buildRESTRequest binds the request's body, path and query into the input
// message and encodes it into out. Bindings apply in that order, so a path
// value overrides the same field set by a whole-message body.
func (s *Snapshot) buildRESTRequest(r *http.Request, rt *route, pathValues []string, out *bytes.Buffer) error {
	var body []byte
	if rt.body != "" && r.Method != http.MethodHead {
		var err error
		if body, err = s.readBody(r, rt.method.opts.maxRequestBytes(), out); err != nil {
			return err
		}
	}
	return s.encodeRESTRequest(r, rt, pathValues, body, out)
}

// encodeRESTRequest binds one request message from a body (nil for none),
// the path values and the query, and encodes it into out. body may alias
// out: it is fully copied into the message before out is written.
func (s *Snapshot) encodeRESTRequest(r *http.Request, rt *route, pathValues []string, body []byte, out *bytes.Buffer) error {
	m := rt.method
	// A JSON body becomes wire bytes straight from its tokens (jsonwire);
	// an HttpBody body goes into a dynamic message.
	scratch := getBuffer()
	defer putBuffer(scratch)
	var wire []byte
	var msg *dynamicpb.Message
	if body != nil {
		if rt.bodyHTTPBody != nil {
			msg = dynamicpb.NewMessage(m.input)
			if err := s.bindBody(r, rt, msg, body); err != nil {
				return err
			}
		} else {
			var err error
			if wire, err = s.bodyWire(r, rt, body, scratch.AvailableBuffer()); err != nil {
				return err
			}
		}
	}
	// Path and query values are encoded after the body, in a message of
	// their own: in the protobuf encoding a later value of a field replaces
	// an earlier one, and messages merge, so a path value overrides what the
	// body set, as HttpRule requires.
	if len(rt.pathFields) > 0 || (rt.body != "*" && r.URL.RawQuery != "") {
		if msg == nil {
			msg = dynamicpb.NewMessage(m.input)
		}
		if err := s.bindPathAndQuery(r, rt, pathValues, msg); err != nil {
			return err
		}
	}
	out.Reset()
	out.Write(wire)
	if msg != nil {
		b, err := proto.MarshalOptions{}.MarshalAppend(out.AvailableBuffer(), msg)
		if err != nil {
			return status.Errorf(codes.Internal, "encoding request: %v", err)
		}
		out.Write(b)
	}
	return nil
}

// bodyWire turns a JSON request body into the input message's wire bytes,
// appended to dst: the whole message for body "*", the value of the body
// field otherwise.
func (s *Snapshot) bodyWire(r *http.Request, rt *route, body, dst []byte) ([]byte, error) {
	contentType := r.Header.Get("Content-Type")
	if !jsonContentType(contentType) {
		return nil, unsupportedMediaType(contentType)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return dst, nil // an empty body is an empty message
	}
	m := rt.method
	unmarshal := jsonwire.UnmarshalOptions{Resolver: m.backend.types}
	if rt.body == "*" {
		out, err := unmarshal.AppendWire(dst, m.input, body)
		if err != nil {
			return nil, malformedRequest("invalid JSON body: %v", err)
		}
		return out, nil
	}
	// The body is the value of one field. Checking that it is a single JSON
	// value first keeps a body such as `1, "other": 2` from reaching other
	// fields once it is wrapped as {"field": body}.
	if !json.Valid(body) {
		return nil, malformedRequest("invalid JSON body for field %s", rt.body)
	}
	wrapped := make([]byte, 0, len(body)+len(rt.body)+5)
	wrapped = append(wrapped, `{"`...)
	wrapped = append(wrapped, rt.body...)
	wrapped = append(wrapped, `":`...)
	wrapped = append(wrapped, body...)
	wrapped = append(wrapped, '}')
	out, err := unmarshal.AppendWire(dst, m.input, wrapped)
	if err != nil {
		return nil, malformedRequest("invalid JSON body for field %s: %v", rt.body, err)
	}
	return out, nil
}

// bindPathAndQuery sets the fields the path variables and the query
// parameters bind.
func (s *Snapshot) bindPathAndQuery(r *http.Request, rt *route, pathValues []string, msg *dynamicpb.Message) error {
	for i, fields := range rt.pathFields {
		if err := setFieldPath(msg, fields, pathValues[i]); err != nil {
			if _, ok := status.FromError(err); ok && status.Code(err) == codes.InvalidArgument {
				return err
			}
			return badPathValue(strings.Join(rt.template.variables[i].fieldPath, "."), pathValues[i], err)
		}
	}
	if rt.body != "*" && r.URL.RawQuery != "" {
		if err := bindQuery(msg, r.URL.RawQuery, rt.skipQuery, rt.method.opts.RejectUnknownQueryParameters); err != nil {
			return err
		}
	}
	return nil
}

// readBody reads the request body into buf, enforcing the size limit
// (negative: none).
func (s *Snapshot) readBody(r *http.Request, limit int64, buf *bytes.Buffer) ([]byte, error) {
	if limit >= 0 && r.ContentLength > limit {
		return nil, &bodyTooLargeError{limit: limit}
	}
	var src io.Reader = r.Body
	if limit >= 0 {
		src = io.LimitReader(r.Body, limit+1)
	}
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	if _, err := buf.ReadFrom(src); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "reading request body: %v", err)
	}
	if limit >= 0 && int64(buf.Len()) > limit {
		return nil, &bodyTooLargeError{limit: limit}
	}
	return buf.Bytes(), nil
}

// bindBody stores a raw request body in the HttpBody the route's body
// binds (the whole input message, or its body field).
func (s *Snapshot) bindBody(r *http.Request, rt *route, msg *dynamicpb.Message, body []byte) error {
	target := protoreflect.Message(msg)
	if rt.bodyField != nil {
		target = msg.Mutable(rt.bodyField).Message()
	}
	rt.bodyHTTPBody.set(target, r.Header.Get("Content-Type"), bytes.Clone(body))
	return nil
}

// jsonContentType reports whether a request body of this content type is
// read as JSON: no content type, application/json, text/json, any
// application/*+json, newline-delimited JSON (application/x-ndjson,
// application/jsonl: client streams), and, because curl -d sends it by
// default, text/plain and application/x-www-form-urlencoded. Other types
// get 415.
func jsonContentType(ct string) bool {
	switch ct {
	case "", "application/json", "application/json; charset=utf-8", "application/x-www-form-urlencoded":
		return true // the common cases, without parsing
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	switch mt {
	case "application/json", "text/json", "text/plain", "application/x-www-form-urlencoded",
		"application/x-ndjson", "application/jsonl":
		return true
	}
	return strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}

// jsonOptions are marshalOptions for jsonwire, which writes JSON straight
// from wire bytes.
func (s *Snapshot) jsonOptions(m *method) jsonwire.MarshalOptions {
	return jsonwire.MarshalOptions{
		UseProtoNames:   m.opts.UseProtoNames,
		EmitUnpopulated: m.opts.EmitUnpopulated,
		UseEnumNumbers:  m.opts.UseEnumNumbers,
		Resolver:        m.backend.types,
	}
}

func (s *Snapshot) marshalOptions(m *method) protojson.MarshalOptions {
	return protojson.MarshalOptions{
		UseProtoNames:   m.opts.UseProtoNames,
		EmitUnpopulated: m.opts.EmitUnpopulated,
		UseEnumNumbers:  m.opts.UseEnumNumbers,
		Resolver:        m.backend.types,
	}
}

// writeRESTReply decodes the backend's reply and writes it as the HTTP
// response.
func (s *Snapshot) writeRESTReply(w http.ResponseWriter, r *http.Request, rt *route, header, trailer metadata.MD, reply []byte) {
	m := rt.method
	if rt.responseHTTPBody != nil {
		msg := dynamicpb.NewMessage(m.output)
		if err := (proto.UnmarshalOptions{Resolver: m.backend.types}).Unmarshal(reply, msg); err != nil {
			s.writeRESTError(w, r, m, header, trailer, status.Errorf(codes.Internal, "decoding reply from backend: %v", err))
			return
		}
		var target protoreflect.Message = msg
		if rt.responseField != nil {
			target = msg.Get(rt.responseField).Message()
		}
		contentType, data := rt.responseHTTPBody.get(target)
		if contentType == "" {
			contentType = "application/octet-stream"
		}
		h := w.Header()
		writeResponseMetadata(h, header, trailer)
		h.Set("Content-Type", contentType)
		// The bytes are the backend's, served from the gateway's origin:
		// browsers must take the content type as given, never sniff HTML.
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(data)
		}
		return
	}
	buf := getBuffer()
	defer putBuffer(buf)
	body, err := s.replyJSONAppend(buf.AvailableBuffer(), rt, reply)
	if err != nil {
		s.writeRESTError(w, r, m, header, trailer, err)
		return
	}
	h := w.Header()
	writeResponseMetadata(h, header, trailer)
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// marshalField writes one field of msg as JSON, for response_body. A
// singular message field is marshalled as a message. Any other field is
// marshalled inside a message holding only it, and its value cut out; a
// field left at its default is written as its default JSON value ([], {},
// 0, "", false) rather than left empty.
func (s *Snapshot) marshalField(m *method, msg *dynamicpb.Message, fd protoreflect.FieldDescriptor) ([]byte, error) {
	opts := s.marshalOptions(m)
	if fd.Kind() == protoreflect.MessageKind && !fd.IsList() && !fd.IsMap() {
		return opts.Marshal(msg.Get(fd).Message().Interface())
	}
	holder := dynamicpb.NewMessage(m.output)
	switch {
	case msg.Has(fd):
		holder.Set(fd, msg.Get(fd))
	case !fd.IsList() && !fd.IsMap():
		// Unset: write the field's default value. EmitUnpopulated covers
		// plain proto3 fields; setting the default explicitly covers those
		// with presence (proto3 optional, oneof members), which it leaves
		// out.
		holder.Set(fd, fd.Default())
		opts.EmitUnpopulated = true
	}
	encoded, err := opts.Marshal(holder)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(encoded, &fields); err != nil {
		return nil, err
	}
	name := fd.JSONName()
	if m.opts.UseProtoNames {
		name = string(fd.Name())
	}
	if v, ok := fields[name]; ok {
		return v, nil
	}
	switch {
	case fd.IsList():
		return []byte("[]"), nil
	case fd.IsMap():
		return []byte("{}"), nil
	}
	return nil, errors.New("field missing from its own encoding")
}
