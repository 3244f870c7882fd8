//go:build ignore

// Command skips reads `go test -json` on standard input, prints what a person
// reading the CI log needs (each package's result, the whole output of every
// failed test and package, build errors), then the number of skipped tests
// with their reasons. It exits 1 when a test or package failed, when a test
// was skipped that the allow-list does not name, or when the input held no
// test at all.
//
//	go test -json ./... | go run .ci/skips.go .ci/skips-allowed
//
// The allow-list has one "import/path TestName[/subtest]" per line; blank
// lines and lines starting with # are comments, and every entry should have
// one saying why the skip is right.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action     string
	Package    string
	ImportPath string // build-output and build-fail events
	Test       string
	Output     string
}

type key struct{ pkg, test string }

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go test -json ./... | go run .ci/skips.go ALLOW-LIST")
		os.Exit(2)
	}
	allowed, err := readAllowList(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "skips:", err)
		os.Exit(2)
	}
	r := report{out: os.Stdout, allowed: allowed, used: map[string]bool{}, output: map[key][]string{}}
	if err := r.read(os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, "skips:", err)
		os.Exit(2)
	}
	if !r.summary() {
		os.Exit(1)
	}
}

// readAllowList returns the allowed skips, "import/path TestName".
func readAllowList(path string) (map[string]bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	allowed := map[string]bool{}
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 || !strings.HasPrefix(f[1], "Test") {
			return nil, fmt.Errorf("%s:%d: want \"import/path TestName\", got %q", path, n+1, line)
		}
		allowed[f[0]+" "+f[1]] = true
	}
	return allowed, nil
}

type skip struct {
	name, reason string
	allowed      bool
}

type report struct {
	out     io.Writer
	allowed map[string]bool
	used    map[string]bool
	output  map[key][]string // output of tests (and packages, test "") still running

	passed, failed, failedPkgs int
	skips                      []skip
}

func (r *report) read(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			// go test prints some lines (a package that does not build) outside JSON.
			fmt.Fprintln(r.out, string(line))
			continue
		}
		r.event(e)
	}
	return sc.Err()
}

func (r *report) event(e event) {
	k := key{e.Package, e.Test}
	switch e.Action {
	case "build-output":
		fmt.Fprint(r.out, e.Output)
	case "build-fail":
		fmt.Fprintf(r.out, "build failed: %s\n", e.ImportPath)
		r.failedPkgs++
	case "output":
		r.output[k] = append(r.output[k], e.Output)
	case "pass":
		if e.Test == "" {
			// The package's last line: "ok  \tpath\t1.2s".
			if lines := r.output[k]; len(lines) > 0 {
				fmt.Fprint(r.out, lines[len(lines)-1])
			}
		} else {
			r.passed++
		}
		delete(r.output, k)
	case "fail":
		if e.Test == "" {
			r.failedPkgs++
		} else {
			r.failed++
		}
		fmt.Fprint(r.out, strings.Join(r.output[k], ""))
		delete(r.output, k)
		if e.Test == "" {
			// Tests still running when the package failed (a timeout, a crash): their output.
			for o, lines := range r.output {
				if o.pkg == e.Package {
					fmt.Fprintf(r.out, "--- output of %s, unfinished:\n%s", o.test, strings.Join(lines, ""))
					delete(r.output, o)
				}
			}
		}
	case "skip":
		if e.Test == "" { // a package without test files
			delete(r.output, k)
			return
		}
		name := e.Package + " " + e.Test
		r.skips = append(r.skips, skip{name: name, reason: reason(r.output[k]), allowed: r.allowed[name]})
		r.used[name] = true
		delete(r.output, k)
	}
}

// reason is the message a test gave t.Skip: its last output line before "--- SKIP".
func reason(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l != "" && !strings.HasPrefix(l, "--- SKIP") && !strings.HasPrefix(l, "=== ") {
			return l
		}
	}
	return "(no message)"
}

// summary prints the counts and the skips, and says whether CI passes.
func (r *report) summary() bool {
	ok := true
	unexpected := 0
	for _, s := range r.skips {
		if !s.allowed {
			unexpected++
		}
	}
	fmt.Fprintf(r.out, "\n== %d tests passed, %d failed, %d skipped (%d on .ci/skips-allowed, %d not)\n",
		r.passed, r.failed, len(r.skips), len(r.skips)-unexpected, unexpected)
	sort.Slice(r.skips, func(i, j int) bool { return r.skips[i].name < r.skips[j].name })
	for _, s := range r.skips {
		mark := "allowed"
		if !s.allowed {
			mark = "NOT ALLOWED"
		}
		fmt.Fprintf(r.out, "   skip %-11s %s: %s\n", mark, s.name, s.reason)
	}
	var stale []string
	for name := range r.allowed {
		if !r.used[name] {
			stale = append(stale, name)
		}
	}
	sort.Strings(stale)
	for _, name := range stale {
		fmt.Fprintf(r.out, "   note: %s is on the allow-list but did not skip\n", name)
	}
	if unexpected > 0 {
		fmt.Fprintf(r.out, "FAIL: %d skipped tests are not on .ci/skips-allowed: install what they need (.ci/run) or fix them\n", unexpected)
		ok = false
	}
	if r.failed > 0 || r.failedPkgs > 0 {
		fmt.Fprintf(r.out, "FAIL: %d tests and %d packages failed\n", r.failed, r.failedPkgs)
		ok = false
	}
	if r.passed+r.failed+len(r.skips) == 0 {
		fmt.Fprintln(r.out, "FAIL: no test ran")
		ok = false
	}
	return ok
}
