// Package state keeps online models' learned state in Kafka, fenced by
// Kafka's own order rather than by clocks.
//
// Every record of model m goes to the compacted topic actorserve.state
// under key m, so all of them sit in one partition, in one order that every
// node reads alike:
//   - a claim, written by each new activation before it serves: its epoch
//     is its own offset, which Kafka orders; it carries the state the
//     activation took over, so compaction never leaves a claim without it;
//   - checkpoints, written by that activation, carrying its epoch, the
//     learner and the input positions it has consumed (the next offset to
//     learn from, per partition of the input topic);
//   - a deletion marker, written when the model is deleted, whose epoch is
//     its offset too.
//
// Readers resolve each key by the highest epoch, not by the last record:
// a checkpoint from an older activation (a zombie, a lagging node) that
// lands after a newer claim is ignored by every node. A writer that sees a
// newer epoch than its own stops. Learning is made exactly-once by the
// positions: a new activation restores the latest state and replays the
// labelled events after its positions from the input topic before it
// serves.
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
	"github.com/actorserve/actorserve/internal/msgpackcheck"
)

// DefaultTopic is the compacted state topic.
const DefaultTopic = "actorserve.state"

// MaxCheckpointBytes bounds one checkpoint.
const MaxCheckpointBytes = 64 << 20

// ErrStale means a newer activation of the model has claimed it.
var ErrStale = errors.New("state: a newer activation owns this model")

const formatVersion = 1

// Record kinds.
const (
	KindCheckpoint uint8 = 0
	KindClaim      uint8 = 1
	KindDeleted    uint8 = 2
)

// Checkpoint is one state record of a model: a checkpoint, a claim or a
// deletion marker (Kind).
type Checkpoint struct {
	// F is the record format: 1 since epochs are Kafka offsets. Records of
	// format 0 carry wall-clock epochs; they are read with epoch -1, below
	// any claim.
	F       uint8  `msgpack:"f"`
	Model   string `msgpack:"m"`
	Version int64  `msgpack:"v"` // descriptor version it was learned under
	// Epoch is the offset of the claim of the activation that wrote it;
	// for a claim or a deletion marker, the record's own offset (set when
	// the record is read).
	Epoch   int64     `msgpack:"e"`
	Kind    uint8     `msgpack:"k,omitempty"`
	Node    string    `msgpack:"n"`
	Updates int64     `msgpack:"u"`
	At      time.Time `msgpack:"t"`
	State   []byte    `msgpack:"s"`
	// Topic and Pos: the input topic and, per partition, the next offset
	// to learn from; everything before it is in State.
	Topic string          `msgpack:"tp,omitempty"`
	Pos   map[int32]int64 `msgpack:"p,omitempty"`
}

// Deleted says whether the record is a deletion marker (no state).
func (c *Checkpoint) Deleted() bool { return c.Kind == KindDeleted }

func decode(key string, value []byte) (*Checkpoint, error) {
	if len(value) > MaxCheckpointBytes {
		return nil, fmt.Errorf("checkpoint of %q is %d bytes, over %d", key, len(value), MaxCheckpointBytes)
	}
	var c Checkpoint
	if err := msgpackcheck.Check(value); err != nil {
		return nil, fmt.Errorf("checkpoint of %q: %w", key, err)
	}
	if err := msgpackcheck.Unmarshal(value, &c); err != nil {
		return nil, fmt.Errorf("checkpoint of %q: %w", key, err)
	}
	if c.Model != key {
		return nil, fmt.Errorf("checkpoint of %q under key %q", c.Model, key)
	}
	if c.Kind > KindDeleted {
		return nil, fmt.Errorf("checkpoint of %q: unknown record kind %d", key, c.Kind)
	}
	if c.F == 0 {
		c.Epoch = -1 // written by a version that fenced by wall clock
	}
	return &c, nil
}

// resolve keeps the record with the highest epoch: claims and deletion
// markers take their own offset as epoch; a checkpoint is applied only if
// its epoch is at least the current one.
func resolve(_ string, cur *Checkpoint, had bool, next *Checkpoint, offset int64) (*Checkpoint, bool) {
	if next.Kind != KindCheckpoint {
		next.Epoch = offset
	}
	if had && next.Epoch < cur.Epoch {
		return nil, false
	}
	return next, true
}

