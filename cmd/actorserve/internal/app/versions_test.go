package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/actorserve/actorserve/serving"
)

// putRaw PUTs body as model id through node n and returns the status and
// the decoded answer.
func putRaw(t *testing.T, n *Node, id string, body []byte) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "PUT", "http://"+n.HTTPAddr()+"/v1/models/"+id, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT %s: %v", id, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("PUT %s answered %d %q: %v", id, resp.StatusCode, b, err)
	}
	return resp.StatusCode, out
}

// TestVersionsAreUniqueAndIncreasing: two nodes deploy the same model at
// once, and records are written to the control topic the way a stale node
// or a newer build would. Every node ends with the same descriptor: each
// successful deploy got its own version, versions only go up, a record of
// a newer build is read (its unknown fields ignored), and one that cannot
// be read at all shows its error on the model instead of being skipped.
func TestVersionsAreUniqueAndIncreasing(t *testing.T) {
	b := ingBroker(t)
	n1 := ingStartNode(t, b.Addrs(), "v1", nil, nil)
	n2 := ingStartNode(t, b.Addrs(), "v2", nil, nil)
	nodes := []*Node{n1, n2}
	const id, puts = "m", 16

	// Concurrent deploys through both nodes, each with its own intercept.
	version := make([]int64, puts)
	var wg sync.WaitGroup
	for i := range puts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := ingJSON(ingLinear([]string{"a"}, nil, [][]float64{{1}}, []float64{float64(i)}, "identity"))
			code, out := putRaw(t, nodes[i%2], id, body)
			if code != http.StatusAccepted {
				t.Errorf("deploy %d: %d %v", i, code, out)
				return
			}
			v, _ := out["version"].(float64)
			version[i] = int64(v)
		}()
	}
	wg.Wait()
	seen := map[int64]int{}
	var top int64
	winner := -1
	for i, v := range version {
		if prev, dup := seen[v]; dup && v != 0 {
			t.Errorf("deploys %d and %d both got version %d", prev, i, v)
		}
		seen[v] = i
		if v > top {
			top, winner = v, i
		}
	}
	intercept := func(d *serving.Descriptor) float64 {
		var data struct {
			Intercepts []float64 `json:"intercepts"`
		}
		_ = json.Unmarshal(d.Data, &data)
		if len(data.Intercepts) == 0 {
			return -1
		}
		return data.Intercepts[0]
	}
	agree := func(want int64, wantIcpt float64, nodes ...*Node) {
		t.Helper()
		ingEventually(t, 10*time.Second, func() error {
			for _, n := range nodes {
				d, ok := n.Table.Get(id)
				if !ok || d.Version != want || intercept(d) != wantIcpt {
					return fmt.Errorf("node %s holds %v, want version %d with intercept %v", n.cfg.Cluster.Name, d, want, wantIcpt)
				}
			}
			return nil
		})
	}
	agree(top, float64(winner), n1, n2)
	t.Logf("%d concurrent deploys through two nodes: versions %v; the model is at version %d (deploy %d)", puts, version, top, winner)

	// A stale record (an older version, written late) is ignored by every
	// node, including one that reads the log from the start.
	pub := func(value string) {
		t.Helper()
		if err := n1.kafka.ProduceSync(t.Context(), &kgo.Record{Topic: n1.cfg.Control.Topic, Key: []byte(id), Value: []byte(value)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	pub(fmt.Sprintf(`{"id":%q,"version":%d,"format":"linear","features":["a"],"data":{"coefficients":[[9]],"intercepts":[99],"link":"identity"}}`, id, top-1))
	pub(fmt.Sprintf(`{"id":%q,"version":%d,"format":"linear","features":["a"],"data":{"coefficients":[[9]],"intercepts":[98],"link":"identity"}}`, id, top))
	n3 := ingStartNode(t, b.Addrs(), "v3", nil, nil)
	if err := n1.Table.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	agree(top, float64(winner), n1, n2, n3)

	// A record of a newer build, with a field this build does not know, is
	// applied (the unknown field ignored).
	pub(fmt.Sprintf(`{"id":%q,"version":%d,"format":"linear","features":["a"],"data":{"coefficients":[[1]],"intercepts":[500],"link":"identity"},"canary":{"weight":0.1}}`, id, top+1))
	agree(top+1, 500, n1, n2, n3)

	// A record no node can read shows its error on the model.
	pub(fmt.Sprintf(`{"id":%q,"version":%d,"format":7}`, id, top+2))
	ingEventually(t, 10*time.Second, func() error {
		for _, n := range []*Node{n1, n2, n3} {
			d, ok := n.Table.Get(id)
			if !ok || d.Version != top+2 || d.Invalid == "" {
				return fmt.Errorf("node %s holds %+v, want the unreadable version %d with its error", n.cfg.Cluster.Name, d, top+2)
			}
		}
		return nil
	})
	resp, err := http.Get("http://" + n2.HTTPAddr() + "/v1/models/" + id)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(body, []byte(`"invalid":`)) || !bytes.Contains(body, []byte("format")) {
		t.Errorf("GET /v1/models/%s does not show why version %d is not served: %s", id, top+2, body)
	}

	// The highest versions are refused with a 4xx, and deploys go on.
	for _, v := range []string{"9223372036854775807", "9007199254740992", "-3"} {
		body := fmt.Sprintf(`{"version":%s,"format":"linear","features":["a"],"data":{"coefficients":[[1]],"intercepts":[0],"link":"identity"}}`, v)
		if code, out := putRaw(t, n1, id, []byte(body)); code/100 != 4 {
			t.Errorf("deploy with version %s: %d %v, want a 4xx", v, code, out)
		}
	}
	code, out := putRaw(t, n1, id, ingJSON(ingLinear([]string{"a"}, nil, [][]float64{{1}}, []float64{7}, "identity")))
	if code != http.StatusAccepted || out["version"] != float64(top+3) {
		t.Errorf("deploy after the refused ones: %d %v, want version %d", code, out, top+3)
	}
	// The unreadable version is not kept as one to roll back to.
	agree(top+3, 7, n1, n2, n3)
	for _, n := range []*Node{n1, n2, n3} {
		d, _ := n.Table.Get(id)
		for _, h := range d.History {
			if h.Invalid != "" || h.Version == top+2 {
				t.Errorf("node %s keeps the unreadable version %d in the model's history: %+v", n.cfg.Cluster.Name, h.Version, h)
			}
		}
		if len(d.Unknown) > 0 {
			t.Errorf("node %s read fields it does not know in its own record: %v", n.cfg.Cluster.Name, d.Unknown)
		}
	}
}
