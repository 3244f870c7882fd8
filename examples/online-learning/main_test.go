package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/actorserve/actorserve/examples/internal/extest"
	"github.com/actorserve/actorserve/internal/datasettest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	extest.Cleanup()
	os.Exit(code)
}

// TestScript runs run.sh on the banknote data (testdata/datasets at the
// repository root) and on the bundled generator, and checks what the README promises:
// the accuracy in `actorserve models` rises during the labelled stream and
// ends above 0.9; the label flip is detected as a drift; nothing is left
// running.
func TestScript(t *testing.T) {
	if testing.Short() {
		t.Skip("starts actorserve dev")
	}
	banknote := datasettest.Path(t, "banknote.csv")
	cases := []struct{ name, data string }{
		{"banknote", banknote},
		{"generated", filepath.Join(t.TempDir(), "absent.csv")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			runScript(t, c.data)
		})
	}
}

func runScript(t *testing.T, data string) {
	ports := extest.FreePorts(t, 2)
	work := t.TempDir()
	env := []string{
		"HTTP_PORT=" + strconv.Itoa(ports[0]), "KAFKA_PORT=" + strconv.Itoa(ports[1]),
		"DATA=" + data, "RATE=600", "EVERY=0.4", "WORK=" + work,
		"AS_BIN=" + extest.Build(t, "./cmd/actorserve"),
		"OL_BIN=" + extest.Build(t, "./examples/online-learning"),
	}
	start := time.Now()
	sh := extest.Start(t, extest.Options{Env: env, Timeout: 100 * time.Second}, "bash", "examples/online-learning/run.sh")
	if err := sh.Wait(); err != nil {
		t.Fatalf("run.sh: %v\n%s", err, sh.Output())
	}
	t.Logf("run.sh took %s", time.Since(start).Round(100*time.Millisecond))
	out := sh.Output()

	source := "generated"
	if strings.HasSuffix(data, "banknote.csv") {
		source = "banknote.csv, 1372 rows"
	}
	if !strings.Contains(out, source) {
		t.Errorf("the script did not say it used %s", source)
	}

	// The ACCURACY column of the model's rows in phase 1 rises.
	phase1 := out[strings.Index(out, "== phase 1"):strings.Index(out, "before drift:")]
	var accs []float64
	for _, m := range regexp.MustCompile(`(?m)^\s*bank\s+1\s+online\s+active\s+dev\s+\d+\s+0\s.*\s(\d\.\d{3})$`).FindAllStringSubmatch(phase1, -1) {
		a, _ := strconv.ParseFloat(m[1], 64)
		accs = append(accs, a)
	}
	if len(accs) < 2 {
		t.Fatalf("phase 1 showed %d rows of `actorserve models` with an accuracy, want several:\n%s", len(accs), phase1)
	}
	if accs[len(accs)-1] < accs[0] {
		t.Errorf("accuracy fell during phase 1: %v", accs)
	}

	before := line(t, out, "before drift: bank:")
	after := line(t, out, "after drift: bank:")
	plain := line(t, out, "after drift: bank-nodrift:")
	if acc := field(t, before, "accuracy"); acc < 0.9 {
		t.Errorf("accuracy %.4f before the drift, want at least 0.9: %s", acc, before)
	}
	rows := field(t, before, "updates")
	if got := field(t, after, "updates"); got != 2*rows {
		t.Errorf("%v updates after the drift, want %v", got, 2*rows)
	}
	if d0, d1 := field(t, before, "drifts"), field(t, after, "drifts"); d1 < 1 || d1 <= d0 {
		t.Errorf("drifts %v before and %v after the label flip: the drift was not detected", d0, d1)
	}
	if d := field(t, plain, "drifts"); d != 0 {
		t.Errorf("the model without a detector counts %v drifts", d)
	}
	// Resetting at the drift pays: the detector's model ends more accurate.
	if a, b := field(t, after, "accuracy"), field(t, plain, "accuracy"); a <= b {
		t.Errorf("accuracy after the drift %.4f with the detector, %.4f without: want the detector ahead", a, b)
	}
	if !regexp.MustCompile(`the node logged "concept drift detected" at update \d+`).MatchString(out) {
		t.Error("no drift in the node's log")
	}
	if n := extest.CheckPIDFile(t, filepath.Join(work, "pids")); n != 3 {
		t.Errorf("the PID file names %d processes, want 3 (dev and two sends)", n)
	}
}

func line(t *testing.T, out, prefix string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	t.Fatalf("no line starting with %q", prefix)
	return ""
}

func field(t *testing.T, line, name string) float64 {
	t.Helper()
	v, err := extest.Field(line, name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestGenerate(t *testing.T) {
	rows := Generate(2000, 7)
	if len(rows) != 2000 {
		t.Fatalf("%d rows", len(rows))
	}
	ones := 0
	for _, r := range rows {
		if r.Label == "1" {
			ones++
		}
		for _, x := range r.X {
			if math.Abs(x) > 6 {
				t.Fatalf("feature %v outside [-6, 6]", x)
			}
		}
	}
	if ones < 600 || ones > 1400 {
		t.Errorf("%d of 2000 rows in class 1: the classes are too unbalanced to show learning", ones)
	}
	again := Generate(2000, 7)
	if rows[1999] != again[1999] {
		t.Error("the generator is not deterministic for a seed")
	}
	if Generate(10, 8)[0] == rows[0] {
		t.Error("two seeds gave the same first row")
	}
}

func TestPrepareCSV(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "b.csv")
	body := "WaveletVariance,WaveletSkewness,WaveletCurtosis,Entropy,Class\n1,2,3,4,0\n-1,-2,-3,-4,1\n0.5,0.5,0.5,0.5,1\n"
	if err := os.WriteFile(csv, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"prepare", "--data", csv, "--out", dir}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "3 rows") {
		t.Errorf("prepare said %q", out.String())
	}
	learn := readEvents(t, filepath.Join(dir, "learn.jsonl"))
	drift := readEvents(t, filepath.Join(dir, "drift.jsonl"))
	if len(learn) != 3 || len(drift) != 3 {
		t.Fatalf("%d and %d events, want 3 and 3", len(learn), len(drift))
	}
	// The drift stream holds the same inputs with the other label.
	label := map[float64]string{}
	for _, e := range learn {
		label[e.Features["variance"]] = e.Label
		if len(e.Features) != 4 || !strings.HasPrefix(e.ID, "l-") {
			t.Errorf("learn event %+v", e)
		}
	}
	for _, e := range drift {
		if l, ok := label[e.Features["variance"]]; !ok || l == e.Label {
			t.Errorf("drift event %+v: label %q in the learn stream", e, l)
		}
	}

	if err := os.WriteFile(csv, []byte(body+"1,2,3,4,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"prepare", "--data", csv, "--out", dir}, &out); err == nil || !strings.Contains(err.Error(), "line 5") {
		t.Errorf("a bad class gave %v, want an error naming line 5", err)
	}
}

type event struct {
	ID       string             `json:"id"`
	Features map[string]float64 `json:"features"`
	Label    string             `json:"label"`
}

func readEvents(t *testing.T, path string) []event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e)
	}
	return evs
}
