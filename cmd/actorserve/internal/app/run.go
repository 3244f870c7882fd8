// Package app is the actorserve command line: each subcommand parses its
// flags (with ACTORSERVE_* environment fallbacks), builds the components
// and runs them until its context ends. cmd/actorserve only calls Run, so
// tests drive the whole CLI in-process.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"

	"github.com/actorserve/actorserve/actors/broker"
	"github.com/actorserve/actorserve/cluster/tlsfiles"
)

// ErrUsage marks a command-line mistake (exit status 2).
var ErrUsage = errors.New("usage")

// Env looks up environment variables; tests replace it.
var Env = os.LookupEnv

type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands map[string]command

func init() {
	commands = map[string]command{
		"dev":     {"an embedded Kafka broker and one node in one process, for trying things out", runDev},
		"node":    {"one cluster node", runNode},
		"broker":  {"the embedded Kafka-protocol broker alone, shared by local nodes", runBroker},
		"deploy":  {"publish a model descriptor file through a node's HTTP API", runDeploy},
		"models":  {"list the models of the cluster, or show one", runModels},
		"cluster": {"show the cluster's members", runCluster},
		"health":  {"exit 0 when a node is ready (or --live), for container probes", runHealth},
		"version": {"print the build version", runVersion},
		"send":    {"produce events from a JSONL or CSV file to Kafka", runSend},
		"eval":    {"prequential evaluation of online learners on a CSV file, locally or through the cluster", runEval},
		"bench":   {"measure ingress throughput and latency against a plain franz-go passthrough", runBenchCommand},
		"replay":  {"re-score a model's recorded events with a chosen version, to a topic of its own", runReplay},
		"certs":   {"write a CA, node certificates, a gossip key and bearer tokens for a hardened cluster", runCerts},
	}
}

// Run runs the command line args (without the program name).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 2 && args[0] == "help" {
		args = []string{args[1], "-h"} // actorserve help COMMAND
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return fmt.Errorf("%w: no command given", ErrUsage)
		}
		return nil
	}
	cmd, ok := commands[args[0]]
	if !ok {
		usage(stderr)
		return fmt.Errorf("%w: unknown command %q", ErrUsage, args[0])
	}
	return cmd.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "actorserve serves and trains machine-learning models on event streams.\n\nUsage: actorserve COMMAND [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'actorserve COMMAND -h' (or 'actorserve help COMMAND') for a command's usage, an example and its flags. Every flag can also be set as ACTORSERVE_<FLAG> (for example ACTORSERVE_HTTP=127.0.0.1:8081); flags win.")
}

// parse parses args (flags may come before or after positional
// arguments), then fills every flag not given from ACTORSERVE_<NAME>.
func parse(fs *flag.FlagSet, args []string) error {
	setUsage(fs)
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return fmt.Errorf("%w: %v", ErrUsage, err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if rest[0] == "--" {
			positional = append(positional, rest[1:]...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	// Leave the positional arguments where fs.Args() finds them.
	if err := fs.Parse(append([]string{"--"}, positional...)); err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		name := "ACTORSERVE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := Env(name); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%w: %s=%q: %v", ErrUsage, name, v, err))
			}
		}
	})
	return errors.Join(errs...)
}

type logFlags struct {
	level  string
	format string
}

func (l *logFlags) register(fs *flag.FlagSet, format string) {
	fs.StringVar(&l.level, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&l.format, "log-format", format, "log format: text or json")
}

func (l *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(l.level)); err != nil {
		return nil, fmt.Errorf("%w: --log-level %q: want debug, info, warn or error", ErrUsage, l.level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch l.format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("%w: --log-format %q: want text or json", ErrUsage, l.format)
}

func runNode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := DefaultNodeConfig()
	cfg.RegisterFlags(fs)
	var lf logFlags
	lf.register(fs, "json")
	if err := parse(fs, args); err != nil {
		return err
	}
	logger, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	n, err := StartNode(ctx, cfg, logger)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "node %s: http://%s gossip %s remote %s\n", cfg.Cluster.Name, n.AdvertisedHTTP(), n.Cluster.GossipAddr(), n.Cluster.RemoteAddr())
	<-ctx.Done()
	return n.Shutdown(context.Background())
}

