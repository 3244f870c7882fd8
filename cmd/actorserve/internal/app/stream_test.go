package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/actorserve/actorserve/actors/broker/brokertest"
	"github.com/actorserve/actorserve/cluster/clustertest"
)

// startTestNode starts a full node (ingress included) on a test broker.
func startTestNode(t testing.TB, brokers []string, name string) *Node {
	t.Helper()
	cfg := DefaultNodeConfig()
	cfg.Brokers = brokers
	cfg.Cluster.Name = name
	cfg.Cluster.Gossip = "127.0.0.1:0"
	cfg.Cluster.Remote = "127.0.0.1:0"
	cfg.HTTP.Listen = "127.0.0.1:0"
	n, err := StartNode(t.Context(), cfg, clustertest.Logger(t, slog.LevelWarn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	if err := n.WaitReady(t.Context()); err != nil {
		t.Fatal(err)
	}
	return n
}

func putModel(t testing.TB, httpAddr, id string, d map[string]any) {
	t.Helper()
	b, _ := json.Marshal(d)
	req, _ := http.NewRequest(http.MethodPut, "http://"+httpAddr+"/v1/models/"+id, strings.NewReader(string(b)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("deploy %s: %s %s", id, resp.Status, body)
	}
}

// regression model i: value = i*x0 - x1 + 1.
func regressionModel(i int) map[string]any {
	return map[string]any{
		"format": "linear", "features": []string{"x0", "x1"},
		"data": map[string]any{"coefficients": [][]float64{{float64(i), -1}}, "intercepts": []float64{1}, "link": "identity"},
	}
}

type predRecord struct {
	Model      string `json:"model"`
	ID         string `json:"id"`
	Prediction struct {
		Value *float64 `json:"value"`
	} `json:"prediction"`
}

// consumeAll reads topic from the start until stop says so or timeout.
func consumeAll(t *testing.T, brokers []string, topic string, timeout time.Duration, each func(*kgo.Record) bool) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %v", topic, ctx.Err())
		}
		stop := false
		fs.EachRecord(func(r *kgo.Record) {
			if !stop && each(r) {
				stop = true
			}
		})
		if stop {
			return
		}
	}
}

