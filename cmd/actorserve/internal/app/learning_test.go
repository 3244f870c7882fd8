package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/actorserve/actorserve/actors/broker/brokertest"
	"github.com/actorserve/actorserve/cluster/clustertest"
	"github.com/actorserve/actorserve/internal/datasettest"
	"github.com/actorserve/actorserve/learning/eval"
)

type learningJSON struct {
	Node     string `json:"node"`
	State    string `json:"state"`
	Usage    int64  `json:"usage"`
	Learning *struct {
		Updates   int64   `json:"updates"`
		Accuracy  float64 `json:"accuracy"`
		Restored  int64   `json:"restored_updates"`
		Matched   int64   `json:"matched_feedback"`
		Unmatched int64   `json:"unmatched_feedback"`
		Replayed  int64   `json:"replayed"`
		Epoch     int64   `json:"epoch"`
		SHA256    string  `json:"state_sha256"`
	} `json:"learning"`
}

func getModelJSON(t testing.TB, addr, id string) learningJSON {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/v1/models/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m learningJSON
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return m
}

func postJSON(t testing.TB, url string, v any) []byte {
	t.Helper()
	b, _ := json.Marshal(v)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 && resp.StatusCode != 202 {
		t.Fatalf("POST %s: %s %s", url, resp.Status, out)
	}
	return out
}

// separable makes a labelled example of a linearly separable concept.
func separable(r *rand.Rand) (map[string]float64, string) {
	a, b := r.Float64()*4-2, r.Float64()*4-2
	label := "neg"
	if a+0.5*b > 0.1 {
		label = "pos"
	}
	return map[string]float64{"a": a, "b": b}, label
}

// TestOnlineLearningSurvivesFailover: an online model learns from labelled
// events and delayed labels, checkpoints, and when its node leaves, its
// actor re-activates on the survivor with the learned state restored.
func TestOnlineLearningSurvivesFailover(t *testing.T) {
	nodes, _ := startTestCluster(t, 2, func(c *NodeConfig) { c.Model.CheckpointEvery = 100 })
	putModel(t, nodes[0].HTTPAddr(), "learner", map[string]any{
		"format": "online", "features": []string{"a", "b"}, "labels": []string{"neg", "pos"},
		"learning": map[string]any{"algorithm": "arow", "task": "binary"},
	})
	r := rand.New(rand.NewPCG(1, 2))
	// 300 labelled examples (test-then-train) in batches.
	for batch := 0; batch < 3; batch++ {
		var evs []map[string]any
		for i := 0; i < 100; i++ {
			f, l := separable(r)
			evs = append(evs, map[string]any{"id": fmt.Sprintf("l%d-%d", batch, i), "features": f, "label": l})
		}
		postJSON(t, "http://"+nodes[0].HTTPAddr()+"/v1/models/learner/predict", map[string]any{"events": evs})
	}
	// 100 predictions whose labels arrive later, plus one unknown id.
	var labels []map[string]any
	for i := 0; i < 100; i++ {
		f, l := separable(r)
		id := fmt.Sprintf("d%d", i)
		postJSON(t, "http://"+nodes[1].HTTPAddr()+"/v1/models/learner/predict", map[string]any{"id": id, "features": f})
		labels = append(labels, map[string]any{"id": id, "label": l})
	}
	labels = append(labels, map[string]any{"id": "never-predicted", "label": "pos"})
	// Labels of a learning model go through the input topic: the answer
	// comes once Kafka holds them, and the model learns them from there.
	fb := postJSON(t, "http://"+nodes[1].HTTPAddr()+"/v1/models/learner/feedback", map[string]any{"events": labels})
	var fbAns struct {
		Accepted int     `json:"accepted"`
		Offsets  []int64 `json:"offsets"`
	}
	_ = json.Unmarshal(fb, &fbAns)
	if fbAns.Accepted != 101 || len(fbAns.Offsets) != 101 {
		t.Fatalf("feedback answer %s", fb)
	}
	var before learningJSON
	clustertest.Eventually(t, 10*time.Second, func() error {
		before = getModelJSON(t, nodes[0].HTTPAddr(), "learner")
		if before.Learning == nil || before.Learning.Updates != 400 || before.Learning.Matched != 100 || before.Learning.Unmatched != 1 {
			return fmt.Errorf("learning before failover: %+v", before.Learning)
		}
		return nil
	})
	if before.Learning.Accuracy < 0.85 {
		t.Fatalf("accuracy %.3f on a separable concept", before.Learning.Accuracy)
	}
	t.Logf("before: node %s, %d updates, accuracy %.3f", before.Node, before.Learning.Updates, before.Learning.Accuracy)

	// The hosting node leaves; its actor checkpoints as it stops.
	host, other := nodes[0], nodes[1]
	if before.Node == other.Cluster.Name() {
		host, other = other, host
	}
	if err := host.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	f, l := separable(r)
	postJSON(t, "http://"+other.HTTPAddr()+"/v1/models/learner/predict", map[string]any{"id": "after", "features": f, "label": l})
	var after learningJSON
	clustertest.Eventually(t, 10*time.Second, func() error {
		after = getModelJSON(t, other.HTTPAddr(), "learner")
		if after.Learning == nil || after.Node != other.Cluster.Name() || after.Learning.Updates < 401 {
			return fmt.Errorf("model on %q, learning %+v", after.Node, after.Learning)
		}
		return nil
	})
	if after.Learning.Restored != 400 || after.Learning.Updates != 401 {
		t.Fatalf("after failover: restored %d, updates %d; want 400 and 401", after.Learning.Restored, after.Learning.Updates)
	}
	t.Logf("after: node %s, restored %d updates, now %d, accuracy %.3f", after.Node, after.Learning.Restored, after.Learning.Updates, after.Learning.Accuracy)

	// The learning block is in the node's Prometheus exposition too.
	resp, err := http.Get("http://" + other.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`actorserve_learning_updates_total{model="learner",version="1"} 401`,
		`actorserve_learning_drifts_total{model="learner",version="1"} 0`,
		`actorserve_learning_accuracy{model="learner",version="1"}`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestEvalThroughClusterMatchesDirect: banknote streamed through Kafka and
// a node as events followed by their labels gives the same prequential
// accuracy (within 0.005) as the direct evaluation in the same order.
func TestEvalThroughClusterMatchesDirect(t *testing.T) {
	path := datasettest.Path(t, "banknote.csv")
	b := brokertest.New(t)
	n := startTestNode(t, b.Addrs(), "e1")
	var cfg eval.Config
	cfg.Path, cfg.Seeds = path, 1
	for _, spec := range []string{"pa1", "scw1"} {
		l, err := eval.ParseLearner(spec)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Learners = append(cfg.Learners, l)
	}
	direct, err := eval.Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	via, err := evalThroughCluster(t.Context(), cfg, n.HTTPAddr(), b.Addrs(), "actorserve.events", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for i := range direct {
		d, c := direct[i].Accuracy.Mean, via[i].Accuracy.Mean
		t.Logf("%s: direct %.4f, through the cluster %.4f", direct[i].Name, d, c)
		if math.Abs(d-c) > 0.005 {
			t.Errorf("%s: direct %.4f vs cluster %.4f differ by more than 0.005", direct[i].Name, d, c)
		}
		if d < 0.95 {
			t.Errorf("%s: accuracy %.4f on banknote", direct[i].Name, d)
		}
	}
}
