package app

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/actorserve/actorserve/actors/broker/brokertest"
	"github.com/actorserve/actorserve/cluster/clustertest"
)

// startTestCluster starts n full nodes in-process, joined through the
// first, on one broker.
func startTestCluster(t testing.TB, n int, tweak func(*NodeConfig)) ([]*Node, []string) {
	t.Helper()
	b := brokertest.New(t)
	var nodes []*Node
	for i := 0; i < n; i++ {
		cfg := DefaultNodeConfig()
		cfg.Brokers = b.Addrs()
		cfg.Cluster = clustertest.Config(i)
		cfg.HTTP.Listen = "127.0.0.1:0"
		if i > 0 {
			cfg.Cluster.Join = []string{nodes[0].Cluster.GossipAddr()}
		}
		if tweak != nil {
			tweak(&cfg)
		}
		node, err := StartNode(t.Context(), cfg, clustertest.Logger(t, slog.LevelWarn))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(node.Close)
		if err := node.WaitReady(t.Context()); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, node)
	}
	clustertest.Eventually(t, 20*time.Second, func() error {
		for _, node := range nodes {
			if got := len(node.Cluster.Members()); got != n {
				return fmt.Errorf("%s sees %d members", node.Cluster.Name(), got)
			}
		}
		return nil
	})
	return nodes, b.Addrs()
}

type listJSON struct {
	Models []struct {
		ID    string `json:"id"`
		Node  string `json:"node"`
		State string `json:"state"`
		Usage int64  `json:"usage"`
	} `json:"models"`
	Totals struct {
		Usage  int64 `json:"usage"`
		Active int   `json:"active"`
	} `json:"totals"`
	Partial bool     `json:"partial"`
	Missing []string `json:"missing"`
}

func getList(t testing.TB, addr, query string) listJSON {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/v1/models" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var l listJSON
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return l
}

func predictHTTP(addr, id string, x0 float64) error {
	resp, err := http.Post("http://"+addr+"/v1/models/"+id+"/predict", "application/json",
		strings.NewReader(fmt.Sprintf(`{"features":{"x0":%g,"x1":1}}`, x0)))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("predict %s: %s %s", id, resp.Status, b)
	}
	return nil
}

// TestClusterStatsMerge: the cluster-wide answer equals the sums of the
// per-node values; killing a node gives a partial answer naming it within
// the query deadline, then a full one once its models re-activate.
func TestClusterStatsMerge(t *testing.T) {
	nodes, _ := startTestCluster(t, 3, func(c *NodeConfig) { c.HTTP.QueryTimeout = time.Second })
	const models = 30
	want := map[string]int64{}
	for i := 0; i < models; i++ {
		id := fmt.Sprintf("s%02d", i)
		putModel(t, nodes[0].HTTPAddr(), id, regressionModel(i))
		for k := 0; k <= i%4; k++ {
			if err := predictHTTP(nodes[k%3].HTTPAddr(), id, float64(k)); err != nil {
				t.Fatal(err)
			}
			want[id]++
		}
	}
	cl := getList(t, nodes[2].HTTPAddr(), "")
	if cl.Partial || len(cl.Models) != models {
		t.Fatalf("cluster answer: partial %v, %d models", cl.Partial, len(cl.Models))
	}
	perNode := map[string]int64{}
	var sumLocal int64
	hosts := map[string]bool{}
	for _, n := range nodes {
		local := getList(t, n.HTTPAddr(), "?local=true")
		for _, m := range local.Models {
			perNode[m.ID] += m.Usage
			hosts[m.Node] = true
		}
		sumLocal += local.Totals.Usage
	}
	for _, m := range cl.Models {
		if m.Usage != perNode[m.ID] || m.Usage != want[m.ID] {
			t.Errorf("%s: cluster usage %d, per-node sum %d, sent %d", m.ID, m.Usage, perNode[m.ID], want[m.ID])
		}
	}
	if cl.Totals.Usage != sumLocal || len(hosts) != 3 {
		t.Fatalf("cluster total %d, sum of node totals %d; models on %d nodes", cl.Totals.Usage, sumLocal, len(hosts))
	}

	// Kill n3: the next answer comes within the deadline, partial, naming it.
	victim := nodes[2]
	victim.Kill()
	start := time.Now()
	l := getList(t, nodes[0].HTTPAddr(), "")
	took := time.Since(start)
	if !l.Partial || len(l.Missing) != 1 || l.Missing[0] != "n3" {
		t.Fatalf("after the kill: partial %v missing %v", l.Partial, l.Missing)
	}
	// Without the deadline the query would wait for the dead member up to
	// the 10 s request timeout.
	if took > 5*time.Second {
		t.Fatalf("partial answer took %s with a 1 s query deadline: the deadline was not honoured", took)
	}
	t.Logf("partial answer naming n3 in %s", took.Round(time.Millisecond))
	// Once n3 is declared dead and its models re-activate on the
	// survivors, the answer is full again.
	clustertest.Eventually(t, 20*time.Second, func() error {
		for i := 0; i < models; i++ {
			if err := predictHTTP(nodes[1].HTTPAddr(), fmt.Sprintf("s%02d", i), 1); err != nil {
				return err
			}
		}
		l := getList(t, nodes[0].HTTPAddr(), "")
		if l.Partial || l.Totals.Active != models {
			return fmt.Errorf("partial %v missing %v, %d active", l.Partial, l.Missing, l.Totals.Active)
		}
		for _, m := range l.Models {
			if m.Node == "n3" {
				return fmt.Errorf("%s still on n3", m.ID)
			}
		}
		return nil
	})
}

