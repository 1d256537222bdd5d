package transcoder

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// toStatus turns any error into the gRPC status the client sees. Context
// errors that escaped the gRPC client (the client went away or the deadline
// passed before the call started) get their usual codes.
func toStatus(err error) *status.Status {
	if st, ok := status.FromError(err); ok {
		return st
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.New(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.New(codes.DeadlineExceeded, err.Error())
	}
	return status.New(codes.Unknown, err.Error())
}

// writeRESTError writes err as a REST error response: the HTTP status for
// its code and a google.rpc.Status JSON body whose details are resolved
// through the method's backend schema (or the linked-in types, for
// google.rpc error details). m is nil when no method was found; header and
// trailer carry whatever metadata the backend sent before failing.
func (s *Snapshot) writeRESTError(w http.ResponseWriter, r *http.Request, m *method, header, trailer metadata.MD, err error) {
	st := toStatus(err)
	code := httpStatusForError(err, st.Code())
	body := marshalStatus(st.Proto(), s.statusMarshalOptions(m))

	h := w.Header()
	writeResponseMetadata(h, header, trailer)
	var mna *methodNotAllowedError
	if errors.As(err, &mna) {
		h.Set("Allow", strings.Join(mna.allow, ", "))
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
	if code >= 500 {
		s.opts.logger().Warn("request failed", "method", r.Method, "path", r.URL.Path, "code", st.Code().String(), "message", st.Message())
	}
}

// statusMarshalOptions are the JSON options for a status's details: the
// snapshot's output options, with types resolved through the method's
// backend (or the linked-in types when no method is known).
func (s *Snapshot) statusMarshalOptions(m *method) protojson.MarshalOptions {
	opts := protojson.MarshalOptions{
		UseProtoNames:  s.optionsFor(m).UseProtoNames,
		UseEnumNumbers: s.optionsFor(m).UseEnumNumbers,
		Resolver:       protoregistry.GlobalTypes,
	}
	if m != nil {
		opts.Resolver = m.backend.types
	}
	return opts
}

// marshalStatus encodes a status as google.rpc.Status JSON, always with
// code, message and details (an empty list when there are none). Details are
// written with the snapshot's JSON output options. A detail whose type the
// resolver does not know cannot be written as JSON; it is left out rather
// than failing the whole error response, and the message says so.
func marshalStatus(sp *spb.Status, opts protojson.MarshalOptions) []byte {
	var details [][]byte
	dropped := 0
	for _, d := range sp.GetDetails() {
		b, err := opts.Marshal(d)
		if err != nil {
			dropped++
			continue
		}
		details = append(details, b)
	}
	msg := sp.GetMessage()
	if dropped > 0 {
		msg += " (" + strconv.Itoa(dropped) + " error detail(s) of unknown type omitted)"
	}
	quoted, _ := json.Marshal(msg)
	out := make([]byte, 0, 64+len(quoted))
	out = append(out, `{"code":`...)
	out = strconv.AppendInt(out, int64(sp.GetCode()), 10)
	out = append(out, `,"message":`...)
	out = append(out, quoted...)
	out = append(out, `,"details":[`...)
	for i, d := range details {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, d...)
	}
	return append(out, "]}"...)
}
