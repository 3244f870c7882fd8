package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// runCerts writes what a hardened cluster needs: a CA, a certificate per
// node (for remoting mTLS and HTTPS), a gossip key and bearer tokens. It
// never prints a secret; the files are readable by their owner only.
func runCerts(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("certs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "directory to write into (created; existing files are not overwritten)")
	nodes := fs.String("nodes", "n1,n2,n3", "node names, comma-separated: one certificate each")
	hosts := fs.String("hosts", "", "extra host names or addresses every certificate is valid for, comma-separated")
	valid := fs.Duration("valid", 365*24*time.Hour, "how long the certificates are valid")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return fmt.Errorf("%w: certs needs --dir", ErrUsage)
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	write := func(name string, data []byte) error {
		p := filepath.Join(*dir, name)
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			if errors.Is(err, os.ErrExist) {
				return fmt.Errorf("%s exists: certs never overwrites a file", p)
			}
			return err
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: "actorserve cluster CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(*valid), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	if err := write("ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})); err != nil {
		return err
	}
	if err := write("ca.key", pemKey(caKey)); err != nil {
		return err
	}
	var extra []string
	if *hosts != "" {
		extra = splitComma(*hosts)
	}
	names := splitComma(*nodes)
	for _, n := range names {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		tmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: n},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(*valid), KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
		for _, h := range append([]string{"127.0.0.1", "::1", "localhost", n}, extra...) {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			return err
		}
		if err := write(n+".crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})); err != nil {
			return err
		}
		if err := write(n+".key", pemKey(key)); err != nil {
			return err
		}
	}
	gk := make([]byte, 32)
	if _, err := rand.Read(gk); err != nil {
		return err
	}
	if err := write("gossip.keys", []byte(base64.StdEncoding.EncodeToString(gk)+"\n")); err != nil {
		return err
	}
	var tokens strings.Builder
	tokens.WriteString("# bearer tokens: TOKEN SCOPES (read, predict, admin)\n")
	for _, scope := range []string{"admin", "predict", "read"} {
		t := make([]byte, 24)
		if _, err := rand.Read(t); err != nil {
			return err
		}
		fmt.Fprintf(&tokens, "%s %s\n", hex.EncodeToString(t), scope)
	}
	if err := write("tokens", []byte(tokens.String())); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote to %s: ca.pem (and ca.key), %s, gossip.keys, tokens\n", *dir,
		strings.Join(mapNames(names), ", "))
	fmt.Fprintf(stdout, "start each node NAME with:\n  --tls-cert %[1]s/NAME.crt --tls-key %[1]s/NAME.key --auth-tokens-file %[1]s/tokens \\\n  --remote-tls-cert %[1]s/NAME.crt --remote-tls-key %[1]s/NAME.key --remote-tls-ca %[1]s/ca.pem \\\n  --gossip-key-file %[1]s/gossip.keys\n", *dir)
	return nil
}

func mapNames(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n + ".crt/.key"
	}
	return out
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}

func pemKey(k *ecdsa.PrivateKey) []byte {
	der, _ := x509.MarshalECPrivateKey(k)
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}