// TestStreamExactlyOnePredictionPerEvent: 100,000 events for 20 models over
// 6 partitions give exactly one prediction per event id, each with the
// right value, when nothing fails.
func TestStreamExactlyOnePredictionPerEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 100,000 events")
	}
	b := brokertest.New(t)
	n := startTestNode(t, b.Addrs(), "s1")
	const models, events = 20, 100000
	for i := 0; i < models; i++ {
		putModel(t, n.HTTPAddr(), fmt.Sprintf("m%02d", i), regressionModel(i))
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.DefaultProduceTopic("actorserve.events"))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	start := time.Now()
	for k := 0; k < events; k++ {
		i := k % models
		v := fmt.Sprintf(`{"id":"e%d","features":{"x0":%d,"x1":%d}}`, k, k%7, k%5)
		prod.Produce(t.Context(), &kgo.Record{Key: []byte(fmt.Sprintf("m%02d", i)), Value: []byte(v)}, nil)
	}
	if err := prod.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	seen := make([]int, events)
	got := 0
	consumeAll(t, b.Addrs(), "actorserve.predictions", 120*time.Second, func(r *kgo.Record) bool {
		var p predRecord
		if err := json.Unmarshal(r.Value, &p); err != nil {
			t.Fatalf("prediction %s: %v", r.Value, err)
		}
		var k int
		if _, err := fmt.Sscanf(p.ID, "e%d", &k); err != nil || k < 0 || k >= events {
			t.Fatalf("prediction for unknown id %q", p.ID)
		}
		i := k % models
		want := float64(i)*float64(k%7) - float64(k%5) + 1
		if p.Model != fmt.Sprintf("m%02d", i) || p.Prediction.Value == nil || math.Abs(*p.Prediction.Value-want) > 1e-9 {
			t.Fatalf("%s: model %s value %v, want m%02d %v", p.ID, p.Model, p.Prediction.Value, i, want)
		}
		seen[k]++
		got++
		return got >= events
	})
	el := time.Since(start)
	for k, c := range seen {
		if c != 1 {
			t.Fatalf("event e%d has %d predictions", k, c)
		}
	}
	// Nothing else arrives afterwards (no duplicates), and no dead letters:
	// once the node has read every event and holds none in flight it can
	// write nothing more, and the predictions topic then ends after exactly
	// one record per event.
	ingEventually(t, 10*time.Second, func() error {
		if st := n.Ingress.Stats(); st.Events < events || st.InFlight != 0 {
			return fmt.Errorf("ingress has read %d of %d events, %d in flight", st.Events, events, st.InFlight)
		}
		return nil
	})
	st := n.Ingress.Stats()
	if st.Events != events || st.Predictions != events || len(st.DeadLetters) != 0 {
		t.Fatalf("ingress stats: %d events, %d predictions, dead letters %v; want %d, %d, none", st.Events, st.Predictions, st.DeadLetters, events, events)
	}
	adm, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	ends, err := kadm.NewClient(adm).ListEndOffsets(t.Context(), "actorserve.predictions")
	if err != nil || ends.Error() != nil {
		t.Fatalf("end offsets of actorserve.predictions: %v %v", err, ends.Error())
	}
	var written int64
	ends.Each(func(o kadm.ListedOffset) { written += o.Offset })
	if written != events {
		t.Fatalf("actorserve.predictions holds %d records, want exactly %d", written, events)
	}
	t.Logf("%d events, %d models, 6 partitions: all predicted once in %s (%.0f events/s end to end)", events, models, el.Round(time.Millisecond), events/el.Seconds())
}

// TestKcatProducesAndReads: kcat, an independent client, produces JSON
// events with the murmur2_random partitioner and reads the predictions.
func TestKcatProducesAndReads(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatal("kcat is not installed: apt-get install kcat (.ci/run installs it)")
	}
	b := brokertest.New(t)
	n := startTestNode(t, b.Addrs(), "k1")
	putModel(t, n.HTTPAddr(), "m07", regressionModel(7))
	var in strings.Builder
	for k := 0; k < 50; k++ {
		fmt.Fprintf(&in, "m07\t{\"id\":\"k%d\",\"features\":[%d,1]}\n", k, k)
	}
	cmd := exec.CommandContext(t.Context(), kcat, "-b", b.Addrs()[0], "-t", "actorserve.events", "-P", "-K", "\t",
		"-X", "topic.partitioner=murmur2_random")
	cmd.Stdin = strings.NewReader(in.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat produce: %v: %s", err, out)
	}
	seen := map[string]bool{}
	deadline := time.Now().Add(30 * time.Second)
	for len(seen) < 50 && time.Now().Before(deadline) {
		out, err := exec.CommandContext(t.Context(), kcat, "-b", b.Addrs()[0], "-t", "actorserve.predictions", "-C", "-e", "-o", "beginning", "-f", "%k %s\n").Output()
		if err != nil {
			t.Fatalf("kcat consume: %v", err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			key, val, ok := strings.Cut(line, " ")
			if !ok {
				continue
			}
			var p predRecord
			if err := json.Unmarshal([]byte(val), &p); err != nil {
				t.Fatalf("kcat read %q: %v", line, err)
			}
			var k int
			fmt.Sscanf(p.ID, "k%d", &k)
			// Keyed like its input (the model id here), so one entity's
			// predictions stay in one partition.
			if key != "m07" || p.Prediction.Value == nil || *p.Prediction.Value != float64(7*k-1+1) {
				t.Fatalf("prediction %q: want key m07 and value %d", line, 7*k)
			}
			seen[p.ID] = true
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(seen) != 50 {
		t.Fatalf("kcat read %d of 50 predictions", len(seen))
	}
}
