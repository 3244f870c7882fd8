// Package quickstart holds the test that runs examples/quickstart/README.md:
// every command the README shows runs against a real `actorserve dev`
// process on free ports, and its output is checked against what the README
// promises.
package quickstart

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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

// The README's addresses; the test swaps in free ports.
const (
	readmeHTTP  = "127.0.0.1:8080"
	readmeKafka = "127.0.0.1:9092"
)

// Commands exactly as README.md shows them (the test fails if the README
// no longer contains one).
const (
	cmdDev     = "./actorserve dev --http 127.0.0.1:8080 --kafka 127.0.0.1:9092"
	cmdDeploy  = "curl -s -X PUT 127.0.0.1:8080/v1/models/iris -d @examples/quickstart/iris.json"
	cmdPredict = `curl -s -X POST 127.0.0.1:8080/v1/models/iris/predict -d '{"id": "e-1", "features": {"petal_length": 1.4, "petal_width": 0.2}}'`
	cmdSend    = "./actorserve send --file examples/quickstart/events.jsonl --brokers 127.0.0.1:9092"
	cmdKcat    = "kcat -b 127.0.0.1:9092 -t actorserve.predictions -C -e -o beginning -q"
	cmdModels  = "./actorserve models --http 127.0.0.1:8080"
)

type env struct {
	t           *testing.T
	root, bin   string
	http, kafka string
}

// local turns a README command into one for this run: our binary, our ports.
func (e *env) local(cmd string) string {
	cmd = strings.ReplaceAll(cmd, "./actorserve ", e.bin+" ")
	cmd = strings.ReplaceAll(cmd, readmeHTTP, e.http)
	return strings.ReplaceAll(cmd, readmeKafka, e.kafka)
}

// run runs one README command from the repository root and returns its stdout.
func (e *env) run(cmd string) string {
	e.t.Helper()
	c := exec.Command("bash", "-c", e.local(cmd))
	c.Dir = e.root
	out, err := c.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		e.t.Fatalf("%s: %v\n%s%s", cmd, err, out, stderr)
	}
	return string(out)
}

func TestQuickstartREADME(t *testing.T) {
	if testing.Short() {
		t.Skip("starts actorserve dev")
	}
	root := extest.Root(t)
	readme, err := os.ReadFile(filepath.Join(root, "examples/quickstart/README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{cmdDev, cmdDeploy, cmdPredict, cmdSend, cmdKcat, cmdModels, "go build -o actorserve ./cmd/actorserve", "http://127.0.0.1:8080/"} {
		if !strings.Contains(string(readme), c) {
			t.Fatalf("README.md no longer shows %q: update the test with it", c)
		}
	}
	extest.NeedTool(t, "kcat", "apt-get install kcat")
	ports := extest.FreePorts(t, 2)
	e := &env{t: t, root: root, bin: extest.Build(t, "./cmd/actorserve"),
		http: "127.0.0.1:" + strconv.Itoa(ports[0]), kafka: "127.0.0.1:" + strconv.Itoa(ports[1])}

	// 1. dev: every line it prints on stdout is in the README, ports aside.
	dev := extest.Start(t, extest.Options{Dir: root}, "bash", "-c", "exec "+e.local(cmdDev))
	dev.Await(t, regexp.MustCompile(`^Press Ctrl\+C to stop\.`), 60*time.Second)
	var printed int
	for _, l := range dev.Lines() {
		if strings.HasPrefix(l, "time=") { // the log, on stderr
			continue
		}
		printed++
		l = strings.ReplaceAll(strings.ReplaceAll(l, e.http, readmeHTTP), e.kafka, readmeKafka)
		if !strings.Contains(string(readme), l) {
			t.Errorf("dev printed %q, which the README does not show", l)
		}
	}
	if printed < 6 {
		t.Errorf("dev printed %d lines, want the 8 of the README:\n%s", printed, dev.Output())
	}

	// 2. deploy
	if got := strings.TrimSpace(e.run(cmdDeploy)); got != `{"id":"iris","version":1,"revision":1}` {
		t.Fatalf("deploy answered %s", got)
	}

	// 3. predict
	var p prediction
	out := e.run(cmdPredict)
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("predict answered %q: %v", out, err)
	}
	if p.Model != "iris" || p.Version != 1 || p.ID != "e-1" || p.Node != "dev" || p.Prediction.Label != "setosa" ||
		fmt.Sprintf("%.4f", p.Prediction.Scores["setosa"]) != "0.7985" {
		t.Errorf("predict answered %s, want setosa with score 0.7985 as the README shows", out)
	}

	// 4. send
	if out := e.run(cmdSend); !regexp.MustCompile(`^sent 6 events to actorserve\.events in \S+ \(\d+ events/s\)`).MatchString(out) {
		t.Errorf("send printed %q", out)
	}

	// 5. kcat: six predictions, each with the label the README names.
	want := map[string]string{"q-1": "setosa", "q-2": "setosa", "q-3": "versicolor", "q-4": "versicolor", "q-5": "virginica", "q-6": "virginica"}
	extest.Eventually(t, 30*time.Second, func() error {
		got := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(e.run(cmdKcat)), "\n") {
			if l == "" {
				continue
			}
			var p prediction
			if err := json.Unmarshal([]byte(l), &p); err != nil {
				return fmt.Errorf("kcat line %q: %v", l, err)
			}
			got[p.ID] = p.Prediction.Label
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("predictions on Kafka %v, want %v", got, want)
		}
		return nil
	})

	// 6. models: seven events, as the README says.
	row := regexp.MustCompile(`(?m)^\s*iris\s+1\s+linear\s+active\s+dev\s+7\s+0\s`)
	extest.Eventually(t, 20*time.Second, func() error {
		out := e.run(cmdModels)
		if !row.MatchString(out) || !strings.Contains(out, "1 models (1 active, 0 inactive), 7 events, 0 errors") {
			return fmt.Errorf("models printed:\n%s", out)
		}
		return nil
	})

	// The dashboard.
	resp, err := http.Get("http://" + e.http + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "<title>actorserve</title>") {
		t.Errorf("dashboard: %s %q, %d bytes", resp.Status, resp.Header.Get("Content-Type"), len(body))
	}
}

type prediction struct {
	Model      string `json:"model"`
	Version    int64  `json:"version"`
	ID         string `json:"id"`
	Node       string `json:"node"`
	Prediction struct {
		Label  string             `json:"label"`
		Scores map[string]float64 `json:"scores"`
	} `json:"prediction"`
}
