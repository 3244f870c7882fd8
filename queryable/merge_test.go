package queryable

import (
	"math"
	"testing"

	"github.com/DataDog/sketches-go/ddsketch"

	"github.com/actorserve/actorserve/actors/msg"
)

func sketchOf(t *testing.T, valuesNS ...float64) []byte {
	t.Helper()
	sk, err := ddsketch.LogCollapsingLowestDenseDDSketch(0.01, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range valuesNS {
		if err := sk.Add(v); err != nil {
			t.Fatal(err)
		}
	}
	var b []byte
	sk.Encode(&b, false)
	return b
}

// TestMergeDoubleActivation: stats of one model reported by two nodes add
// up, and the percentiles come from the merged sketches.
func TestMergeDoubleActivation(t *testing.T) {
	fast := make([]float64, 90) // 90 events at 1 ms on n1
	for i := range fast {
		fast[i] = 1e6
	}
	slow := make([]float64, 10) // 10 events at 100 ms on n2
	for i := range slow {
		slow[i] = 100e6
	}
	a := msg.ModelStats{ID: "m", Version: 2, Node: "n1", Usage: 90, Errors: 1, ErrorsBy: map[string]int64{"schema_mismatch": 1},
		DurationMS: 90, MinMS: 1, MaxMS: 1, Sketch: sketchOf(t, fast...)}
	b := msg.ModelStats{ID: "m", Version: 2, Node: "n2", Usage: 10, Errors: 2, ErrorsBy: map[string]int64{"schema_mismatch": 2},
		DurationMS: 1000, MinMS: 100, MaxMS: 100, Sketch: sketchOf(t, slow...)}
	old := msg.ModelStats{ID: "m", Version: 1, Node: "n3", Usage: 1000}
	m := merge([]msg.ModelStats{a, b, old})
	if m.Usage != 100 || m.Errors != 3 || m.ErrorsBy["schema_mismatch"] != 3 || m.Node != "n1" {
		t.Fatalf("merged %+v", m)
	}
	if m.MinMS != 1 || m.MaxMS != 100 || math.Abs(m.MeanMS-10.9) > 1e-9 {
		t.Fatalf("min %v max %v mean %v", m.MinMS, m.MaxMS, m.MeanMS)
	}
	if math.Abs(m.P50MS-1) > 0.02 || math.Abs(m.P95MS-100) > 2 {
		t.Fatalf("p50 %v p95 %v: want about 1 and 100 from the merged sketches", m.P50MS, m.P95MS)
	}
}
