package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/actorserve/actorserve/actors/broker/brokertest"
)

// The browser test drives Debian's headless Chromium through chromedriver's
// W3C WebDriver HTTP API (no client library): it loads the dashboard of a
// running node with traffic flowing and reads what a person would see.

const chromeInstall = "apt-get install -y chromium chromium-driver (.ci/run installs them)"

// dashboardModels are the models the browser test deploys, with their
// share of the traffic; "recommender" gets none and stays inactive.
// onlineModel is the dashboard test's online classifier; its traffic
// carries labels.
const onlineModel = "churn"

var dashboardModels = []struct {
	id     string
	weight float64
}{
	{"fraud-score", 5}, {"churn", 2}, {"iris", 3}, {"pricing", 1.5}, {"ranking", 2.5}, {"spam-filter", 1},
	{"ads-ctr", 4}, {"eta-minutes", 0.7}, {"credit-limit", 0.4}, {"recommender", 0},
}

// TestDashboardInBrowser: the dashboard at / shows the deployed models
// with live usage that grows between two reads, and a selected model's
// charts draw points from its history. With ACTORSERVE_UPDATE_SCREENSHOT=1
// it runs three nodes for a few minutes of traffic and writes
// examples/dashboard.png (1280x900).
func TestDashboardInBrowser(t *testing.T) {
	chromium, driver := chromeBinaries(t)
	update := os.Getenv("ACTORSERVE_UPDATE_SCREENSHOT") == "1"

	b := brokertest.New(t)
	n := startTestNode(t, b.Addrs(), "n1")
	nodes := []*Node{n}
	if update {
		for _, name := range []string{"n2", "n3"} {
			nodes = append(nodes, startJoinedNode(t, b.Addrs(), name, n.Cluster.GossipAddr()))
		}
	}
	base := "http://" + n.HTTPAddr()
	for i, m := range dashboardModels {
		d := regressionModel(i + 1)
		d["description"] = "regression model " + strconv.Itoa(i+1) + " for the dashboard test"
		if m.id == onlineModel {
			// An online classifier that learns from labelled events, with
			// a drift detector: its learning block feeds the accuracy column.
			d = map[string]any{
				"format": "online", "features": []string{"x0", "x1"}, "labels": []string{"0", "1"},
				"learning": map[string]any{"algorithm": "scw1", "task": "binary", "params": map[string]any{"C": 1, "eta": 0.75}, "drift": "ddm"},
			}
		}
		putModel(t, n.HTTPAddr(), m.id, d)
	}

	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	t.Cleanup(func() { stop(); wg.Wait() })
	// Several minutes of history make the screenshot's charts worth
	// looking at; the online model's concept flips part way through.
	minutes := 0
	var flip time.Time
	if update {
		minutes = 4
		if v, err := strconv.Atoi(os.Getenv("ACTORSERVE_SCREENSHOT_MINUTES")); err == nil && v >= 0 {
			minutes = v
		}
		flip = time.Now().Add(time.Duration(minutes) * time.Minute * 2 / 3)
	}
	const workers = 3
	for w := range workers {
		wg.Add(1)
		go func() { defer wg.Done(); dashboardTraffic(ctx, nodes, uint64(w), workers, flip) }()
	}

	if update {
		t.Logf("running traffic for %d minutes before the screenshot", minutes)
		select {
		case <-time.After(time.Duration(minutes) * time.Minute):
		case <-t.Context().Done():
		}
	}

	wd := startWebDriver(t, chromium, driver, 1280, 900)
	wd.navigate(base + "/")

	trafficked := map[string]bool{}
	for _, m := range dashboardModels {
		if m.weight > 0 {
			trafficked[m.id] = true
		}
	}
	type row struct {
		ID    string  `json:"id"`
		Usage float64 `json:"usage"`
		State string  `json:"state"`
	}
	readRows := func() (map[string]row, error) {
		var rows []row
		if err := wd.exec(`return Array.from(document.querySelectorAll('#models tbody tr[data-id]')).map(function (r) {
			return {id: r.dataset.id, usage: Number(r.dataset.usage), state: r.dataset.state};
		});`, &rows); err != nil {
			return nil, err
		}
		out := map[string]row{}
		for _, r := range rows {
			out[r.ID] = r
		}
		return out, nil
	}

	var first map[string]row
	waitBrowser(t, 30*time.Second, "the models table to show every deployed model, the trafficked ones with usage > 0", func() error {
		rows, err := readRows()
		if err != nil {
			return err
		}
		for _, m := range dashboardModels {
			r, ok := rows[m.id]
			switch {
			case !ok:
				return fmt.Errorf("model %s is not in the table (rows: %v)", m.id, rows)
			case trafficked[m.id] && (r.Usage <= 0 || r.State != "active"):
				return fmt.Errorf("model %s shows usage %v, state %s", m.id, r.Usage, r.State)
			case !trafficked[m.id] && r.State != "inactive":
				return fmt.Errorf("model %s without traffic shows state %s, want inactive", m.id, r.State)
			}
		}
		first = rows
		return nil
	})
	waitBrowser(t, 30*time.Second, "usage to increase for every trafficked model between two reads", func() error {
		rows, err := readRows()
		if err != nil {
			return err
		}
		for id := range trafficked {
			if rows[id].Usage <= first[id].Usage {
				return fmt.Errorf("model %s usage %v, first read %v", id, rows[id].Usage, first[id].Usage)
			}
		}
		return nil
	})

	// The online model's learning block shows as the accuracy column.
	waitBrowser(t, 30*time.Second, "the accuracy column for the online model", func() error {
		var acc string
		if err := wd.exec(`var th = document.querySelector('#models th[data-key="accuracy"]');
			var row = document.querySelector('#models tbody tr[data-id="`+onlineModel+`"]');
			if (!th || !row) return '';
			return row.children[Array.prototype.indexOf.call(th.parentNode.children, th)].textContent;`, &acc); err != nil {
			return err
		}
		if !strings.HasSuffix(acc, "%") {
			return fmt.Errorf("accuracy cell of %s is %q", onlineModel, acc)
		}
		return nil
	})

	// The header and the members panel.
	var page struct {
		Node    string   `json:"node"`
		Status  string   `json:"status"`
		Members []string `json:"members"`
		Total   string   `json:"total"`
		Count   string   `json:"count"`
		Paging  []bool   `json:"paging"`
	}
	waitBrowser(t, 10*time.Second, "the header and members panel", func() error {
		if err := wd.exec(`return {
			node: document.getElementById('node').textContent,
			status: document.getElementById('status-box').className,
			members: Array.from(document.querySelectorAll('#members tbody tr[data-member]')).map(function (r) { return r.dataset.member; }),
			total: document.getElementById('t-models').textContent,
			count: document.getElementById('models-count').textContent,
			paging: [document.getElementById('page-prev').disabled, document.getElementById('page-next').disabled]
		};`, &page); err != nil {
			return err
		}
		// One page holds every model: its range, and no other page.
		wantCount := fmt.Sprintf("1–%d of %d", len(dashboardModels), len(dashboardModels))
		if page.Node != "node n1" || !strings.Contains(page.Status, "ok") || len(page.Members) != len(nodes) || page.Total != strconv.Itoa(len(dashboardModels)) ||
			page.Count != wantCount || len(page.Paging) != 2 || !page.Paging[0] || !page.Paging[1] {
			return fmt.Errorf("header and members: %+v", page)
		}
		return nil
	})

	// Select a model as a user would, and wait for its charts.
	const pick = onlineModel
	// The table is rebuilt on every poll, so a found row can go stale
	// before the click lands: find and click again until one does.
	waitBrowser(t, 10*time.Second, "a click on model "+pick, func() error {
		el, err := wd.find(`#models tbody tr[data-id="` + pick + `"]`)
		if err != nil {
			return err
		}
		return wd.click(el)
	})
	var charts []struct {
		Chart  string `json:"chart"`
		Model  string `json:"model"`
		Points int    `json:"points"`
	}
	waitBrowser(t, 30*time.Second, "the selected model's charts to draw live points", func() error {
		if err := wd.exec(`return Array.from(document.querySelectorAll('#detail svg[data-chart]')).map(function (s) {
			return {chart: s.dataset.chart, model: s.dataset.model, points: Number(s.dataset.points)};
		});`, &charts); err != nil {
			return err
		}
		drew := 0
		for _, c := range charts {
			if c.Model == pick && c.Points >= 1 {
				drew++
			}
		}
		if drew == 0 {
			return fmt.Errorf("charts: %+v", charts)
		}
		return nil
	})
	var title string
	if err := wd.exec(`return document.getElementById('d-title').textContent + ' ' + document.getElementById('d-stats').textContent;`, &title); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(title, pick) || !strings.Contains(title, "Events") {
		t.Fatalf("detail panel: %q", title)
	}
	waitBrowser(t, 10*time.Second, "the learning block of "+pick, func() error {
		var learning string
		if err := wd.exec(`var l = document.getElementById('d-learning'); return l.hidden ? '' : l.textContent;`, &learning); err != nil {
			return err
		}
		if !strings.Contains(learning, "scw1") || !strings.Contains(learning, "Accuracy") {
			return fmt.Errorf("learning block: %q", learning)
		}
		return nil
	})
	t.Logf("dashboard: %d rows, charts %+v", len(first), charts)

	if update {
		// Let the trend sparklines fill their minute, then take it.
		select {
		case <-time.After(65 * time.Second):
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		}
		img := wd.screenshot()
		cfg, err := png.DecodeConfig(bytes.NewReader(img))
		if err != nil {
			t.Fatalf("screenshot is not a PNG: %v", err)
		}
		path := filepath.Join(moduleRoot(t), "examples", "dashboard.png")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, img, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%dx%d, %d bytes)", path, cfg.Width, cfg.Height, len(img))
	}
}

