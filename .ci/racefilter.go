//go:build ignore

// Command racefilter reads the race detector's reports (the files that
// GORACE=log_path=DIR/race makes, one per process, test binaries and the node
// processes they start alike) and decides which are allowed.
//
//	GORACE="log_path=DIR/race exitcode=0" go test -race -json ./... |
//		go run .ci/racefilter.go -json - ALLOW-LIST DIR
//
// (exitcode=0: a node process that a test starts and stops must exit as it
// would without the detector; its reports are in DIR all the same.)
// Each report has two conflicting accesses. The owner of an access is the
// first frame of its stack that is not in the standard library (runtime map
// and slice helpers, sync, reflect, fmt ... act for their caller). A report
// is ours when the owner of either access is in github.com/actorserve/actorserve:
// it always fails. A report whose two owners are both upstream (protoactor-go,
// gRPC, protobuf ...) is allowed when the allow-list names a function of
// either access stack (the upstream function that races, or the upstream
// caller that makes its callee race, as protoactor's remote.Start does with
// gRPC's global logger); any other fails. It prints every failing report whole, a count of
// the allowed ones by owner, and exits 1 when one fails.
//
// With -json, it also reads that run's `go test -json` output: the testing
// package fails every test during which the detector reported a race
// ("race detected during execution of test"), so such failures are judged
// by the reports alone; any other failure of a test or a package (an
// assertion, a timeout, a build error) is printed and fails. A test that
// both raced and failed an assertion is judged by its race only: the plain
// `go test ./...` run in .ci/run judges assertions.
//
// The allow-list has one function per line as the race detector prints it,
// without "()": github.com/asynkron/protoactor-go/remote.(*BlockList).Block.
// Blank lines and lines starting with # are comments; every entry should have
// one saying why it is upstream's.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

const ours = "github.com/actorserve/actorserve"

// access is "Read at 0x... by goroutine 7:" and the like, "Previous write at ...".
var access = regexp.MustCompile(`^(Previous )?([Aa]tomic )?([Rr]ead|[Ww]rite) at 0x[0-9a-f]+ by `)

type report struct {
	file   string
	text   string
	owners []string   // owner of each access, in report order
	stacks [][]string // functions of each access stack, innermost first
	ours   bool       // a frame of our module anywhere in the report
}

func main() {
	jsonPath := flag.String("json", "", "`go test -race -json` output of the run that wrote the reports (- for standard input)")
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run .ci/racefilter.go [-json FILE|-] ALLOW-LIST REPORT-DIR")
		os.Exit(2)
	}
	allowed, err := readAllowList(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "racefilter:", err)
		os.Exit(2)
	}
	otherFailures := 0
	if *jsonPath != "" {
		if otherFailures, err = testFailures(*jsonPath); err != nil {
			fmt.Fprintln(os.Stderr, "racefilter:", err)
			os.Exit(2)
		}
	}
	files, err := filepath.Glob(filepath.Join(flag.Arg(1), "race.*"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "racefilter:", err)
		os.Exit(2)
	}
	var reports []report
	for _, f := range files {
		rs, err := parseFile(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, "racefilter:", err)
			os.Exit(2)
		}
		reports = append(reports, rs...)
	}
	failed := 0
	allowedBy := map[string]int{}
	upstreamWithOurFrames := 0
	for _, r := range reports {
		verdict, name := judge(r, allowed)
		switch verdict {
		case "allowed":
			allowedBy[name]++
			if r.ours {
				upstreamWithOurFrames++
			}
		default:
			failed++
			fmt.Printf("== %s (%s; accesses by %s)\n%s\n", verdict, r.file, strings.Join(r.owners, " and "), r.text)
		}
	}
	fmt.Printf("== race detector: %d reports, %d allowed, %d failing\n", len(reports), len(reports)-failed, failed)
	var names []string
	for n := range allowedBy {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Printf("   allowed %4d  %s\n", allowedBy[n], n)
	}
	if upstreamWithOurFrames > 0 {
		fmt.Printf("   (%d of the allowed reports have our code further down a stack: it called into the upstream code that raced)\n", upstreamWithOurFrames)
	}
	for n := range allowed {
		if allowedBy[n] == 0 {
			fmt.Printf("   note: %s is on the allow-list and raced in no report\n", n)
		}
	}
	if failed > 0 {
		fmt.Printf("FAIL: %d data races in our code or not on the allow-list\n", failed)
	}
	if otherFailures > 0 {
		fmt.Printf("FAIL: %d tests or packages failed under -race for another reason than a race (above)\n", otherFailures)
	}
	if failed > 0 || otherFailures > 0 {
		os.Exit(1)
	}
}

type testEvent struct {
	Action, Package, ImportPath, Test, Output string
}

