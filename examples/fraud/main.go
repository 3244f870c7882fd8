// Command fraud is the fraud example's helper: a seeded generator of card
// transactions with a rare positive class, the descriptor of the offline
// XGBoost model, and the precision/recall report read back from Kafka.
//
//	fraud generate --seed 2 --n 20000 --delay 500 --stream stream.jsonl
//	fraud generate --seed 1 --n 60000 --csv train.csv          (train.py's input)
//	fraud descriptor --model examples/fraud/model/xgb.json --out fraud-xgb.json
//	fraud report --brokers 127.0.0.1:19192 --http 127.0.0.1:18180 --stream stream.jsonl
//
// The stream holds every transaction as an event {"type":"txn","id","features"}
// and, --delay events later, its label as a label-only event
// {"type":"txn","id","label"}: the labels arrive late, as chargebacks do.
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Labels are the class names both models use, in model order.
var Labels = []string{"legit", "fraud"}

// EventType routes every event to both models: their descriptors list it in data_types.
const EventType = "txn"

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fraud:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: fraud generate|descriptor|report [flags]")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	switch args[0] {
	case "generate":
		seed := fs.Uint64("seed", 2, "generator seed")
		n := fs.Int("n", 20000, "transactions")
		delay := fs.Int("delay", 500, "transactions between a transaction and its label")
		stream := fs.String("stream", "", "write the event stream (JSONL) here")
		csvOut := fs.String("csv", "", "write a training CSV (features, then fraud 0/1) here")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *stream == "" && *csvOut == "" {
			return errors.New("generate needs --stream or --csv")
		}
		txns := make([]Txn, *n)
		g := NewGenerator(*seed)
		frauds := 0
		for i := range txns {
			txns[i] = g.Next("t")
			if txns[i].Fraud {
				frauds++
			}
		}
		if *stream != "" {
			if err := writeFile(*stream, func(w *bufio.Writer) error { return WriteStream(w, txns, *delay) }); err != nil {
				return err
			}
		}
		if *csvOut != "" {
			if err := writeFile(*csvOut, func(w *bufio.Writer) error { return WriteCSV(w, txns) }); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "generated %d transactions (seed %d), %d frauds (%.2f %%)", *n, *seed, frauds, 100*float64(frauds)/float64(*n))
		if *stream != "" {
			fmt.Fprintf(stdout, ", each labelled %d transactions later", *delay)
		}
		fmt.Fprintln(stdout)
		return nil
	case "descriptor":
		model := fs.String("model", "examples/fraud/model/xgb.json", "XGBoost model (Booster.save_model JSON)")
		out := fs.String("out", "fraud-xgb.json", "descriptor file to write")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		b, err := os.ReadFile(*model)
		if err != nil {
			return err
		}
		d, err := XGBDescriptor(b)
		if err != nil {
			return err
		}
		if err := os.WriteFile(*out, d, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s: format xgboost, %d bytes of model as base64\n", *out, len(b))
		return nil
	case "report":
		brokers := fs.String("brokers", "127.0.0.1:19192", "Kafka bootstrap brokers")
		addr := fs.String("http", "127.0.0.1:18180", "HTTP address of a node (for the live learning blocks)")
		stream := fs.String("stream", "", "the stream file sent (its label events are the truth)")
		models := fs.String("models", "fraud-xgb,fraud-online", "models to report on")
		timeout := fs.Duration("timeout", 90*time.Second, "how long to wait for every prediction")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *stream == "" {
			return errors.New("report needs --stream")
		}
		truth, order, err := ReadTruth(*stream)
		if err != nil {
			return err
		}
		ids := strings.Split(*models, ",")
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		preds, err := ReadPredictions(ctx, strings.Split(*brokers, ","), ids, truth)
		if err != nil {
			return err
		}
		for _, id := range ids {
			fmt.Fprintf(stdout, "%s: %s\n", id, Score(preds[id], truth, order))
			fmt.Fprintf(stdout, "%s, second half: %s\n", id, Score(preds[id], truth, order[len(order)/2:]))
		}
		for _, id := range ids {
			l, err := liveLearning(ctx, *addr, id)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s live learning block: %s\n", id, l)
		}
		return nil
	}
	return fmt.Errorf("unknown command %q: want generate, descriptor or report", args[0])
}

