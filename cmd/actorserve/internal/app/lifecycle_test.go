package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/actorserve/actorserve/serving"
)

// lcNodes starts n joined nodes on brokers.
func lcNodes(t *testing.T, brokers []string, n int, prefix string) []*Node {
	t.Helper()
	var nodes []*Node
	for i := range n {
		nodes = append(nodes, ingStartNode(t, brokers, fmt.Sprintf("%s%d", prefix, i+1), nil, func(c *NodeConfig) {
			if len(nodes) > 0 {
				c.Cluster.Join = []string{nodes[0].Cluster.GossipAddr()}
			}
		}))
	}
	ingEventually(t, 20*time.Second, func() error {
		for _, nd := range nodes {
			if got := len(nd.Cluster.Members()); got != n {
				return fmt.Errorf("%s sees %d members", nd.Cluster.Name(), got)
			}
		}
		return nil
	})
	return nodes
}

// lcCall makes an HTTP call and returns the status and body.
func lcCall(t *testing.T, method, url string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(t.Context(), method, url, rd)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func lcRegression(k float64) map[string]any {
	return map[string]any{"format": "linear", "features": []string{"x"},
		"data": map[string]any{"coefficients": [][]float64{{k}}, "intercepts": []float64{0}, "link": "identity"}}
}

type lcVersions struct {
	Current  int64 `json:"current"`
	Revision int64 `json:"revision"`
	Variant  *struct {
		Version int64   `json:"version"`
		Mode    string  `json:"mode"`
		Weight  float64 `json:"weight"`
	} `json:"variant"`
	Versions []struct {
		Version int64  `json:"version"`
		Role    string `json:"role"`
	} `json:"versions"`
	Decisions []serving.Decision `json:"decisions"`
}

func lcGetVersions(t *testing.T, n *Node, id string) lcVersions {
	t.Helper()
	code, body := lcCall(t, "GET", "http://"+n.HTTPAddr()+"/v1/models/"+id+"/versions", nil)
	if code != 200 {
		t.Fatalf("versions of %s: %d %s", id, code, body)
	}
	var v lcVersions
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// lcServes waits until every node answers model id with version v (the
// value k*x of that version) and returns how long the slowest took.
func lcServes(t *testing.T, nodes []*Node, id string, v int64, k float64) time.Duration {
	t.Helper()
	start := time.Now()
	var slowest time.Duration
	for _, n := range nodes {
		ingEventually(t, 10*time.Second, func() error {
			code, body := lcCall(t, "POST", "http://"+n.HTTPAddr()+"/v1/models/"+id+"/predict", map[string]any{"id": "probe", "features": map[string]float64{"x": 3}})
			var got struct {
				Version    int64 `json:"version"`
				Prediction struct {
					Value *float64 `json:"value"`
				} `json:"prediction"`
			}
			if code != 200 || json.Unmarshal(body, &got) != nil || got.Version != v || got.Prediction.Value == nil || *got.Prediction.Value != 3*k {
				return fmt.Errorf("%s answers %d %s, want version %d value %v", n.Cluster.Name(), code, body, v, 3*k)
			}
			if d, ok := n.Table.Get(id); !ok || d.Version != v {
				return fmt.Errorf("%s's table is not at version %d", n.Cluster.Name(), v)
			}
			return nil
		})
		slowest = max(slowest, time.Since(start))
	}
	return slowest
}

// TestRollbackAcrossClusterAndRestart: versions are kept, a rollback
// through any node is served by every node, the history and decisions are
// visible, bad requests are refused clearly, and a restart of every node
// keeps it all (it lives in the model's control record).
func TestRollbackAcrossClusterAndRestart(t *testing.T) {
	b := ingBroker(t)
	nodes := lcNodes(t, b.Addrs(), 3, "rb")
	base := func(i int) string { return "http://" + nodes[i%3].HTTPAddr() + "/v1/models/m" }
	for k := 1; k <= 3; k++ {
		ingDeploy(t, nodes[0], "m", lcRegression(float64(k)))
	}
	lcServes(t, nodes, "m", 3, 3)

	code, body := lcCall(t, "POST", base(1)+"/rollback", nil)
	if code != 200 || !strings.Contains(string(body), `"version":2`) {
		t.Fatalf("rollback: %d %s", code, body)
	}
	t.Logf("rollback to version 2 served by all three nodes after %v", lcServes(t, nodes, "m", 2, 2))
	code, body = lcCall(t, "POST", base(2)+"/rollback?to=1", nil)
	if code != 200 {
		t.Fatalf("rollback to 1: %d %s", code, body)
	}
	t.Logf("rollback to version 1 served by all three nodes after %v", lcServes(t, nodes, "m", 1, 1))

	v := lcGetVersions(t, nodes[1], "m")
	roles := fmt.Sprint(v.Versions)
	if v.Current != 1 || len(v.Versions) != 3 || v.Versions[0].Version != 1 || v.Versions[0].Role != "current" || roles != "[{1 current} {2 earlier} {3 earlier}]" {
		t.Errorf("versions after rollbacks: current %d, %s", v.Current, roles)
	}
	last := v.Decisions[len(v.Decisions)-1]
	if last.Action != serving.ActionRollback || last.From != 2 || last.To != 1 || last.By != "api" {
		t.Errorf("last decision %+v, want rollback 2 -> 1 by api", last)
	}

	for _, tc := range []struct {
		method, path string
		code         int
		want         string
	}{
		{"POST", "/rollback?to=7", 409, "7 is not among them"},
		{"POST", "/rollback?to=1", 409, "at version 1 already"},
		{"POST", "/rollback?to=x", 400, `is not a version`},
		{"POST", "/promote", 409, "no variant"},
		{"DELETE", "/variant", 409, "no variant"},
	} {
		code, body := lcCall(t, tc.method, base(0)+tc.path, nil)
		if code != tc.code || !strings.Contains(string(body), tc.want) || !strings.Contains(string(body), `"code"`) {
			t.Errorf("%s %s: %d %s, want %d naming %q", tc.method, tc.path, code, body, tc.code, tc.want)
		}
	}
	if code, body := lcCall(t, "POST", "http://"+nodes[0].HTTPAddr()+"/v1/models/nope/rollback", nil); code != 404 {
		t.Errorf("rollback of an unknown model: %d %s", code, body)
	}
	// A deploy request may not carry what the cluster sets.
	bad := lcRegression(5)
	bad["history"] = []any{}
	if code, body := lcCall(t, "PUT", base(0), bad); code != 400 || !strings.Contains(string(body), "history") {
		t.Errorf("deploy with history: %d %s", code, body)
	}
	// A new version goes above every kept one.
	ingDeploy(t, nodes[0], "m", lcRegression(4))
	lcServes(t, nodes, "m", 4, 4)
	before := lcGetVersions(t, nodes[0], "m")
	if fmt.Sprint(before.Versions) != "[{4 current} {1 earlier} {2 earlier}]" {
		t.Errorf("after a new deploy: %v (3 versions kept)", before.Versions)
	}

	for _, n := range nodes {
		n.Close()
	}
	again := lcNodes(t, b.Addrs(), 3, "rs")
	lcServes(t, again, "m", 4, 4)
	after := lcGetVersions(t, again[2], "m")
	if fmt.Sprint(after.Versions) != fmt.Sprint(before.Versions) || after.Revision != before.Revision || len(after.Decisions) != len(before.Decisions) {
		t.Errorf("after restarting every node: %+v, before %+v", after, before)
	}
	code, body = lcCall(t, "POST", "http://"+again[1].HTTPAddr()+"/v1/models/m/rollback?to=2", nil)
	if code != 200 {
		t.Fatalf("rollback after restart: %d %s", code, body)
	}
	lcServes(t, again, "m", 2, 2)
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

func lcClassifier(w0, w1 float64) map[string]any {
	return map[string]any{"format": "linear", "features": []string{"a", "b"}, "labels": []string{"no", "yes"},
		"data": map[string]any{"coefficients": [][]float64{{w0, w1}}, "intercepts": []float64{0}, "link": "logistic"}}
}

// lcLabel is what a classifier with weights w says about (a, b).
func lcLabel(w0, w1, a, b float64) string {
	if sigmoid(w0*a+w1*b) > 0.5 {
		return "yes"
	}
	return "no"
}

// TestShadowThroughKafka: a shadow scores every event read from Kafka,
// its predictions go to the shadow topic only, and its agreement and
// accuracy equal an offline computation on the same events.
func TestShadowThroughKafka(t *testing.T) {
	b := ingBroker(t)
	nodes := lcNodes(t, b.Addrs(), 3, "sh")
	ingDeploy(t, nodes[0], "fraud", lcClassifier(1, -1))
	shadow := lcClassifier(1, 1)
	shadow["rollout"] = map[string]any{"mode": "shadow"}
	code, body := lcCall(t, "PUT", "http://"+nodes[1].HTTPAddr()+"/v1/models/fraud", shadow)
	if code != 202 || !strings.Contains(string(body), `"rollout":"shadow"`) || !strings.Contains(string(body), `"current":1`) {
		t.Fatalf("deploy shadow: %d %s", code, body)
	}
	ingEventually(t, 10*time.Second, func() error {
		for _, n := range nodes {
			if d, ok := n.Table.Get("fraud"); !ok || d.Variant == nil {
				return fmt.Errorf("%s has no variant yet", n.Cluster.Name())
			}
		}
		return nil
	})

	const events = 400
	var agreeOff, rightPrimary, rightShadow int
	recs := make([]*kgo.Record, 0, events)
	for i := range events {
		a, bb := math.Sin(float64(i)*1.3)*2, math.Cos(float64(i)*0.7)*2
		truth := "no"
		if a+bb > 0 {
			truth = "yes"
		}
		p1, p2 := lcLabel(1, -1, a, bb), lcLabel(1, 1, a, bb)
		if p1 == p2 {
			agreeOff++
		}
		if p1 == truth {
			rightPrimary++
		}
		if p2 == truth {
			rightShadow++
		}
		recs = append(recs, ingEvent("fraud", ingJSON(map[string]any{"model": "fraud", "id": fmt.Sprintf("e-%d", i),
			"features": map[string]float64{"a": a, "b": bb}, "label": truth})))
	}
	ingProduce(t, ingProducer(t, b.Addrs()), recs...)

	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.ConsumeTopics(ingPredictionsTopic, "actorserve.shadow"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	main, shadowed := map[string]ingPrediction{}, map[string]ingPrediction{}
	var variants []string
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	for len(main) < events || len(shadowed) < events {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("predictions %d, shadow %d of %d", len(main), len(shadowed), events)
		}
		fs.EachRecord(func(r *kgo.Record) {
			var p ingPrediction
			var raw struct {
				Variant string `json:"variant"`
			}
			if err := json.Unmarshal(r.Value, &p); err != nil {
				t.Fatalf("%s: %v", r.Value, err)
			}
			_ = json.Unmarshal(r.Value, &raw)
			if r.Topic == "actorserve.shadow" {
				if raw.Variant != "shadow" || p.Version != 2 {
					t.Errorf("shadow record %s", r.Value)
				}
				shadowed[p.ID] = p
				return
			}
			if p.Version != 1 || raw.Variant != "" {
				variants = append(variants, string(r.Value))
			}
			main[p.ID] = p
		})
	}
	if len(variants) > 0 {
		t.Errorf("%d records on the main output are not the current version's, e.g. %s", len(variants), variants[0])
	}
	var agreeSeen int
	for id, p := range main {
		if s, ok := shadowed[id]; ok && s.Prediction.Label == p.Prediction.Label {
			agreeSeen++
		}
	}
	if agreeSeen != agreeOff {
		t.Errorf("records agree on %d events, offline %d", agreeSeen, agreeOff)
	}

	// The live figures: agreement and accuracy of both, side by side.
	ingEventually(t, 10*time.Second, func() error {
		code, body := lcCall(t, "GET", "http://"+nodes[2].HTTPAddr()+"/v1/models/fraud", nil)
		var got struct {
			Learning *struct {
				Accuracy float64 `json:"accuracy"`
				Labels   int64   `json:"labels"`
			} `json:"learning"`
			Variant *struct {
				Version  int64  `json:"version"`
				Role     string `json:"role"`
				Compared int64  `json:"compared"`
				Agreed   int64  `json:"agreed"`
				Usage    int64  `json:"usage"`
				Learning *struct {
					Accuracy float64 `json:"accuracy"`
					Labels   int64   `json:"labels"`
				} `json:"learning"`
			} `json:"variant"`
		}
		if code != 200 || json.Unmarshal(body, &got) != nil || got.Variant == nil || got.Variant.Learning == nil || got.Learning == nil {
			return fmt.Errorf("model: %d %s", code, body)
		}
		v := got.Variant
		if v.Version != 2 || v.Role != "shadow" || v.Compared != events || v.Agreed != int64(agreeOff) || v.Usage != events || v.Learning.Labels != events {
			return fmt.Errorf("variant %+v, want version 2 shadow compared %d agreed %d", *v, events, agreeOff)
		}
		if math.Abs(v.Learning.Accuracy-float64(rightShadow)/events) > 1e-9 || math.Abs(got.Learning.Accuracy-float64(rightPrimary)/events) > 1e-9 {
			return fmt.Errorf("accuracy shadow %v primary %v, offline %v and %v", v.Learning.Accuracy, got.Learning.Accuracy,
				float64(rightShadow)/events, float64(rightPrimary)/events)
		}
		return nil
	})
}

// TestCanarySplitsKeys: a 10 % canary answers for 10 % ± 1 % of the keys,
// each key always the same version, through any node and through Kafka
// (the prediction records name the variant).
func TestCanarySplitsKeys(t *testing.T) {
	b := ingBroker(t)
	nodes := lcNodes(t, b.Addrs(), 3, "ca")
	ingDeploy(t, nodes[0], "price", lcRegression(1))
	canary := lcRegression(2)
	canary["rollout"] = map[string]any{"mode": "canary", "weight": 0.1}
	if code, body := lcCall(t, "PUT", "http://"+nodes[0].HTTPAddr()+"/v1/models/price", canary); code != 202 {
		t.Fatalf("deploy canary: %d %s", code, body)
	}
	ingEventually(t, 10*time.Second, func() error {
		for _, n := range nodes {
			if d, ok := n.Table.Get("price"); !ok || d.Variant == nil {
				return fmt.Errorf("%s has no variant yet", n.Cluster.Name())
			}
		}
		return nil
	})
	const keys = 10000
	variantOf := map[string]int64{}
	for pass := range 2 {
		for start := 0; start < keys; start += 500 {
			var evs []map[string]any
			for k := start; k < start+500; k++ {
				evs = append(evs, map[string]any{"id": fmt.Sprintf("p%d-%d", pass, k), "key": fmt.Sprintf("cust-%d", k), "features": map[string]float64{"x": 1}})
			}
			code, body := lcCall(t, "POST", "http://"+nodes[(start/500+pass)%3].HTTPAddr()+"/v1/models/price/predict", map[string]any{"events": evs})
			var got struct {
				Version int64 `json:"version"`
				Results []struct {
					Version    int64  `json:"version"`
					Variant    string `json:"variant"`
					Prediction struct {
						Value float64 `json:"value"`
					} `json:"prediction"`
				} `json:"results"`
			}
			if code != 200 || json.Unmarshal(body, &got) != nil || len(got.Results) != 500 {
				t.Fatalf("predict: %d %.300s", code, body)
			}
			for i, r := range got.Results {
				key := fmt.Sprintf("cust-%d", start+i)
				v := got.Version
				if r.Variant == "canary" {
					v = r.Version
				}
				if want := float64(v); r.Prediction.Value != want {
					t.Fatalf("%s: version %d answered %v", key, v, r.Prediction.Value)
				}
				if prev, ok := variantOf[key]; ok && prev != v {
					t.Fatalf("%s answered by version %d, then %d", key, prev, v)
				}
				variantOf[key] = v
			}
		}
	}
	canaryKeys := 0
	for _, v := range variantOf {
		if v == 2 {
			canaryKeys++
		}
	}
	share := float64(canaryKeys) / keys
	t.Logf("canary answered %d of %d keys (%.2f%%)", canaryKeys, keys, share*100)
	if share < 0.09 || share > 0.11 {
		t.Errorf("canary share %.4f, want 0.10 ± 0.01", share)
	}

	// Through Kafka: keyed by customer, the record names the variant.
	w := ingWatch(t, b.Addrs())
	var recs []*kgo.Record
	for k := range 300 {
		recs = append(recs, ingEvent(fmt.Sprintf("cust-%d", k), ingJSON(map[string]any{"model": "price", "id": fmt.Sprintf("kafka-%d", k), "features": map[string]float64{"x": 1}})))
	}
	ingProduce(t, ingProducer(t, b.Addrs()), recs...)
	ingEventually(t, 30*time.Second, func() error {
		if n := len(w.predictions()); n < 300 {
			return fmt.Errorf("%d of 300 predictions", n)
		}
		return nil
	})
	for _, o := range w.predictions() {
		var raw struct {
			Variant string `json:"variant"`
		}
		_ = json.Unmarshal(o.Value, &raw)
		key := strings.Replace(o.Pred.ID, "kafka-", "cust-", 1)
		want := variantOf[key]
		if o.Pred.Version != want || (want == 2) != (raw.Variant == "canary") || *o.Pred.Prediction.Value != float64(want) {
			t.Errorf("%s: record %s, want version %d", key, o.Value, want)
		}
	}
}

// TestRolloutRules: a canary worse on the labels is rolled back and a
// better one promoted, each by the rules, with the reason in the API.
func TestRolloutRules(t *testing.T) {
	b := ingBroker(t)
	nodes := lcNodes(t, b.Addrs(), 3, "ru")
	rules := map[string]any{"min_labels": 60, "max_accuracy_drop": 0.01}
	send := func(id string, n int) {
		var evs []map[string]any
		for i := range n {
			a, bb := math.Sin(float64(i)*1.3)*2, math.Cos(float64(i)*0.7)*2
			truth := "no"
			if a+bb > 0 {
				truth = "yes"
			}
			evs = append(evs, map[string]any{"id": fmt.Sprintf("%s-%d", id, i), "features": map[string]float64{"a": a, "b": bb}, "label": truth})
		}
		if code, body := lcCall(t, "POST", "http://"+nodes[1].HTTPAddr()+"/v1/models/"+id+"/predict", map[string]any{"events": evs}); code != 200 {
			t.Fatalf("predict %s: %d %s", id, code, body)
		}
	}
	for _, tc := range []struct {
		id                   string
		primary, canary      [2]float64
		action, reason       string
		current, wantHistory int64
	}{
		{"worse", [2]float64{1, 1}, [2]float64{-1, -1}, serving.ActionRollback, "rules failed", 1, 2},
		{"better", [2]float64{1, -1}, [2]float64{1, 1}, serving.ActionPromote, "rules held", 2, 1},
	} {
		t.Run(tc.id, func(t *testing.T) {
			ingDeploy(t, nodes[0], tc.id, lcClassifier(tc.primary[0], tc.primary[1]))
			c := lcClassifier(tc.canary[0], tc.canary[1])
			c["rollout"] = map[string]any{"mode": "canary", "weight": 0.2, "rules": rules}
			if code, body := lcCall(t, "PUT", "http://"+nodes[0].HTTPAddr()+"/v1/models/"+tc.id, c); code != 202 {
				t.Fatalf("deploy canary: %d %s", code, body)
			}
			ingEventually(t, 10*time.Second, func() error {
				if d, ok := nodes[1].Table.Get(tc.id); !ok || d.Variant == nil {
					return fmt.Errorf("no variant yet")
				}
				return nil
			})
			send(tc.id, 100)
			ingEventually(t, 15*time.Second, func() error {
				v := lcGetVersions(t, nodes[2], tc.id)
				if v.Variant != nil || v.Current != tc.current {
					return fmt.Errorf("current %d, variant %+v", v.Current, v.Variant)
				}
				last := v.Decisions[len(v.Decisions)-1]
				if last.Action != tc.action || !strings.HasPrefix(last.By, "rules@") || !strings.Contains(last.Reason, tc.reason) || !strings.Contains(last.Reason, "accuracy") {
					return fmt.Errorf("last decision %+v, want %s by the rules (%s)", last, tc.action, tc.reason)
				}
				if len(v.Versions) != 2 || v.Versions[1].Version != tc.wantHistory {
					return fmt.Errorf("versions %v", v.Versions)
				}
				t.Logf("%s: %s by %s: %s", tc.id, last.Action, last.By, last.Reason)
				return nil
			})
		})
	}
}