// testFailures prints each package's result line and the output of every
// test or package that failed for another reason than a detected race, and
// returns how many did.
func testFailures(path string) (int, error) {
	f := os.Stdin
	if path != "-" {
		var err error
		if f, err = os.Open(path); err != nil {
			return 0, err
		}
		defer f.Close()
	}
	type key struct{ pkg, test string }
	output := map[key][]string{}
	var failedTests []key
	var failedPkgs []string
	others := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e testEvent
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			fmt.Println(sc.Text()) // go test's own lines outside JSON
			continue
		}
		k := key{e.Package, e.Test}
		switch e.Action {
		case "build-output":
			fmt.Print(e.Output)
		case "build-fail":
			fmt.Printf("FAIL: %s does not build\n", e.ImportPath)
			others++
		case "output":
			output[k] = append(output[k], e.Output)
		case "pass":
			if e.Test == "" && len(output[k]) > 0 {
				fmt.Print(output[k][len(output[k])-1])
			}
			if e.Test == "" {
				for o := range output {
					if o.pkg == e.Package {
						delete(output, o)
					}
				}
			} else {
				delete(output, k)
			}
		case "fail":
			if e.Test == "" {
				failedPkgs = append(failedPkgs, e.Package)
			} else {
				failedTests = append(failedTests, k)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	raced := func(k key) bool { return strings.Contains(strings.Join(output[k], ""), "race detected") }
	explained := map[string]bool{} // packages with a failed test
	other := map[string]bool{}     // packages with a test that failed for another reason
	for _, t := range failedTests {
		explained[t.pkg] = true
		sub := false // a failed subtest fails its parent; the subtest is judged
		for _, u := range failedTests {
			if u.pkg == t.pkg && strings.HasPrefix(u.test, t.test+"/") {
				sub = true
			}
		}
		if !sub && !raced(t) {
			fmt.Printf("== %s %s failed under -race, not for a race:\n%s", t.pkg, t.test, strings.Join(output[t], ""))
			others++
			other[t.pkg] = true
		}
	}
	for _, p := range failedPkgs {
		if !explained[p] && !raced(key{p, ""}) {
			fmt.Printf("== %s failed under -race, not in a test:\n%s", p, strings.Join(output[key{p, ""}], ""))
			others++
		} else if other[p] {
			fmt.Printf("FAIL\t%s\n", p)
		} else {
			fmt.Printf("FAIL\t%s (only tests during which a race was reported; judged below)\n", p)
		}
	}
	return others, nil
}

func judge(r report, allowed map[string]bool) (verdict, name string) {
	if len(r.owners) == 0 {
		return "UNPARSED REPORT", ""
	}
	for _, o := range r.owners {
		if o == "" || strings.HasPrefix(o, ours) {
			return "RACE IN OUR CODE", ""
		}
	}
	for _, st := range r.stacks {
		for _, fn := range st {
			if allowed[fn] {
				return "allowed", fn
			}
		}
	}
	return "UPSTREAM RACE NOT ON THE ALLOW-LIST", ""
}

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
		if strings.ContainsAny(line, " \t") || strings.HasPrefix(line, ours) {
			return nil, fmt.Errorf("%s:%d: want one upstream function, got %q", path, n+1, line)
		}
		allowed[strings.TrimSuffix(line, "()")] = true
	}
	return allowed, nil
}

// parseFile splits a log into its DATA RACE reports.
func parseFile(path string) ([]report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var (
		out  []report
		cur  *report
		text strings.Builder
		// inAccess: reading an access stack whose owner is not found yet.
		inAccess, found bool
	)
	flush := func() {
		if cur != nil {
			if inAccess && !found {
				cur.owners = append(cur.owners, "") // only standard-library frames: count as ours
			}
			cur.text = text.String()
			out = append(out, *cur)
		}
		cur, inAccess = nil, false
		text.Reset()
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "WARNING: DATA RACE") {
			flush()
			cur = &report{file: path}
		}
		if cur == nil {
			continue
		}
		if line == "==================" {
			flush()
			continue
		}
		text.WriteString(line + "\n")
		switch {
		case access.MatchString(line):
			if inAccess && !found {
				cur.owners = append(cur.owners, "")
			}
			inAccess, found = true, false
			cur.stacks = append(cur.stacks, nil)
		case line == "" || !strings.HasPrefix(line, " "):
			if inAccess && !found {
				cur.owners = append(cur.owners, "")
			}
			inAccess = false
		case strings.HasPrefix(line, "  ") && !strings.HasPrefix(line, "    "):
			fn := strings.TrimSuffix(strings.TrimSpace(line), "()")
			if strings.HasPrefix(fn, ours) {
				cur.ours = true
			}
			if inAccess {
				cur.stacks[len(cur.stacks)-1] = append(cur.stacks[len(cur.stacks)-1], fn)
			}
			if inAccess && !found && !stdlib(fn) {
				cur.owners = append(cur.owners, fn)
				found = true
			}
		}
	}
	flush()
	return out, sc.Err()
}

// stdlib says whether fn ("net/http.(*conn).serve") is in the standard
// library: its import path's first element has no dot.
func stdlib(fn string) bool {
	path := fn
	if i := strings.LastIndex(path, "/"); i >= 0 {
		first := path[:strings.Index(path, "/")]
		return !strings.Contains(first, ".")
	}
	// No slash: "main.main", "runtime.mapassign", "fmt.Sprintf".
	return !strings.Contains(strings.SplitN(path, ".", 2)[0], ".") && !strings.HasPrefix(path, "main.")
}
