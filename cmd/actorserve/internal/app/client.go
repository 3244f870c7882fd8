package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.Main.Version
	}
	return "(devel)"
}

// TokenEnv holds the bearer token the CLI's HTTP commands send (never a
// flag: flags show in process listings).
const TokenEnv = "ACTORSERVE_TOKEN"

// The CLI's HTTPS settings, from the environment: the CA that signed the
// node's certificate, and a client certificate for nodes that require one.
const (
	CAFileEnv     = "ACTORSERVE_CA_FILE"
	ClientCertEnv = "ACTORSERVE_CLIENT_CERT"
	ClientKeyEnv  = "ACTORSERVE_CLIENT_KEY"
)

// apiClient is the HTTP client of the CLI's commands.
func apiClient() (*http.Client, error) {
	ca, cert, key := os.Getenv(CAFileEnv), os.Getenv(ClientCertEnv), os.Getenv(ClientKeyEnv)
	if ca == "" && cert == "" {
		return http.DefaultClient, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("$%s: %w", CAFileEnv, err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("$%s: %s holds no PEM certificate", CAFileEnv, ca)
		}
	}
	if cert != "" {
		c, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("$%s and $%s do not load as a certificate and its key", ClientCertEnv, ClientKeyEnv)
		}
		tc.Certificates = []tls.Certificate{c}
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tc
	return &http.Client{Transport: t}, nil
}

type httpFlags struct{ addr string }

func (h *httpFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&h.addr, "http", "127.0.0.1:8080", "HTTP address of any node")
}

func (h *httpFlags) url(path string) string {
	a := h.addr
	if !strings.Contains(a, "://") {
		a = "http://" + a
	}
	return strings.TrimRight(a, "/") + path
}

// call does one API request and decodes a JSON answer into out; an error
// answer becomes an error carrying the server's message.
func call(ctx context.Context, method, url string, body []byte, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if tok := os.Getenv(TokenEnv); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	cl, err := apiClient()
	if err != nil {
		return err
	}
	resp, err := cl.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct{ Error, Code string }
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s %s: %d %s: %s", method, url, resp.StatusCode, e.Code, e.Error)
		}
		return fmt.Errorf("%s %s: %s", method, url, resp.Status)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func runDeploy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("deploy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var h httpFlags
	h.register(fs)
	id := fs.String("id", "", "model id (default: the descriptor's \"id\", else the file name without its extension)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: deploy takes one descriptor file (JSON)", ErrUsage)
	}
	b, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	if *id == "" {
		*id = deployID(fs.Arg(0), b)
	}
	var out struct {
		ID      string `json:"id"`
		Version int64  `json:"version"`
		Pending bool   `json:"pending"`
		Detail  string `json:"detail"`
	}
	// The node checks the descriptor: its error is shown as it is.
	if err := call(ctx, http.MethodPut, h.url("/v1/models/"+url.PathEscape(*id)), b, &out); err != nil {
		return err
	}
	if out.Pending {
		// Published, not read back in time: say so, not "deployed".
		fmt.Fprintf(stdout, "published %s version %d, not confirmed yet: %s\n", out.ID, out.Version, out.Detail)
		return nil
	}
	fmt.Fprintf(stdout, "deployed %s version %d\n", out.ID, out.Version)
	return nil
}

// deployID is the id of a descriptor file without --id: its "id" when it
// has one, else the file name without its extension.
func deployID(path string, b []byte) string {
	var head struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(b, &head) == nil && head.ID != "" {
		return head.ID
	}
	base := filepath.Base(path)
	return strings.TrimSuffix(base, filepath.Ext(base))
}

