package control

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Defaults for [Config].
const (
	DefaultTopic        = "actorserve.models"
	DefaultReadyTimeout = 30 * time.Second
)

// Sentinel errors of this package; test with errors.Is.
var (
	// ErrInvalidConfig is wrapped by every error Config.Validate returns.
	ErrInvalidConfig = errors.New("invalid control config")
	// ErrNotReady is returned by Table.WaitReady when the table has not caught up with the
	// control topic in time.
	ErrNotReady = errors.New("control table not ready")
	// ErrEmptyID is returned by Publisher methods given an empty model id.
	ErrEmptyID = errors.New("empty model id")
	// ErrEmptyValue is returned by Publisher.Put given an empty value: on a compacted topic an
	// empty value is a tombstone, so use Publisher.Delete to retire a model.
	ErrEmptyValue = errors.New("empty descriptor value (use Delete to retire a model)")
)

// Config configures a [Table].
type Config struct {
	// Brokers are the Kafka seed brokers (host:port). The node owns the flag for them.
	Brokers []string
	// Topic is the compacted control topic (key = model id, value = descriptor, empty value
	// = tombstone). "" means DefaultTopic.
	Topic string
	// ReadyTimeout bounds Table.WaitReady on top of its context; 0 means no extra bound.
	ReadyTimeout time.Duration
	// ClientOpts are extra franz-go options for the table's consumer, e.g. TLS, SASL or a
	// client id shared with the node's other clients. Seed brokers and consume options are
	// set by the table.
	ClientOpts []kgo.Opt
}

// DefaultConfig returns the defaults; Brokers must still be set.
func DefaultConfig() Config {
	return Config{Topic: DefaultTopic, ReadyTimeout: DefaultReadyTimeout}
}

// RegisterFlags registers --models-topic on fs. The brokers flag belongs to the node.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Topic, "models-topic", DefaultTopic, "compacted Kafka topic that holds the model descriptors (key = model id)")
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = DefaultReadyTimeout
	}
}

// Validate reports the first problem with c.
func (c Config) Validate() error {
	if len(c.Brokers) == 0 {
		return fmt.Errorf("%w: no Kafka brokers given for the control topic (set the node's brokers flag)", ErrInvalidConfig)
	}
	for _, b := range c.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			return fmt.Errorf("%w: broker address %q: want host:port: %v", ErrInvalidConfig, b, err)
		}
	}
	if c.ReadyTimeout < 0 {
		return fmt.Errorf("%w: ready timeout %v is negative", ErrInvalidConfig, c.ReadyTimeout)
	}
	return nil
}

func (c Config) topic() string {
	if c.Topic == "" {
		return DefaultTopic
	}
	return c.Topic
}
