package app

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/actorserve/actorserve/actors/broker/brokertest"
)

// wantMetrics are the families a node with models, HTTP and Kafka traffic
// and a dead letter exposes, with their types and label names. README.md's
// Monitoring section lists the same.
var wantMetrics = map[string]struct {
	typ    dto.MetricType
	labels []string
}{
	"actorserve_model_events_total":                 {dto.MetricType_COUNTER, []string{"model", "version"}},
	"actorserve_model_errors_total":                 {dto.MetricType_COUNTER, []string{"model", "reason", "version"}},
	"actorserve_model_latency_seconds":              {dto.MetricType_HISTOGRAM, []string{"model", "version"}},
	"actorserve_model_mailbox":                      {dto.MetricType_GAUGE, []string{"model"}},
	"actorserve_model_version":                      {dto.MetricType_GAUGE, []string{"model"}},
	"actorserve_active_models":                      {dto.MetricType_GAUGE, nil},
	"actorserve_http_requests_total":                {dto.MetricType_COUNTER, []string{"code", "method", "route"}},
	"actorserve_http_request_duration_seconds":      {dto.MetricType_HISTOGRAM, []string{"method", "route"}},
	"actorserve_cluster_members":                    {dto.MetricType_GAUGE, nil},
	"actorserve_cluster_fences_total":               {dto.MetricType_COUNTER, nil},
	"actorserve_build_info":                         {dto.MetricType_GAUGE, []string{"goversion", "revision", "version"}},
	"actorserve_control_records_total":              {dto.MetricType_COUNTER, nil},
	"actorserve_control_decode_errors_total":        {dto.MetricType_COUNTER, nil},
	"actorserve_control_descriptors":                {dto.MetricType_GAUGE, nil},
	"actorserve_ingress_events_total":               {dto.MetricType_COUNTER, nil},
	"actorserve_ingress_skipped_total":              {dto.MetricType_COUNTER, nil},
	"actorserve_ingress_pauses_total":               {dto.MetricType_COUNTER, nil},
	"actorserve_ingress_batches_total":              {dto.MetricType_COUNTER, []string{"cross_node"}},
	"actorserve_ingress_partitions":                 {dto.MetricType_GAUGE, nil},
	"actorserve_ingress_in_flight":                  {dto.MetricType_GAUGE, []string{"partition", "topic"}},
	"actorserve_ingress_lag":                        {dto.MetricType_GAUGE, []string{"partition", "topic"}},
	"actorserve_ingress_paused":                     {dto.MetricType_GAUGE, []string{"partition", "topic"}},
	"actorserve_predictions_total":                  {dto.MetricType_COUNTER, nil},
	"actorserve_ingress_prediction_latency_seconds": {dto.MetricType_HISTOGRAM, []string{"from"}},
	"actorserve_deadletters_total":                  {dto.MetricType_COUNTER, []string{"reason"}},
	"go_goroutines":                                 {dto.MetricType_GAUGE, nil},
	"process_cpu_seconds_total":                     {dto.MetricType_COUNTER, nil},
}