// Store reads and writes learned state.
type Store struct {
	table  *control.Table[*Checkpoint]
	client *kgo.Client
	topic  string
	logger *slog.Logger
}

// New returns a store over topic ("" = DefaultTopic) on brokers. Run it
// with Run; writes go through client (the node's producer). clientOpts are
// extra franz-go options of its reader (TLS, SASL).
func New(brokers []string, topic string, client *kgo.Client, logger *slog.Logger, clientOpts ...kgo.Opt) (*Store, error) {
	if topic == "" {
		topic = DefaultTopic
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	t, err := control.NewTable(control.Config{Brokers: brokers, Topic: topic, ClientOpts: clientOpts}, decode, logger.With("component", "state"), nil)
	if err != nil {
		return nil, err
	}
	t.SetResolver(resolve)
	return &Store{table: t, client: client, topic: topic, logger: logger.With("component", "state")}, nil
}

// Run follows the state topic until ctx ends.
func (s *Store) Run(ctx context.Context) error { return s.table.Run(ctx) }

// WaitReady waits until the table has read the topic up to where it was
// when the store started.
func (s *Store) WaitReady(ctx context.Context) error { return s.table.WaitReady(ctx) }

// Sync catches the table up with everything written to the topic so far.
func (s *Store) Sync(ctx context.Context) error { return s.table.Sync(ctx) }

// Latest returns the record of model id with the highest epoch this node
// has read (a deletion marker too; see Checkpoint.Deleted).
func (s *Store) Latest(id string) (*Checkpoint, bool) { return s.table.Get(id) }

// Claim makes a new activation of base.Model the owner of its learned
// state: it writes a claim carrying base (the state the activation takes
// over), waits until this node's table has read it, and returns its epoch
// (the claim's offset). ErrStale means an even newer claim was read
// meanwhile.
func (s *Store) Claim(ctx context.Context, base *Checkpoint) (int64, error) {
	c := *base
	c.F, c.Kind, c.Epoch, c.At = formatVersion, KindClaim, 0, time.Now().UTC()
	b, err := msgpack.Marshal(&c)
	if err != nil {
		return 0, err
	}
	if len(b) > MaxCheckpointBytes {
		return 0, fmt.Errorf("state: claim of %q is %d bytes, over %d", c.Model, len(b), MaxCheckpointBytes)
	}
	r, err := s.client.ProduceSync(ctx, &kgo.Record{Topic: s.topic, Key: []byte(c.Model), Value: b}).First()
	if err != nil {
		return 0, fmt.Errorf("state: claim model %q: %w", c.Model, err)
	}
	epoch := r.Offset
	if err := s.table.WaitFor(ctx, c.Model, func(cur *Checkpoint, ok bool) bool { return ok && cur.Epoch >= epoch }); err != nil {
		return 0, fmt.Errorf("state: claim model %q: read back: %w", c.Model, err)
	}
	if cur, _ := s.Latest(c.Model); cur.Epoch != epoch {
		return 0, fmt.Errorf("%w: model %q claimed at epoch %d after ours (%d)", ErrStale, c.Model, cur.Epoch, epoch)
	}
	return epoch, nil
}

// Save writes checkpoint c asynchronously unless a newer activation
// already claimed the model (then ErrStale). done, if not nil, runs when
// Kafka answered.
func (s *Store) Save(c *Checkpoint, done func(error)) error {
	if cur, ok := s.Latest(c.Model); ok && cur.Epoch > c.Epoch {
		return fmt.Errorf("%w: model %q epoch %d, ours %d", ErrStale, c.Model, cur.Epoch, c.Epoch)
	}
	c.F, c.Kind = formatVersion, KindCheckpoint
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

// Delete retires model id's learned state: a deletion marker whose epoch
// (its offset) is above every activation's, so no checkpoint written
// before or after it by an existing activation is ever restored. It
// returns once Kafka acknowledged the marker.
func (s *Store) Delete(ctx context.Context, id, node string) error {
	b, err := msgpack.Marshal(&Checkpoint{F: formatVersion, Model: id, Kind: KindDeleted, Node: node, At: time.Now().UTC()})
	if err != nil {
		return err
	}
	if err := s.client.ProduceSync(ctx, &kgo.Record{Topic: s.topic, Key: []byte(id), Value: b}).FirstErr(); err != nil {
		return fmt.Errorf("state: delete learned state of %q: %w", id, err)
	}
	return nil
}
