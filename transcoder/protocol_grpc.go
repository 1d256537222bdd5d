package transcoder

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Native gRPC (gRPC over HTTP/2, as specified in grpc/grpc
// doc/PROTOCOL-HTTP2.md) is passed through to the backend without decoding
// the messages: the envelopes are read from the request body, inflated if
// compressed, and their bytes go upstream as they are (see [proxyStream]);
// replies come back the same way. Only the +json content subtype costs a
// transcoding per message, since backends speak protobuf.
//
// The protocol decisions, in the order a request meets them:
//
//   - Reflection paths go to Portico's own reflection service.
//   - gRPC needs HTTP/2 (trailers, full duplex). An HTTP/1.x request gets
//     505 HTTP Version Not Supported with a plain-text body, as grpc-go's
//     own http.Handler answers; the spec's 415 is for requests whose
//     content type is not application/grpc at all, which never reach here.
//     A method other than POST is 405 with Allow: POST.
//   - Content subtypes: none or +proto pass the bytes through; +json is
//     transcoded through the method's schema; any other is UNIMPLEMENTED.
//     The response's Content-Type mirrors the request's.
//   - A path naming no method is UNIMPLEMENTED, as a gRPC server answers.
//   - grpc-encoding: identity (or absent) or gzip; any other encoding is
//     UNIMPLEMENTED before anything is read, and every response carries
//     grpc-accept-encoding: gzip. A message flagged compressed on a stream
//     without an encoding is INTERNAL, as in grpc-go. Replies are gzipped
//     when the request was (Portico mirrors the client's encoding, as
//     grpc-go servers do) unless the client's grpc-accept-encoding leaves
//     gzip out.
//   - Limits: each message, compressed or inflated, is limited to
//     Options.MaxRequestBytes (RESOURCE_EXHAUSTED); there is no limit on the
//     number of messages of a stream.
//   - grpc-timeout sets the backend call's deadline through
//     Options.callTimeout (DefaultTimeout when absent, capped by
//     MaxTimeout); a malformed value is INVALID_ARGUMENT. The TE: trailers
//     header the spec requires is not checked, since some proxies drop it.
//   - Request headers become metadata by [rpcRequestMetadata].
//
// Every error Portico itself finds is a Trailers-Only response (HTTP 200,
// grpc-status in the headers, no body). The backend's outcome is relayed
// as it came: header metadata as response headers, then the messages, then
// trailers with grpc-status, grpc-message (percent-encoded),
// grpc-status-details-bin (when the status has details) and the trailer
// metadata. A backend that fails after sending header metadata but no
// message gets the same shape (headers, then trailers), as grpc-go servers
// send it; one that sends neither gets Trailers-Only. Binary (-bin)
// metadata values are base64-encoded without padding, as the spec asks.

// Response content types, one per accepted request content subtype. The
// header values are shared, read-only slices, so that setting them costs no
// allocation per request.
var (
	grpcContentTypeBare  = []string{"application/grpc"}
	grpcContentTypeProto = []string{"application/grpc+proto"}
	grpcContentTypeJSON  = []string{"application/grpc+json"}
	grpcAcceptEncoding   = []string{supportedEncodings}
	grpcEncodingGzip     = []string{encodingGzip}
	grpcAllowPost        = []string{http.MethodPost}
	// grpcStatusValues[c] is the grpc-status header value of code c.
	grpcStatusValues = func() [][]string {
		v := make([][]string, 17)
		for i := range v {
			v[i] = []string{strconv.Itoa(i)}
		}
		return v
	}()
)

// Trailer names, with net/http's prefix for undeclared trailers.
const (
	grpcTrailerStatus  = http.TrailerPrefix + "Grpc-Status"
	grpcTrailerMessage = http.TrailerPrefix + "Grpc-Message"
	grpcTrailerDetails = http.TrailerPrefix + "Grpc-Status-Details-Bin"
)

// serveGRPC serves a native gRPC request: see the comment above.
func (s *Snapshot) serveGRPC(w http.ResponseWriter, r *http.Request) {
	if isReflectionPath(r.URL.Path) {
		s.reflectionHandler().ServeHTTP(w, r)
		return
	}
	if r.ProtoMajor < 2 {
		http.Error(w, "gRPC requires HTTP/2", http.StatusHTTPVersionNotSupported)
		return
	}
	if r.Method != http.MethodPost {
		w.Header()["Allow"] = grpcAllowPost
		http.Error(w, "gRPC requests must use POST, not "+r.Method, http.StatusMethodNotAllowed)
		return
	}

	contentType, isJSON, ok := grpcResponseContentType(r.Header.Get("Content-Type"))
	if !ok {
		nativeGRPCTrailersOnly(w, grpcContentTypeBare, status.Newf(codes.Unimplemented,
			"content type %q is not supported; use application/grpc, application/grpc+proto or application/grpc+json", r.Header.Get("Content-Type")), nil)
		return
	}
	m := s.lookupMethod(r.URL.Path)
	if m == nil {
		nativeGRPCTrailersOnly(w, contentType, status.Newf(codes.Unimplemented, "unknown method %s", r.URL.Path), nil)
		return
	}

	var reqEncoding string
	switch enc := r.Header.Get("Grpc-Encoding"); enc {
	case "", encodingIdentity:
	case encodingGzip:
		reqEncoding = encodingGzip
	default:
		nativeGRPCTrailersOnly(w, contentType, status.Newf(codes.Unimplemented,
			"grpc-encoding %q is not supported; supported: %s", enc, supportedEncodings), nil)
		return
	}

	timeout, err := m.opts.callTimeout(r.Header.Get("Grpc-Timeout"))
	if err != nil {
		nativeGRPCTrailersOnly(w, contentType, toStatus(err), nil)
		return
	}
	md, err := rpcRequestMetadata(r)
	if err != nil {
		nativeGRPCTrailersOnly(w, contentType, toStatus(err), nil)
		return
	}

	ctx, cancel := callContext(r, md, timeout)
	defer cancel()

	maxBytes := m.opts.maxRequestBytes()
	c := &nativeGRPCStream{
		ctx:         ctx,
		s:           s,
		m:           m,
		json:        isJSON,
		reqEncoding: reqEncoding,
		maxBytes:    maxBytes,
		body:        envelopeReader{r: r.Body, maxBytes: maxBytes},
		w:           w,
		rc:          http.NewResponseController(w),
		contentType: contentType,
	}
	if reqEncoding == encodingGzip {
		accept := r.Header.Get("Grpc-Accept-Encoding")
		c.gzipReplies = accept == "" || acceptsEncoding(accept, encodingGzip)
	}
	if timeout > 0 {
		// The deadline bounds reading the request too: a client that
		// stalls mid-message must not hold the call past it. The read
		// deadline may only be set while the handler runs, hence done.
		var mu sync.Mutex
		done := false
		stop := context.AfterFunc(ctx, func() {
			mu.Lock()
			defer mu.Unlock()
			if !done {
				_ = c.rc.SetReadDeadline(time.Now())
			}
		})
		defer func() {
			stop()
			mu.Lock()
			done = true
			mu.Unlock()
		}()
	}
	s.proxyStream(ctx, m, c)
}

// grpcResponseContentType checks a gRPC request's content type and returns
// the response's, which mirrors it, and whether messages are JSON.
func grpcResponseContentType(ct string) (contentType []string, isJSON, ok bool) {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	const prefix = "application/grpc"
	if len(ct) < len(prefix) || !strings.EqualFold(ct[:len(prefix)], prefix) {
		return nil, false, false
	}
	switch sub := ct[len(prefix):]; {
	case sub == "":
		return grpcContentTypeBare, false, true
	case strings.EqualFold(sub, "+proto"):
		return grpcContentTypeProto, false, true
	case strings.EqualFold(sub, "+json"):
		return grpcContentTypeJSON, true, true
	}
	return nil, false, false
}

// nativeGRPCStream is the native gRPC side of a call, for [proxyStream].
// receive runs on one goroutine and the other methods on another (for
// client-streaming calls they run at the same time), so the two sides share
// no mutable state: the receive side owns body, the send side everything
// from w on.
type nativeGRPCStream struct {
	ctx         context.Context // the call's
	s           *Snapshot
	m           *method
	json        bool   // the +json subtype: transcode every message
	reqEncoding string // "" or encodingGzip
	maxBytes    int64

	body envelopeReader

	w           http.ResponseWriter
	rc          *http.ResponseController
	contentType []string
	gzipReplies bool
	// failed holds an error of the send side that is not the client going
	// away (a reply that cannot be written as JSON): proxyStream reports
	// every send error as CANCELED, so finish puts this one back.
	failed error
	// prefix is the envelope header of the reply being written.
	prefix [envelopeHeaderLen]byte
}

// grpcBufferPool holds scratch buffers for compressed and JSON messages,
// which are only needed until they are inflated, transcoded or written.
var grpcBufferPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// grpcMaxPooledBuffer keeps a rare huge message from pinning its buffer in
// the pool.
const grpcMaxPooledBuffer = 64 << 10

func getGRPCBuffer() *[]byte { return grpcBufferPool.Get().(*[]byte) }

func putGRPCBuffer(b *[]byte) {
	if cap(*b) > grpcMaxPooledBuffer {
		return
	}
	*b = (*b)[:0]
	grpcBufferPool.Put(b)
}

func (c *nativeGRPCStream) receive() ([]byte, error) {
	msg, err := c.receiveMessage()
	if err != nil && err != io.EOF && c.ctx.Err() == context.DeadlineExceeded {
		// Reading stopped at the call's deadline (see serveGRPC).
		err = status.Error(codes.DeadlineExceeded, "deadline exceeded while reading the request")
	}
	return msg, err
}

func (c *nativeGRPCStream) receiveMessage() ([]byte, error) {
	if !c.json && c.reqEncoding == "" {
		// The common case: the message's bytes are handed upstream as
		// they are, and gRPC may hold on to them after SendMsg returns,
		// so each message gets a slice of its own, sized exactly.
		flags, msg, err := c.body.next(nil)
		if err != nil {
			return nil, err
		}
		if err := checkGRPCFlags(flags, ""); err != nil {
			return nil, err
		}
		return msg, nil
	}

	// The envelope's bytes are transformed (inflated, transcoded) into a
	// new slice, so they can be read into a scratch buffer.
	buf := getGRPCBuffer()
	defer putGRPCBuffer(buf)
	flags, msg, err := c.body.next(*buf)
	if err != nil {
		return nil, err
	}
	if cap(msg) <= grpcMaxPooledBuffer {
		*buf = msg[:0]
	}
	if err := checkGRPCFlags(flags, c.reqEncoding); err != nil {
		return nil, err
	}
	transformed := false
	if flags&flagCompressed != 0 {
		if msg, err = decompress(c.reqEncoding, msg, c.maxBytes); err != nil {
			return nil, err
		}
		transformed = true
	}
	if c.json {
		if msg, err = c.s.jsonToWire(c.m, c.m.input, msg); err != nil {
			return nil, err
		}
		transformed = true
	}
	if !transformed {
		// An uncompressed message on a gzip stream: it still sits in the
		// scratch buffer.
		msg = bytes.Clone(msg)
	}
	return msg, nil
}

// checkGRPCFlags checks an envelope's flags byte: gRPC defines only the
// compressed bit, which needs a grpc-encoding.
func checkGRPCFlags(flags byte, encoding string) error {
	if flags&^flagCompressed != 0 {
		return status.Errorf(codes.InvalidArgument, "malformed frame: unknown flags 0x%02x", flags)
	}
	if flags&flagCompressed != 0 && encoding == "" {
		return status.Error(codes.Internal, "message flagged compressed, but the request has no grpc-encoding")
	}
	return nil
}

func (c *nativeGRPCStream) sendHeader(header metadata.MD) error {
	c.writeHeader(header)
	return nil
}

// writeHeader writes the response headers of a call with a body (not
// Trailers-Only).
func (c *nativeGRPCStream) writeHeader(header metadata.MD) {
	h := c.w.Header()
	h["Content-Type"] = c.contentType
	h["Grpc-Accept-Encoding"] = grpcAcceptEncoding
	if c.gzipReplies {
		h["Grpc-Encoding"] = grpcEncodingGzip
	}
	copyGRPCMetadata(h, "", header)
	c.w.WriteHeader(http.StatusOK)
}

func (c *nativeGRPCStream) send(msg []byte) error {
	var scratch *[]byte
	if c.json {
		js, err := c.s.wireToJSON(c.m, c.m.output, msg)
		if err != nil {
			c.failed = err
			return err
		}
		msg = js
	}
	flags := byte(0)
	if c.gzipReplies {
		scratch = getGRPCBuffer()
		*scratch = compress((*scratch)[:0], msg)
		msg = *scratch
		flags = flagCompressed
	}
	c.prefix[0] = flags
	binary.BigEndian.PutUint32(c.prefix[1:], uint32(len(msg)))
	// Two writes rather than one: the response writer buffers small
	// messages into one DATA frame anyway, and a large one is not copied.
	_, err := c.w.Write(c.prefix[:])
	if err == nil {
		_, err = c.w.Write(msg)
	}
	if scratch != nil {
		putGRPCBuffer(scratch)
	}
	if err == nil {
		err = c.rc.Flush()
	}
	return err
}

func (c *nativeGRPCStream) finish(st *status.Status, headerSent bool, header, trailer metadata.MD) {
	if c.failed != nil {
		st = toStatus(c.failed)
	}
	if !headerSent {
		if len(header) == 0 {
			nativeGRPCTrailersOnly(c.w, c.contentType, st, trailer)
			return
		}
		// The backend sent headers but no message: relay both frames.
		c.writeHeader(header)
	}
	h := c.w.Header()
	h[grpcTrailerStatus] = grpcStatusValue(st.Code())
	if msg := st.Message(); msg != "" {
		h[grpcTrailerMessage] = []string{grpcPercentEncode(msg)}
	}
	if details := grpcStatusDetails(st); details != "" {
		h[grpcTrailerDetails] = []string{details}
	}
	copyGRPCMetadata(h, http.TrailerPrefix, trailer)
}

// nativeGRPCTrailersOnly writes a Trailers-Only response: HTTP 200 and the
// status, with any trailer metadata, in the headers, and no body.
func nativeGRPCTrailersOnly(w http.ResponseWriter, contentType []string, st *status.Status, trailer metadata.MD) {
	h := w.Header()
	h["Content-Type"] = contentType
	h["Grpc-Accept-Encoding"] = grpcAcceptEncoding
	h["Grpc-Status"] = grpcStatusValue(st.Code())
	if msg := st.Message(); msg != "" {
		h["Grpc-Message"] = []string{grpcPercentEncode(msg)}
	}
	if details := grpcStatusDetails(st); details != "" {
		h["Grpc-Status-Details-Bin"] = []string{details}
	}
	copyGRPCMetadata(h, "", trailer)
	w.WriteHeader(http.StatusOK)
}

func grpcStatusValue(c codes.Code) []string {
	if int(c) < len(grpcStatusValues) {
		return grpcStatusValues[c]
	}
	return []string{strconv.FormatUint(uint64(c), 10)}
}

// grpcStatusDetails returns the grpc-status-details-bin value of st: its
// google.rpc.Status, base64-encoded, or "" when it has no details.
func grpcStatusDetails(st *status.Status) string {
	if st.Code() == codes.OK {
		return ""
	}
	p := st.Proto()
	if len(p.GetDetails()) == 0 {
		return ""
	}
	b, err := proto.Marshal(p)
	if err != nil {
		return ""
	}
	return base64.RawStdEncoding.EncodeToString(b)
}

// copyGRPCMetadata writes metadata as HTTP/2 header fields under their own
// (lowercase) names, prefixed by prefix (http.TrailerPrefix for trailers).
// Binary values are base64-encoded without padding, as gRPC sends them.
// Reserved names (grpc-*, content-type…) and hop-by-hop ones are dropped:
// the gateway owns them.
func copyGRPCMetadata(h http.Header, prefix string, md metadata.MD) {
	for key, values := range md {
		if reservedMetadataKey(key) || hopByHopHeaders[key] || !validMetadataKey(key) {
			continue
		}
		name := key
		if prefix != "" {
			name = prefix + key
		}
		if !strings.HasSuffix(key, "-bin") {
			h[name] = append(h[name], values...)
			continue
		}
		for _, v := range values {
			h[name] = append(h[name], base64.RawStdEncoding.EncodeToString([]byte(v)))
		}
	}
}

// grpcPercentEncode encodes a grpc-message value as the gRPC spec asks:
// bytes outside printable ASCII, and '%', become %XX (uppercase hex).
func grpcPercentEncode(msg string) string {
	for i := 0; i < len(msg); i++ {
		if c := msg[i]; c < 0x20 || c > 0x7e || c == '%' {
			return grpcPercentEncodeFrom(msg, i)
		}
	}
	return msg
}

func grpcPercentEncodeFrom(msg string, i int) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(msg) + 16)
	b.WriteString(msg[:i])
	for ; i < len(msg); i++ {
		c := msg[i]
		if c >= 0x20 && c <= 0x7e && c != '%' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0x0f])
	}
	return b.String()
}

func (c *nativeGRPCStream) stopReceiving() { _ = c.rc.SetReadDeadline(time.Now()) }
