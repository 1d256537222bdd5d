package transcoder

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Errors in the Connect protocol (https://connectrpc.com/docs/protocol):
// a JSON object with the code as a snake_case name, the message, and the
// details, each as its type name, its protobuf bytes in unpadded standard
// base64, and, when the type is known, a "debug" rendering as JSON:
//
//	{"code":"not_found","message":"...","details":[{"type":"google.rpc.BadRequest","value":"...","debug":{...}}]}
//
// A unary call's error is the whole response body, with the HTTP status
// Connect's table gives the code (connectHTTPStatus); a streaming call's is
// the "error" member of the end-of-stream message, under HTTP 200.
//
// Three failures are answered with an HTTP status outside that table,
// because they are about HTTP routing rather than the call: a path that
// names no method (404), a GET for a method that may have side effects (405,
// Allow: POST) and a content type the method cannot take (415, Accept-Post).
// connect-go clients map those statuses to the code in the body anyway.

// connectCodeName is the Connect name of a gRPC code. Codes outside the
// known range are "unknown", as Connect clients would read them.
func connectCodeName(c codes.Code) string {
	switch c {
	case codes.Canceled:
		return "canceled"
	case codes.InvalidArgument:
		return "invalid_argument"
	case codes.DeadlineExceeded:
		return "deadline_exceeded"
	case codes.NotFound:
		return "not_found"
	case codes.AlreadyExists:
		return "already_exists"
	case codes.PermissionDenied:
		return "permission_denied"
	case codes.ResourceExhausted:
		return "resource_exhausted"
	case codes.FailedPrecondition:
		return "failed_precondition"
	case codes.Aborted:
		return "aborted"
	case codes.OutOfRange:
		return "out_of_range"
	case codes.Unimplemented:
		return "unimplemented"
	case codes.Internal:
		return "internal"
	case codes.Unavailable:
		return "unavailable"
	case codes.DataLoss:
		return "data_loss"
	case codes.Unauthenticated:
		return "unauthenticated"
	}
	return "unknown"
}

// connectHTTPStatus maps a code to the HTTP status of a unary Connect
// error. Connect's table (connectrpc.com/docs/protocol, "Error Codes") is
// the same as google/rpc/code.proto's, code for code (CANCELED 499,
// RESOURCE_EXHAUSTED 429, UNIMPLEMENTED 501, …), so it is
// [HTTPStatusFromCode], Portico's one code-to-HTTP table; the Connect tests
// check every code against the Connect table, so the two cannot drift apart
// unnoticed.
func connectHTTPStatus(c codes.Code) int { return HTTPStatusFromCode(c) }

// connectHTTPStatusForError is connectHTTPStatus plus the routing failures
// that have an HTTP status of their own.
func connectHTTPStatusForError(err error, c codes.Code) int {
	switch err.(type) {
	case *connectNoProcedureError:
		return http.StatusNotFound
	case *methodNotAllowedError:
		return http.StatusMethodNotAllowed
	case *connectMediaTypeError:
		return http.StatusUnsupportedMediaType
	}
	return connectHTTPStatus(c)
}

// connectNoProcedureError reports a Connect request for a path that names
// no method. Its code is UNIMPLEMENTED, its HTTP status 404.
type connectNoProcedureError struct{ path string }

func (e *connectNoProcedureError) Error() string {
	return fmt.Sprintf("no method is served at %s", e.path)
}

func (e *connectNoProcedureError) GRPCStatus() *status.Status {
	return status.New(codes.Unimplemented, e.Error())
}

// connectMediaTypeError reports a Connect request whose content type (or
// GET encoding) the method cannot take: an unknown codec, or the unary
// protocol for a streaming method and the other way round. Its code is
// INVALID_ARGUMENT, its HTTP status 415; accept lists what the method takes,
// for the Accept-Post header.
type connectMediaTypeError struct {
	contentType string
	accept      string
}

func (e *connectMediaTypeError) Error() string {
	return fmt.Sprintf("content type %q is not supported here; send one of %s", e.contentType, e.accept)
}

func (e *connectMediaTypeError) GRPCStatus() *status.Status {
	return status.New(codes.InvalidArgument, e.Error())
}

type connectWireDetail struct {
	Type  string          `json:"type"`
	Value string          `json:"value"`
	Debug json.RawMessage `json:"debug,omitempty"`
}

type connectWireError struct {
	Code    string              `json:"code"`
	Message string              `json:"message,omitempty"`
	Details []connectWireDetail `json:"details,omitempty"`
}

// newConnectWireError converts a status into Connect's error object. opts
// (with its Resolver set) renders the details' debug JSON; a detail whose
// type it cannot resolve is sent without one, since the bytes alone are
// what clients decode.
func newConnectWireError(st *status.Status, opts protojson.MarshalOptions) *connectWireError {
	sp := st.Proto()
	e := &connectWireError{Code: connectCodeName(st.Code()), Message: sp.GetMessage()}
	for _, d := range sp.GetDetails() {
		e.Details = append(e.Details, connectDetail(d, opts))
	}
	return e
}

func connectDetail(d *anypb.Any, opts protojson.MarshalOptions) connectWireDetail {
	url := d.GetTypeUrl()
	out := connectWireDetail{
		Type:  url[strings.LastIndexByte(url, '/')+1:],
		Value: base64.RawStdEncoding.EncodeToString(d.GetValue()),
	}
	if opts.Resolver == nil {
		return out
	}
	mt, err := opts.Resolver.FindMessageByURL(url)
	if err != nil {
		return out
	}
	msg := mt.New().Interface()
	if err := (proto.UnmarshalOptions{Resolver: opts.Resolver}).Unmarshal(d.GetValue(), msg); err != nil {
		return out
	}
	if debug, err := opts.Marshal(msg); err == nil {
		out.Debug = debug
	}
	return out
}

// writeConnectError writes err as a unary Connect error response: the HTTP
// status for its code, header metadata as headers and trailer metadata as
// Trailer-<Key> headers (connect-go clients merge both into the error's
// metadata), and the error object as an application/json body.
func (s *Snapshot) writeConnectError(w http.ResponseWriter, r *http.Request, m *method, header, trailer metadata.MD, err error) {
	st := toStatus(err)
	code := connectHTTPStatusForError(err, st.Code())
	body, merr := json.Marshal(newConnectWireError(st, s.statusMarshalOptions(m)))
	if merr != nil {
		body = []byte(`{"code":"internal","message":"encoding the error failed"}`)
	}
	h := w.Header()
	writeConnectMetadata(h, "", header)
	writeConnectMetadata(h, connectTrailerPrefix, trailer)
	switch e := err.(type) {
	case *methodNotAllowedError:
		h.Set("Allow", strings.Join(e.allow, ", "))
	case *connectMediaTypeError:
		h.Set("Accept-Post", e.accept)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", fmt.Sprint(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(body)
	if code >= 500 {
		s.opts.logger().Warn("request failed", "protocol", "connect", "path", r.URL.Path,
			"code", st.Code().String(), "message", st.Message())
	}
}

// connectEndStream encodes Connect's end-of-stream message: the error, if
// the call failed, and the trailer metadata.
func (s *Snapshot) connectEndStream(m *method, st *status.Status, trailer metadata.MD) []byte {
	end := struct {
		Error    *connectWireError   `json:"error,omitempty"`
		Metadata map[string][]string `json:"metadata,omitempty"`
	}{}
	if st != nil && st.Code() != codes.OK {
		end.Error = newConnectWireError(st, s.statusMarshalOptions(m))
	}
	for key, values := range trailer {
		if skipConnectMetadata(key) {
			continue
		}
		if end.Metadata == nil {
			end.Metadata = make(map[string][]string, len(trailer))
		}
		end.Metadata[key] = connectMetadataValues(key, values)
	}
	b, err := json.Marshal(end)
	if err != nil {
		return []byte(`{"error":{"code":"internal","message":"encoding the end of the stream failed"}}`)
	}
	return b
}

// connectTrailerPrefix marks a unary Connect response's trailer metadata.
const connectTrailerPrefix = "Trailer-"

// writeConnectMetadata copies metadata to response headers, each name
// prefixed: Connect sends header metadata as plain headers and, in unary
// responses, trailer metadata as Trailer-<Key> headers. Binary (-bin)
// values are base64-encoded, unpadded, as Connect implementations emit them.
func writeConnectMetadata(h http.Header, prefix string, md metadata.MD) {
	for key, values := range md {
		if skipConnectMetadata(key) {
			continue
		}
		name := http.CanonicalHeaderKey(prefix + key)
		h[name] = append(h[name], connectMetadataValues(key, values)...)
	}
}

func connectMetadataValues(key string, values []string) []string {
	if !strings.HasSuffix(key, "-bin") {
		return values
	}
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = base64.RawStdEncoding.EncodeToString([]byte(v))
	}
	return out
}

// skipConnectMetadata reports backend metadata that must not become
// Connect response headers: gRPC's own keys, hop-by-hop headers, and names
// the Connect protocol or HTTP framing uses (Connect-*, Trailer-*, which a
// client would read as trailers, Content-*, Accept-Encoding, Vary).
func skipConnectMetadata(key string) bool {
	if reservedMetadataKey(key) || hopByHopHeaders[key] || !validMetadataKey(key) {
		return true
	}
	switch key {
	case "content-length", "content-encoding", "accept-encoding", "vary":
		return true
	}
	return strings.HasPrefix(key, "connect-") || strings.HasPrefix(key, "trailer-")
}
