package control_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/actorserve/actorserve/actors/broker/brokertest"
)

// TestSyncReadsYourWrites: right after a write acknowledged by Kafka, Sync
// on any table returns only once that table holds the write.
func TestSyncReadsYourWrites(t *testing.T) {
	b := brokertest.New(t)
	table := startTable(t, b, tableOpts{})
	waitReady(t, table)
	pub, _ := newPublisher(t, b, "")
	for i := 0; i < 50; i++ {
		id := fmt.Sprintf("m%d", i)
		put(t, pub, id, 1)
		if err := table.Sync(ctxTimeout(t)); err != nil {
			t.Fatal(err)
		}
		if _, ok := table.Get(id); !ok {
			t.Fatalf("after Sync the table does not hold %s, written before it", id)
		}
	}
}

// TestSyncIsCoalesced: many concurrent Syncs (a burst of look-ups of
// unknown model ids) share a few watermark look-ups instead of making
// two broker requests each, and each still reads the writes made before
// it was called.
func TestSyncIsCoalesced(t *testing.T) {
	b := brokertest.New(t)
	table := startTable(t, b, tableOpts{})
	waitReady(t, table)
	pub, _ := newPublisher(t, b, "")
	const callers = 400
	before := table.SyncRounds()
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("c%d", i)
			if i%20 == 0 {
				put(t, pub, id, 1)
			}
			if err := table.Sync(ctxTimeout(t)); err != nil {
				errs <- err
				return
			}
			if _, ok := table.Get(id); i%20 == 0 && !ok {
				errs <- fmt.Errorf("after Sync the table does not hold %s, written before it", id)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	rounds := table.SyncRounds() - before
	t.Logf("%d concurrent Syncs made %d watermark look-ups", callers, rounds)
	if rounds > callers/10 {
		t.Errorf("%d concurrent Syncs made %d watermark look-ups: not coalesced", callers, rounds)
	}
}
