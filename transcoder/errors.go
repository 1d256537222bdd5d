package transcoder

import (
	"fmt"
	"net/http"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Every error the gateway produces or relays carries a gRPC code. Errors
// born inside Portico are made by the constructors below, which are named
// for the situation rather than for the code, so call sites read as intent.
// The code is turned into an HTTP status in exactly one place:
// [HTTPStatusFromCode].

// malformedRequest reports a request whose body, path or query cannot be
// turned into the method's input message.
func malformedRequest(format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, format, args...)
}

// badPathValue reports a path variable whose text does not parse as the
// type of the field it binds.
func badPathValue(field string, value string, cause error) error {
	return status.Errorf(codes.InvalidArgument, "path variable %q: value %q: %v", field, value, cause)
}

// badQueryValue reports a query parameter that does not parse as the type of
// the field it names.
func badQueryValue(param string, value string, cause error) error {
	return status.Errorf(codes.InvalidArgument, "query parameter %q: value %q: %v", param, value, cause)
}

// routeNotFound reports a path that no route template matches.
func routeNotFound(method, path string) error {
	return status.Errorf(codes.NotFound, "no route for %s %s", method, path)
}

// methodNotAllowedError reports a path that matches a route template, but not
// for the request's HTTP method. It carries the methods that are allowed so
// the response can list them in an Allow header.
type methodNotAllowedError struct {
	method string
	path   string
	allow  []string
}

func (e *methodNotAllowedError) Error() string {
	return fmt.Sprintf("HTTP method %s is not allowed for %s", e.method, e.path)
}

// GRPCStatus lets status.FromError see this error as UNIMPLEMENTED, the code
// gRPC uses for a method the server does not have. The HTTP status is
// nevertheless 405: see [httpStatusForError].
func (e *methodNotAllowedError) GRPCStatus() *status.Status {
	return status.New(codes.Unimplemented, e.Error())
}

// unsupportedMediaType reports a request body in a content type the route
// cannot read.
func unsupportedMediaType(contentType string) error {
	return &mediaTypeError{contentType: contentType}
}

type mediaTypeError struct{ contentType string }

func (e *mediaTypeError) Error() string {
	return fmt.Sprintf("content type %q is not supported; send application/json", e.contentType)
}

func (e *mediaTypeError) GRPCStatus() *status.Status {
	return status.New(codes.InvalidArgument, e.Error())
}

// HTTPStatusFromCode maps a gRPC status code to the HTTP status that REST
// clients receive, following the table in google/rpc/code.proto. It is the
// only place in Portico where that mapping is made.
func HTTPStatusFromCode(code codes.Code) int {
	switch code {
	case codes.OK:
		return http.StatusOK
	case codes.Canceled:
		return 499 // Client Closed Request, as in google/rpc/code.proto.
	case codes.Unknown:
		return http.StatusInternalServerError
	case codes.InvalidArgument:
		return http.StatusBadRequest
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.NotFound:
		return http.StatusNotFound
	case codes.AlreadyExists:
		return http.StatusConflict
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.FailedPrecondition:
		return http.StatusBadRequest
	case codes.Aborted:
		return http.StatusConflict
	case codes.OutOfRange:
		return http.StatusBadRequest
	case codes.Unimplemented:
		return http.StatusNotImplemented
	case codes.Internal:
		return http.StatusInternalServerError
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	case codes.DataLoss:
		return http.StatusInternalServerError
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	default:
		return http.StatusInternalServerError
	}
}

// httpStatusForError is HTTPStatusFromCode plus the errors whose HTTP status
// says more than their gRPC code can: a body over the size limit is 413
// rather than 429 (the client must shrink it, not retry later), a path that
// exists under other HTTP methods is 405, and an unreadable content type is
// 415.
func httpStatusForError(err error, code codes.Code) int {
	switch err.(type) {
	case *methodNotAllowedError:
		return http.StatusMethodNotAllowed
	case *mediaTypeError:
		return http.StatusUnsupportedMediaType
	case *bodyTooLargeError:
		return http.StatusRequestEntityTooLarge
	}
	return HTTPStatusFromCode(code)
}

// bodyTooLargeError reports a request body over the configured limit. Its
// gRPC code is RESOURCE_EXHAUSTED; its HTTP status is 413.
type bodyTooLargeError struct{ limit int64 }

func (e *bodyTooLargeError) Error() string {
	return fmt.Sprintf("request body exceeds the limit of %d bytes", e.limit)
}

func (e *bodyTooLargeError) GRPCStatus() *status.Status {
	return status.New(codes.ResourceExhausted, e.Error())
}