// BenchmarkListModels10k: GET /v1/models for 10,000 deployed and active
// models across three nodes.
func BenchmarkListModels10k(b *testing.B) {
	nodes, _ := startTestCluster(b, 3, nil)
	const models = 10000
	for i := 0; i < models; i++ {
		putModel(b, nodes[0].HTTPAddr(), fmt.Sprintf("b%05d", i), regressionModel(i%50))
	}
	clustertest.Eventually(b, 60*time.Second, func() error {
		for _, n := range nodes {
			if n.Table.Len() != models {
				return fmt.Errorf("%s table has %d", n.Cluster.Name(), n.Table.Len())
			}
		}
		return nil
	})
	for i := 0; i < models; i++ {
		if err := predictHTTP(nodes[i%3].HTTPAddr(), fmt.Sprintf("b%05d", i), 1); err != nil {
			b.Fatal(err)
		}
	}
	l := getList(b, nodes[0].HTTPAddr(), "")
	if l.Totals.Active != models || l.Partial {
		b.Fatalf("%d active, partial %v", l.Totals.Active, l.Partial)
	}
	b.ResetTimer()
	for b.Loop() {
		resp, err := http.Get("http://" + nodes[1].HTTPAddr() + "/v1/models")
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		b.SetBytes(n)
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/list")
}

// TestNewVersionAcrossNodes: a new descriptor version published through
// one node reaches the active actor on whichever node hosts it; the model
// then reports the new version with fresh stats.
func TestNewVersionAcrossNodes(t *testing.T) {
	nodes, _ := startTestCluster(t, 3, nil)
	putModel(t, nodes[0].HTTPAddr(), "swap", regressionModel(2)) // 2*x0 - x1 + 1
	for i := 0; i < 3; i++ {
		if err := predictHTTP(nodes[1].HTTPAddr(), "swap", 1); err != nil {
			t.Fatal(err)
		}
	}
	v2 := regressionModel(5)
	v2["version"] = 2
	start := time.Now()
	putModel(t, nodes[2].HTTPAddr(), "swap", v2) // 5*x0 - x1 + 1
	var took time.Duration
	v1Polls := 0
	clustertest.Eventually(t, 10*time.Second, func() error {
		out := postJSON(t, "http://"+nodes[1].HTTPAddr()+"/v1/models/swap/predict", map[string]any{"features": map[string]float64{"x0": 1, "x1": 1}})
		var p struct {
			Version    int64 `json:"version"`
			Prediction struct {
				Value float64 `json:"value"`
			} `json:"prediction"`
		}
		_ = json.Unmarshal(out, &p)
		if p.Version != 2 || p.Prediction.Value != 5 {
			v1Polls++
			return fmt.Errorf("version %d value %v", p.Version, p.Prediction.Value)
		}
		took = time.Since(start)
		return nil
	})
	t.Logf("version 2 served %s after the PUT through another node", took.Round(time.Millisecond))
	var m struct {
		Version  int64 `json:"version"`
		Usage    int64 `json:"usage"`
		Previous *struct {
			Version int64 `json:"version"`
			Usage   int64 `json:"usage"`
		} `json:"previous"`
	}
	resp, err := http.Get("http://" + nodes[0].HTTPAddr() + "/v1/models/swap")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	if m.Version != 2 || m.Usage != 1 || m.Previous == nil || m.Previous.Version != 1 || m.Previous.Usage != int64(3+v1Polls) {
		t.Fatalf("stats after the swap: %+v previous %+v; want version 2 with 1 use, previous version 1 with %d", m, m.Previous, 3+v1Polls)
	}
}
