package app

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"testing"
	"time"

	"github.com/actorserve/actorserve/cluster/clustertest"
)

// TestHTTPOverTLS: with a certificate the API speaks only HTTPS, asks
// clients for a certificate of its client CA (mutual TLS), and serves a
// renewed certificate without a restart.
func TestHTTPOverTLS(t *testing.T) {
	dir := t.TempDir()
	ca := clustertest.NewCA(t)
	srvCert, srvKey := ca.Issue(t, dir, "server", 100)
	cliCert, cliKey := ca.Issue(t, dir, "client", 200)
	caFile := ca.WriteCA(t, dir, "ca.pem")
	b := ingBroker(t)
	n := ingStartNode(t, b.Addrs(), "tls1", nil, func(c *NodeConfig) {
		c.HTTP.TLSCert, c.HTTP.TLSKey, c.HTTP.TLSClientCA = srvCert, srvKey, caFile
	})
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
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
	ca.Issue(t, dir, "server", 101)
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
