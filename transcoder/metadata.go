package transcoder

import (
	"encoding/base64"
	"net"
	"net/http"
	"strings"

	"google.golang.org/grpc/metadata"
)

// Request headers become gRPC metadata by these rules:
//
//   - Grpc-Metadata-<Key>: <value> becomes <key>: <value>. Keys ending in
//     -bin carry binary values, which clients send base64-encoded (standard
//     or URL-safe alphabet, padded or not); they are decoded here and gRPC
//     encodes them again on the wire.
//   - Authorization, and the headers named in Options.ForwardHeaders, are
//     forwarded under their own lowercased names.
//   - Hop-by-hop headers (RFC 9110 §7.6.1, plus any the Connection header
//     names) and names gRPC reserves for itself (grpc-*, content-type, te,
//     user-agent) are never forwarded, whichever rule would have picked them.
//   - X-Forwarded-For gets the client's address appended, and
//     X-Forwarded-Host is set to the Host the client asked for.
//
// Response metadata goes the other way: header metadata becomes
// Grpc-Metadata-<Key> headers and trailer metadata Grpc-Trailer-<Key>
// headers, binary values base64-encoded (standard alphabet, padded).

const (
	metadataHeaderPrefix = "Grpc-Metadata-"
	trailerHeaderPrefix  = "Grpc-Trailer-"
)

var hopByHopHeaders = map[string]bool{
	"connection":          true,
	"keep-alive":          true,
	"proxy-connection":    true,
	"proxy-authenticate":  true,
	"proxy-authorization": true,
	"te":                  true,
	"trailer":             true,
	"transfer-encoding":   true,
	"upgrade":             true,
}

// reservedMetadataKey reports keys a client must not set: gRPC's own
// protocol headers.
func reservedMetadataKey(key string) bool {
	switch key {
	case "content-type", "te", "user-agent", "host":
		return true
	}
	return strings.HasPrefix(key, "grpc-") || strings.HasPrefix(key, ":")
}