func runModels(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("models", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var h httpFlags
	h.register(fs)
	watch := fs.Bool("watch", false, "redraw every --interval until interrupted")
	interval := fs.Duration("interval", 2*time.Second, "refresh interval with --watch")
	sortBy := fs.String("sort", "", "sort by id, usage, errors, rate_1m, mean_ms, p50_ms, p95_ms, p99_ms, max_ms, mailbox")
	state := fs.String("state", "", "only models in this state (active, inactive, failed)")
	prefix := fs.String("prefix", "", "only models whose id starts with this")
	node := fs.String("node", "", "only models active on this member")
	format := fs.String("format", "", "only models of this format")
	limit := fs.Int("limit", 0, "show at most this many models (0 = all)")
	pageSize := fs.Int("page", 500, "models per request when listing by id (each request is one page of GET /v1/models)")
	cursor := fs.String("cursor", "", "start after this cursor (printed when --limit stops a listing early)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return fmt.Errorf("%w: models takes at most one model id", ErrUsage)
	}
	if *pageSize < 1 || *pageSize > 10000 {
		return fmt.Errorf("%w: --page %d is outside 1..10000", ErrUsage, *pageSize)
	}
	q := url.Values{}
	for k, v := range map[string]string{"sort": *sortBy, "state": *state, "prefix": *prefix, "node": *node, "format": *format} {
		if v != "" {
			q.Set(k, v)
		}
	}
	show := func() error {
		if fs.NArg() == 1 {
			var out map[string]any
			if err := call(ctx, http.MethodGet, h.url("/v1/models/"+url.PathEscape(fs.Arg(0))), nil, &out); err != nil {
				return err
			}
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		}
		return printModels(ctx, stdout, h, q, *limit, *pageSize, *cursor)
	}
	if !*watch {
		return show()
	}
	t := time.NewTicker(*interval)
	defer t.Stop()
	for {
		fmt.Fprint(stdout, "\033[H\033[2J") // home, clear
		fmt.Fprintf(stdout, "actorserve models   %s   every %s   (Ctrl+C to stop)\n\n", h.addr, *interval)
		if err := show(); err != nil {
			fmt.Fprintln(stdout, "error:", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// modelsPage is one answer of GET /v1/models.
type modelsPage struct {
	Models []struct {
		ID       string  `json:"id"`
		Version  int64   `json:"version"`
		Format   string  `json:"format"`
		Node     string  `json:"node"`
		State    string  `json:"state"`
		Usage    int64   `json:"usage"`
		Errors   int64   `json:"errors"`
		Rate1m   float64 `json:"rate_1m"`
		MeanMS   float64 `json:"mean_ms"`
		P50MS    float64 `json:"p50_ms"`
		P99MS    float64 `json:"p99_ms"`
		MaxMS    float64 `json:"max_ms"`
		Learning *struct {
			Accuracy float64 `json:"accuracy"`
		} `json:"learning"`
	} `json:"models"`
	Next   string `json:"next"`
	Totals struct {
		Models, Active, Inactive int
		Usage, Errors            int64
		Rate1m                   float64 `json:"rate_1m"`
	} `json:"totals"`
	Partial bool     `json:"partial"`
	Missing []string `json:"missing"`
}

// printModels prints the models q selects. Listed by id, it reads them a
// page at a time (one request per page, each node sending only its part),
// so that a million models never make one answer; sorted by a statistic,
// it asks for the top limit at once.
func printModels(ctx context.Context, stdout io.Writer, h httpFlags, q url.Values, limit, pageSize int, cursor string) error {
	paged := q.Get("sort") == "" || q.Get("sort") == "id"
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ID\tVERSION\tFORMAT\tSTATE\tNODE\tUSAGE\tERRORS\tRATE/S\tMEAN_MS\tP50_MS\tP99_MS\tMAX_MS\tACCURACY\t")
	var first *modelsPage
	shown := 0
	for {
		if paged {
			n := pageSize
			if limit > 0 {
				n = min(n, limit-shown)
			}
			q.Set("limit", strconv.Itoa(n))
			q.Del("cursor")
			if cursor != "" {
				q.Set("cursor", cursor)
			}
		} else if limit > 0 {
			q.Set("limit", strconv.Itoa(limit))
		}
		var out modelsPage
		if err := call(ctx, http.MethodGet, h.url("/v1/models?"+q.Encode()), nil, &out); err != nil {
			return err
		}
		if first == nil {
			first = &out
		}
		for _, m := range out.Models {
			acc := "-"
			if m.Learning != nil {
				acc = fmt.Sprintf("%.3f", m.Learning.Accuracy)
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\t%d\t%.1f\t%.3f\t%.3f\t%.3f\t%.3f\t%s\t\n",
				m.ID, m.Version, m.Format, m.State, dash(m.Node), m.Usage, m.Errors, m.Rate1m, m.MeanMS, m.P50MS, m.P99MS, m.MaxMS, acc)
		}
		shown += len(out.Models)
		first.Partial = first.Partial || out.Partial
		first.Missing = append(first.Missing, out.Missing...)
		cursor = out.Next
		if !paged || cursor == "" || (limit > 0 && shown >= limit) {
			break
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	out := first
	fmt.Fprintf(stdout, "%d models (%d active, %d inactive), %d events, %d errors, %.1f events/s\n",
		out.Totals.Models, out.Totals.Active, out.Totals.Inactive, out.Totals.Usage, out.Totals.Errors, out.Totals.Rate1m)
	if paged && cursor != "" {
		fmt.Fprintf(stdout, "more after these: --cursor %s\n", cursor)
	}
	if out.Partial {
		slices.Sort(out.Missing)
		fmt.Fprintf(stdout, "partial answer: no reply from %s\n", strings.Join(slices.Compact(out.Missing), ", "))
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func runCluster(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cluster", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var h httpFlags
	h.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	var out struct {
		Self    string `json:"self"`
		Models  int    `json:"models"`
		Members []struct {
			Name       string            `json:"name"`
			ID         string            `json:"id"`
			HTTP       string            `json:"http"`
			Remote     string            `json:"remote"`
			Gossip     string            `json:"gossip"`
			Status     string            `json:"status"`
			Active     *int              `json:"active_models"`
			Started    time.Time         `json:"started"`
			Partitions []json.RawMessage `json:"partitions"`
			Lag        int64             `json:"lag"`
		} `json:"members"`
		Partial bool     `json:"partial"`
		Missing []string `json:"missing"`
	}
	if err := call(ctx, http.MethodGet, h.url("/v1/cluster"), nil, &out); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATUS\tACTIVE\tPARTITIONS\tLAG\tHTTP\tREMOTE\tGOSSIP\tUPTIME\tMEMBER_ID")
	for _, m := range out.Members {
		active := "-"
		if m.Active != nil {
			active = fmt.Sprint(*m.Active)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n", m.Name, m.Status, active, len(m.Partitions), m.Lag, dash(m.HTTP), m.Remote, m.Gossip, time.Since(m.Started).Round(time.Second), m.ID)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d members, %d models deployed (asked %s)\n", len(out.Members), out.Models, out.Self)
	if out.Partial {
		fmt.Fprintf(stdout, "partial answer: no reply from %s\n", strings.Join(out.Missing, ", "))
	}
	return nil
}

// runHealth asks a node's /readyz (or /livez with --live) and fails when it
// does not answer 200: a probe for images without a shell or curl.
func runHealth(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var h httpFlags
	h.register(fs)
	live := fs.Bool("live", false, "check liveness (/livez) instead of readiness (/readyz)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := parse(fs, args); err != nil {
		return err
	}
	path := "/readyz"
	if *live {
		path = "/livez"
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if err := call(ctx, http.MethodGet, h.url(path), nil, nil); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}
