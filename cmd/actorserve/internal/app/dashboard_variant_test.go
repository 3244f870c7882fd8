package app

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/actorserve/actorserve/actors/broker/brokertest"
)

// TestDashboardShowsVariant: the detail panel of a model with a canary
// shows the canary beside the current version (its share, agreement and
// accuracy on the same labels) and the lifecycle decisions.
func TestDashboardShowsVariant(t *testing.T) {
	chromium, driver := chromeBinaries(t)
	b := brokertest.New(t)
	n := startTestNode(t, b.Addrs(), "n1")
	putModel(t, n.HTTPAddr(), "fraud", lcClassifier(1, -1))
	c := lcClassifier(1, 1)
	c["rollout"] = map[string]any{"mode": "canary", "weight": 0.25}
	putModel(t, n.HTTPAddr(), "fraud", c)
	var evs []map[string]any
	for i := range 200 {
		a, bb := math.Sin(float64(i)*1.3)*2, math.Cos(float64(i)*0.7)*2
		truth := "no"
		if a+bb > 0 {
			truth = "yes"
		}
		evs = append(evs, map[string]any{"id": fmt.Sprintf("e-%d", i), "features": map[string]float64{"a": a, "b": bb}, "label": truth})
	}
	postJSON(t, "http://"+n.HTTPAddr()+"/v1/models/fraud/predict", map[string]any{"events": evs})

	wd := startWebDriver(t, chromium, driver, 1280, 900)
	wd.navigate("http://" + n.HTTPAddr() + "/")
	waitBrowser(t, 10*time.Second, "a click on model fraud", func() error {
		el, err := wd.find(`#models tbody tr[data-id="fraud"]`)
		if err != nil {
			return err
		}
		return wd.click(el)
	})
	waitBrowser(t, 15*time.Second, "the canary and the decisions in the detail panel", func() error {
		var got struct {
			Meta      string `json:"meta"`
			Variant   string `json:"variant"`
			Decisions string `json:"decisions"`
		}
		if err := wd.exec(`var v = document.getElementById('d-variant'), d = document.getElementById('d-decisions');
			return {meta: document.getElementById('d-meta').textContent,
				variant: v.hidden ? '' : v.textContent, decisions: d.hidden ? '' : d.textContent};`, &got); err != nil {
			return err
		}
		for _, want := range []string{"Canary · v2 · 25% of keys", "Agreement", "Accuracy", "Served", "200"} {
			if !strings.Contains(got.Variant, want) {
				return fmt.Errorf("variant block %q lacks %q", got.Variant, want)
			}
		}
		if !strings.Contains(got.Meta, "canary v2") || !strings.Contains(got.Decisions, "canary v1 → v2") || !strings.Contains(got.Decisions, "deploy → v1") {
			return fmt.Errorf("meta %q, decisions %q", got.Meta, got.Decisions)
		}
		return nil
	})
}
