package queryable

import (
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/actorserve/actorserve/cluster/tlsfiles"
)

// TLSConfig returns the HTTP server's TLS configuration, or nil when no
// certificate is configured (plain HTTP). The certificate and key are
// loaded again when their files change (a renewal that does not load keeps
// the previous pair). With TLSClientCA, clients must present a certificate
// signed by it (mutual TLS).
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
	pair, err := tlsfiles.LoadPair(c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("http: tls: %w", err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: pair.GetCertificate}
	if c.TLSClientCA != "" {
		pool, err := tlsfiles.Pool(c.TLSClientCA)
		if err != nil {
			return nil, fmt.Errorf("http: tls-client-ca: %w", err)
		}
		tc.ClientCAs, tc.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return tc, nil
}
