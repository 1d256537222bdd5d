package transcoder

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// gRPC-Web (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-WEB.md)
// is gRPC for clients that cannot use HTTP/2 trailers, browsers above all.
// Portico serves it on any HTTP version and turns each call into a gRPC call
// to the backend through [Snapshot.proxyStream]:
//
//   - Content types: application/grpc-web, application/grpc-web+proto,
//     application/grpc-web+json, application/grpc-web-text and
//     application/grpc-web-text+proto (also application/grpc-web-text+json),
//     compared case-insensitively and ignoring parameters. Any other
//     application/grpc-web… subtype is HTTP 415. The response's content
//     type mirrors the request's media type, so it says the same codec and
//     the same binary or text framing (connect-go checks this).
//   - Only POST is served; any other HTTP method is HTTP 405 with Allow:
//     POST, carrying grpc-status 12 (UNIMPLEMENTED) in its headers as well.
//     Every other response is HTTP 200 and reports its outcome in
//     grpc-status.
//   - The path is /pkg.Service/Method; a method the snapshot does not have
//     is UNIMPLEMENTED.
//   - +json messages are transcoded to and from protobuf through the
//     method's schema; the backend only ever sees protobuf.
//   - Text mode: the request body is base64, decoded as it arrives and
//     allowed to be several separately padded chunks (webTextDecoder); in
//     the response every frame, data or trailer, is base64-encoded on its
//     own, padded, and flushed, so a client can decode as it reads.
//   - Request messages flagged compressed are inflated with the request's
//     grpc-encoding (gzip; identity or none means the flag is a protocol
//     error, INTERNAL; an unknown encoding is UNIMPLEMENTED). Replies are
//     gzipped, with grpc-encoding: gzip on the response, when the client
//     lists gzip in grpc-accept-encoding or sent its request gzipped, and
//     then only messages of at least grpcWebCompressMinBytes: smaller ones
//     go out with the compressed flag clear, which the envelope allows.
//     The trailer frame is never compressed.
//   - grpc-timeout sets the call's deadline (Options.DefaultTimeout and
//     MaxTimeout apply); every other request header is metadata by the
//     rules of rpcRequestMetadata.
//   - The backend's header metadata becomes response headers (-bin values
//     base64, padded). Its status and trailer metadata go in a final
//     trailer frame (flag 0x80): lowercase "key: value\r\n" lines with
//     grpc-status, grpc-message (percent-encoded) and
//     grpc-status-details-bin when the status has details. The spec's
//     suggestion to leave -bin trailer values unencoded in text mode is not
//     followed: raw bytes could break the line format, and clients decode
//     base64 -bin values in both modes.
//   - A call that ends before any reply message (an error, bad input, or a
//     stream with no replies) is answered trailers-only: the status,
//     header and trailer metadata all in the HTTP headers, and an empty
//     body. Both connect-go and the grpc-web JavaScript clients read the
//     status from the headers when the body is empty.
//   - Bad input (a truncated frame, a length prefix longer than the body,
//     invalid base64, invalid JSON, a message over Options.MaxRequestBytes,
//     which is RESOURCE_EXHAUSTED) fails the call; for a method taking one
//     request message it is detected before the backend is called, so
//     nothing is forwarded.
//
// Client and bidirectional streaming work where the transport carries the
// request body and the response at once: on HTTP/2 (connect-go's gRPC-Web
// client streams both ways there). On HTTP/1.1 the server is switched to
// full duplex for such methods, which suits clients that can do it; a
// client that sends its whole body first still gets every reply.

// grpcWebCompressMinBytes is the smallest reply worth compressing: below
// it, gzip's own overhead eats most of the gain.
const grpcWebCompressMinBytes = 512

// grpcWebContentType parses a gRPC-Web request content type. mediaType is
// the lowercased media type without parameters.
func grpcWebContentType(ct string) (mediaType string, text, json, ok bool) {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	mediaType = strings.ToLower(strings.TrimSpace(ct))
	switch mediaType {
	case "application/grpc-web", "application/grpc-web+proto":
		return mediaType, false, false, true
	case "application/grpc-web+json":
		return mediaType, false, true, true
	case "application/grpc-web-text", "application/grpc-web-text+proto":
		return mediaType, true, false, true
	case "application/grpc-web-text+json":
		return mediaType, true, true, true
	}
	return mediaType, false, false, false
}