// BrokerPasswordEnv holds the embedded broker's SASL password.
const BrokerPasswordEnv = "ACTORSERVE_BROKER_SASL_PASSWORD"

func runBroker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg broker.Config
	cfg.RegisterFlags(fs)
	var lf logFlags
	lf.register(fs, "text")
	tlsCert := fs.String("tls-cert", "", "PEM certificate: the broker speaks TLS only (reloaded when it changes)")
	tlsKey := fs.String("tls-key", "", "PEM private key of --tls-cert")
	saslMech := fs.String("sasl-mechanism", "", "require SASL: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	saslUser := fs.String("sasl-user", "", "the SASL user clients authenticate as (password from $"+BrokerPasswordEnv+")")
	if err := parse(fs, args); err != nil {
		return err
	}
	logger, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	if *tlsCert != "" || *tlsKey != "" {
		pair, err := tlsfiles.LoadPair(*tlsCert, *tlsKey)
		if err != nil {
			return fmt.Errorf("%w: broker tls: %w", ErrUsage, err)
		}
		cfg.TLS = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: pair.GetCertificate}
	}
	if *saslMech != "" {
		pass := os.Getenv(BrokerPasswordEnv)
		if *saslUser == "" || pass == "" {
			return fmt.Errorf("%w: --sasl-mechanism needs --sasl-user and $%s", ErrUsage, BrokerPasswordEnv)
		}
		cfg.SASL = []broker.SASLUser{{Mechanism: strings.ToUpper(*saslMech), User: *saslUser, Password: pass}}
	}
	b, err := broker.New(cfg, logger)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "kafka broker listening on %s\n", strings.Join(b.Addrs(), ","))
	<-ctx.Done()
	b.Close()
	return nil
}

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := DefaultNodeConfig()
	cfg.Cluster.Name = "dev"
	cfg.Cluster.Gossip = "127.0.0.1:0"
	cfg.Cluster.Remote = "127.0.0.1:0"
	// dev may read models from the directory it runs in and call servers
	// on this machine; a node reads none unless told.
	cfg.Sources = SourcesConfig{Dirs: []string{"."}, Hosts: []string{"127.0.0.1", "localhost", "::1"}}
	cfg.RegisterFlags(fs)
	bcfg := broker.DefaultConfig()
	fs.StringVar(&bcfg.Listen, "kafka", bcfg.Listen, "address of the embedded Kafka broker")
	fs.StringVar(&bcfg.DataDir, "data-dir", "", "directory the embedded broker persists its data in (default: in memory)")
	fs.IntVar(&bcfg.Partitions, "partitions", bcfg.Partitions, "partitions of the event topics")
	var lf logFlags
	lf.register(fs, "text")
	if err := parse(fs, args); err != nil {
		return err
	}
	logger, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	b, err := broker.New(bcfg, logger)
	if err != nil {
		return err
	}
	defer b.Close()
	cfg.Brokers = b.Addrs()
	n, err := StartNode(ctx, cfg, logger)
	if err != nil {
		return err
	}
	if err := n.WaitReady(ctx); err != nil {
		n.Close()
		return err
	}
	fmt.Fprintf(stdout, `actorserve dev is ready
  dashboard   http://%[1]s/
  HTTP API    http://%[1]s/v1/models   (PUT /v1/models/{id} deploys, POST /v1/models/{id}/predict scores)
  metrics     http://%[1]s/metrics
  cluster     http://%[1]s/v1/cluster
  health      http://%[1]s/readyz
  Kafka       %[2]s   (control topic actorserve.models)
Press Ctrl+C to stop.
`, n.HTTPAddr(), strings.Join(b.Addrs(), ","))
	<-ctx.Done()
	return n.Shutdown(context.Background())
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: version takes no arguments", ErrUsage)
	}
	fmt.Fprintln(stdout, "actorserve", buildVersion())
	return nil
}
