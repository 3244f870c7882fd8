package control_test

import (
	"fmt"
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
