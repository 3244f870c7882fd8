package queryable

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// certReloader serves a certificate and key from files, loading them again
// when either file changes (checked at most once a second, on handshakes),
// so a renewed certificate is served without a restart. A renewal that does
// not load (half written, mismatched) keeps the previous pair.
type certReloader struct {
	certFile, keyFile string

	mu      sync.Mutex
	cert    *tls.Certificate
	modCert time.Time
	modKey  time.Time
	checked time.Time
	lastErr error
}

func newCertReloader(certFile, keyFile string) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *certReloader) load() error {
	cs, err := os.Stat(r.certFile)
	if err != nil {
		return fmt.Errorf("tls-cert: %w", err)
	}
	ks, err := os.Stat(r.keyFile)
	if err != nil {
		return fmt.Errorf("tls-key: %w", err)
	}
	if r.cert != nil && cs.ModTime().Equal(r.modCert) && ks.ModTime().Equal(r.modKey) {
		return nil
	}
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		// Never echo the files: the key is a secret.
		return fmt.Errorf("tls-cert %s and tls-key %s do not load as a certificate and its key", r.certFile, r.keyFile)
	}
	r.cert, r.modCert, r.modKey = &c, cs.ModTime(), ks.ModTime()
	return nil
}

func (r *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) >= time.Second {
		r.checked = time.Now()
		if err := r.load(); err != nil && (r.lastErr == nil || err.Error() != r.lastErr.Error()) {
			r.lastErr = err // kept serving the previous pair
		}
	}
	return r.cert, nil
}

// TLSConfig returns the HTTP server's TLS configuration, or nil when no
// certificate is configured (plain HTTP). With TLSClientCA, clients must
// present a certificate signed by it (mutual TLS).
func (c Config) TLSConfig() (*tls.Config, error) {
	if c.TLSCert == "" && c.TLSKey == "" {
		if c.TLSClientCA != "" {
			return nil, errors.New("http: tls-client-ca needs tls-cert and tls-key")
		}
		return nil, nil
	}
	if c.TLSCert == "" || c.TLSKey == "" {
		return nil, errors.New("http: give both tls-cert and tls-key")
	}
	r, err := newCertReloader(c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("http: %w", err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.get}
	if c.TLSClientCA != "" {
		pem, err := os.ReadFile(c.TLSClientCA)
		if err != nil {
			return nil, fmt.Errorf("http: tls-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("http: tls-client-ca %s holds no PEM certificate", c.TLSClientCA)
		}
		tc.ClientCAs, tc.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return tc, nil
}
