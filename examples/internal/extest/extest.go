// Package extest runs the examples the way a newcomer does: it builds the
// actorserve binary (and an example's own program) with `go build`, starts
// processes and scripts in their own process groups on free 127.0.0.1 ports,
// waits for the lines they promise and kills every process group it started
// when the test ends. Only the example tests under examples/ use it.
package extest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Root returns the module root (the folder holding go.mod).
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatalf("no go.mod above %s", dir)
		}
	}
}

var (
	buildMu  sync.Mutex
	buildDir string
	built    = map[string]string{}
)

// Build compiles the main package pkg (a path relative to the module root,
// like "./cmd/actorserve") once per test binary and returns the executable.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[pkg]; ok {
		return p
	}
	if buildDir == "" {
		d, err := os.MkdirTemp("", "actorserve-examples-")
		if err != nil {
			t.Fatal(err)
		}
		buildDir = d
	}
	out := filepath.Join(buildDir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = Root(t)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	built[pkg] = out
	return out
}

// Cleanup removes the binaries Build made; call it from TestMain after m.Run.
func Cleanup() {
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}

// NeedTool fails the test when an external command is missing.
func NeedTool(t testing.TB, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed (%s; .ci/run installs kcat)", name, install)
	}
	return p
}

var (
	portMu sync.Mutex
	given  = map[int]bool{}
)

// FreePorts returns n distinct ports that are free on 127.0.0.1 for both
// TCP and UDP at the time of the call (memberlist gossip uses both).
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	var out []int
	for tries := 0; len(out) < n; tries++ {
		if tries > 1000 {
			t.Fatal("no free ports")
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		if given[port] {
			continue
		}
		given[port] = true
		out = append(out, port)
	}
	return out
}

// Proc is a started process (or script) and the lines it printed.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	out  *lines
	done chan struct{}
	err  error
}

type lines struct {
	mu sync.Mutex
	l  []string
}

func (l *lines) add(s string) {
	l.mu.Lock()
	l.l = append(l.l, s)
	l.mu.Unlock()
}

func (l *lines) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.l...)
}

// Options adjust Start.
type Options struct {
	Dir string   // working directory (default: the module root)
	Env []string // added to the environment
	// Timeout kills the process group after this long (default 3 minutes).
	Timeout time.Duration
	// Log copies every line to t.Log as it arrives.
	Log bool
}

// Start runs name with args in a new process group. When the test ends the
// whole group is killed with SIGKILL and the process is waited for.
func Start(t testing.TB, opts Options, name string, args ...string) *Proc {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = 3 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), opts.Timeout)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = opts.Dir
	if cmd.Dir == "" {
		cmd.Dir = Root(t)
	}
	cmd.Env = append(os.Environ(), opts.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	p := &Proc{Name: filepath.Base(name), Cmd: cmd, out: &lines{}, done: make(chan struct{})}
	if len(args) > 0 && strings.HasSuffix(name, "bash") {
		p.Name = filepath.Base(args[0])
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			p.out.add(sc.Text())
			if opts.Log {
				t.Log(p.Name + ": " + sc.Text())
			}
		}
		io.Copy(io.Discard, pr)
	}()
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		<-read
		cancel()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		if t.Failed() && !opts.Log {
			t.Logf("--- output of %s ---\n%s", p.Name, p.Output())
		}
	})
	return p
}

// Output is everything the process printed so far, stdout and stderr interleaved.
func (p *Proc) Output() string { return strings.Join(p.out.all(), "\n") }

// Lines returns the lines printed so far.
func (p *Proc) Lines() []string { return p.out.all() }

// Wait waits for the process to exit and returns its error.
func (p *Proc) Wait() error {
	<-p.done
	return p.err
}

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Await waits until a line matches re and returns its submatches.
func (p *Proc) Await(t testing.TB, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, l := range p.out.all() {
			if m := re.FindStringSubmatch(l); m != nil {
				return m
			}
		}
		if p.Exited() {
			// one more look: the last lines may have arrived with the exit
			for _, l := range p.out.all() {
				if m := re.FindStringSubmatch(l); m != nil {
					return m
				}
			}
			t.Fatalf("%s exited (%v) before printing %q:\n%s", p.Name, p.err, re, p.Output())
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not print %q within %s:\n%s", p.Name, re, timeout, p.Output())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Eventually polls cond until it returns nil or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %v", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var client = &http.Client{Timeout: 20 * time.Second}

// GetJSON GETs url (http:// is added when missing) and decodes the answer into out.
func GetJSON(url string, out any) error {
	if !strings.Contains(url, "://") {
		url = "http://" + url
	}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// Alive reports whether pid names a live process (a zombie counts as gone).
func Alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return !errors.Is(err, syscall.ESRCH)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // no procfs: trust kill(2)
	}
	// pid (comm) S ...: the state follows the last ')'.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}

// CheckPIDFile reads the PIDs a script wrote, one per line, and fails the
// test for each that is still alive a few seconds after the script ended.
// It returns how many PIDs the file named.
func CheckPIDFile(t testing.TB, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the script wrote no PID file: %v", err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("%s: %q is not a PID", path, f)
		}
		pids = append(pids, pid)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for Alive(pid) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if Alive(pid) {
			t.Errorf("process %d started by the script is still running after it exited", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	return len(pids)
}

// Field returns the float after "name=" in line, or an error naming it.
func Field(line, name string) (float64, error) {
	re := regexp.MustCompile(`(?:^|\s)` + regexp.QuoteMeta(name) + `=(-?[0-9.eE+-]+)`)
	m := re.FindStringSubmatch(line)
	if m == nil {
		return 0, fmt.Errorf("no %s= in %q", name, line)
	}
	return strconv.ParseFloat(m[1], 64)
}
