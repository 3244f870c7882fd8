// Command online-learning prepares the labelled streams of the
// online-learning example and reads a model's live learning block.
//
//	online-learning prepare --data testdata/datasets/banknote.csv --out DIR
//	online-learning status --http 127.0.0.1:18080 --model bank [--wait-updates N] [--label TEXT]
//
// prepare writes DIR/learn.jsonl (every row once, shuffled with --seed) and
// DIR/drift.jsonl (every row again, shuffled with another seed, with the
// labels flipped: the concept drift). The rows come from the banknote CSV when
// it exists, else from a bundled generator of the same shape (four numeric
// features, classes "0" and "1", a linear concept with 1 % label noise).
// status prints one line with the model's learning block from
// GET /v1/models/{id}, waiting first until it has learned from N labels.
package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Features are the model's inputs, in the banknote CSV's column order.
var Features = []string{"variance", "skewness", "curtosis", "entropy"}

// EventType is the events' "type": both models list it in their data_types,
// so every event reaches both.
const EventType = "banknote"

// Row is one labelled example.
type Row struct {
	X     [4]float64
	Label string // "0" or "1"
}

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "online-learning:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: online-learning prepare|status [flags]")
	}
	switch args[0] {
	case "prepare":
		fs := flag.NewFlagSet("prepare", flag.ContinueOnError)
		data := fs.String("data", "testdata/datasets/banknote.csv", "banknote CSV (header, four features, class 0/1); generated data when the file is absent")
		out := fs.String("out", ".", "folder for learn.jsonl and drift.jsonl")
		seed := fs.Uint64("seed", 1, "shuffle (and generator) seed")
		rows := fs.Int("rows", 1372, "rows to generate when the CSV is absent")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return prepare(*data, *out, *seed, *rows, stdout)
	case "status":
		fs := flag.NewFlagSet("status", flag.ContinueOnError)
		addr := fs.String("http", "127.0.0.1:18080", "HTTP address of a node")
		model := fs.String("model", "bank", "model id")
		wait := fs.Int64("wait-updates", 0, "wait until the model has learned from this many labels")
		timeout := fs.Duration("timeout", 60*time.Second, "give up waiting after this long")
		label := fs.String("label", "", "text to print before the numbers")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		prefix := *model
		if *label != "" {
			prefix = *label
		}
		var l *Learning
		var err error
		if *wait > 0 {
			l, err = waitUpdates(ctx, *addr, *model, *wait)
		} else {
			l, err = learning(ctx, *addr, *model)
		}
		if err != nil {
			return err
		}
		if l == nil {
			fmt.Fprintf(stdout, "%s: no labels yet\n", prefix)
			return nil
		}
		fmt.Fprintf(stdout, "%s: labels=%d updates=%d accuracy=%.4f accuracy_recent=%.4f kappa=%.4f drifts=%d\n",
			prefix, l.Labels, l.Updates, l.Accuracy, l.AccuracyRecent, l.Kappa, l.Drifts)
		return nil
	}
	return fmt.Errorf("unknown command %q: want prepare or status", args[0])
}

// prepare writes the two streams and says where the rows came from.
func prepare(data, out string, seed uint64, n int, stdout io.Writer) error {
	rows, err := ReadCSV(data)
	switch {
	case errors.Is(err, os.ErrNotExist):
		rows = Generate(n, seed)
		fmt.Fprintf(stdout, "data: %s is absent, generated %d rows (seed %d)\n", data, len(rows), seed)
	case err != nil:
		return err
	default:
		fmt.Fprintf(stdout, "data: %s, %d rows, shuffled (seed %d)\n", data, len(rows), seed)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	learn := Shuffle(rows, seed)
	drift := Flip(Shuffle(rows, seed+1))
	if err := WriteJSONL(filepath.Join(out, "learn.jsonl"), "l", learn); err != nil {
		return err
	}
	return WriteJSONL(filepath.Join(out, "drift.jsonl"), "d", drift)
}

// ReadCSV reads a banknote-shaped CSV: a header, then four numbers and a 0/1 class per row.
func ReadCSV(path string) ([]Row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(f))
	r.FieldsPerRecord = 5
	if _, err := r.Read(); err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	var rows []Row
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		var row Row
		for i := range row.X {
			if row.X[i], err = strconv.ParseFloat(rec[i], 64); err != nil {
				return nil, fmt.Errorf("%s line %d column %d: %w", path, line, i+1, err)
			}
		}
		switch rec[4] {
		case "0", "1":
			row.Label = rec[4]
		default:
			return nil, fmt.Errorf("%s line %d: class %q, want 0 or 1", path, line, rec[4])
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no rows", path)
	}
	return rows, nil
}

