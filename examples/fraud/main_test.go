package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/actorserve/actorserve/examples/internal/extest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	extest.Cleanup()
	os.Exit(code)
}

// TestScript runs run.sh (the stream sent at once) and checks both reports:
// every transaction scored by both models, the offline XGBoost model with a
// high precision and a fair recall, the online model learning from the
// delayed labels to sane values, and nothing left running.
func TestScript(t *testing.T) {
	if testing.Short() {
		t.Skip("starts actorserve dev")
	}
	const txns = 20000
	ports := extest.FreePorts(t, 2)
	work := t.TempDir()
	env := []string{
		"HTTP_PORT=" + strconv.Itoa(ports[0]), "KAFKA_PORT=" + strconv.Itoa(ports[1]),
		"TXNS=" + strconv.Itoa(txns), "RATE=0", "WORK=" + work,
		"AS_BIN=" + extest.Build(t, "./cmd/actorserve"),
		"FRAUD_BIN=" + extest.Build(t, "./examples/fraud"),
	}
	start := time.Now()
	sh := extest.Start(t, extest.Options{Env: env, Timeout: 100 * time.Second}, "bash", "examples/fraud/run.sh")
	if err := sh.Wait(); err != nil {
		t.Fatalf("run.sh: %v\n%s", err, sh.Output())
	}
	t.Logf("run.sh took %s", time.Since(start).Round(100*time.Millisecond))
	out := sh.Output()

	xgb := report(t, out, "fraud-xgb: ")
	online := report(t, out, "fraud-online: ")
	onlineLate := report(t, out, "fraud-online, second half: ")
	for name, r := range map[string]map[string]float64{"fraud-xgb": xgb, "fraud-online": online} {
		if r["transactions"] != txns {
			t.Errorf("%s: %v transactions scored, want %d", name, r["transactions"], txns)
		}
		if f := r["frauds"] / r["transactions"]; f < 0.01 || f > 0.02 {
			t.Errorf("%s: fraud rate %.4f, want the generator's 1-2 %%", name, f)
		}
		if r["tp"]+r["fp"]+r["fn"]+r["tn"] != r["transactions"] {
			t.Errorf("%s: the confusion matrix does not add up: %v", name, r)
		}
	}
	if xgb["precision"] < 0.8 || xgb["recall"] < 0.5 {
		t.Errorf("fraud-xgb: precision %.3f recall %.3f, want at least 0.8 and 0.5", xgb["precision"], xgb["recall"])
	}
	if online["precision"] < 0.3 || online["recall"] < 0.3 {
		t.Errorf("fraud-online: precision %.3f recall %.3f, want at least 0.3 and 0.3", online["precision"], online["recall"])
	}
	if onlineLate["recall"] < 0.4 {
		t.Errorf("fraud-online: recall %.3f in the second half: it did not learn from the labels", onlineLate["recall"])
	}

	live := line(t, out, "fraud-online live learning block: ")
	if v, err := extest.Field(live, "updates"); err != nil || v != txns {
		t.Errorf("fraud-online learned from %v labels (%v), want %d: %s", v, err, txns, live)
	}
	live = line(t, out, "fraud-xgb live learning block: ")
	if v, err := extest.Field(live, "matched_feedback"); err != nil || v < txns/2 {
		t.Errorf("fraud-xgb joined %v labels (%v), want most of %d: %s", v, err, txns, live)
	}
	if n := extest.CheckPIDFile(t, filepath.Join(work, "pids")); n != 2 {
		t.Errorf("the PID file names %d processes, want 2 (dev and send)", n)
	}
}

func line(t *testing.T, out, prefix string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	t.Fatalf("no line starting with %q in:\n%s", prefix, out)
	return ""
}

// report parses "name: k=v k=v ..." into numbers.
func report(t *testing.T, out, prefix string) map[string]float64 {
	t.Helper()
	l := line(t, out, prefix)
	r := map[string]float64{}
	for _, kv := range strings.Fields(strings.TrimPrefix(l, prefix)) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		r[k] = f
	}
	for _, k := range []string{"transactions", "frauds", "tp", "fp", "fn", "tn", "precision", "recall"} {
		if _, ok := r[k]; !ok {
			t.Fatalf("%q lacks %s", l, k)
		}
	}
	return r
}

// trainedWith is the python3-xgboost version that wrote model/xgb.json.
const trainedWith = "1.7.4"

