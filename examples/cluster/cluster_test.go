// Package cluster holds the tests that run examples/cluster/run.sh: a
// broker and three node processes, six models, a stream, kill -9 of a node,
// and nothing left running afterwards.
package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/actorserve/actorserve/examples/internal/extest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	extest.Cleanup()
	os.Exit(code)
}

const events = 3000 // 15 s at 200/s: the kill comes at about 3 s, so the stream outlives the failover

// scriptEnv gives run.sh free ports, a work folder and a prebuilt binary.
func scriptEnv(t *testing.T) (env []string, work string) {
	t.Helper()
	extest.NeedTool(t, "kcat", "apt-get install kcat")
	p := extest.FreePorts(t, 10)
	join := func(ps []int) string {
		s := make([]string, len(ps))
		for i, v := range ps {
			s[i] = strconv.Itoa(v)
		}
		return strings.Join(s, " ")
	}
	work = t.TempDir()
	return []string{
		"BROKER_PORT=" + strconv.Itoa(p[0]),
		"HTTP_PORTS=" + join(p[1:4]),
		"GOSSIP_PORTS=" + join(p[4:7]),
		"REMOTE_PORTS=" + join(p[7:10]),
		"EVENTS=" + strconv.Itoa(events),
		"RATE=200",
		"AS_BIN=" + extest.Build(t, "./cmd/actorserve"),
		"WORK=" + work,
	}, work
}

// TestClusterScript runs run.sh to the end and checks what it promises: a
// three-member cluster, models moved off the killed node, a two-member
// cluster, every event predicted (some after the kill), and every process
// it started gone.
func TestClusterScript(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker and three nodes")
	}
	env, work := scriptEnv(t)
	start := time.Now()
	sh := extest.Start(t, extest.Options{Env: env, Timeout: 150 * time.Second}, "bash", "examples/cluster/run.sh")
	if err := sh.Wait(); err != nil {
		t.Fatalf("run.sh: %v\n%s", err, sh.Output())
	}
	t.Logf("run.sh took %s", time.Since(start).Round(100*time.Millisecond))
	out := sh.Output()

	for _, want := range []string{
		"== cluster: 3 members (asked n3)",
		"== deploying 6 models through n1",
		"== models and where they run (asked n3)",
		"== models after the failover",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	kill := regexp.MustCompile(`(?m)^== kill -9 (n\d) \(pid \d+\), which hosts ([1-6]) models, with (\d+) of \d+ events predicted$`).FindStringSubmatch(out)
	if kill == nil {
		t.Fatalf("no kill line in:\n%s", out)
	}
	victim := kill[1]
	// Every model the victim hosted moves to a survivor; a model may also
	// move between survivors (the balanced assignment of partitions over
	// two members differs from the one over three), and the script says so.
	moved := regexp.MustCompile(`(?m)^moved (m[1-6]): (n\d) -> (n\d)( \(rebalanced\))?$`).FindAllStringSubmatch(out, -1)
	off := 0
	for _, m := range moved {
		switch {
		case m[3] == victim:
			t.Errorf("moved %s: %s -> %s, onto the killed node", m[1], m[2], m[3])
		case m[2] == victim && m[4] == "":
			off++
		case m[2] != victim && m[4] != "":
		default:
			t.Errorf("%q: rebalanced must mean moved between survivors", m[0])
		}
	}
	if fmt.Sprint(off) != kill[2] {
		t.Errorf("%d models moved off %s, want the %s it hosted", off, victim, kill[2])
	}
	if !regexp.MustCompile(`(?m)^== cluster: 2 members \(asked n\d\)$`).MatchString(out) {
		t.Error("no two-member cluster after the kill")
	}
	if regexp.MustCompile(`(?m)^` + victim + `\s+alive`).MatchString(out[strings.Index(out, "== cluster: 2 members"):]) {
		t.Errorf("%s is still listed alive after the kill", victim)
	}
	all := regexp.MustCompile(`(?m)^== all (\d+) events predicted: (\d+) after the kill`).FindStringSubmatch(out)
	if all == nil || all[1] != strconv.Itoa(events) {
		t.Fatalf("no line saying all %d events were predicted", events)
	}
	if after, _ := strconv.Atoi(all[2]); after < events/4 {
		t.Errorf("only %d events predicted after the kill: the stream did not carry on", after)
	}
	if !regexp.MustCompile(`(?m)^== stopped everything this script started \(5 processes\)`).MatchString(out) {
		t.Error("no closing line for 5 processes")
	}
	if n := extest.CheckPIDFile(t, filepath.Join(work, "pids")); n != 5 {
		t.Errorf("the PID file names %d processes, want 5 (broker, three nodes, send)", n)
	}
}

// TestClusterScriptInterrupted interrupts run.sh while the stream runs, as
// Ctrl+C would, and checks that its trap stops every process it started.
func TestClusterScriptInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker and three nodes")
	}
	env, work := scriptEnv(t)
	sh := extest.Start(t, extest.Options{Env: env, Timeout: 120 * time.Second}, "bash", "examples/cluster/run.sh")
	sh.Await(t, regexp.MustCompile(`^== models and where they run`), 90*time.Second)
	// Signal the script alone, not its process group: the trap must do the work.
	if err := sh.Cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := sh.Wait()
	if ee, ok := err.(interface{ ExitCode() int }); !ok || ee.ExitCode() != 130 {
		t.Errorf("run.sh exited with %v after SIGINT, want status 130", err)
	}
	if !strings.Contains(sh.Output(), "== stopped everything this script started (5 processes)") {
		t.Errorf("no closing line:\n%s", sh.Output())
	}
	if n := extest.CheckPIDFile(t, filepath.Join(work, "pids")); n != 5 {
		t.Errorf("the PID file names %d processes, want 5", n)
	}
}
