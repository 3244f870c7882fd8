package state

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

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

// TestStaleActivationCannotOverwrite: once a newer activation checkpointed
// a model, an older activation's checkpoint is refused, on any node.
func TestStaleActivationCannotOverwrite(t *testing.T) {
	b := brokertest.New(t)
	a, other := newStore(t, b.Addrs()), newStore(t, b.Addrs())

	old := a.Epoch("m")
	newer := other.Epoch("m")
	if newer <= old {
		t.Fatalf("epochs %d then %d: a later activation must take a higher epoch", old, newer)
	}
	done := make(chan error, 1)
	if err := other.Save(&Checkpoint{Model: "m", Epoch: newer, Updates: 50, State: []byte{1}}, func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() error {
		if c, ok := a.Latest("m"); !ok || c.Epoch != newer {
			return fmt.Errorf("node a has not seen the newer checkpoint")
		}
		return nil
	})
	err := a.Save(&Checkpoint{Model: "m", Epoch: old, Updates: 40, State: []byte{2}}, nil)
	if !errors.Is(err, ErrStale) {
		t.Fatalf("stale save: %v, want ErrStale", err)
	}
	if c, _ := a.Latest("m"); c.Updates != 50 {
		t.Fatalf("latest has %d updates, want the newer 50", c.Updates)
	}
	// A re-activation after the newer one takes a still higher epoch.
	if e := a.Epoch("m"); e <= newer {
		t.Fatalf("epoch %d after %d", e, newer)
	}
}