func writeFile(path string, write func(*bufio.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	if err := write(w); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

type txnEvent struct {
	Type     string             `json:"type"`
	ID       string             `json:"id"`
	Features map[string]float64 `json:"features,omitempty"`
	Label    string             `json:"label,omitempty"`
}

func label(fraud bool) string {
	if fraud {
		return Labels[1]
	}
	return Labels[0]
}

// WriteStream writes each transaction as an event and its label as a
// label-only event delay transactions later (the last labels at the end).
func WriteStream(w io.Writer, txns []Txn, delay int) error {
	enc := json.NewEncoder(w)
	for i := 0; i < len(txns)+delay; i++ {
		if i < len(txns) {
			t := txns[i]
			f := make(map[string]float64, len(Features))
			for j, name := range Features {
				f[name] = t.X[j]
			}
			if err := enc.Encode(txnEvent{Type: EventType, ID: t.ID, Features: f}); err != nil {
				return err
			}
		}
		if j := i - delay; j >= 0 && j < len(txns) {
			if err := enc.Encode(txnEvent{Type: EventType, ID: txns[j].ID, Label: label(txns[j].Fraud)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// WriteCSV writes a header (Features, then "fraud") and one row per transaction.
func WriteCSV(w io.Writer, txns []Txn) error {
	if _, err := fmt.Fprintln(w, strings.Join(Features, ",")+",fraud"); err != nil {
		return err
	}
	for _, t := range txns {
		parts := make([]string, 0, len(t.X)+1)
		for _, x := range t.X {
			parts = append(parts, strconv.FormatFloat(x, 'g', -1, 64))
		}
		y := "0"
		if t.Fraud {
			y = "1"
		}
		if _, err := fmt.Fprintln(w, strings.Join(append(parts, y), ",")); err != nil {
			return err
		}
	}
	return nil
}

// XGBDescriptor returns the descriptor of the offline model: format
// "xgboost", data the base64 of the model file.
func XGBDescriptor(model []byte) ([]byte, error) {
	var probe struct {
		Learner *struct {
			Objective struct {
				Name string `json:"name"`
			} `json:"objective"`
			Param struct {
				NumFeature string `json:"num_feature"`
			} `json:"learner_model_param"`
		} `json:"learner"`
	}
	if err := json.Unmarshal(model, &probe); err != nil || probe.Learner == nil {
		return nil, fmt.Errorf("the model is not XGBoost's JSON model format (Booster.save_model(\"x.json\")): %v", err)
	}
	if n, _ := strconv.Atoi(probe.Learner.Param.NumFeature); n != len(Features) {
		return nil, fmt.Errorf("the model has %s features, the generator makes %d", probe.Learner.Param.NumFeature, len(Features))
	}
	sum := sha256.Sum256(model)
	d := map[string]any{
		"id":          "fraud-xgb",
		"description": "card fraud, gradient-boosted trees trained offline by examples/fraud/train.py (" + probe.Learner.Objective.Name + ")",
		"format":      "xgboost",
		"data_types":  []string{EventType},
		"features":    Features,
		"labels":      Labels,
		"data":        base64.StdEncoding.EncodeToString(model),
		"sha256":      hex.EncodeToString(sum[:]),
	}
	return json.MarshalIndent(d, "", "  ")
}

// ReadTruth reads the label events of a stream file: id -> fraud, and the
// transaction ids in stream order.
func ReadTruth(path string) (map[string]bool, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	truth := map[string]bool{}
	var order []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		var e txnEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, nil, fmt.Errorf("%s line %d: %w", path, line, err)
		}
		switch {
		case e.Features != nil:
			order = append(order, e.ID)
		case e.Label != "":
			truth[e.ID] = e.Label == Labels[1]
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, err
	}
	if len(truth) != len(order) {
		return nil, nil, fmt.Errorf("%s: %d transactions but %d labels", path, len(order), len(truth))
	}
	return truth, order, nil
}

// ReadPredictions reads actorserve.predictions from the start until every
// model has a prediction for every transaction in truth; it returns
// model -> id -> predicted fraud.
func ReadPredictions(ctx context.Context, brokers, models []string, truth map[string]bool) (map[string]map[string]bool, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("actorserve.predictions"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	out := map[string]map[string]bool{}
	for _, m := range models {
		out[m] = map[string]bool{}
	}
	done := func() bool {
		for _, m := range models {
			if len(out[m]) < len(truth) {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			var have []string
			for _, m := range models {
				have = append(have, fmt.Sprintf("%s %d", m, len(out[m])))
			}
			return nil, fmt.Errorf("predictions on Kafka for %s of %d transactions: %w", strings.Join(have, ", "), len(truth), ctx.Err())
		}
		if err := fs.Err0(); err != nil {
			return nil, err
		}
		fs.EachRecord(func(r *kgo.Record) {
			var p struct {
				Model      string `json:"model"`
				ID         string `json:"id"`
				Prediction struct {
					Label string `json:"label"`
				} `json:"prediction"`
			}
			if json.Unmarshal(r.Value, &p) != nil {
				return
			}
			if got, ok := out[p.Model]; ok {
				if _, known := truth[p.ID]; known {
					got[p.ID] = p.Prediction.Label == Labels[1]
				}
			}
		})
	}
	return out, nil
}

// Score is the confusion matrix, precision and recall of pred on the ids.
func Score(pred map[string]bool, truth map[string]bool, ids []string) string {
	var tp, fp, fn, tn int
	for _, id := range ids {
		switch p, t := pred[id], truth[id]; {
		case p && t:
			tp++
		case p && !t:
			fp++
		case !p && t:
			fn++
		default:
			tn++
		}
	}
	return fmt.Sprintf("transactions=%d frauds=%d flagged=%d tp=%d fp=%d fn=%d tn=%d precision=%.3f recall=%.3f",
		len(ids), tp+fn, tp+fp, tp, fp, fn, tn, ratio(tp, tp+fp), ratio(tp, tp+fn))
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// liveLearning reads a model's learning block from GET /v1/models/{id}.
func liveLearning(ctx context.Context, addr, id string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v1/models/"+id, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var m struct {
		Learning map[string]any `json:"learning"`
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /v1/models/%s: %s", id, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return "", err
	}
	if m.Learning == nil {
		return "none (no label reached the model)", nil
	}
	keys := []string{"labels", "matched_feedback", "unmatched_feedback", "expired_feedback", "accuracy", "kappa", "label_lag_ms", "updates"}
	var parts []string
	for _, k := range keys {
		if v, ok := m.Learning[k]; ok {
			if f, ok := v.(float64); ok && f != float64(int64(f)) {
				parts = append(parts, fmt.Sprintf("%s=%.4f", k, f))
			} else {
				parts = append(parts, fmt.Sprintf("%s=%v", k, v))
			}
		}
	}
	return strings.Join(parts, " "), nil
}
