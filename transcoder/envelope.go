package transcoder

import (
	"encoding/binary"
	"errors"
	"io"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The length-prefixed envelope shared by gRPC, gRPC-Web and Connect
// streaming: one flags byte, a 4-byte big-endian length, then the message.
const (
	envelopeHeaderLen = 5
	// flagCompressed marks a message compressed with the stream's encoding.
	flagCompressed byte = 0x01
	// flagConnectEndStream marks Connect's end-of-stream message.
	flagConnectEndStream byte = 0x02
	// flagGRPCWebTrailer marks gRPC-Web's trailer frame.
	flagGRPCWebTrailer byte = 0x80
)

// envelopeReader reads envelopes from a request body. A body that ends
// cleanly between envelopes gives io.EOF; every other malformation is an
// INVALID_ARGUMENT status, and a message over the limit RESOURCE_EXHAUSTED,
// detected from the length prefix before the message is read.
type envelopeReader struct {
	r        io.Reader
	maxBytes int64 // negative: no limit
	header   [envelopeHeaderLen]byte
}

// next reads one envelope, appending its message to buf[:0].
func (e *envelopeReader) next(buf []byte) (flags byte, msg []byte, err error) {
	n, err := io.ReadFull(e.r, e.header[:])
	switch {
	case err == io.EOF:
		return 0, nil, io.EOF
	case errors.Is(err, io.ErrUnexpectedEOF):
		return 0, nil, status.Errorf(codes.InvalidArgument, "truncated frame: body ended %d bytes into a 5-byte frame header", n)
	case err != nil:
		return 0, nil, readError(err)
	}
	flags = e.header[0]
	length := int64(binary.BigEndian.Uint32(e.header[1:]))
	if e.maxBytes >= 0 && length > e.maxBytes {
		return 0, nil, status.Errorf(codes.ResourceExhausted, "message of %d bytes exceeds the limit of %d bytes", length, e.maxBytes)
	}
	// The buffer grows with what actually arrives, so a 5-byte header that
	// claims megabytes costs memory only once the bytes come.
	buf = buf[:0]
	for int64(len(buf)) < length {
		step := length - int64(len(buf))
		if int64(cap(buf)) < length {
			step = min(step, max(int64(len(buf)), envelopeReadStep))
		}
		buf = slices.Grow(buf, int(step))
		m, err := io.ReadFull(e.r, buf[len(buf):len(buf)+int(step)])
		buf = buf[:len(buf)+m]
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
				return 0, nil, status.Errorf(codes.InvalidArgument, "truncated frame: length prefix says %d bytes, body has %d", length, len(buf))
			}
			return 0, nil, readError(err)
		}
	}
	return flags, buf, nil
}

// envelopeReadStep is the first step of reading a message whose buffer is
// too small; each further step doubles what has been read.
const envelopeReadStep = 32 << 10

// readError turns a failure to read the request body into a status: the
// client went away (CANCELED) or sent something unreadable.
func readError(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	var tooBig *bodyTooLargeError
	if errors.As(err, &tooBig) {
		return tooBig
	}
	return status.Errorf(codes.Canceled, "reading request body: %v", err)
}

// appendEnvelope appends msg framed as one envelope to dst.
func appendEnvelope(dst []byte, flags byte, msg []byte) []byte {
	var h [envelopeHeaderLen]byte
	h[0] = flags
	binary.BigEndian.PutUint32(h[1:], uint32(len(msg)))
	dst = append(dst, h[:]...)
	return append(dst, msg...)
}
