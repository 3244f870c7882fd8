package state

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/actorserve/actorserve/actors/broker/brokertest"
)

func newStore(t *testing.T, brokers []string) *Store {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	s, err := New(brokers, "", cl, brokertest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Run(t.Context()) }()
	if err := s.WaitReady(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

func waitFor(t *testing.T, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStaleActivationCannotOverwrite: once a newer activation claimed a
// model, an older activation's checkpoint is refused by the writer's check
// and, written anyway (a zombie that missed the claim), ignored by every
// reader, whatever the clocks say.
func TestStaleActivationCannotOverwrite(t *testing.T) {
	b := brokertest.New(t)
	a, other := newStore(t, b.Addrs()), newStore(t, b.Addrs())
	ctx := t.Context()

	old, err := a.Claim(ctx, &Checkpoint{Model: "m", Pos: map[int32]int64{0: 5}})
	if err != nil {
		t.Fatal(err)
	}
	if err := saveSync(a, &Checkpoint{Model: "m", Epoch: old, Updates: 40, State: []byte{2}, Pos: map[int32]int64{0: 45}}); err != nil {
		t.Fatal(err)
	}
	if err := other.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	base, _ := other.Latest("m")
	if base.Updates != 40 || base.Pos[0] != 45 {
		t.Fatalf("other node restores %+v, want the checkpoint with 40 updates at position 45", base)
	}
	newer, err := other.Claim(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	if newer <= old {
		t.Fatalf("epochs %d then %d: a later claim must take a higher epoch", old, newer)
	}
	waitFor(t, func() error {
		if c, ok := a.Latest("m"); !ok || c.Epoch != newer {
			return fmt.Errorf("node a has not seen the newer claim")
		}
		return nil
	})
	if err := a.Save(&Checkpoint{Model: "m", Epoch: old, Updates: 41, State: []byte{3}}, nil); !errors.Is(err, ErrStale) {
		t.Fatalf("stale save: %v, want ErrStale", err)
	}
	// A zombie that has not read the claim writes anyway: readers ignore it.
	zombie := newStore(t, b.Addrs())
	raw := &Checkpoint{Model: "m", Epoch: old, Updates: 99, State: []byte{9}}
	if err := saveRaw(zombie, raw); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Store{a, other} {
		if err := s.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if c, _ := s.Latest("m"); c.Epoch != newer || c.Updates != 40 {
			t.Fatalf("after a zombie's write a reader holds epoch %d with %d updates, want the claim %d with 40", c.Epoch, c.Updates, newer)
		}
	}
	// A fresh reader (a node starting now) resolves alike.
	late := newStore(t, b.Addrs())
	if c, _ := late.Latest("m"); c.Epoch != newer || c.Updates != 40 {
		t.Fatalf("a new reader holds epoch %d with %d updates, want %d with 40", c.Epoch, c.Updates, newer)
	}
	// The newer activation's own checkpoints apply.
	if err := saveSync(other, &Checkpoint{Model: "m", Epoch: newer, Updates: 60, State: []byte{4}}); err != nil {
		t.Fatal(err)
	}
	if c, _ := other.Latest("m"); c.Updates != 60 {
		t.Fatalf("checkpoint of the owner not applied: %+v", c)
	}
}

// TestDeleteFencesState: a deletion marker outranks every activation, so
// neither an earlier nor a later checkpoint of an existing activation is
// restored after a delete.
func TestDeleteFencesState(t *testing.T) {
	b := brokertest.New(t)
	s := newStore(t, b.Addrs())
	ctx := t.Context()
	e, err := s.Claim(ctx, &Checkpoint{Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if err := saveSync(s, &Checkpoint{Model: "m", Epoch: e, Updates: 10, State: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "m", "n1"); err != nil {
		t.Fatal(err)
	}
	if err := saveRaw(s, &Checkpoint{Model: "m", Epoch: e, Updates: 11, State: []byte{2}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if c, ok := s.Latest("m"); !ok || !c.Deleted() {
		t.Fatalf("after delete the latest record is %+v, want the deletion marker", c)
	}
}

// TestWallClockEpochsRankLowest: records written by the version that
// fenced by wall-clock time (format 0) never outrank a claim.
func TestWallClockEpochsRankLowest(t *testing.T) {
	b := brokertest.New(t)
	s := newStore(t, b.Addrs())
	old := map[string]any{"m": "m", "e": time.Now().UnixNano(), "u": 7, "s": []byte{1}}
	bs, err := msgpack.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.client.ProduceSync(t.Context(), &kgo.Record{Topic: s.topic, Key: []byte("m"), Value: bs}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	c, _ := s.Latest("m")
	if c.Epoch != -1 || c.Updates != 7 {
		t.Fatalf("old record read as %+v, want epoch -1 with its 7 updates", c)
	}
	e, err := s.Claim(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Latest("m"); c.Epoch != e || c.Updates != 7 {
		t.Fatalf("claim over an old record: %+v", c)
	}
}

func saveSync(s *Store, c *Checkpoint) error {
	done := make(chan error, 1)
	if err := s.Save(c, func(err error) { done <- err }); err != nil {
		return err
	}
	if err := <-done; err != nil {
		return err
	}
	return s.Sync(context.Background())
}

// saveRaw writes a checkpoint without the writer's stale check.
func saveRaw(s *Store, c *Checkpoint) error {
	c.F, c.Kind = formatVersion, KindCheckpoint
	b, err := msgpack.Marshal(c)
	if err != nil {
		return err
	}
	return s.client.ProduceSync(context.Background(), &kgo.Record{Topic: s.topic, Key: []byte(c.Model), Value: b}).FirstErr()
}
