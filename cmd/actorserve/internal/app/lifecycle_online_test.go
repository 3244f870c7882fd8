package app

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/actorserve/actorserve/cluster/clustertest"
)

// TestOnlineShadowLearnsOnItsOwn: a shadow of an online model learns from
// the same labels as the current version, with its own algorithm and
// figures, and when promoted it keeps what it learned (its updates and
// learned state), instead of starting afresh or taking the old learner's.
func TestOnlineShadowLearnsOnItsOwn(t *testing.T) {
	nodes, _ := startTestCluster(t, 3, nil)
	online := func(algorithm string) map[string]any {
		return map[string]any{"format": "online", "features": []string{"a", "b"}, "labels": []string{"neg", "pos"},
			"learning": map[string]any{"algorithm": algorithm, "task": "binary"}}
	}
	putModel(t, nodes[0].HTTPAddr(), "ol", online("arow"))
	sh := online("pa")
	sh["rollout"] = map[string]any{"mode": "shadow"}
	putModel(t, nodes[1].HTTPAddr(), "ol", sh)
	r := rand.New(rand.NewPCG(3, 4))
	for batch := range 3 {
		var evs []map[string]any
		for i := range 100 {
			f, l := separable(r)
			evs = append(evs, map[string]any{"id": fmt.Sprintf("o%d-%d", batch, i), "features": f, "label": l})
		}
		postJSON(t, "http://"+nodes[batch%3].HTTPAddr()+"/v1/models/ol/predict", map[string]any{"events": evs})
	}
	type learn struct {
		Algorithm string  `json:"algorithm"`
		Updates   int64   `json:"updates"`
		Labels    int64   `json:"labels"`
		Accuracy  float64 `json:"accuracy"`
		SHA256    string  `json:"state_sha256"`
	}
	var got struct {
		Version  int64  `json:"version"`
		Learning *learn `json:"learning"`
		Variant  *struct {
			Version  int64  `json:"version"`
			Learning *learn `json:"learning"`
		} `json:"variant"`
	}
	get := func() error {
		resp, err := http.Get("http://" + nodes[2].HTTPAddr() + "/v1/models/ol")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		got.Learning, got.Variant = nil, nil
		return json.NewDecoder(resp.Body).Decode(&got)
	}
	clustertest.Eventually(t, 20*time.Second, func() error {
		if err := get(); err != nil {
			return err
		}
		if got.Learning == nil || got.Variant == nil || got.Variant.Learning == nil {
			return fmt.Errorf("no learning blocks yet: %+v", got)
		}
		p, v := got.Learning, got.Variant.Learning
		if p.Algorithm != "arow" || p.Updates != 300 || v.Algorithm != "pa" || v.Updates != 300 || v.Labels != 300 {
			return fmt.Errorf("current %+v, shadow %+v: want arow and pa, 300 updates each", *p, *v)
		}
		return nil
	})
	shadowAcc := got.Variant.Learning.Accuracy
	if shadowAcc < 0.8 {
		t.Errorf("the shadow learned to %.3f accuracy on a separable concept", shadowAcc)
	}
	if code, body := lcCall(t, "POST", "http://"+nodes[0].HTTPAddr()+"/v1/models/ol/promote", nil); code != 200 {
		t.Fatalf("promote: %d %s", code, body)
	}
	clustertest.Eventually(t, 20*time.Second, func() error {
		if err := get(); err != nil {
			return err
		}
		if got.Version != 2 || got.Variant != nil || got.Learning == nil || got.Learning.Algorithm != "pa" || got.Learning.Updates != 300 {
			return fmt.Errorf("after promotion: version %d, learning %+v, variant %+v", got.Version, got.Learning, got.Variant)
		}
		return nil
	})
}
