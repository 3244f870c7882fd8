package app

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/debug"
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
	resp, err := http.DefaultClient.Do(req)
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
	var head struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &head); err != nil || head.ID == "" {
		return fmt.Errorf("%s: a descriptor is a JSON object with an \"id\"", fs.Arg(0))
	}
	var out struct {
		ID      string `json:"id"`
		Version int64  `json:"version"`
	}
	if err := call(ctx, http.MethodPut, h.url("/v1/models/"+head.ID), b, &out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "deployed %s version %d\n", out.ID, out.Version)
	return nil
}

func runModels(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("models", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var h httpFlags
	h.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 1 {
		var out map[string]any
		if err := call(ctx, http.MethodGet, h.url("/v1/models/"+fs.Arg(0)), nil, &out); err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	var out struct {
		Models []struct {
			ID      string  `json:"id"`
			Version int64   `json:"version"`
			Format  string  `json:"format"`
			Node    string  `json:"node"`
			State   string  `json:"state"`
			Usage   int64   `json:"usage"`
			Errors  int64   `json:"errors"`
			MeanMS  float64 `json:"mean_ms"`
			P99MS   float64 `json:"p99_ms"`
		} `json:"models"`
		Partial bool     `json:"partial"`
		Missing []string `json:"missing"`
	}
	if err := call(ctx, http.MethodGet, h.url("/v1/models"), nil, &out); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ID\tVERSION\tFORMAT\tSTATE\tNODE\tUSAGE\tERRORS\tMEAN_MS\tP99_MS\t")
	for _, m := range out.Models {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\t%d\t%.3f\t%.3f\t\n", m.ID, m.Version, m.Format, m.State, dash(m.Node), m.Usage, m.Errors, m.MeanMS, m.P99MS)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if out.Partial {
		fmt.Fprintf(stdout, "partial answer: no reply from %s\n", strings.Join(out.Missing, ", "))
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
			Name    string    `json:"name"`
			ID      string    `json:"id"`
			HTTP    string    `json:"http"`
			Remote  string    `json:"remote"`
			Gossip  string    `json:"gossip"`
			Status  string    `json:"status"`
			Active  *int      `json:"active_models"`
			Started time.Time `json:"started"`
		} `json:"members"`
	}
	if err := call(ctx, http.MethodGet, h.url("/v1/cluster"), nil, &out); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATUS\tACTIVE\tHTTP\tREMOTE\tGOSSIP\tUPTIME\tMEMBER_ID")
	for _, m := range out.Members {
		active := "-"
		if m.Active != nil {
			active = fmt.Sprint(*m.Active)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, m.Status, active, dash(m.HTTP), m.Remote, m.Gossip, time.Since(m.Started).Round(time.Second), m.ID)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d members, %d models deployed (asked %s)\n", len(out.Members), out.Models, out.Self)
	return nil
}
