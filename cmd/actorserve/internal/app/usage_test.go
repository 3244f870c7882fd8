package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/actorserve/actorserve/actors/broker/brokertest"
)

// TestSubcommandHelp: every subcommand's -h (and `help COMMAND`) prints a
// usage line with its positional arguments, its one-line description and
// an example, then its flags.
func TestSubcommandHelp(t *testing.T) {
	for name, cmd := range commands {
		for _, args := range [][]string{{name, "-h"}, {"help", name}} {
			var stdout, stderr bytes.Buffer
			err := Run(t.Context(), args, &stdout, &stderr)
			if !errors.Is(err, flag.ErrHelp) {
				t.Errorf("%v: %v, want flag.ErrHelp (exit 0)", args, err)
			}
			out := stderr.String()
			line := "Usage: actorserve " + name
			if a := usages[name].args; a != "" {
				line += " [flags] " + a
			}
			for _, want := range []string{line, cmd.summary[1:] + ".\n", "\nExample:\n  actorserve " + name} {
				if !strings.Contains(out, want) {
					t.Errorf("%v prints\n%s\nwithout %q", args, out, want)
				}
			}
		}
	}
	for _, c := range []struct{ name, line string }{{"deploy", "Usage: actorserve deploy [flags] FILE\n"}, {"models", "Usage: actorserve models [flags] [MODEL_ID]\n"}, {"version", "Usage: actorserve version\n"}} {
		var stderr bytes.Buffer
		_ = Run(t.Context(), []string{c.name, "-h"}, io.Discard, &stderr)
		if !strings.HasPrefix(stderr.String(), c.line) {
			t.Errorf("%s -h starts %q, want %q", c.name, firstLine(stderr.String()), c.line)
		}
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// TestDeployIDAndServerErrors: `actorserve deploy` takes the id from --id,
// else the file's "id", else the file name without its extension, and
// shows the node's error text as it is.
func TestDeployIDAndServerErrors(t *testing.T) {
	b := brokertest.New(t)
	n := startTestNode(t, b.Addrs(), "d1")
	dir := t.TempDir()
	write := func(name string, v any) string {
		t.Helper()
		p := filepath.Join(dir, name)
		var data []byte
		if s, ok := v.(string); ok {
			data = []byte(s)
		} else {
			data, _ = json.Marshal(v)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noID := write("scorer.v2.json", regressionModel(1))
	withID := regressionModel(2)
	withID["id"] = "named"
	named := write("other.json", withID)
	bad := write("bad.json", `{"format":"linear",`)

	deploy := func(args ...string) (string, error) {
		var stdout bytes.Buffer
		err := Run(t.Context(), append([]string{"deploy", "--http", n.HTTPAddr()}, args...), &stdout, io.Discard)
		return stdout.String(), err
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{noID}, "deployed scorer.v2 version 1\n"},                // the file name without .json
		{[]string{"--id", "chosen", noID}, "deployed chosen version 1\n"}, // --id wins
		{[]string{named}, "deployed named version 1\n"},                   // the file's id
	} {
		if out, err := deploy(c.args...); err != nil || out != c.want {
			t.Errorf("deploy %v: %q %v, want %q", c.args, out, err, c.want)
		}
	}
	if _, err := deploy(bad); err == nil || !strings.Contains(err.Error(), ": invalid descriptor: malformed JSON: unexpected end of input") {
		t.Errorf("deploy of a truncated file: %v, want the node's error as it is", err)
	}
	// A model never used is inactive: no zero "since" in its stats.
	var stdout bytes.Buffer
	if err := Run(t.Context(), []string{"models", "--http", n.HTTPAddr(), "chosen"}, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	var m struct {
		State string          `json:"state"`
		Since json.RawMessage `json:"since"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &m); err != nil || m.State != "inactive" || m.Since != nil {
		t.Errorf("models chosen: state %q since %s (%v), want inactive and no since:\n%s", m.State, m.Since, err, stdout.String())
	}
	if _, err := deploy("--id", "another", named); err == nil || !strings.Contains(err.Error(), `descriptor id "named" does not match the path's "another"`) {
		t.Errorf("deploy --id against the file's id: %v, want the node's error", err)
	}
}