// validMetadataKey reports whether key is a legal gRPC metadata key:
// lowercase letters, digits, '-', '_' and '.'.
func validMetadataKey(key string) bool {
	if key == "" {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// validMetadataValue reports whether v can travel as an ASCII metadata
// value: printable ASCII and spaces.
func validMetadataValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

// decodeBinaryHeader decodes a -bin value sent in any base64 alphabet,
// padded or not.
func decodeBinaryHeader(v string) ([]byte, error) {
	v = strings.TrimRight(strings.TrimSpace(v), "=")
	if strings.ContainsAny(v, "-_") {
		return base64.RawURLEncoding.DecodeString(v)
	}
	return base64.RawStdEncoding.DecodeString(v)
}

// appendBinaryValues decodes one -bin header line, which may hold several
// base64 values separated by commas (gRPC over HTTP/2), onto values.
func appendBinaryValues(values []string, header string) ([]string, error) {
	for part := range strings.SplitSeq(header, ",") {
		b, err := decodeBinaryHeader(part)
		if err != nil {
			return nil, err
		}
		values = append(values, string(b))
	}
	return values, nil
}

// addMetadataValues adds a request header's values to md under key:
// binary (-bin) values decoded from base64 (several per line allowed),
// others checked to be printable ASCII. name is the header, for errors.
func addMetadataValues(md metadata.MD, key, name string, values []string) error {
	binary := strings.HasSuffix(key, "-bin")
	for _, v := range values {
		if binary {
			decoded, err := appendBinaryValues(md[key], v)
			if err != nil {
				return malformedRequest("header %s: binary metadata must be base64: %v", name, err)
			}
			md[key] = decoded
			continue
		}
		if !validMetadataValue(v) {
			return malformedRequest("header %s: metadata values must be printable ASCII", name)
		}
		md[key] = append(md[key], v)
	}
	return nil
}

// connectionTokens returns the headers a request's Connection header names,
// which are hop-by-hop like the fixed ones, or nil.
func connectionTokens(h http.Header) map[string]bool {
	var tokens map[string]bool
	for _, v := range h.Values("Connection") {
		for tok := range strings.SplitSeq(v, ",") {
			if tok = strings.ToLower(strings.TrimSpace(tok)); tok != "" {
				if tokens == nil {
					tokens = map[string]bool{}
				}
				tokens[tok] = true
			}
		}
	}
	return tokens
}

// outgoingMetadata builds the metadata sent to the backend from the client's
// request headers.
func (o *Options) outgoingMetadata(r *http.Request, forward map[string]bool) (metadata.MD, error) {
	md := make(metadata.MD, 4)
	hop := connectionTokens(r.Header)
	for name, values := range r.Header {
		lower := strings.ToLower(name)
		if hopByHopHeaders[lower] || hop[lower] {
			continue
		}
		var key string
		switch {
		case strings.HasPrefix(lower, "grpc-metadata-"):
			key = lower[len(metadataHeaderPrefix):]
		case lower == "authorization" || forward[lower]:
			key = lower
		default:
			continue
		}
		if reservedMetadataKey(key) || hopByHopHeaders[key] || !validMetadataKey(key) {
			continue
		}
		if err := addMetadataValues(md, key, name, values); err != nil {
			return nil, err
		}
	}
	addForwardedMetadata(md, r)
	return md, nil
}

// writeResponseMetadata copies the backend's header and trailer metadata to
// the response headers.
func writeResponseMetadata(h http.Header, header, trailer metadata.MD) {
	copyMetadata(h, metadataHeaderPrefix, header)
	copyMetadata(h, trailerHeaderPrefix, trailer)
}

func copyMetadata(h http.Header, prefix string, md metadata.MD) {
	for key, values := range md {
		if reservedMetadataKey(key) {
			continue
		}
		name := http.CanonicalHeaderKey(prefix + key)
		binary := strings.HasSuffix(key, "-bin")
		for _, v := range values {
			if binary {
				v = base64.StdEncoding.EncodeToString([]byte(v))
			}
			h[name] = append(h[name], v)
		}
	}
}

// rpcRequestMetadata builds the metadata of a call made by an RPC protocol
// (gRPC, gRPC-Web, Connect), where, unlike REST, every request header is
// metadata by definition. Left out: hop-by-hop headers, names gRPC reserves
// (grpc-*, content-type, te, user-agent, host), the protocol's own framing
// headers (Connect-*, X-Grpc-Web, X-User-Agent, Content-Encoding,
// Content-Length, Accept*, Origin, Access-Control-*) and headers that are
// not valid metadata. Binary (-bin) values arrive base64-encoded and are
// decoded. X-Forwarded-For and X-Forwarded-Host are set as for REST.
func rpcRequestMetadata(r *http.Request) (metadata.MD, error) {
	md := make(metadata.MD, len(r.Header)+2)
	hop := connectionTokens(r.Header)
	for name, values := range r.Header {
		key := strings.ToLower(name)
		if hopByHopHeaders[key] || hop[key] || reservedMetadataKey(key) || rpcFramingHeader(key) || !validMetadataKey(key) {
			continue
		}
		if err := addMetadataValues(md, key, name, values); err != nil {
			return nil, err
		}
	}
	addForwardedMetadata(md, r)
	return md, nil
}

// rpcFramingHeader reports request headers that belong to the client
// protocol rather than to the application.
func rpcFramingHeader(key string) bool {
	switch key {
	case "x-grpc-web", "x-user-agent", "content-encoding", "content-length", "accept", "accept-encoding",
		"origin", "referer", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "cookie":
		return true
	}
	return strings.HasPrefix(key, "connect-") || strings.HasPrefix(key, "access-control-") ||
		strings.HasPrefix(key, "sec-") || strings.HasPrefix(key, "x-forwarded-")
}

// addForwardedMetadata sets x-forwarded-for (the client's address appended
// to any the request carried) and x-forwarded-host.
func addForwardedMetadata(md metadata.MD, r *http.Request) {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		xff := host
		if prior := r.Header.Values("X-Forwarded-For"); len(prior) > 0 {
			xff = strings.Join(prior, ", ") + ", " + host
		}
		md["x-forwarded-for"] = []string{xff}
	}
	if r.Host != "" {
		md["x-forwarded-host"] = []string{r.Host}
	}
}
