package learning_test

import (
	"encoding/json"
	"fmt"

	"github.com/actorserve/actorserve/learning"
	"github.com/actorserve/actorserve/serving"
)

// An online PA-I model learns from labelled events while it predicts, and snapshots its state.
func Example() {
	d, err := serving.DecodeDescriptor([]byte(`{"id": "fraud", "format": "online",
	  "features": ["amount", "hour"], "labels": ["ok", "fraud"],
	  "learning": {"algorithm": "pa1", "task": "binary", "params": {"C": 1}}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := learning.New(d)
	if err != nil {
		fmt.Println(err)
		return
	}
	p, _ := m.Predict([]float64{900, 3})
	fmt.Println("untrained:", p.Label)

	events := []struct {
		x     []float64
		label string
	}{
		{[]float64{900, 3}, "fraud"}, {[]float64{20, 14}, "ok"}, {[]float64{700, 2}, "fraud"},
		{[]float64{35, 12}, "ok"}, {[]float64{850, 1}, "fraud"}, {[]float64{15, 16}, "ok"},
	}
	for _, e := range events {
		u, err := m.Learn(e.x, learning.Label(e.label)) // predict, score, then learn
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("predicted %s, was %s, weights changed: %v\n", u.Label, e.label, u.Changed)
	}
	p, _ = m.Predict([]float64{800, 4})
	fmt.Println("now:", p.Label)

	st, _ := json.Marshal(m.Stats())
	fmt.Println(string(st))

	state, _ := m.MarshalBinary()
	var restored learning.Online
	if err := restored.UnmarshalBinary(state); err != nil {
		fmt.Println(err)
		return
	}
	q, _ := restored.Predict([]float64{800, 4})
	fmt.Println("restored:", q.Label, q.Scores["fraud"] == p.Scores["fraud"])
	// Output:
	// untrained: ok
	// predicted ok, was fraud, weights changed: true
	// predicted fraud, was ok, weights changed: true
	// predicted fraud, was fraud, weights changed: false
	// predicted ok, was ok, weights changed: true
	// predicted fraud, was fraud, weights changed: false
	// predicted ok, was ok, weights changed: false
	// now: fraud
	// {"task":"binary","updates":6,"changes":3,"accuracy":0.6666666666666666,"accuracy_recent":0.6666666666666666,"kappa":0.33333333333333326,"kappa_t":0.6666666666666666,"no_change":0,"mae":0,"mae_recent":0,"classes":2,"drifts":0}
	// restored: fraud true
}