// startJoinedNode starts a node that joins the cluster through seed.
func startJoinedNode(t *testing.T, brokers []string, name, seed string) *Node {
	t.Helper()
	cfg := DefaultNodeConfig()
	cfg.Brokers = brokers
	cfg.Cluster.Name = name
	cfg.Cluster.Gossip = "127.0.0.1:0"
	cfg.Cluster.Remote = "127.0.0.1:0"
	cfg.Cluster.Join = []string{seed}
	cfg.HTTP.Listen = "127.0.0.1:0"
	n, err := StartNode(t.Context(), cfg, apiLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	if err := n.WaitReady(t.Context()); err != nil {
		t.Fatal(err)
	}
	return n
}

// dashboardTraffic posts predictions through the nodes' HTTP APIs until
// ctx ends: each model gets its share, the overall rate drifts slowly so
// the charts have shape, and one iris request in 40 has a stale schema so the
// errors column is not always zero. Bounded by ctx, loopback only.
// The online model's events carry their label (test-then-train); after
// flip, when set, its concept inverts so the drift detector fires. It is
// one of workers such loops, worker w.
func dashboardTraffic(ctx context.Context, nodes []*Node, w uint64, workers int, flip time.Time) {
	client := &http.Client{Timeout: 5 * time.Second}
	var total float64
	for _, m := range dashboardModels {
		total += m.weight
	}
	rng := rand.New(rand.NewPCG(1, w))
	start := time.Now()
	for k := 0; ctx.Err() == nil; k++ {
		x := rng.Float64() * total
		id := dashboardModels[0].id
		for _, m := range dashboardModels {
			if x < m.weight {
				id = m.id
				break
			}
			x -= m.weight
		}
		body := fmt.Sprintf(`{"id":"w%d-e%d","features":{"x0":%d,"x1":%d}}`, w, k, k%7, k%5)
		if id == onlineModel {
			x0, x1 := rng.Float64()*6, rng.Float64()*4
			label := x0 > x1+1
			if !flip.IsZero() && time.Now().After(flip) {
				label = !label
			}
			body = fmt.Sprintf(`{"id":"w%d-e%d","features":[%.3f,%.3f],"label":%d}`, w, k, x0, x1, map[bool]int{false: 0, true: 1}[label])
		} else if id == "iris" && rng.IntN(40) == 0 {
			body = `{"id":"bad","features":[1]}` // a client with a stale schema: schema_mismatch
		}
		if id != onlineModel && rng.IntN(4) == 0 {
			var evs []string
			for j := 0; j < 1+rng.IntN(20); j++ {
				evs = append(evs, fmt.Sprintf(`{"id":"w%d-e%d-%d","features":[%d,%d]}`, w, k, j, j%7, j%3))
			}
			body = `{"events":[` + strings.Join(evs, ",") + `]}`
		}
		node := nodes[(k+int(w))%len(nodes)]
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+node.HTTPAddr()+"/v1/models/"+id+"/predict", strings.NewReader(body))
		if err != nil {
			return
		}
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		// 40 to 160 requests per second in all, one slow wave per three minutes.
		phase := time.Since(start).Seconds() / 180 * 2 * math.Pi
		pause := time.Duration(float64(workers) * float64(time.Second) / (100 + 60*math.Sin(phase)))
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
	}
}