// Generate makes n rows like banknote's: features uniform in [-6, 6], the
// class from a fixed hyperplane, 2 % of the labels flipped at random.
func Generate(n int, seed uint64) []Row {
	rng := rand.New(rand.NewPCG(seed, 0x6f6e6c696e65))
	w := [4]float64{-1.2, -0.6, -0.8, 0.1}
	rows := make([]Row, n)
	for i := range rows {
		var s float64 = 0.5
		for j := range rows[i].X {
			rows[i].X[j] = rng.Float64()*12 - 6
			s += w[j] * rows[i].X[j]
		}
		pos := s > 0
		if rng.Float64() < 0.01 {
			pos = !pos
		}
		rows[i].Label = "0"
		if pos {
			rows[i].Label = "1"
		}
	}
	return rows
}

// Shuffle returns the rows in a seeded random order.
func Shuffle(rows []Row, seed uint64) []Row {
	out := append([]Row(nil), rows...)
	rng := rand.New(rand.NewPCG(seed, 0x73687566))
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// Flip swaps the labels: the same inputs now mean the other class.
func Flip(rows []Row) []Row {
	out := append([]Row(nil), rows...)
	for i := range out {
		if out[i].Label == "0" {
			out[i].Label = "1"
		} else {
			out[i].Label = "0"
		}
	}
	return out
}

// WriteJSONL writes one event per row: {"type","id","features","label"}.
func WriteJSONL(path, prefix string, rows []Row) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for i, r := range rows {
		feats := make(map[string]float64, len(Features))
		for j, name := range Features {
			feats[name] = r.X[j]
		}
		ev := struct {
			Type     string             `json:"type"`
			ID       string             `json:"id"`
			Features map[string]float64 `json:"features"`
			Label    string             `json:"label"`
		}{EventType, fmt.Sprintf("%s-%d", prefix, i+1), feats, r.Label}
		if err := enc.Encode(ev); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Learning is the part of a model's learning block the example prints.
type Learning struct {
	Labels         int64   `json:"labels"`
	Updates        int64   `json:"updates"`
	Accuracy       float64 `json:"accuracy"`
	AccuracyRecent float64 `json:"accuracy_recent"`
	Kappa          float64 `json:"kappa"`
	Drifts         int64   `json:"drifts"`
}

// waitUpdates polls GET /v1/models/{id} until its learning block counts
// at least n updates.
func waitUpdates(ctx context.Context, addr, id string, n int64) (*Learning, error) {
	var last *Learning
	for {
		l, err := learning(ctx, addr, id)
		if err == nil && l != nil && l.Updates >= n {
			return l, nil
		}
		if err == nil {
			last = l
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return nil, err
			}
			if last == nil {
				return nil, fmt.Errorf("model %s reports no learning block yet", id)
			}
			return nil, fmt.Errorf("model %s learned from %d labels, want %d", id, last.Updates, n)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func learning(ctx context.Context, addr, id string) (*Learning, error) {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, addr+"/v1/models/"+id, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("GET /v1/models/%s: %s: %s", id, resp.Status, b)
	}
	// The stats may sit at the top level or under "stats": accept both.
	var out struct {
		Learning *Learning `json:"learning"`
		Stats    *struct {
			Learning *Learning `json:"learning"`
		} `json:"stats"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	if out.Learning == nil && out.Stats != nil {
		return out.Stats.Learning, nil
	}
	return out.Learning, nil
}
