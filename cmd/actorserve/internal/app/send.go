package app

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// sendConfig is `actorserve send`.
type sendConfig struct {
	file, model, keyColumn, idColumn, labelColumn, topic string
	brokers, columns                                     string
	header                                               bool
	rate                                                 float64
	limit                                                int
}

func runSend(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c sendConfig
	fs.StringVar(&c.file, "file", "", "events file: .jsonl (one JSON event per line) or .csv (header row; rows become feature objects)")
	fs.StringVar(&c.model, "model", "", "model id to use as the record key (routes every event to this model)")
	fs.StringVar(&c.keyColumn, "key-column", "", "field (JSONL) or column (CSV) whose value is the record key")
	fs.StringVar(&c.idColumn, "id-column", "", "CSV column that holds the event id (default: the row number)")
	fs.StringVar(&c.labelColumn, "label-column", "", "CSV column that holds the label (sent as \"label\")")
	fs.StringVar(&c.topic, "topic", "actorserve.events", "topic to produce to")
	fs.StringVar(&c.brokers, "brokers", "127.0.0.1:9092", "Kafka bootstrap brokers, comma-separated")
	fs.Float64Var(&c.rate, "rate", 0, "events per second (0 = as fast as possible)")
	fs.IntVar(&c.limit, "limit", 0, "send at most this many events (0 = all)")
	fs.StringVar(&c.columns, "columns", "", "CSV column names, comma-separated, replacing the header's")
	fs.BoolVar(&c.header, "header", true, "the CSV's first row is a header (use --header=false with --columns for files without one)")
	var kc KafkaConfig
	kc.registerFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	kopts, err := kc.opts()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if c.file == "" {
		return fmt.Errorf("%w: send needs --file", ErrUsage)
	}
	f, err := os.Open(c.file)
	if err != nil {
		return err
	}
	defer f.Close()
	var src func() (key, value []byte, err error)
	switch {
	case strings.HasSuffix(strings.ToLower(c.file), ".csv"):
		src, err = csvSource(f, c)
	default:
		src = jsonlSource(f, c)
	}
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(kopts, kgo.SeedBrokers(splitComma(c.brokers)...), kgo.ProducerLinger(5*time.Millisecond), kgo.DefaultProduceTopic(c.topic))...)
	if err != nil {
		return err
	}
	defer cl.Close()

	var sent, acked atomic.Int64
	var firstErr error
	var errMu sync.Mutex
	start := time.Now()
	done := make(chan struct{})
	go func() { // progress line
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				el := time.Since(start).Seconds()
				fmt.Fprintf(stderr, "\rsent %d, acknowledged %d (%.0f events/s)   ", sent.Load(), acked.Load(), float64(acked.Load())/el)
			}
		}
	}()
	var interval time.Duration
	if c.rate > 0 {
		interval = time.Duration(float64(time.Second) / c.rate)
	}
	next := time.Now()
	for n := 0; c.limit == 0 || n < c.limit; n++ {
		key, value, err := src()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			close(done)
			return err
		}
		if interval > 0 {
			next = next.Add(interval)
			if d := time.Until(next); d > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(d):
				}
			}
		}
		if ctx.Err() != nil {
			break
		}
		sent.Add(1)
		cl.Produce(ctx, &kgo.Record{Key: key, Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				errMu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				errMu.Unlock()
				return
			}
			acked.Add(1)
		})
	}
	fctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ferr := cl.Flush(fctx)
	close(done)
	el := time.Since(start)
	fmt.Fprintf(stderr, "\r")
	fmt.Fprintf(stdout, "sent %d events to %s in %s (%.0f events/s)\n", acked.Load(), c.topic, el.Round(time.Millisecond), float64(acked.Load())/el.Seconds())
	if firstErr != nil {
		return fmt.Errorf("produce: %w", firstErr)
	}
	return ferr
}

func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func jsonlSource(r io.Reader, c sendConfig) func() ([]byte, []byte, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	line := 0
	return func() ([]byte, []byte, error) {
		for sc.Scan() {
			line++
			b := []byte(strings.TrimSpace(sc.Text()))
			if len(b) == 0 {
				continue
			}
			value := append([]byte(nil), b...)
			var key []byte
			switch {
			case c.model != "":
				key = []byte(c.model)
			case c.keyColumn != "":
				var m map[string]any
				if err := json.Unmarshal(value, &m); err != nil {
					return nil, nil, fmt.Errorf("%s line %d: %w", c.file, line, err)
				}
				if v, ok := m[c.keyColumn]; ok && v != nil {
					key = []byte(fmt.Sprint(v))
				}
			}
			return key, value, nil
		}
		if err := sc.Err(); err != nil {
			return nil, nil, err
		}
		return nil, nil, io.EOF
	}
}

func csvSource(r io.Reader, c sendConfig) (func() ([]byte, []byte, error), error) {
	cr := csv.NewReader(bufio.NewReader(r))
	cr.ReuseRecord = true
	var header []string
	if c.header {
		h, err := cr.Read()
		if err != nil {
			return nil, fmt.Errorf("%s: read header: %w", c.file, err)
		}
		header = append([]string(nil), h...)
	}
	if c.columns != "" {
		header = splitComma(c.columns)
	}
	if len(header) == 0 {
		return nil, fmt.Errorf("%s: no header: give --columns", c.file)
	}
	cr.FieldsPerRecord = len(header)
	col := func(name string) (int, error) {
		if name == "" {
			return -1, nil
		}
		for i, h := range header {
			if h == name {
				return i, nil
			}
		}
		return -1, fmt.Errorf("%s: no column %q (columns: %s)", c.file, name, strings.Join(header, ", "))
	}
	keyCol, err := col(c.keyColumn)
	if err != nil {
		return nil, err
	}
	idCol, err := col(c.idColumn)
	if err != nil {
		return nil, err
	}
	labelCol, err := col(c.labelColumn)
	if err != nil {
		return nil, err
	}
	row := 0
	return func() ([]byte, []byte, error) {
		rec, err := cr.Read()
		if err != nil {
			return nil, nil, err
		}
		row++
		ev := map[string]any{}
		feats := map[string]any{}
		for i, v := range rec {
			switch i {
			case keyCol, idCol:
				continue
			case labelCol:
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					ev["label"] = f
				} else {
					ev["label"] = v
				}
				continue
			}
			if v == "" || strings.EqualFold(v, "nan") || v == "?" {
				feats[header[i]] = nil
				continue
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, nil, fmt.Errorf("%s row %d column %q: %q is not a number", c.file, row, header[i], v)
			}
			feats[header[i]] = f
		}
		ev["features"] = feats
		if idCol >= 0 {
			ev["id"] = rec[idCol]
		} else {
			ev["id"] = strconv.Itoa(row)
		}
		var key []byte
		switch {
		case c.model != "":
			key = []byte(c.model)
		case keyCol >= 0:
			key = []byte(rec[keyCol])
		}
		b, err := json.Marshal(ev)
		return key, b, err
	}, nil
}