func (s *Snapshot) serveGRPCWeb(w http.ResponseWriter, r *http.Request) {
	mediaType, text, json, ok := grpcWebContentType(r.Header.Get("Content-Type"))
	c := &grpcWebStream{
		s:           s,
		w:           w,
		rc:          http.NewResponseController(w),
		contentType: mediaType,
		text:        text,
		json:        json,
	}
	switch {
	case r.Method != http.MethodPost:
		w.Header().Set("Allow", http.MethodPost)
		c.httpStatus = http.StatusMethodNotAllowed
		c.finish(status.Newf(codes.Unimplemented, "gRPC-Web calls use POST, not %s", r.Method), false, nil, nil)
		return
	case !ok:
		c.contentType = "application/grpc-web+proto"
		c.httpStatus = http.StatusUnsupportedMediaType
		c.finish(status.Newf(codes.Unimplemented, "content type %q is not supported; send application/grpc-web[+proto|+json] or application/grpc-web-text[+proto]", mediaType), false, nil, nil)
		return
	}

	switch enc := strings.TrimSpace(r.Header.Get("Grpc-Encoding")); {
	case enc == "" || strings.EqualFold(enc, encodingIdentity):
	case strings.EqualFold(enc, encodingGzip):
		c.reqEncoding = encodingGzip
	default:
		c.finish(status.Newf(codes.Unimplemented, "grpc-encoding %q is not supported; supported: %s", enc, supportedEncodings), false, nil, nil)
		return
	}
	c.sendGzip = c.reqEncoding == encodingGzip || acceptsEncoding(r.Header.Get("Grpc-Accept-Encoding"), encodingGzip)

	m := s.lookupMethod(r.URL.Path)
	if m == nil {
		c.finish(status.Newf(codes.Unimplemented, "unknown method %s", r.URL.Path), false, nil, nil)
		return
	}
	c.m = m
	c.maxBytes = m.opts.maxRequestBytes()

	md, err := rpcRequestMetadata(r)
	if err != nil {
		c.finish(toStatus(err), false, nil, nil)
		return
	}
	timeout, err := m.opts.callTimeout(r.Header.Get("Grpc-Timeout"))
	if err != nil {
		c.finish(toStatus(err), false, nil, nil)
		return
	}
	ctx, cancel := callContext(r, md, timeout)
	defer cancel()

	if m.desc.IsStreamingClient() && r.ProtoMajor == 1 {
		// Let replies go out while the request body is still being read.
		_ = c.rc.EnableFullDuplex()
	}
	body := r.Body
	if text {
		c.body.r = newWebTextDecoder(body)
	} else {
		c.body.r = body
	}
	c.body.maxBytes = c.maxBytes
	s.proxyStream(ctx, m, c)
}

// grpcWebStream is the gRPC-Web side of a call. receive runs on one
// goroutine and the reply methods on another, so they share no state.
type grpcWebStream struct {
	s  *Snapshot
	m  *method // nil until the method is known
	w  http.ResponseWriter
	rc *http.ResponseController

	contentType string // the response's, mirroring the request's
	text        bool
	json        bool
	maxBytes    int64

	// Request side.
	body        envelopeReader
	reqEncoding string // "" or encodingGzip

	// Reply side.
	sendGzip   bool
	httpStatus int // for trailers-only responses; 0 means 200
	wroteHead  bool
	frame      []byte
	encoded    []byte
	// sendErr is why send failed when the failure is Portico's, not the
	// client's (a reply that cannot be written as JSON): finish reports it
	// instead of the cancellation proxyStream assumes.
	sendErr error
}

func (c *grpcWebStream) receive() ([]byte, error) {
	flags, msg, err := c.body.next(nil)
	if err != nil {
		return nil, err
	}
	switch flags {
	case 0:
	case flagCompressed:
		if c.reqEncoding == "" {
			return nil, status.Error(codes.Internal, "message flagged compressed, but the request has no grpc-encoding")
		}
		if msg, err = decompress(c.reqEncoding, msg, c.maxBytes); err != nil {
			return nil, err
		}
	default:
		return nil, status.Errorf(codes.InvalidArgument, "invalid gRPC-Web frame flags 0x%02x in a request", flags)
	}
	if c.json {
		return c.s.jsonToWire(c.m, c.m.input, msg)
	}
	return msg, nil
}

func (c *grpcWebStream) sendHeader(header metadata.MD) error {
	h := c.w.Header()
	c.setCommonHeaders(h)
	if c.sendGzip {
		h.Set("Grpc-Encoding", encodingGzip)
	}
	grpcWebCopyMetadata(h, header)
	c.w.WriteHeader(http.StatusOK)
	c.wroteHead = true
	return nil
}

func (c *grpcWebStream) setCommonHeaders(h http.Header) {
	h.Set("Content-Type", c.contentType)
	h.Set("Grpc-Accept-Encoding", supportedEncodings)
	// Browsers must take the body for what the content type says.
	h.Set("X-Content-Type-Options", "nosniff")
}

func (c *grpcWebStream) send(msg []byte) error {
	if c.json {
		b, err := c.s.wireToJSON(c.m, c.m.output, msg)
		if err != nil {
			c.sendErr = err
			return err
		}
		msg = b
	}
	flags := byte(0)
	if c.sendGzip && len(msg) >= grpcWebCompressMinBytes {
		c.encoded = compress(c.encoded[:0], msg)
		msg, flags = c.encoded, flagCompressed
	}
	c.frame = appendEnvelope(c.frame[:0], flags, msg)
	return c.writeFrame(c.frame)
}

