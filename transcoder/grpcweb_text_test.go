package transcoder

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// chunkedReader returns its data in reads of the given sizes, cycling
// through them; a zero size is an empty read.
type chunkedReader struct {
	data  []byte
	sizes []int
	i     int
}

func (r *chunkedReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := 1
	if len(r.sizes) > 0 {
		n = r.sizes[r.i%len(r.sizes)]
		r.i++
	}
	n = min(n, len(p), len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// referenceWebTextDecode decodes a whole gRPC-Web text body at once: CR and
// LF dropped, then the body cut after every run of padding, each piece
// decoded as a base64 document (the last one possibly unpadded).
func referenceWebTextDecode(in []byte) ([]byte, error) {
	s := strings.NewReplacer("\r", "", "\n", "").Replace(string(in))
	var out []byte
	for len(s) > 0 {
		end := len(s)
		if i := strings.IndexByte(s, '='); i >= 0 {
			for end = i; end < len(s) && s[end] == '='; end++ {
			}
		}
		chunk := s[:end]
		s = s[end:]
		enc := base64.StdEncoding
		if !strings.HasSuffix(chunk, "=") && len(chunk)%4 != 0 {
			enc = base64.RawStdEncoding
		}
		b, err := enc.DecodeString(chunk)
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	return out, nil
}

func decodeWebTextAll(r io.Reader) ([]byte, error) {
	return io.ReadAll(newWebTextDecoder(r))
}

func TestGRPCWebTextDecoder(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{in: "", want: ""},
		{in: "QQ==", want: "A"},
		{in: "QUI=", want: "AB"},
		{in: "QUJD", want: "ABC"},
		{in: "QUJDRA==", want: "ABCD"},
		// Separately padded chunks, one after another.
		{in: "QQ==QUI=QUJD", want: "AABABC"},
		{in: "QQ==QQ==QQ==", want: "AAA"},
		{in: "QUI=QUJDRA==QQ", want: "ABABCDA"},
		// Unpadded final group.
		{in: "QQ", want: "A"},
		{in: "QUI", want: "AB"},
		{in: "QUJDRA", want: "ABCD"},
		// CR and LF are skipped anywhere.
		{in: "QU\r\nJD\nRA=\n=", want: "ABCD"},
		{in: "\n\n\n", want: ""},
		// Errors.
		{in: "Q", wantErr: true},
		{in: "QUJDR", wantErr: true},
		{in: "QQ=", wantErr: true},
		{in: "Q===", wantErr: true},
		{in: "====", wantErr: true},
		{in: "QQ===", wantErr: true},
		{in: "QQ=A", wantErr: true},
		{in: "QUJD=QQ=", wantErr: true},
		{in: "QQ==Q", wantErr: true},
		{in: "QU I=", wantErr: true},
		{in: "QUI=\t", wantErr: true},
		{in: "QUJ-", wantErr: true}, // URL-safe alphabet is not base64 here
		{in: "QUJ_", wantErr: true},
		{in: "@@@@", wantErr: true},
		{in: "QUJD\x00", wantErr: true},
	}
	for _, tt := range tests {
		ref, refErr := referenceWebTextDecode([]byte(tt.in))
		if (refErr != nil) != tt.wantErr || (refErr == nil && string(ref) != tt.want) {
			t.Fatalf("reference(%q) = %q, %v; the table disagrees", tt.in, ref, refErr)
		}
		// Every split of the input into two reads, plus one byte at a time.
		readers := map[string]func() io.Reader{
			"whole":    func() io.Reader { return strings.NewReader(tt.in) },
			"bytewise": func() io.Reader { return iotest.OneByteReader(strings.NewReader(tt.in)) },
			"dataerr":  func() io.Reader { return iotest.DataErrReader(strings.NewReader(tt.in)) },
		}
		for cut := 0; cut <= len(tt.in); cut++ {
			readers["cut"+strconv.Itoa(cut)] = func() io.Reader {
				return io.MultiReader(strings.NewReader(tt.in[:cut]), strings.NewReader(tt.in[cut:]))
			}
		}
		for name, mk := range readers {
			got, err := decodeWebTextAll(mk())
			if tt.wantErr {
				if err == nil {
					t.Errorf("%q (%s): decoded %q, want an error", tt.in, name, got)
				} else if status.Code(err) != codes.InvalidArgument {
					t.Errorf("%q (%s): error %v, want INVALID_ARGUMENT", tt.in, name, err)
				}
				continue
			}
			if err != nil || string(got) != tt.want {
				t.Errorf("%q (%s) = %q, %v; want %q", tt.in, name, got, err, tt.want)
			}
		}
	}
}

// TestGRPCWebTextDecoderChunks decodes large bodies made of many separately
// padded chunks, read in ragged pieces and returned through small buffers.
func TestGRPCWebTextDecoderChunks(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		var plain, text []byte
		for range rng.IntN(40) {
			chunk := make([]byte, rng.IntN(3000))
			for i := range chunk {
				chunk[i] = byte(rng.Uint32())
			}
			plain = append(plain, chunk...)
			text = base64.StdEncoding.AppendEncode(text, chunk)
			if rng.IntN(5) == 0 {
				text = append(text, "\r\n"...)
			}
		}
		sizes := make([]int, 1+rng.IntN(8))
		for i := range sizes {
			sizes[i] = rng.IntN(9000)
		}
		dec := newWebTextDecoder(&chunkedReader{data: text, sizes: sizes})
		var got []byte
		buf := make([]byte, 1+rng.IntN(5000))
		for {
			n, err := dec.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("round %d: decoded %d bytes, want %d (equal prefix: %v)", round, len(got), len(plain), bytes.HasPrefix(plain, got))
		}
	}
}

func TestGRPCWebTextDecoderSourceError(t *testing.T) {
	boom := errors.New("boom")
	_, err := decodeWebTextAll(io.MultiReader(strings.NewReader("QUJD"), iotest.ErrReader(boom)))
	if err != boom {
		t.Fatalf("error %v, want the source's", err)
	}
	// Decoded bytes before the failure are still delivered.
	got, err := io.ReadAll(iotest.DataErrReader(newWebTextDecoder(io.MultiReader(strings.NewReader("QUJD"), iotest.ErrReader(boom)))))
	if string(got) != "ABC" || err != boom {
		t.Fatalf("got %q, %v; want \"ABC\", boom", got, err)
	}
}

func TestAppendWebText(t *testing.T) {
	// Frames are encoded one by one, each padded: their concatenation is
	// what the decoder reads back.
	frames := [][]byte{{0}, {0, 0, 0, 0, 1, 'x'}, appendEnvelope(nil, 0x80, []byte("grpc-status: 0\r\n"))}
	var text, want []byte
	for _, f := range frames {
		enc := appendWebText(nil, f)
		if len(enc)%4 != 0 {
			t.Fatalf("frame %x encoded as %q: not padded", f, enc)
		}
		if dec, err := base64.StdEncoding.DecodeString(string(enc)); err != nil || !bytes.Equal(dec, f) {
			t.Fatalf("frame %x encoded as %q does not decode alone: %v", f, enc, err)
		}
		text = append(text, enc...)
		want = append(want, f...)
	}
	got, err := decodeWebTextAll(bytes.NewReader(text))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("round trip = %x, %v; want %x", got, err, want)
	}
}

