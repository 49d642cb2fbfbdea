package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
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
)

// pki writes a CA and a certificate signed by it for name; server
// certificates also carry 127.0.0.1.
type pki struct {
	dir  string
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
}

func newPKI(t *testing.T, dir, name string) *pki {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	p := &pki{dir: dir, key: key, cert: cert}
	writePEM(t, filepath.Join(dir, name+".pem"), "CERTIFICATE", der)
	return p
}

func (p *pki) issue(t *testing.T, name string, server bool) (certFile, keyFile string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{name}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(p.dir, name+".crt"), filepath.Join(p.dir, name+".key")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", kder)
	return certFile, keyFile
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestFibctlOverMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newPKI(t, dir, "ca")
	srvCert, srvKey := ca.issue(t, "fibd", true)
	cliCert, cliKey := ca.issue(t, "admin", false)
	rogue := newPKI(t, dir, "rogue")
	rogueCert, rogueKey := rogue.issue(t, "mallory", false)
	addr := freePort(t)
	d := startFibd(t, "", "--socket", "", "--state", "", "--listen", addr,
		"--tls-cert", srvCert, "--tls-key", srvKey, "--tls-client-ca", filepath.Join(dir, "ca.pem"))

	tcp := func(cert, key string, args ...string) []string {
		return append([]string{"--addr", addr, "--tls-ca", filepath.Join(dir, "ca.pem"), "--tls-cert", cert, "--tls-key", key,
			"--tls-server-name", "fibd", "--timeout", "5s"}, args...)
	}
	if out := d.ok(tcp(cliCert, cliKey, "info")...); !strings.Contains(out, "dataplane: none") {
		t.Fatalf("info over mTLS:\n%s", out)
	}
	d.ok(tcp(cliCert, cliKey, "fib", "add", "10")...)
	d.fails(tcp(rogueCert, rogueKey, "fib", "add", "11"), "cannot reach fibd")
	d.fails([]string{"--addr", addr, "info"}, "TLS")
	if out := d.ok(tcp(cliCert, cliKey, "fib", "show")...); strings.Contains(out, "11 ") {
		t.Fatalf("a client with a foreign certificate changed fibd:\n%s", out)
	}
	// fibd refuses TCP without mutual TLS.
	fibdBin, _ := binaries(t)
	if msg, err := execOutput(fibdBin, "--socket", "", "--listen", freePort(t)); err == nil || !strings.Contains(msg, "mutual TLS") {
		t.Fatalf("fibd served TCP without TLS: %v %s", err, msg)
	}
}
