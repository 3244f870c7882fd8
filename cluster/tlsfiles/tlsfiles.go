// Package tlsfiles serves TLS certificates and CA pools from PEM files and
// loads them again when the files change, so certificates are renewed
// without a restart. Errors name the files, never their contents.
package tlsfiles

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// Pair is a certificate and its key kept in step with their files.
type Pair struct {
	certFile, keyFile string

	mu      sync.Mutex
	cert    *tls.Certificate
	modCert time.Time
	modKey  time.Time
	checked time.Time
}

// LoadPair loads certFile and keyFile.
func LoadPair(certFile, keyFile string) (*Pair, error) {
	p := &Pair{certFile: certFile, keyFile: keyFile}
	if err := p.load(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Pair) load() error {
	cs, err := os.Stat(p.certFile)
	if err != nil {
		return fmt.Errorf("certificate: %w", err)
	}
	ks, err := os.Stat(p.keyFile)
	if err != nil {
		return fmt.Errorf("key: %w", err)
	}
	if p.cert != nil && cs.ModTime().Equal(p.modCert) && ks.ModTime().Equal(p.modKey) {
		return nil
	}
	c, err := tls.LoadX509KeyPair(p.certFile, p.keyFile)
	if err != nil {
		return fmt.Errorf("%s and %s do not load as a certificate and its key", p.certFile, p.keyFile)
	}
	p.cert, p.modCert, p.modKey = &c, cs.ModTime(), ks.ModTime()
	return nil
}

// Current returns the pair, loading the files again if they changed
// (checked at most once a second). A renewal that does not load keeps the
// previous pair.
func (p *Pair) Current() *tls.Certificate {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.checked) >= time.Second {
		p.checked = time.Now()
		_ = p.load()
	}
	return p.cert
}

// GetCertificate is a tls.Config.GetCertificate.
func (p *Pair) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return p.Current(), nil
}

// GetClientCertificate is a tls.Config.GetClientCertificate.
func (p *Pair) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return p.Current(), nil
}

// Pool reads the PEM certificates of file into a pool.
func Pool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}

// Mutual returns the server and client configurations of mutual TLS
// between peers that share a CA: each side presents pair and accepts only
// a peer whose certificate chains to ca (peers are reached by address, so
// the chain is what is verified, not a host name).
func Mutual(pair *Pair, ca *x509.CertPool) (server, client *tls.Config) {
	verify := func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("the peer sent no certificate")
		}
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: ca, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		if err != nil {
			return fmt.Errorf("the peer's certificate is not of this cluster's CA: %w", err)
		}
		return nil
	}
	server = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: pair.GetCertificate,
		ClientAuth: tls.RequireAnyClientCert, VerifyConnection: verify}
	client = &tls.Config{MinVersion: tls.VersionTLS12, GetClientCertificate: pair.GetClientCertificate,
		InsecureSkipVerify: true, // the chain is verified by VerifyConnection, without a host name
		VerifyConnection:   verify}
	return server, client
}