// TestMetricsExposition scrapes /metrics of a running node with HTTP and
// Kafka traffic: the expected families are there with their types and
// labels, the values agree with the traffic, the exposition lints clean
// (promlint, and promtool when installed), and README.md names every
// actorserve_* family.
func TestMetricsExposition(t *testing.T) {
	b := brokertest.New(t)
	n := startTestNode(t, b.Addrs(), "m1")
	base := "http://" + n.HTTPAddr()
	putModel(t, n.HTTPAddr(), "ma", regressionModel(1))
	putModel(t, n.HTTPAddr(), "mb", regressionModel(2))
	post := func(model, body string, want int) {
		t.Helper()
		resp, err := http.Post(base+"/v1/models/"+model+"/predict", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("predict %s %s: %s, want %d", model, body, resp.Status, want)
		}
	}
	for i := range 20 {
		post("ma", fmt.Sprintf(`{"id":"h%d","features":[%d,1]}`, i, i), http.StatusOK)
	}
	post("mb", `{"events":[{"features":[1,2]},{"features":[3,4]},{"features":[5,6]}]}`, http.StatusOK)
	post("ma", `{"features":[1]}`, http.StatusUnprocessableEntity) // schema_mismatch

	// Through Kafka: one event for ma, and one for a model nobody deployed
	// (a dead letter).
	prod, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.DefaultProduceTopic("actorserve.events"))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	for _, r := range []*kgo.Record{
		{Key: []byte("ma"), Value: []byte(`{"id":"k1","features":[2,1]}`)},
		{Key: []byte("nobody"), Value: []byte(`{"id":"k2","features":[2,1]}`)},
	} {
		if err := prod.ProduceSync(t.Context(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	var body []byte
	var fams map[string]*dto.MetricFamily
	waitBrowser(t, 30*time.Second, "the Kafka prediction and dead letter in /metrics", func() error {
		body, fams = scrapeMetrics(t, base)
		if v := sumOf(fams["actorserve_predictions_total"]); v < 1 {
			return fmt.Errorf("actorserve_predictions_total = %v", v)
		}
		if v := sumOf(fams["actorserve_deadletters_total"]); v < 1 {
			return fmt.Errorf("actorserve_deadletters_total = %v", v)
		}
		if v := valueOf(fams["actorserve_model_events_total"], "model", "ma"); v < 21 {
			return fmt.Errorf(`actorserve_model_events_total{model="ma"} = %v`, v)
		}
		if fams["actorserve_ingress_lag"] == nil {
			return fmt.Errorf("no actorserve_ingress_lag yet")
		}
		return nil
	})

	for name, w := range wantMetrics {
		f := fams[name]
		if f == nil {
			t.Errorf("%s is missing from /metrics", name)
			continue
		}
		if f.GetType() != w.typ {
			t.Errorf("%s is a %s, want %s", name, f.GetType(), w.typ)
		}
		if f.GetHelp() == "" {
			t.Errorf("%s has no HELP", name)
		}
		for _, m := range f.GetMetric() {
			var got []string
			for _, l := range m.GetLabel() {
				got = append(got, l.GetName())
			}
			slices.Sort(got)
			if !slices.Equal(got, w.labels) {
				t.Errorf("%s has labels %v, want %v", name, got, w.labels)
				break
			}
		}
	}

	// Values agree with the traffic.
	checks := []struct {
		name        string
		label, val  string
		got, wantV  float64
		description string
	}{
		{"actorserve_model_events_total", "model", "ma", valueOf(fams["actorserve_model_events_total"], "model", "ma"), 21, "20 HTTP + 1 Kafka"},
		{"actorserve_model_events_total", "model", "mb", valueOf(fams["actorserve_model_events_total"], "model", "mb"), 3, "one batch of 3"},
		{"actorserve_model_errors_total", "model", "ma", valueOf(fams["actorserve_model_errors_total"], "model", "ma"), 1, "one schema mismatch"},
		{"actorserve_model_version", "model", "ma", valueOf(fams["actorserve_model_version"], "model", "ma"), 1, "first version"},
		{"actorserve_active_models", "", "", sumOf(fams["actorserve_active_models"]), 2, "two models"},
		{"actorserve_cluster_members", "", "", sumOf(fams["actorserve_cluster_members"]), 1, "one node"},
		{"actorserve_build_info", "", "", sumOf(fams["actorserve_build_info"]), 1, "always 1"},
		{"actorserve_control_descriptors", "", "", sumOf(fams["actorserve_control_descriptors"]), 2, "two deployed"},
	}
	for _, c := range checks {
		if c.got != c.wantV {
			t.Errorf("%s{%s=%q} = %v, want %v (%s)", c.name, c.label, c.val, c.got, c.wantV, c.description)
		}
	}
	for _, m := range fams["actorserve_model_latency_seconds"].GetMetric() {
		id := labelOf(m, "model")
		if h, ev := m.GetHistogram(), valueOf(fams["actorserve_model_events_total"], "model", id); float64(h.GetSampleCount()) != ev || h.GetSampleSum() <= 0 {
			t.Errorf("actorserve_model_latency_seconds{model=%q}: count %d sum %v, want count %v and a positive sum", id, h.GetSampleCount(), h.GetSampleSum(), ev)
		}
	}
	// Kafka to prediction: one observation from each start per prediction.
	for _, from := range []string{"record", "poll"} {
		if v, p := valueOf(fams["actorserve_ingress_prediction_latency_seconds"], "from", from), sumOf(fams["actorserve_predictions_total"]); v != p {
			t.Errorf(`actorserve_ingress_prediction_latency_seconds{from=%q} counts %v, want %v (one per prediction)`, from, v, p)
		}
	}
	if v := valueOf(fams["actorserve_http_requests_total"], "route", "/v1/models/{id}/predict"); v != 22 {
		t.Errorf(`actorserve_http_requests_total{route="/v1/models/{id}/predict"} = %v, want 22 (21 answered 200, one 422)`, v)
	}
	if v := valueOf(fams["actorserve_model_errors_total"], "reason", "schema_mismatch"); v != 1 {
		t.Errorf(`actorserve_model_errors_total{reason="schema_mismatch"} = %v, want 1`, v)
	}

	// Lint: the checks promtool check metrics runs, from the same package.
	problems, err := promlint.New(bytes.NewReader(body)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}

	t.Run("promtool", func(t *testing.T) {
		promtool, err := exec.LookPath("promtool")
		if err != nil {
			t.Skip("promtool is not installed (apt-get install prometheus); promlint above runs the same checks")
		}
		cmd := exec.CommandContext(t.Context(), promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(body)
		if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Fatalf("promtool check metrics: %v\n%s", err, out)
		}
	})

	// Every actorserve_* family is documented in README.md, Monitoring.
	readme, err := os.ReadFile(filepath.Join(moduleRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	section := monitoringSection(string(readme))
	if section == "" {
		t.Fatal(`README.md has no "## Monitoring" section`)
	}
	for name := range fams {
		if strings.HasPrefix(name, "actorserve_") && !regexp.MustCompile("`"+name+"`").MatchString(section) {
			t.Errorf("metric %s is not listed in README.md's Monitoring section: add it with its type and labels", name)
		}
	}
}

// monitoringSection is README's "## Monitoring" section, up to the next
// second-level heading.
func monitoringSection(readme string) string {
	_, rest, ok := strings.Cut(readme, "\n## Monitoring\n")
	if !ok {
		return ""
	}
	if i := strings.Index(rest, "\n## "); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// scrapeMetrics reads /metrics in the text format and parses it.
func scrapeMetrics(t *testing.T, base string) ([]byte, map[string]*dto.MetricFamily) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/metrics", nil)
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return body, fams
}

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func sampleValue(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Histogram != nil:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return m.GetUntyped().GetValue()
}

// valueOf is the value of the series with label name=value (summed when
// other labels split it).
func valueOf(f *dto.MetricFamily, name, value string) float64 {
	var v float64
	for _, m := range f.GetMetric() {
		if labelOf(m, name) == value {
			v += sampleValue(m)
		}
	}
	return v
}

func sumOf(f *dto.MetricFamily) float64 {
	var v float64
	for _, m := range f.GetMetric() {
		v += sampleValue(m)
	}
	return v
}
