// Package transcoder is Portico's heart: an http.Handler that serves gRPC
// backends to every kind of client on one port, driven by schemas learned at
// run time, with no code generated per API.
//
// [Handler] tells the client protocol from the request (handler.go):
// REST/JSON (protocol_rest.go, and rest_stream.go / rest_websocket.go for
// streaming methods), gRPC-Web in binary and text form (protocol_grpcweb.go,
// grpcweb_text.go), Connect (protocol_connect.go, connect_error.go) and
// native gRPC, passed through undecoded (protocol_grpc.go). Portico answers
// gRPC server reflection itself over every backend's schema (reflection.go)
// and CORS preflights for browsers (cors.go). The RPC protocols share the
// length-prefixed envelope (envelope.go), gzip (compression.go), JSON
// transcoding through the schema (codec.go) and one stream proxy for every
// call shape (streamcall.go), which writes each reply as it arrives so that
// HTTP/2 flow control, not buffering, absorbs a slow client.
//
// A REST request goes through these steps:
//
//  1. [Handler] reads the current [Snapshot] once; the request finishes on
//     it even if a reload swaps in another meanwhile.
//  2. The snapshot's route trie (router.go) matches the HTTP method and the
//     escaped path against every google.api.http binding of every method,
//     plus POST /pkg.Service/Method for each. An unknown path is 404; a
//     known path under another HTTP method is 405 with an Allow header.
//  3. protocol_rest.go binds the request into a dynamic input message: the
//     JSON body (protojson semantics, or raw bytes for google.api.HttpBody),
//     then path variables (pathtemplate.go, fieldvalue.go), then the query
//     string (query.go). Anything that does not parse is a 400 and the
//     backend is never called.
//  4. The message is encoded once and sent as bytes on the backend's
//     connection (package upstream), with metadata built from the request
//     headers (metadata.go) and a deadline from Grpc-Timeout or the defaults
//     (timeout.go).
//  5. The reply is written as JSON by the configured output options, or as
//     the raw bytes of an HttpBody; a failure becomes a google.rpc.Status
//     body with the HTTP status that errors.go maps its code to.
//
// Everything a request needs that can be known in advance (field
// descriptors of path variables and bodies, HttpBody fields, type resolvers)
// is resolved when the snapshot is built (snapshot.go), not per request.
package transcoder