func TestGRPCWebContentType(t *testing.T) {
	tests := []struct {
		ct               string
		media            string
		text, json, isOK bool
	}{
		{"application/grpc-web", "application/grpc-web", false, false, true},
		{"Application/GRPC-Web+Proto; charset=utf-8", "application/grpc-web+proto", false, false, true},
		{"application/grpc-web+json", "application/grpc-web+json", false, true, true},
		{" application/grpc-web-text ", "application/grpc-web-text", true, false, true},
		{"application/grpc-web-text+proto", "application/grpc-web-text+proto", true, false, true},
		{"application/grpc-web-text+json", "application/grpc-web-text+json", true, true, true},
		{"application/grpc-web+thrift", "application/grpc-web+thrift", false, false, false},
		{"application/grpc-webx", "application/grpc-webx", false, false, false},
	}
	for _, tt := range tests {
		media, text, json, ok := grpcWebContentType(tt.ct)
		if media != tt.media || text != tt.text || json != tt.json || ok != tt.isOK {
			t.Errorf("grpcWebContentType(%q) = %q, %v, %v, %v; want %q, %v, %v, %v", tt.ct, media, text, json, ok, tt.media, tt.text, tt.json, tt.isOK)
		}
	}
}

func TestGRPCWebTrailerFrame(t *testing.T) {
	st := status.New(codes.NotFound, "50% off\r\nnaïve")
	frame := appendGRPCWebTrailer(nil, st, metadata.MD{
		"x-t":          {"a", "b"},
		"x-raw-bin":    {"\x00\xff"},
		"grpc-status":  {"0"}, // reserved: never copied from metadata
		"x-bad":        {"line\r\nbreak"},
		"content-type": {"text/html"},
	})
	if frame[0] != flagGRPCWebTrailer || int(frame[1])<<24|int(frame[2])<<16|int(frame[3])<<8|int(frame[4]) != len(frame)-5 {
		t.Fatalf("bad frame header % x", frame[:5])
	}
	lines := strings.Split(strings.TrimSuffix(string(frame[5:]), "\r\n"), "\r\n")
	got := map[string][]string{}
	for _, l := range lines {
		k, v, ok := strings.Cut(l, ": ")
		if !ok {
			t.Fatalf("malformed line %q", l)
		}
		got[k] = append(got[k], v)
	}
	want := map[string][]string{
		"grpc-status":  {"5"},
		"grpc-message": {"50%25 off%0D%0Ana%C3%AFve"},
		"x-t":          {"a", "b"},
		"x-raw-bin":    {"AP8="},
	}
	if len(got) != len(want) {
		t.Fatalf("trailer fields %q, want %q", got, want)
	}
	for k, v := range want {
		if strings.Join(got[k], "|") != strings.Join(v, "|") {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

// FuzzGRPCWebTextDecoder checks the streaming decoder against decoding the
// whole body at once, whatever the read boundaries.
func FuzzGRPCWebTextDecoder(f *testing.F) {
	for _, seed := range []string{"", "QQ==", "QQ==QUI=QUJD", "QUJDRA", "QU\r\nJD", "Q===", "QQ=A", "@@@@", "QQ==Q"} {
		f.Add([]byte(seed), uint8(1), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, a, b uint8) {
		want, wantErr := referenceWebTextDecode(in)
		got, err := decodeWebTextAll(&chunkedReader{data: in, sizes: []int{int(a), int(b) + 1}})
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("%q: streaming error %v, whole-body error %v", in, err, wantErr)
		}
		if err != nil {
			if status.Code(err) != codes.InvalidArgument {
				t.Fatalf("%q: error %v is not INVALID_ARGUMENT", in, err)
			}
			return
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%q: streaming %x, whole body %x", in, got, want)
		}
	})
}

// FuzzEnvelopeReader feeds random bodies, binary or text, to the gRPC-Web
// request reader: it must never panic, never return a message over the
// limit, and fail only with statuses.
func FuzzEnvelopeReader(f *testing.F) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte("hello hello hello"))
	_ = zw.Close()
	seeds := [][]byte{
		nil,
		{0},
		{0, 0, 0, 0, 0},
		appendEnvelope(nil, 0, []byte("hi")),
		appendEnvelope(appendEnvelope(nil, 0, []byte("a")), 0, nil),
		appendEnvelope(nil, flagCompressed, gz.Bytes()),
		appendEnvelope(nil, 0x80, []byte("x")),
		{0, 0xff, 0xff, 0xff, 0xff},
		{0, 0, 0, 0, 10, 1, 2},
	}
	for _, s := range seeds {
		f.Add(s, false, false)
		f.Add(s, false, true)
		f.Add(base64.StdEncoding.AppendEncode(nil, s), true, true)
	}
	const limit = 1 << 12
	f.Fuzz(func(t *testing.T, body []byte, text, gzipped bool) {
		c := &grpcWebStream{maxBytes: limit, text: text}
		if gzipped {
			c.reqEncoding = encodingGzip
		}
		c.body.maxBytes = limit
		c.body.r = bytes.NewReader(body)
		if text {
			c.body.r = newWebTextDecoder(c.body.r)
		}
		for range 1000 {
			msg, err := c.receive()
			if err == io.EOF {
				return
			}
			if err != nil {
				st, ok := status.FromError(err)
				if !ok {
					t.Fatalf("error %v (%T) is not a status", err, err)
				}
				switch st.Code() {
				case codes.InvalidArgument, codes.ResourceExhausted, codes.Internal:
				default:
					t.Fatalf("unexpected code in %v", err)
				}
				return
			}
			if len(msg) > limit {
				t.Fatalf("message of %d bytes passed the %d-byte limit", len(msg), limit)
			}
		}
	})
}
