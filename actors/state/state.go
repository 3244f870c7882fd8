// Package state keeps online models' learned state in Kafka: checkpoints
// go to the compacted topic actorserve.state (key = model id), and every
// node reads that topic into a local table so that a model actor activated
// anywhere restores the latest checkpoint.
//
// Each checkpoint carries the epoch its activation took: the activation
// time in nanoseconds, raised above the epoch of any checkpoint it
// restored. A writer that sees a newer epoch than its own for its model is
// a stale duplicate activation (membership churn): it does not write, so
// it cannot overwrite the newer state. The check runs against the node's
// table, which follows the topic within milliseconds; the window left is
// that lag.
package state

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/actorserve/actorserve/actors/control"
)

// DefaultTopic is the compacted state topic.
const DefaultTopic = "actorserve.state"

// MaxCheckpointBytes bounds one checkpoint.
const MaxCheckpointBytes = 64 << 20

// ErrStale means a newer activation of the model has checkpointed.
var ErrStale = errors.New("state: a newer activation owns this model")

// Checkpoint is one model's learned state.
type Checkpoint struct {
	Model   string    `msgpack:"m"`
	Version int64     `msgpack:"v"` // descriptor version it was learned under
	Epoch   int64     `msgpack:"e"`
	Node    string    `msgpack:"n"`
	Updates int64     `msgpack:"u"`
	At      time.Time `msgpack:"t"`
	State   []byte    `msgpack:"s"`
}

func decode(key string, value []byte) (*Checkpoint, error) {
	if len(value) > MaxCheckpointBytes {
		return nil, fmt.Errorf("checkpoint of %q is %d bytes, over %d", key, len(value), MaxCheckpointBytes)
	}
	var c Checkpoint
	if err := msgpack.Unmarshal(value, &c); err != nil {
		return nil, fmt.Errorf("checkpoint of %q: %w", key, err)
	}
	if c.Model != key {
		return nil, fmt.Errorf("checkpoint of %q under key %q", c.Model, key)
	}
	return &c, nil
}

// Store reads and writes checkpoints.
type Store struct {
	table  *control.Table[*Checkpoint]
	client *kgo.Client
	topic  string
	logger *slog.Logger
}

// New returns a store over topic ("" = DefaultTopic) on brokers. Run it
// with Run; writes go through client (the node's producer).
func New(brokers []string, topic string, client *kgo.Client, logger *slog.Logger) (*Store, error) {
	if topic == "" {
		topic = DefaultTopic
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	t, err := control.NewTable(control.Config{Brokers: brokers, Topic: topic}, decode, logger.With("component", "state"), nil)
	if err != nil {
		return nil, err
	}
	return &Store{table: t, client: client, topic: topic, logger: logger.With("component", "state")}, nil
}

// Run follows the state topic until ctx ends.
func (s *Store) Run(ctx context.Context) error { return s.table.Run(ctx) }

// WaitReady waits until the table has read the topic up to where it was
// when the store started.
func (s *Store) WaitReady(ctx context.Context) error { return s.table.WaitReady(ctx) }

// Latest returns the newest checkpoint of model id this node has seen.
func (s *Store) Latest(id string) (*Checkpoint, bool) { return s.table.Get(id) }

// Epoch returns the epoch a new activation of model id takes.
func (s *Store) Epoch(id string) int64 {
	e := time.Now().UnixNano()
	if c, ok := s.Latest(id); ok && c.Epoch >= e {
		e = c.Epoch + 1
	}
	return e
}

// Save writes c asynchronously unless a newer epoch already checkpointed
// the model (then ErrStale). done, if not nil, runs when Kafka answered.
func (s *Store) Save(c *Checkpoint, done func(error)) error {
	if cur, ok := s.Latest(c.Model); ok && cur.Epoch > c.Epoch {
		return fmt.Errorf("%w: model %q epoch %d, ours %d", ErrStale, c.Model, cur.Epoch, c.Epoch)
	}
	b, err := msgpack.Marshal(c)
	if err != nil {
		return err
	}
	if len(b) > MaxCheckpointBytes {
		return fmt.Errorf("state: checkpoint of %q is %d bytes, over %d", c.Model, len(b), MaxCheckpointBytes)
	}
	s.client.Produce(context.Background(), &kgo.Record{Topic: s.topic, Key: []byte(c.Model), Value: b}, func(_ *kgo.Record, err error) {
		if err != nil {
			s.logger.Warn("checkpoint not written", "model", c.Model, "err", err)
		}
		if done != nil {
			done(err)
		}
	})
	return nil
}

// Delete removes model id's state (a tombstone), when the model is retired.
func (s *Store) Delete(id string) {
	s.client.Produce(context.Background(), &kgo.Record{Topic: s.topic, Key: []byte(id)}, nil)
}
