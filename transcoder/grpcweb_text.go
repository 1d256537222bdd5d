package transcoder

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// gRPC-Web's text mode (application/grpc-web-text) carries the binary
// gRPC-Web stream base64-encoded, for clients that can only handle text
// bodies. The body is not one base64 document: a sender may flush a padded
// chunk whenever it likes, so padding can appear in the middle of the
// stream ("AAAA" "AQ==" "AAE=" …). Each padded chunk is decoded on its own.

// webTextChunk is how many base64 characters webTextDecoder buffers (a
// multiple of 4).
const webTextChunk = 4096

// webTextDecoder is an io.Reader decoding a gRPC-Web text body as it
// arrives, whatever the boundaries of the reads from the underlying body.
//
// It accepts the standard base64 alphabet, padding at the end of any
// 4-character quantum (which ends that chunk; the next quantum starts
// afresh), and a final quantum left unpadded. CR and LF are skipped, as
// encoding/base64 does; any other character outside the alphabet, including
// spaces, is an error. Errors are INVALID_ARGUMENT statuses, except those of
// the underlying reader, which are passed through as they are.
type webTextDecoder struct {
	src io.Reader
	// in holds characters read but not decoded yet, CR and LF removed:
	// fewer than 4 between calls to fill.
	in  [webTextChunk]byte
	nin int
	// out holds decoded bytes not returned yet.
	out  [webTextChunk / 4 * 3]byte
	outR int
	outW int
	// err is returned once out is drained.
	err error
}

func newWebTextDecoder(src io.Reader) *webTextDecoder { return &webTextDecoder{src: src} }

// Read implements io.Reader.
func (d *webTextDecoder) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for d.outR == d.outW {
		if d.err != nil {
			return 0, d.err
		}
		d.fill()
	}
	n := copy(p, d.out[d.outR:d.outW])
	d.outR += n
	return n, nil
}

// fill reads once from the source and decodes every complete quantum it
// has, setting d.err at the end of the input or on failure.
func (d *webTextDecoder) fill() {
	d.outR, d.outW = 0, 0
	n, rerr := d.src.Read(d.in[d.nin:])
	// Drop CR and LF in place.
	kept := d.nin
	for _, c := range d.in[d.nin : d.nin+n] {
		if c != '\r' && c != '\n' {
			d.in[kept] = c
			kept++
		}
	}
	d.nin = kept

	whole := d.nin &^ 3
	if err := d.decode(d.in[:whole]); err != nil {
		d.err = err
		return
	}
	d.nin = copy(d.in[:], d.in[whole:d.nin])

	switch {
	case rerr == nil:
		return
	case rerr != io.EOF:
		d.err = rerr
		return
	}
	// End of input: what is left is an unpadded final quantum.
	switch d.nin {
	case 0:
	case 1:
		d.err = status.Error(codes.InvalidArgument, "invalid base64 in gRPC-Web text body: the body ends inside a 4-character group")
		return
	default:
		m, err := base64.RawStdEncoding.Decode(d.out[d.outW:], d.in[:d.nin])
		d.outW += m
		if err != nil {
			d.err = webTextError(err)
			return
		}
		d.nin = 0
	}
	d.err = io.EOF
}

// decode decodes src, a whole number of quanta, into d.out, one padded
// chunk at a time.
func (d *webTextDecoder) decode(src []byte) error {
	for len(src) > 0 {
		end := len(src)
		if i := bytes.IndexByte(src, '='); i >= 0 {
			end = (i/4 + 1) * 4 // the quantum holding the padding ends the chunk
		}
		m, err := base64.StdEncoding.Decode(d.out[d.outW:], src[:end])
		d.outW += m
		if err != nil {
			return webTextError(err)
		}
		src = src[end:]
	}
	return nil
}

func webTextError(err error) error {
	var corrupt base64.CorruptInputError
	if errors.As(err, &corrupt) {
		return status.Error(codes.InvalidArgument, "invalid base64 in gRPC-Web text body")
	}
	return status.Errorf(codes.InvalidArgument, "invalid base64 in gRPC-Web text body: %v", err)
}

// appendWebText appends frame base64-encoded (standard alphabet, padded) to
// dst. A gRPC-Web text response encodes each frame on its own, so a client
// can decode every frame as soon as it has it.
func appendWebText(dst, frame []byte) []byte {
	return base64.StdEncoding.AppendEncode(dst, frame)
}
