package app

import (
	"flag"
	"fmt"
	"strings"
)

// usages are what `actorserve COMMAND -h` prints above the flags: the
// positional arguments and an example. The one-line description is the
// command's summary.
var usages = map[string]struct{ args, example string }{
	"dev":     {"", "actorserve dev --http 127.0.0.1:8080 --kafka 127.0.0.1:9092"},
	"node":    {"", "actorserve node --name n2 --brokers kafka-1:9092,kafka-2:9092 --join 10.0.0.1:7946 --http :8080"},
	"broker":  {"", "actorserve broker --listen 127.0.0.1:9092"},
	"deploy":  {"FILE", "actorserve deploy --http 127.0.0.1:8080 --id fraud fraud.json"},
	"models":  {"[MODEL_ID]", "actorserve models --sort p99_ms --limit 20    (or: actorserve models fraud)"},
	"cluster": {"", "actorserve cluster --http 127.0.0.1:8080"},
	"health":  {"", "actorserve health --http 127.0.0.1:8080 --live"},
	"version": {"", "actorserve version"},
	"send":    {"", "actorserve send --file events.jsonl --model fraud --rate 1000"},
	"eval":    {"", "actorserve eval --file banknote.csv --learner pa1 --learner arow"},
	"bench":   {"", "actorserve bench --events 100000 --nodes 1,3"},
	"replay":  {"", "actorserve replay --model fraud --version 2 --from 2026-01-01T00:00:00Z"},
	"certs":   {"", "actorserve certs --dir ./secrets --nodes n1,n2,n3"},
}

// setUsage makes fs's -h print the command's usage line, description and
// example before its flags.
func setUsage(fs *flag.FlagSet) {
	name := fs.Name()
	cmd, ok := commands[name]
	if !ok {
		return
	}
	u := usages[name]
	fs.Usage = func() {
		w := fs.Output()
		line := "actorserve " + name
		if hasFlags(fs) {
			line += " [flags]"
		}
		if u.args != "" {
			line += " " + u.args
		}
		fmt.Fprintf(w, "Usage: %s\n\n%s%s.\n", line, strings.ToUpper(cmd.summary[:1]), cmd.summary[1:])
		if u.example != "" {
			fmt.Fprintf(w, "\nExample:\n  %s\n", u.example)
		}
		if hasFlags(fs) {
			fmt.Fprintln(w, "\nFlags (each also read from ACTORSERVE_<FLAG>, for example ACTORSERVE_HTTP; flags win):")
			fs.PrintDefaults()
		}
	}
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}
