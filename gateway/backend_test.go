package gateway_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portico-gw/portico/config"
	"github.com/portico-gw/portico/internal/testbackend"
)

// TestTargetsRoundRobin spreads calls over every address of a backend.
func TestTargetsRoundRobin(t *testing.T) {
	a := testbackend.Start(t, "replica-a", testbackend.WithOther())
	b := testbackend.Start(t, "replica-b", testbackend.WithOther())
	cfg := &config.Config{Version: 1, Backends: []config.Backend{{Name: "other", Targets: []string{a.Addr, b.Addr}}}}
	r := run(t, cfg, nil)
	eventually(t, "ready", r.g.Ready)
	seen := map[string]int{}
	for range 20 {
		_, body := get(t, r.url+"/v1/other/ping/x")
		switch {
		case strings.Contains(body, "replica-a"):
			seen["a"]++
		case strings.Contains(body, "replica-b"):
			seen["b"]++
		default:
			t.Fatalf("reply %s", body)
		}
	}
	if seen["a"] == 0 || seen["b"] == 0 {
		t.Errorf("calls per replica %v: want both used", seen)
	}
}

// TestBackendMutualTLS connects to a backend that requires a client
// certificate; without the right one, its schema never loads.
func TestBackendMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t)
	serverCert := ca.issue(t, "backend", []net.IP{net.ParseIP("127.0.0.1")}, x509.ExtKeyUsageServerAuth)
	clientCertFile, clientKeyFile := ca.issueFiles(t, dir, "portico", x509.ExtKeyUsageClientAuth)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	backend := testbackend.Start(t, "secure", testbackend.WithOther(), testbackend.WithTLS(&tls.Config{
		Certificates: []tls.Certificate{serverCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.pool,
		MinVersion:   tls.VersionTLS12,
	}))
	cfg := &config.Config{Version: 1, Backends: []config.Backend{{
		Name: "secure", Target: backend.Addr,
		TLS: &config.ClientTLS{CA: caFile, Cert: clientCertFile, Key: clientKeyFile},
	}}}
	r := run(t, cfg, nil)
	eventually(t, "ready over mTLS", r.g.Ready)
	if code, body := get(t, r.url+"/v1/other/ping/tls"); code != 200 || !strings.Contains(body, `"servedBy":"secure"`) {
		t.Fatalf("%d %s", code, body)
	}

	// Without a client certificate the backend refuses the connection.
	noCert := &config.Config{Version: 1, Backends: []config.Backend{{Name: "secure", Target: backend.Addr, TLS: &config.ClientTLS{CA: caFile}}}}
	r2 := run(t, noCert, nil)
	time.Sleep(500 * time.Millisecond)
	if r2.g.Ready() {
		t.Fatal("the schema loaded without a client certificate")
	}
}

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
	pool *x509.CertPool
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "portico test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pool: pool}
}

func (ca *testCA) sign(t *testing.T, name string, ips []net.IP, usage x509.ExtKeyUsage) (der []byte, key *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		IPAddresses: ips, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	der, err = x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

func (ca *testCA) issue(t *testing.T, name string, ips []net.IP, usage x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	der, key := ca.sign(t, name, ips, usage)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func (ca *testCA) issueFiles(t *testing.T, dir, name string, usage x509.ExtKeyUsage) (certFile, keyFile string) {
	t.Helper()
	der, key := ca.sign(t, name, nil, usage)
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
