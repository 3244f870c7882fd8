package app

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/actorserve/actorserve/actors/broker/brokertest"
)

// TestDashboardHistoryOnLoad: a freshly opened dashboard shows each
// model's trend from the history its node serves (not from polls since the
// page opened), the detail panel charts latency with p50, p95 and p99, the
// error rate and the accuracy per minute from labels, and at 800 px the
// models table fits its panel.
func TestDashboardHistoryOnLoad(t *testing.T) {
	chromium, driver := chromeBinaries(t)
	b := brokertest.New(t)
	n := startTestNode(t, b.Addrs(), "n1")
	putModel(t, n.HTTPAddr(), "fraud", lcClassifier(1, 1))
	var evs []map[string]any
	for i := range 300 {
		a, bb := math.Sin(float64(i)*1.3)*2, math.Cos(float64(i)*0.7)*2
		truth := "no"
		if a-bb > 0 { // the model (a+b) is right about half the time
			truth = "yes"
		}
		ev := map[string]any{"id": fmt.Sprintf("e-%d", i), "features": map[string]float64{"a": a, "b": bb}, "label": truth}
		if i%10 == 0 {
			ev["features"] = map[string]float64{"a": a} // a schema mismatch: an error
		}
		evs = append(evs, ev)
	}
	postJSON(t, "http://"+n.HTTPAddr()+"/v1/models/fraud/predict", map[string]any{"events": evs})

	// The history the node serves: p95 and the minute's accuracy.
	resp, err := http.Get("http://" + n.HTTPAddr() + "/v1/models/fraud/history")
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Points []struct {
			Events   int64    `json:"events"`
			Errors   int64    `json:"errors"`
			P50MS    float64  `json:"p50_ms"`
			P95MS    float64  `json:"p95_ms"`
			P99MS    float64  `json:"p99_ms"`
			Labels   int64    `json:"labels"`
			Accuracy *float64 `json:"accuracy"`
		} `json:"points"`
	}
	err = json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if err != nil || len(h.Points) == 0 {
		t.Fatalf("history: %v %+v", err, h)
	}
	var events, errs, labels int64
	for _, p := range h.Points {
		events, errs, labels = events+p.Events, errs+p.Errors, labels+p.Labels
		if p.P95MS < p.P50MS || p.P95MS > p.P99MS || p.P95MS <= 0 || p.Accuracy == nil || *p.Accuracy <= 0 || *p.Accuracy >= 1 {
			t.Errorf("history point %+v", p)
		}
	}
	if events != 270 || errs != 30 || labels != 270 {
		t.Errorf("history: %d events, %d errors, %d labels; want 270, 30, 270", events, errs, labels)
	}

	wd := startWebDriver(t, chromium, driver, 800, 900)
	wd.navigate("http://" + n.HTTPAddr() + "/")
	waitBrowser(t, 10*time.Second, "the trend from the model's history", func() error {
		var got struct {
			Source  string `json:"source"`
			Samples string `json:"samples"`
		}
		if err := wd.exec(`var s = document.querySelector('#models tbody tr[data-id="fraud"] svg.spark');
			return s ? {source: s.getAttribute('data-source'), samples: s.getAttribute('data-samples')} : {};`, &got); err != nil {
			return err
		}
		if got.Source != "history" || got.Samples != "15" {
			return fmt.Errorf("sparkline %+v", got)
		}
		return nil
	})
	var fit struct {
		Scroll, Client int
		Hidden         bool
	}
	if err := wd.exec(`var w = document.querySelector('.table-wrap'), th = document.querySelector('#models th.secondary');
		return {Scroll: w.scrollWidth, Client: w.clientWidth, Hidden: !!th && getComputedStyle(th).display === 'none'};`, &fit); err != nil {
		t.Fatal(err)
	}
	if fit.Scroll > fit.Client || !fit.Hidden {
		t.Errorf("at 800 px the table is %d px wide in %d px (secondary columns hidden: %v)", fit.Scroll, fit.Client, fit.Hidden)
	}
	waitBrowser(t, 10*time.Second, "a click on model fraud", func() error {
		el, err := wd.find(`#models tbody tr[data-id="fraud"]`)
		if err != nil {
			return err
		}
		return wd.click(el)
	})
	waitBrowser(t, 15*time.Second, "the latency, error and accuracy charts", func() error {
		var got struct {
			Charts string `json:"charts"`
			Lines  string `json:"lines"`
			Legend string `json:"legend"`
		}
		if err := wd.exec(`return {
			charts: Array.from(document.querySelectorAll('#detail svg[data-chart]')).filter(function (s) { return Number(s.dataset.points) > 0; }).map(function (s) { return s.dataset.chart; }).join(','),
			lines: Array.from(document.querySelectorAll('#c-latency .line, #c-latency .pt')).map(function (l) { return l.getAttribute('class'); }).join(','),
			legend: document.querySelector('#c-latency').parentNode.textContent};`, &got); err != nil {
			return err
		}
		for _, c := range []string{"throughput", "latency", "errors", "accuracy"} {
			if !strings.Contains(got.Charts, c) {
				return fmt.Errorf("charts with points: %q, want %s", got.Charts, c)
			}
		}
		if !strings.Contains(got.Lines, "p95") || strings.Contains(got.Legend, " ms") {
			return fmt.Errorf("latency lines %q, legend %q", got.Lines, got.Legend)
		}
		return nil
	})
}
