package app

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
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testCA issues certificates for tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "actorserve test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue writes a certificate for 127.0.0.1 with serial (server and client
// use) and its key to dir, returning their paths.
func (ca *testCA) issue(t *testing.T, dir, name string, serial int64) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	// Written to temporary names and renamed, as certificate managers do.
	for _, f := range []struct {
		path string
		data []byte
	}{{keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})}, {certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}} {
		if err := os.WriteFile(f.path+".tmp", f.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(f.path+".tmp", f.path); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile
}

// TestHTTPOverTLS: with a certificate the API speaks only HTTPS, asks
// clients for a certificate of its client CA (mutual TLS), and serves a
// renewed certificate without a restart.
func TestHTTPOverTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	srvCert, srvKey := ca.issue(t, dir, "server", 100)
	cliCert, cliKey := ca.issue(t, dir, "client", 200)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	b := ingBroker(t)
	n := ingStartNode(t, b.Addrs(), "tls1", nil, func(c *NodeConfig) {
		c.HTTP.TLSCert, c.HTTP.TLSKey, c.HTTP.TLSClientCA = srvCert, srvKey, caFile
	})
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	client := func(withCert bool) *http.Client {
		tc := &tls.Config{RootCAs: roots}
		if withCert {
			c, err := tls.LoadX509KeyPair(cliCert, cliKey)
			if err != nil {
				t.Fatal(err)
			}
			tc.Certificates = []tls.Certificate{c}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}, Timeout: 5 * time.Second}
	}
	get := func(cl *http.Client, url string) (*http.Response, error) {
		resp, err := cl.Get(url)
		if err == nil {
			resp.Body.Close()
		}
		return resp, err
	}
	url := "https://" + n.HTTPAddr() + "/livez"
	resp, err := get(client(true), url)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("HTTPS with a client certificate: %v %v", resp, err)
	}
	if s := resp.TLS.PeerCertificates[0].SerialNumber.Int64(); s != 100 {
		t.Errorf("served certificate serial %d, want 100", s)
	}
	if _, err := get(client(false), url); err == nil {
		t.Errorf("HTTPS without a client certificate was served")
	}
	if resp, err := get(http.DefaultClient, "http://"+n.HTTPAddr()+"/livez"); err == nil && resp.StatusCode == 200 {
		t.Errorf("plain HTTP was served")
	}

	// Renew the server certificate in place: new connections get it.
	time.Sleep(1100 * time.Millisecond) // file times must differ
	ca.issue(t, dir, "server", 101)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := get(client(true), url)
		if err == nil && resp.TLS.PeerCertificates[0].SerialNumber.Int64() == 101 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the renewed certificate was not served within 10 s (last: %v %v)", resp, err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The CLI reaches it with $ACTORSERVE_CA_FILE and a client certificate.
	t.Setenv(CAFileEnv, caFile)
	t.Setenv(ClientCertEnv, cliCert)
	t.Setenv(ClientKeyEnv, cliKey)
	cl, err := apiClient()
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := get(cl, url); err != nil || resp.StatusCode != 200 {
		t.Errorf("the CLI's client: %v %v", resp, err)
	}
}
