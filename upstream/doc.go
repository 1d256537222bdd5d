// Package upstream holds Portico's connections to its gRPC backends.
//
// Each backend gets exactly one grpc.ClientConn, shared by every request and
// every protocol; grpc-go multiplexes calls over it and reconnects on its own.
// Messages cross the gateway as bytes: the transcoder encodes a request once,
// and [RawCodec] hands those bytes to the transport untouched (and the reply's
// bytes back), so no message is marshalled twice.
package upstream
