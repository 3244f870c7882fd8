package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/actorserve/actorserve/actors/broker/brokertest"
	"github.com/actorserve/actorserve/actors/model"
	"github.com/actorserve/actorserve/actors/state"
	"github.com/actorserve/actorserve/cluster"
	"github.com/actorserve/actorserve/cluster/clustertest"
)

// TestStrayActivationCannotChangeLearnedState: a learning model learns a
// labelled stream on its owner. A stray activation request sent straight
// to a node that does not own the model is refused, and state written by a
// stale activation (a zombie that missed the newer claim, with an older
// epoch and a "newer" wall-clock time) is ignored: after the owner dies,
// the model re-activates elsewhere with exactly the learned state, every
// weight bit for bit (same SHA-256), and exactly one update per label.
func TestStrayActivationCannotChangeLearnedState(t *testing.T) {
	b := brokertest.New(t)
	n1 := startTestNode(t, b.Addrs(), "n1")
	n2 := ingStartNode(t, b.Addrs(), "n2", nil, func(c *NodeConfig) { c.Cluster.Join = []string{n1.Cluster.GossipAddr()} })
	nodes := []*Node{n1, n2}
	clustertest.Eventually(t, 20*time.Second, func() error {
		for _, n := range nodes {
			if len(n.Cluster.Members()) != 2 || len(n.Ingress.Stats().Partitions) == 0 {
				return fmt.Errorf("%s: %d members, %d partitions", n.Cluster.Name(), len(n.Cluster.Members()), len(n.Ingress.Stats().Partitions))
			}
		}
		return nil
	})
	putModel(t, n1.HTTPAddr(), "learner", map[string]any{
		"format": "online", "features": []string{"a", "b"}, "labels": []string{"neg", "pos"},
		"learning": map[string]any{"algorithm": "arow", "task": "binary"},
	})
	prod := ingProducer(t, b.Addrs())
	const events = 2000
	for k := range events {
		a, bb := float64(k%13)/6-1, float64(k%7)/3-1
		label := "neg"
		if a+0.5*bb > 0.1 {
			label = "pos"
		}
		v := fmt.Sprintf(`{"id":"e%d","features":{"a":%g,"b":%g},"label":%q}`, k, a, bb, label)
		prod.Produce(t.Context(), &kgo.Record{Topic: "actorserve.events", Key: []byte("learner"), Value: []byte(v)}, nil)
	}
	if err := prod.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	var learned learningJSON
	clustertest.Eventually(t, 30*time.Second, func() error {
		learned = getModelJSON(t, n1.HTTPAddr(), "learner")
		if learned.Learning == nil || learned.Learning.Updates != events {
			return fmt.Errorf("learning %+v", learned.Learning)
		}
		return nil
	})
	owner, other := n1, n2
	if learned.Node == n2.Cluster.Name() {
		owner, other = n2, n1
	}
	t.Logf("learned %d labels on %s, epoch %d, state %s", events, owner.Cluster.Name(), learned.Learning.Epoch, learned.Learning.SHA256[:16])

	// 1. A stray activation request on the non-owner is refused.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	res, err := owner.Cluster.RequestPID(ctx, actor.NewPID(other.Cluster.RemoteAddr(), cluster.ActivatorName),
		&pcluster.ActivationRequest{ClusterIdentity: pcluster.NewClusterIdentity("learner", model.Kind)})
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := res.(*pcluster.ActivationResponse); !ok || !r.Failed {
		t.Fatalf("a node that does not own the model answered the activation request with %+v", res)
	}

	// 2. A zombie's checkpoint: an older epoch, more updates, garbage
	// state, a wall clock from the future. No reader may take it.
	zombie := &state.Checkpoint{F: 1, Model: "learner", Epoch: learned.Learning.Epoch - 1, Node: "zombie",
		Updates: 999999, At: time.Now().Add(time.Hour).UTC(), State: []byte("garbage"), Topic: "actorserve.events",
		Pos: map[int32]int64{0: 1 << 40, 1: 1 << 40, 2: 1 << 40, 3: 1 << 40, 4: 1 << 40, 5: 1 << 40}}
	zb, err := msgpack.Marshal(zombie)
	if err != nil {
		t.Fatal(err)
	}
	if err := prod.ProduceSync(t.Context(), &kgo.Record{Topic: state.DefaultTopic, Key: []byte("learner"), Value: zb}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	// 3. The owner dies; the model re-activates on the other node from the
	// state topic and the log.
	owner.Kill()
	var after learningJSON
	clustertest.Eventually(t, 40*time.Second, func() error {
		// An unlabelled predict activates the model on its new owner.
		_ = postJSONStatus(other.HTTPAddr(), "/v1/models/learner/predict", map[string]any{"features": map[string]float64{"a": 0, "b": 0}})
		after = getModelJSON(t, other.HTTPAddr(), "learner")
		if after.Learning == nil || after.Node != other.Cluster.Name() {
			return fmt.Errorf("model on %q, learning %+v", after.Node, after.Learning)
		}
		return nil
	})
	if after.Learning.Updates != events || after.Learning.SHA256 != learned.Learning.SHA256 {
		t.Fatalf("after the owner died: %d updates, state %s; want %d and %s (the zombie's write or a lost label changed the learner)",
			after.Learning.Updates, after.Learning.SHA256, events, learned.Learning.SHA256)
	}
	if after.Learning.Epoch <= learned.Learning.Epoch {
		t.Fatalf("new activation's epoch %d is not above the old one's %d", after.Learning.Epoch, learned.Learning.Epoch)
	}
	t.Logf("re-activated on %s at epoch %d: %d updates (replayed %d), identical state %s", after.Node, after.Learning.Epoch,
		after.Learning.Updates, after.Learning.Replayed, after.Learning.SHA256[:16])
}

func postJSONStatus(addr, path string, v any) error {
	b, _ := json.Marshal(v)
	resp, err := http.Post("http://"+addr+path, "application/json", bytes.NewReader(b))
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("POST %s: %s", path, resp.Status)
	}
	return nil
}