// chromeBinaries finds Chromium and chromedriver; the test fails with
// the install line when they are missing (CI installs them).
func chromeBinaries(t *testing.T) (chromium, driver string) {
	t.Helper()
	look := func(names ...string) string {
		for _, n := range names {
			if p, err := exec.LookPath(n); err == nil {
				return p
			}
		}
		return ""
	}
	chromium = look("chromium", "/usr/bin/chromium", "chromium-browser")
	driver = look("chromedriver", "/usr/bin/chromedriver")
	if chromium == "" || driver == "" {
		t.Fatalf("the dashboard browser test needs headless Chromium and chromedriver (found chromium %q, chromedriver %q): %s", chromium, driver, chromeInstall)
	}
	return chromium, driver
}

// moduleRoot is the folder of go.mod above the test's working directory.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's folder")
		}
		dir = parent
	}
}

// waitBrowser polls cond until it returns nil or timeout passes.
func waitBrowser(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting %s for %s: %v", timeout, what, err)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("waiting for %s: %v", what, t.Context().Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// webDriver is a W3C WebDriver session on a chromedriver process.
type webDriver struct {
	t       *testing.T
	base    string // http://127.0.0.1:port/session/id
	client  *http.Client
	timeout time.Duration
}

// startWebDriver starts chromedriver on a free loopback port and opens a
// headless Chromium session with a fresh profile and a width x height
// window. Both stop when the test ends.
func startWebDriver(t *testing.T, chromium, driver string, width, height int) *webDriver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	logPath := filepath.Join(t.TempDir(), "chromedriver.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(driver, "--port="+strconv.Itoa(port), "--allowed-ips=127.0.0.1")
	// A file, not a pipe: Chromium inherits it and may outlive the driver.
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group, so the cleanup stops Chromium with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", driver, err)
	}
	logs := func() string { b, _ := os.ReadFile(logPath); return string(b) }
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("chromedriver output:\n%s", logs())
		}
	})
	root := "http://127.0.0.1:" + strconv.Itoa(port)
	wd := &webDriver{t: t, base: root, client: &http.Client{Timeout: 60 * time.Second}}
	waitBrowser(t, 20*time.Second, "chromedriver to listen", func() error {
		var st struct {
			Ready bool `json:"ready"`
		}
		if err := wd.call(http.MethodGet, "/status", nil, &st); err != nil {
			return err
		}
		if !st.Ready {
			return errors.New("not ready")
		}
		return nil
	})

	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName": "chrome",
		"goog:chromeOptions": map[string]any{
			"binary": chromium,
			"args": []string{
				"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
				"--disable-background-networking", "--disable-component-update", "--disable-sync",
				"--disable-dev-shm-usage", "--disable-crash-reporter", "--hide-scrollbars", "--force-device-scale-factor=1",
				"--user-data-dir=" + t.TempDir(), fmt.Sprintf("--window-size=%d,%d", width, height),
			},
		},
	}}}
	var sess struct {
		SessionID string `json:"sessionId"`
	}
	if err := wd.call(http.MethodPost, "/session", caps, &sess); err != nil {
		t.Fatalf("start a Chromium session through chromedriver: %v\n%s", err, logs())
	}
	wd.base = root + "/session/" + sess.SessionID
	// --window-size includes the (invisible) browser frame: grow the
	// window until the page's viewport is width x height.
	var inner struct{ W, H int }
	if err := wd.exec(`return {W: window.innerWidth, H: window.innerHeight};`, &inner); err != nil {
		t.Fatal(err)
	}
	if inner.W != width || inner.H != height {
		rect := map[string]int{"width": 2*width - inner.W, "height": 2*height - inner.H}
		if err := wd.call(http.MethodPost, "/window/rect", rect, nil); err != nil {
			t.Fatalf("resize the window: %v", err)
		}
	}
	t.Cleanup(func() {
		// t.Context is already cancelled here: close Chromium on its own deadline.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = wd.callCtx(ctx, http.MethodDelete, "", nil, nil)
	})
	return wd
}

