package transcoder

import (
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Message compression for the envelope protocols. gzip is the one encoding
// every gRPC, gRPC-Web and Connect implementation supports; "identity" means
// none.
const (
	encodingIdentity = "identity"
	encodingGzip     = "gzip"
)

// supportedEncodings is what Portico advertises in *-Accept-Encoding.
const supportedEncodings = "gzip"

var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(io.Discard) }}

// decompress inflates a gzip message, refusing to produce more than
// maxBytes (negative: no limit), so a small compressed message cannot
// expand into an unbounded one.
func decompress(encoding string, msg []byte, maxBytes int64) ([]byte, error) {
	if encoding != encodingGzip {
		return nil, status.Errorf(codes.Unimplemented, "message compressed with unsupported encoding %q", encoding)
	}
	zr, err := gzip.NewReader(bytes.NewReader(msg))
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "invalid gzip message: %v", err)
	}
	var src io.Reader = zr
	if maxBytes >= 0 {
		src = io.LimitReader(zr, maxBytes+1)
	}
	out, err := io.ReadAll(src)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "invalid gzip message: %v", err)
	}
	if maxBytes >= 0 && int64(len(out)) > maxBytes {
		return nil, status.Errorf(codes.ResourceExhausted, "decompressed message exceeds the limit of %d bytes", maxBytes)
	}
	return out, nil
}

// compress gzips msg, appending to dst.
func compress(dst, msg []byte) []byte {
	buf := bytes.NewBuffer(dst)
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(buf)
	_, _ = zw.Write(msg)
	_ = zw.Close()
	gzipWriters.Put(zw)
	return buf.Bytes()
}

// acceptsEncoding reports whether an *-Accept-Encoding header lists enc.
func acceptsEncoding(header, enc string) bool {
	for _, part := range strings.Split(header, ",") {
		if name, _, _ := strings.Cut(strings.TrimSpace(part), ";"); strings.EqualFold(name, enc) {
			return true
		}
	}
	return false
}
