package control_test

import (
	"slices"
	"testing"

	"github.com/actorserve/actorserve/actors/broker/brokertest"
)

// TestAscendPagesInIDOrder deploys, updates and deletes ids, then reads
// them back in pages with Ascend and in full with List.
func TestAscendPagesInIDOrder(t *testing.T) {
	b := brokertest.New(t)
	pub, _ := newPublisher(t, b, "")
	for _, id := range []string{"m3", "a", "m1", "z", "m2", "m10"} {
		put(t, pub, id, 1)
	}
	put(t, pub, "m2", 2) // an update keeps one entry
	if err := pub.Delete(ctxTimeout(t), "z"); err != nil {
		t.Fatal(err)
	}
	table := startTable(t, b, tableOpts{})
	waitReady(t, table)

	want := []string{"a", "m1", "m10", "m2", "m3"}
	var got []string
	for _, d := range table.List() {
		got = append(got, d.ID)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("List ids %v, want %v", got, want)
	}
	// Pages of two, each starting after the last id of the one before.
	var paged []string
	after := ""
	for range 10 {
		var page []string
		table.Ascend(after+"\x00", func(id string, d desc) bool {
			if d.ID != id {
				t.Errorf("Ascend gave value %q for id %q", d.ID, id)
			}
			page = append(page, id)
			return len(page) < 2
		})
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[len(page)-1]
	}
	if !slices.Equal(paged, want) {
		t.Fatalf("pages of 2 gave %v, want %v", paged, want)
	}
	var versions []int64
	table.Ascend("m2", func(id string, d desc) bool {
		versions = append(versions, d.Version)
		return false
	})
	if !slices.Equal(versions, []int64{2}) {
		t.Fatalf("Ascend from m2 stopped after %v, want the one value of version 2", versions)
	}
}