// TestTrainReproducible re-runs train.py on the generator's training set and
// checks that it writes the committed model byte for byte. It needs Debian's
// python3-xgboost.
func TestTrainReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	py := "/usr/bin/python3"
	ver, err := exec.Command(py, "-c", "import xgboost; print(xgboost.__version__)").Output()
	if err != nil {
		t.Skip("needs Debian's python3-xgboost for /usr/bin/python3 (apt-get install python3-xgboost)")
	}
	root := extest.Root(t)
	dir := t.TempDir()
	csv, model := filepath.Join(dir, "train.csv"), filepath.Join(dir, "xgb.json")
	var out bytes.Buffer
	// The command README.md and train.py document.
	if err := run(context.Background(), []string{"generate", "--seed", "1", "--n", "60000", "--csv", csv}, &out); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, filepath.Join(root, "examples/fraud/train.py"), csv, model)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("train.py: %v\n%s", err, b)
	}
	t.Logf("%s", b)
	got, err := os.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(root, "examples/fraud/model/xgb.json"))
	if err != nil {
		t.Fatal(err)
	}
	if v := strings.TrimSpace(string(ver)); v != trainedWith {
		t.Skipf("train.py runs; byte-for-byte reproduction is checked with python3-xgboost %s, this is %s", trainedWith, v)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("train.py wrote a model (%d bytes) that differs from model/xgb.json (%d bytes): retrain and commit it", len(got), len(want))
	}
}

func TestGenerator(t *testing.T) {
	g := NewGenerator(5)
	var frauds int
	const n = 50000
	first := g.Next("t")
	for i := 1; i < n; i++ {
		x := g.Next("t")
		if len(x.X) != len(Features) {
			t.Fatalf("%d features, want %d", len(x.X), len(Features))
		}
		if x.Fraud {
			frauds++
		}
	}
	if r := float64(frauds) / n; r < 0.01 || r > 0.02 {
		t.Errorf("fraud rate %.4f, want about 1.5 %%", r)
	}
	if again := NewGenerator(5).Next("t"); first.ID != "t-1" || again.ID != first.ID || again.X[0] != first.X[0] {
		t.Errorf("not deterministic: %+v then %+v", first, again)
	}
}

func TestWriteStreamDelaysLabels(t *testing.T) {
	g := NewGenerator(1)
	txns := make([]Txn, 30)
	for i := range txns {
		txns[i] = g.Next("t")
	}
	var buf bytes.Buffer
	if err := WriteStream(&buf, txns, 10); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{} // id -> transactions seen when it came
	txnCount := 0
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var e txnEvent
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		if e.Type != EventType {
			t.Fatalf("type %q", e.Type)
		}
		if e.Features != nil {
			txnCount++
			seen[e.ID] = txnCount
			continue
		}
		at, ok := seen[e.ID]
		if !ok {
			t.Fatalf("label for %s before the transaction", e.ID)
		}
		if late := txnCount - at; late != 10 && txnCount != len(txns) {
			t.Errorf("label for %s came %d transactions late, want 10", e.ID, late)
		}
		delete(seen, e.ID)
	}
	if len(seen) != 0 || txnCount != 30 {
		t.Errorf("%d transactions, %d without a label", txnCount, len(seen))
	}
}

func TestXGBDescriptor(t *testing.T) {
	root := extest.Root(t)
	b, err := os.ReadFile(filepath.Join(root, "examples/fraud/model/xgb.json"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := XGBDescriptor(b)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Format, Data string
		Features     []string
	}
	if err := json.Unmarshal(d, &got); err != nil {
		t.Fatal(err)
	}
	if got.Format != "xgboost" || len(got.Features) != len(Features) || len(got.Data) < len(b) {
		t.Errorf("descriptor: format %q, %d features, %d bytes of data", got.Format, len(got.Features), len(got.Data))
	}
	if _, err := XGBDescriptor([]byte(`{"not": "a model"}`)); err == nil {
		t.Error("a JSON that is not a model gave no error")
	}
}

func TestScore(t *testing.T) {
	truth := map[string]bool{"a": true, "b": true, "c": false, "d": false}
	pred := map[string]bool{"a": true, "c": true}
	got := Score(pred, truth, []string{"a", "b", "c", "d"})
	want := "transactions=4 frauds=2 flagged=2 tp=1 fp=1 fn=1 tn=1 precision=0.500 recall=0.500"
	if got != want {
		t.Errorf("Score = %q, want %q", got, want)
	}
}