// call sends one WebDriver command and decodes its "value" into out.
func (wd *webDriver) call(method, path string, body, out any) error {
	return wd.callCtx(wd.t.Context(), method, path, body, out)
}

func (wd *webDriver) callCtx(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, wd.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := wd.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var env struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error   string `json:"error"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(env.Value, &e)
		return fmt.Errorf("%s %s: %s: %s", method, path, e.Error, e.Message)
	}
	if out != nil {
		return json.Unmarshal(env.Value, out)
	}
	return nil
}

func (wd *webDriver) navigate(url string) {
	wd.t.Helper()
	if err := wd.call(http.MethodPost, "/url", map[string]string{"url": url}, nil); err != nil {
		wd.t.Fatal(err)
	}
}

// exec runs script in the page and decodes what it returns into out.
func (wd *webDriver) exec(script string, out any) error {
	return wd.call(http.MethodPost, "/execute/sync", map[string]any{"script": script, "args": []any{}}, out)
}

// find returns the element matching a CSS selector.
func (wd *webDriver) find(css string) (string, error) {
	var el map[string]string
	if err := wd.call(http.MethodPost, "/element", map[string]string{"using": "css selector", "value": css}, &el); err != nil {
		return "", fmt.Errorf("find %s: %w", css, err)
	}
	for _, id := range el {
		return id, nil
	}
	return "", fmt.Errorf("find %s: no element", css)
}

func (wd *webDriver) click(element string) error {
	return wd.call(http.MethodPost, "/element/"+element+"/click", map[string]any{}, nil)
}

// screenshot is a PNG of the window's viewport.
func (wd *webDriver) screenshot() []byte {
	wd.t.Helper()
	var b64 string
	if err := wd.call(http.MethodGet, "/screenshot", nil, &b64); err != nil {
		wd.t.Fatal(err)
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		wd.t.Fatal(err)
	}
	return b
}
