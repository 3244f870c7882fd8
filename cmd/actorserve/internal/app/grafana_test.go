package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/actorserve/actorserve/actors/broker/brokertest"
)

// grafanaPanel is what the test reads of a Grafana panel.
type grafanaPanel struct {
	ID         int             `json:"id"`
	Type       string          `json:"type"`
	Title      string          `json:"title"`
	Datasource json.RawMessage `json:"datasource"`
	GridPos    struct{ W, H int }
	Targets    []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"` // a row's
}

// grafanaVars are the dashboard's variables, as Grafana expands them.
var grafanaVars = strings.NewReplacer("$__rate_interval", "1m", "$model", ".*")

// TestGrafanaDashboard: every panel of examples/grafana/actorserve.json
// has a data source and queries; every query parses as PromQL (promtool
// check rules) once Grafana's variables are expanded, and names only
// metrics a live node with HTTP and Kafka traffic exposes.
func TestGrafanaDashboard(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(moduleRoot(t), "examples", "grafana", "actorserve.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string         `json:"uid"`
		Panels []grafanaPanel `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	var panels []grafanaPanel
	for _, p := range dash.Panels {
		panels = append(panels, p.Panels...)
		if p.Type != "row" {
			panels = append(panels, p)
		}
	}
	type query struct{ panel, ref, expr string }
	var queries []query
	ids := map[int]bool{}
	for _, p := range panels {
		if ids[p.ID] {
			t.Errorf("panel id %d is used twice", p.ID)
		}
		ids[p.ID] = true
		if len(p.Datasource) == 0 || len(p.Targets) == 0 || p.GridPos.W == 0 || p.GridPos.H == 0 {
			t.Errorf("panel %q: needs a datasource, targets and a size", p.Title)
		}
		for _, tg := range p.Targets {
			expr := grafanaVars.Replace(tg.Expr)
			if tg.RefID == "" || strings.TrimSpace(expr) == "" || strings.Contains(expr, "$") {
				t.Errorf("panel %q query %q: %q (a refId, and no variable the test does not know)", p.Title, tg.RefID, tg.Expr)
			}
			queries = append(queries, query{p.Title, tg.RefID, expr})
		}
	}
	if len(queries) < 10 {
		t.Fatalf("%d queries in the dashboard; the panels did not parse", len(queries))
	}

	// PromQL: each query as a recording rule, checked by promtool (the
	// Prometheus parser itself).
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not installed (apt-get install prometheus)")
	}
	type rule struct {
		Record string `json:"record"`
		Expr   string `json:"expr"`
	}
	var rules []rule
	for i, q := range queries {
		rules = append(rules, rule{fmt.Sprintf("dashboard:query_%d", i), q.expr})
	}
	doc, _ := json.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	file := filepath.Join(t.TempDir(), "dashboard.rules.yml") // JSON is YAML
	if err := os.WriteFile(file, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.CommandContext(t.Context(), promtool, "check", "rules", file).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules on the dashboard's queries: %v\n%s", err, out)
	}

	// A live node with the traffic every panel shows: HTTP predictions (one
	// labelled, one failing), Kafka events, a dead letter.
	b := brokertest.New(t)
	n := startTestNode(t, b.Addrs(), "g1")
	base := "http://" + n.HTTPAddr()
	putModel(t, n.HTTPAddr(), "ga", regressionModel(1))
	for _, body := range []string{`{"id":"h1","features":[1,2]}`, `{"id":"h2","features":[1,2],"label":0}`, `{"features":[1]}`} {
		resp, err := http.Post(base+"/v1/models/ga/predict", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.DefaultProduceTopic("actorserve.events"))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	for _, r := range []*kgo.Record{
		{Key: []byte("ga"), Value: []byte(`{"id":"k1","features":[2,1]}`)},
		{Key: []byte("nobody"), Value: []byte(`{"id":"k2","features":[2,1]}`)},
	} {
		if err := prod.ProduceSync(t.Context(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	name := regexp.MustCompile(`\b(?:actorserve|go|process)_[a-z0-9_]+\b`)
	family := func(fams map[string]*dto.MetricFamily, m string) bool {
		if fams[m] != nil {
			return true
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if f := fams[strings.TrimSuffix(m, suffix)]; f != nil && strings.HasSuffix(m, suffix) && f.GetType() == dto.MetricType_HISTOGRAM {
				return true
			}
		}
		return false
	}
	waitBrowser(t, 30*time.Second, "every metric of the dashboard in /metrics", func() error {
		_, fams := scrapeMetrics(t, base)
		var missing []string
		for _, q := range queries {
			for _, m := range name.FindAllString(q.expr, -1) {
				if !family(fams, m) && !slices.Contains(missing, m) {
					missing = append(missing, fmt.Sprintf("%s (panel %q)", m, q.panel))
				}
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("not in /metrics: %s", strings.Join(missing, ", "))
		}
		return nil
	})
}
