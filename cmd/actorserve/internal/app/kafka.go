package app

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/actorserve/actorserve/cluster/tlsfiles"
)

// SASLPasswordEnv holds the Kafka SASL password (never a flag: flags show
// in process listings).
const SASLPasswordEnv = "ACTORSERVE_KAFKA_SASL_PASSWORD"

// KafkaConfig is how every Kafka client of a node or CLI command connects:
// TLS (optionally with a client certificate) and SASL.
type KafkaConfig struct {
	TLS      bool
	CAFile   string // PEM CA of the brokers' certificates ("" = the system's)
	CertFile string // client certificate for brokers that require one
	KeyFile  string
	// SASL is "", "plain", "scram-sha-256" or "scram-sha-512"; the password
	// comes from PasswordFile or $ACTORSERVE_KAFKA_SASL_PASSWORD.
	SASL         string
	User         string
	PasswordFile string
}

func (c *KafkaConfig) registerFlags(fs *flag.FlagSet) {
	fs.BoolVar(&c.TLS, "kafka-tls", c.TLS, "connect to Kafka over TLS")
	fs.StringVar(&c.CAFile, "kafka-ca-file", c.CAFile, "PEM CA certificates of the Kafka brokers (default: the system's)")
	fs.StringVar(&c.CertFile, "kafka-cert-file", c.CertFile, "PEM client certificate for Kafka (mutual TLS)")
	fs.StringVar(&c.KeyFile, "kafka-key-file", c.KeyFile, "PEM private key of --kafka-cert-file")
	fs.StringVar(&c.SASL, "kafka-sasl", c.SASL, "Kafka SASL mechanism: plain, scram-sha-256 or scram-sha-512")
	fs.StringVar(&c.User, "kafka-sasl-user", c.User, "Kafka SASL user")
	fs.StringVar(&c.PasswordFile, "kafka-sasl-password-file", c.PasswordFile, "file holding the Kafka SASL password (or $"+SASLPasswordEnv+")")
}

// opts returns the franz-go options of c (none for plaintext without SASL).
func (c *KafkaConfig) opts() ([]kgo.Opt, error) {
	var out []kgo.Opt
	if c.TLS || c.CAFile != "" || c.CertFile != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if c.CAFile != "" {
			pool, err := tlsfiles.Pool(c.CAFile)
			if err != nil {
				return nil, fmt.Errorf("kafka-ca-file: %w", err)
			}
			tc.RootCAs = pool
		}
		if c.CertFile != "" || c.KeyFile != "" {
			pair, err := tlsfiles.LoadPair(c.CertFile, c.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("kafka client certificate: %w", err)
			}
			tc.GetClientCertificate = pair.GetClientCertificate
		}
		// The server name is the broker's host, per connection.
		dialer := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: tc}
		out = append(out, kgo.Dialer(dialer.DialContext))
	}
	if c.SASL == "" {
		if c.User != "" || c.PasswordFile != "" {
			return nil, errors.New("kafka-sasl-user and kafka-sasl-password-file need --kafka-sasl")
		}
		return out, nil
	}
	pass := os.Getenv(SASLPasswordEnv)
	if c.PasswordFile != "" {
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("kafka-sasl-password-file: %w", err)
		}
		pass = strings.TrimRight(string(b), "\r\n")
	}
	if c.User == "" || pass == "" {
		return nil, fmt.Errorf("kafka-sasl %s needs --kafka-sasl-user and a password (--kafka-sasl-password-file or $%s)", c.SASL, SASLPasswordEnv)
	}
	var m sasl.Mechanism
	switch strings.ToLower(c.SASL) {
	case "plain":
		m = plain.Auth{User: c.User, Pass: pass}.AsMechanism()
	case "scram-sha-256":
		m = scram.Auth{User: c.User, Pass: pass}.AsSha256Mechanism()
	case "scram-sha-512":
		m = scram.Auth{User: c.User, Pass: pass}.AsSha512Mechanism()
	default:
		return nil, fmt.Errorf("kafka-sasl %q: want plain, scram-sha-256 or scram-sha-512", c.SASL)
	}
	return append(out, kgo.SASL(m)), nil
}