// writeFrame writes one frame, base64-encoded in text mode, and flushes it.
func (c *grpcWebStream) writeFrame(frame []byte) error {
	out := frame
	if c.text {
		c.encoded = appendWebText(c.encoded[:0], frame)
		out = c.encoded
	}
	if _, err := c.w.Write(out); err != nil {
		return err
	}
	// A writer that cannot flush (a middleware hiding the connection's)
	// still delivers the frame, later.
	if err := c.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

func (c *grpcWebStream) finish(st *status.Status, headerSent bool, header, trailer metadata.MD) {
	if c.sendErr != nil {
		st = toStatus(c.sendErr)
	}
	if !headerSent && !c.wroteHead {
		// Trailers-only: everything in the headers, an empty body.
		h := c.w.Header()
		c.setCommonHeaders(h)
		grpcWebCopyMetadata(h, header)
		grpcWebCopyMetadata(h, trailer)
		for _, kv := range grpcWebStatusFields(st) {
			h.Set(kv[0], kv[1])
		}
		h.Set("Content-Length", "0")
		code := c.httpStatus
		if code == 0 {
			code = http.StatusOK
		}
		c.w.WriteHeader(code)
		c.logFailure(st)
		return
	}
	c.frame = appendGRPCWebTrailer(c.frame[:0], st, trailer)
	_ = c.writeFrame(c.frame)
	c.logFailure(st)
}

func (c *grpcWebStream) logFailure(st *status.Status) {
	switch st.Code() {
	case codes.Unknown, codes.Internal, codes.DataLoss:
		name := ""
		if c.m != nil {
			name = string(c.m.desc.FullName())
		}
		c.s.opts.logger().Warn("gRPC-Web call failed", "rpc", name, "code", st.Code().String(), "message", st.Message())
	}
}

// appendGRPCWebTrailer appends the trailer frame ending a gRPC-Web response.
func appendGRPCWebTrailer(dst []byte, st *status.Status, trailer metadata.MD) []byte {
	start := len(dst)
	dst = append(dst, flagGRPCWebTrailer, 0, 0, 0, 0)
	for _, kv := range grpcWebStatusFields(st) {
		dst = append(dst, kv[0]...)
		dst = append(dst, ": "...)
		dst = append(dst, kv[1]...)
		dst = append(dst, "\r\n"...)
	}
	for key, values := range trailer {
		if !grpcWebForwardableKey(key) {
			continue
		}
		for _, v := range values {
			v, ok := grpcWebMetadataValue(key, v)
			if !ok {
				continue
			}
			dst = append(dst, key...)
			dst = append(dst, ": "...)
			dst = append(dst, v...)
			dst = append(dst, "\r\n"...)
		}
	}
	n := len(dst) - start - envelopeHeaderLen
	dst[start+1], dst[start+2], dst[start+3], dst[start+4] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	return dst
}

// grpcWebStatusFields lists a status as gRPC's trailer fields, keys
// lowercase.
func grpcWebStatusFields(st *status.Status) [][2]string {
	fields := make([][2]string, 0, 3)
	fields = append(fields, [2]string{"grpc-status", strconv.Itoa(int(st.Code()))})
	if msg := st.Message(); msg != "" {
		fields = append(fields, [2]string{"grpc-message", grpcPercentEncode(msg)})
	}
	if details := grpcStatusDetails(st); details != "" {
		fields = append(fields, [2]string{"grpc-status-details-bin", details})
	}
	return fields
}

// grpcWebCopyMetadata adds backend metadata to the response headers.
func grpcWebCopyMetadata(h http.Header, md metadata.MD) {
	for key, values := range md {
		if !grpcWebForwardableKey(key) {
			continue
		}
		for _, v := range values {
			if v, ok := grpcWebMetadataValue(key, v); ok {
				h.Add(key, v)
			}
		}
	}
}

// grpcWebForwardableKey reports whether backend metadata under key may be
// written as a response header or trailer: not gRPC's own fields, not
// headers that describe the HTTP message itself.
func grpcWebForwardableKey(key string) bool {
	if reservedMetadataKey(key) || hopByHopHeaders[key] || !validMetadataKey(key) {
		return false
	}
	switch key {
	case "content-length", "content-encoding":
		return false
	}
	return true
}

// grpcWebMetadataValue renders a metadata value for a header line: -bin
// values base64-encoded, others only if they are printable ASCII.
func grpcWebMetadataValue(key, v string) (string, bool) {
	if strings.HasSuffix(key, "-bin") {
		return base64.StdEncoding.EncodeToString([]byte(v)), true
	}
	return v, validMetadataValue(v)
}

func (c *grpcWebStream) stopReceiving() { _ = c.rc.SetReadDeadline(time.Now()) }
