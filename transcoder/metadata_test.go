package transcoder

import (
	"net/http"
	"testing"
)

func TestRPCRequestMetadata(t *testing.T) {
	r, _ := http.NewRequest("POST", "http://gw/pkg.S/M", nil)
	r.RemoteAddr = "192.0.2.1:5000"
	r.Header.Set("Connection", "keep-alive, X-Hop-Secret")
	r.Header.Set("X-Hop-Secret", "internal-only")
	r.Header.Set("X-Multi-Bin", "AAE=, AgM")
	r.Header.Set("X-Tenant", "acme")
	r.Header.Set("Grpc-Timeout", "1S")
	md, err := rpcRequestMetadata(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := md["x-hop-secret"]; ok {
		t.Error("a header named by Connection was forwarded")
	}
	if got := md["x-multi-bin"]; len(got) != 2 || got[0] != "\x00\x01" || got[1] != "\x02\x03" {
		t.Errorf("x-multi-bin %q, want two values", got)
	}
	if got := md["x-tenant"]; len(got) != 1 || got[0] != "acme" {
		t.Errorf("x-tenant %q", got)
	}
	if _, ok := md["grpc-timeout"]; ok {
		t.Error("grpc-timeout forwarded as metadata")
	}
	if got := md["x-forwarded-for"]; len(got) != 1 || got[0] != "192.0.2.1" {
		t.Errorf("x-forwarded-for %q", got)
	}
}

func TestTruncateUTF8(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 5, "abc"},
		{"abcdef", 3, "abc"},
		{"ééé", 3, "é"}, // "é" is 2 bytes: cutting at 3 would split the second
		{"ééé", 4, "éé"},
		{"😀x", 2, ""},
	} {
		if got := truncateUTF8(tc.in, tc.n); got != tc.want {
			t.Errorf("truncateUTF8(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
