package gateway

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/portico-gw/portico/config"
)

// TestTLSStampSeesFilesRewrittenInPlace: rotating a certificate under the
// same path changes the stamp, so a reload makes a new connection.
func TestTLSStampSeesFilesRewrittenInPlace(t *testing.T) {
	dir := t.TempDir()
	cert := filepath.Join(dir, "client.pem")
	os.WriteFile(cert, []byte("old certificate"), 0o600)
	c := &config.ClientTLS{Cert: cert, Key: cert}
	before := tlsStamp(c)
	os.WriteFile(cert, []byte("new certificate"), 0o600)
	if tlsStamp(c) == before {
		t.Error("the stamp did not change when the file's content did")
	}
	if tlsStamp(nil) != "" {
		t.Error("no TLS should stamp as empty")
	}
}

// TestProtosStampSeesImports: with protos.files naming one file, an edit
// of a file it imports (under the root) is still noticed.
func TestProtosStampSeesImports(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "x"), 0o755)
	os.WriteFile(filepath.Join(root, "x", "api.proto"), []byte(`syntax = "proto3"; import "x/msgs.proto";`), 0o644)
	msgs := filepath.Join(root, "x", "msgs.proto")
	os.WriteFile(msgs, []byte(`syntax = "proto3";`), 0o644)
	b := &backendRuntime{cfg: config.Backend{Schema: config.Schema{Source: config.SourceProtos, Protos: &config.Protos{Root: root, Files: []string{"x/api.proto"}}}}}
	before, err := b.sourceStamp()
	if err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Second)
	os.WriteFile(msgs, []byte(`syntax = "proto3"; message M { string extra = 1; }`), 0o644)
	os.Chtimes(msgs, later, later)
	if after, _ := b.sourceStamp(); after == before {
		t.Error("an edited import did not change the stamp")
	}
}
