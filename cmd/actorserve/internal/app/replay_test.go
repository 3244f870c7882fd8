package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/actorserve/actorserve/serving"
)

// rpEvent is one event the replay test produced, with what it expects.
type rpEvent struct {
	rec      *kgo.Record
	id       string
	a, b     float64
	label    string // "" = none
	valid    bool   // scored (features as the model wants)
	msgpack  bool
	phase    int
	joinedTo string // a label-only event: the id it labels
}

// rpOut is a replayed prediction record.
type rpOut struct {
	Model      string `json:"model" msgpack:"model"`
	Version    int64  `json:"version" msgpack:"version"`
	ID         string `json:"id" msgpack:"id"`
	Prediction struct {
		Label  string             `json:"label" msgpack:"label"`
		Scores map[string]float64 `json:"scores" msgpack:"scores"`
	} `json:"prediction" msgpack:"prediction"`
	Node    string    `json:"node" msgpack:"node"`
	Replay  bool      `json:"replay" msgpack:"replay"`
	TS      time.Time `json:"ts" msgpack:"ts"`
	source  string
	msgpack bool
}

// rpProduce writes the replay test's events in two phases and returns
// them with the time between the phases. Model "rp" gets n events per
// phase (keyed by the model or naming it in "model"; every second one
// labelled; a few msgpack); model "other" is interleaved; and the bad
// events are: 3 undecodable, 2 schema mismatches, 1 NaN, 1 with neither
// features nor label, plus 1 undecodable record without a key.
func rpProduce(t *testing.T, brokers []string, n int) ([]*rpEvent, time.Time) {
	t.Helper()
	cl := ingProducer(t, brokers)
	rng := rand.New(rand.NewPCG(14, 5))
	var all []*rpEvent
	var mark time.Time
	for phase := 1; phase <= 2; phase++ {
		var evs []*rpEvent
		for i := range n {
			e := &rpEvent{id: fmt.Sprintf("p%d-%d", phase, i), a: rng.NormFloat64(), b: rng.NormFloat64(), valid: true, phase: phase}
			ev := map[string]any{"id": e.id, "features": map[string]any{"a": e.a, "b": e.b}}
			if i%2 == 0 {
				e.label = "no"
				if e.a+0.3*e.b > 0 {
					e.label = "yes"
				}
				ev["label"] = e.label
			}
			key := "rp"
			if i%3 == 1 {
				key = ""
				ev["model"] = "rp"
			}
			var value []byte
			if i%40 == 7 {
				e.msgpack = true
				value, _ = msgpack.Marshal(ev)
			} else {
				value = ingJSON(ev)
			}
			e.rec = ingEvent(key, value)
			evs = append(evs, e)
			if i%4 == 3 { // another model's event in between
				evs = append(evs, &rpEvent{rec: ingEvent("other", ingJSON(map[string]any{"id": e.id, "model": "other", "features": []float64{1, 2}})), phase: phase})
			}
		}
		// Label-only events for some unlabelled events of this phase keyed
		// by the model (so read after them: same partition).
		for i := 1; i < n; i += 10 {
			if i%3 == 1 {
				continue
			}
			id := fmt.Sprintf("p%d-%d", phase, i)
			evs = append(evs, &rpEvent{rec: ingEvent("rp", ingJSON(map[string]any{"id": id, "label": "yes"})), id: id, label: "yes", phase: phase, joinedTo: id})
		}
		bad := []string{`{"id": "bad1", "features": {`, `not json`, `{"id": 7, "features": {"a": 1, "b": 2}, "label": {"x": 1}}`,
			`{"id": "miss", "features": {"a": 1}}`, `{"id": "extra", "features": {"a": 1, "b": 2, "c": 3}}`,
			`{"id": "nan", "features": {"a": null, "b": 2}}`, `{"id": "empty"}`}
		for _, v := range bad {
			evs = append(evs, &rpEvent{rec: ingEvent("rp", []byte(v)), phase: phase})
		}
		evs = append(evs, &rpEvent{rec: ingEvent("", []byte(`{"model": "rp"`)), phase: phase}) // names no model readably
		ingProduce(t, cl, recsOf(evs)...)
		all = append(all, evs...)
		if phase == 1 {
			time.Sleep(20 * time.Millisecond)
			mark = time.Now()
			time.Sleep(20 * time.Millisecond)
		}
	}
	return all, mark
}

func recsOf(evs []*rpEvent) []*kgo.Record {
	out := make([]*kgo.Record, len(evs))
	for i, e := range evs {
		out[i] = e.rec
	}
	return out
}

// rpRead reads every record of topic.
func rpRead(t testing.TB, brokers []string, topic string) []rpOut {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	ends.Each(func(o kadm.ListedOffset) { want += o.Offset })
	var out []rpOut
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	for int64(len(out)) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s: %d of %d records", topic, len(out), want)
		}
		fs.EachRecord(func(r *kgo.Record) {
			var o rpOut
			var err error
			if len(r.Headers) == 2 && r.Headers[1].Key == "content-type" {
				err = msgpack.Unmarshal(r.Value, &o)
				o.msgpack = true
			} else {
				err = json.Unmarshal(r.Value, &o)
			}
			if err != nil {
				t.Errorf("record %s/%d/%d: %v: %q", r.Topic, r.Partition, r.Offset, err, r.Value)
			}
			for _, h := range r.Headers {
				if h.Key == "actorserve-replay-of" {
					o.source = string(h.Value)
				}
			}
			out = append(out, o)
		})
	}
	return out
}

func rpConfig(brokers []string, version int64, output, from, to string) replayConfig {
	c := defaultReplayConfig()
	c.Brokers, c.Model, c.Version, c.Output, c.From, c.To = brokers, "rp", version, output, from, to
	c.Progress = 0
	return c
}

// TestReplay: versions 1 and 2 of a model deployed through a node replay
// the recorded events to their own topics; every output record equals
// scoring the event with that version directly, the accuracy equals the
// offline figure, bad events are counted by reason, --from/--to bound the
// range (offsets and times), and the live topics and unknown versions are
// refused.
func TestReplay(t *testing.T) {
	b := ingBroker(t)
	brokers := b.Addrs()
	n := ingStartNode(t, brokers, "rp", nil, nil)
	ingDeploy(t, n, "rp", lcClassifier(1, 0.2))
	ingDeploy(t, n, "rp", lcClassifier(-0.5, 1))
	evs, mark := rpProduce(t, brokers, 300)

	rec, ok := n.Table.Get("rp")
	if !ok || rec.Version != 2 {
		t.Fatalf("control record: %+v", rec)
	}
	// direct scores each event with version v, one at a time.
	direct := func(v int64) map[string]serving.Prediction {
		d, ok := rec.Find(v)
		if !ok {
			t.Fatalf("version %d not kept", v)
		}
		m, err := NewRegistry().Load(d)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]serving.Prediction{}
		for _, e := range evs {
			if e.valid {
				p, err := m.Predict([]float64{e.a, e.b})
				if err != nil {
					t.Fatal(err)
				}
				out[e.id] = p
			}
		}
		return out
	}
	check := func(t *testing.T, v int64, got []rpOut, want map[string]serving.Prediction, keep func(*rpEvent) bool) {
		t.Helper()
		seen := map[string]bool{}
		msgpacks, wantMsgpacks := 0, 0
		for _, o := range got {
			if o.msgpack {
				msgpacks++
			}
			w, ok := want[o.ID]
			switch {
			case !ok:
				t.Errorf("unexpected output record %+v", o)
				continue
			case seen[o.ID]:
				t.Errorf("event %s written twice", o.ID)
			case o.Model != "rp" || o.Version != v || !o.Replay || o.Node != "replay" || o.source == "":
				t.Errorf("record %+v: want model rp, version %d, replay true, a source header", o, v)
			case o.Prediction.Label != w.Label || !mapsEqual(o.Prediction.Scores, w.Scores):
				t.Errorf("event %s: replayed %v %v, version %d says %v %v", o.ID, o.Prediction.Label, o.Prediction.Scores, v, w.Label, w.Scores)
			}
			seen[o.ID] = true
		}
		for _, e := range evs {
			if e.valid && keep(e) {
				if !seen[e.id] {
					t.Errorf("event %s not replayed", e.id)
				}
				if e.msgpack {
					wantMsgpacks++
				}
			}
		}
		if len(got) != len(seen) || msgpacks != wantMsgpacks {
			t.Errorf("%d records for %d events; %d msgpack, want %d", len(got), len(seen), msgpacks, wantMsgpacks)
		}
	}
	// offline is the accuracy the version would have had on the kept
	// events: labels with the event, and label-only events joined by id.
	offline := func(want map[string]serving.Prediction, keep func(*rpEvent) bool) (int64, int64) {
		var labels, correct int64
		for _, e := range evs {
			if e.label == "" || !keep(e) {
				continue
			}
			id := e.id
			if e.joinedTo != "" {
				id = e.joinedTo
			}
			p, ok := want[id]
			if !ok {
				continue
			}
			labels++
			if p.Label == e.label {
				correct++
			}
		}
		return labels, correct
	}
	all := func(*rpEvent) bool { return true }
	wantBad := map[string]int64{"decode_error": 6, "schema_mismatch": 6, "nan_rejected": 2}

	// Version 1 also in batches of 3 on 4 workers: many batches in
	// flight, labels joined across them.
	for _, tc := range []struct {
		v              int64
		batch, workers int
	}{{1, 0, 0}, {2, 0, 0}, {1, 3, 4}} {
		v := tc.v
		t.Run(fmt.Sprintf("version%d-batch%d", v, tc.batch), func(t *testing.T) {
			topic := fmt.Sprintf("replay.rp.v%d.b%d", v, tc.batch)
			c := rpConfig(brokers, v, topic, "start", "")
			if tc.batch > 0 {
				c.Batch, c.Workers = tc.batch, tc.workers
			}
			rep, err := replay(t.Context(), c, ioDiscard{})
			if err != nil {
				t.Fatal(err)
			}
			want := direct(v)
			got := rpRead(t, brokers, topic)
			check(t, v, got, want, all)
			labels, correct := offline(want, all)
			if rep.Labels != labels || rep.Correct != correct || rep.Accuracy() != float64(correct)/float64(labels) {
				t.Errorf("accuracy %d/%d, offline %d/%d", rep.Correct, rep.Labels, correct, labels)
			}
			if fmt.Sprint(rep.Bad) != fmt.Sprint(wantBad) || rep.Other != 2 || rep.Scored != int64(len(want)) || rep.Written != int64(len(want)) {
				t.Errorf("report %+v; want bad %v, 2 other, %d scored and written", rep, wantBad, len(want))
			}
			t.Logf("version %d: %d events, accuracy %.4f on %d labels, bad %v, %.0f events/s", v, rep.Events, rep.Accuracy(), rep.Labels, rep.Bad, rep.rate())
		})
	}

	t.Run("bounds", func(t *testing.T) {
		// Offsets: [5, 20) of every partition.
		rep, err := replay(t.Context(), rpConfig(brokers, 1, "replay.rp.offsets", "5", "20"), ioDiscard{})
		if err != nil {
			t.Fatal(err)
		}
		in := func(e *rpEvent) bool { return e.rec.Offset >= 5 && e.rec.Offset < 20 }
		want := map[string]serving.Prediction{}
		for id, p := range direct(1) {
			for _, e := range evs {
				if e.id == id && e.joinedTo == "" && in(e) {
					want[id] = p
				}
			}
		}
		got := rpRead(t, brokers, "replay.rp.offsets")
		check(t, 1, got, want, in)
		var records int64
		for _, e := range evs {
			if in(e) {
				records++
			}
		}
		if rep.Records != records {
			t.Errorf("read %d records, want %d", rep.Records, records)
		}
		// Times: phase 1 only (--to the mark), phase 2 only (--from it).
		for _, tc := range []struct {
			from, to string
			phase    int
		}{{"start", mark.Format(time.RFC3339Nano), 1}, {mark.Format(time.RFC3339Nano), "end", 2}} {
			topic := fmt.Sprintf("replay.rp.phase%d", tc.phase)
			rep, err := replay(t.Context(), rpConfig(brokers, 2, topic, tc.from, tc.to), ioDiscard{})
			if err != nil {
				t.Fatal(err)
			}
			in := func(e *rpEvent) bool { return e.phase == tc.phase }
			want := map[string]serving.Prediction{}
			for id, p := range direct(2) {
				if strings.HasPrefix(id, fmt.Sprintf("p%d-", tc.phase)) {
					want[id] = p
				}
			}
			check(t, 2, rpRead(t, brokers, topic), want, in)
			labels, correct := offline(want, in)
			if rep.Labels != labels || rep.Correct != correct {
				t.Errorf("phase %d: accuracy %d/%d, offline %d/%d", tc.phase, rep.Correct, rep.Labels, correct, labels)
			}
		}
	})

	t.Run("refusals", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"--output", "actorserve.predictions"}, "is the live predictions topic"},
			{[]string{"--output", "actorserve.shadow"}, "is the shadow topic"},
			{[]string{"--output", "actorserve.deadletter"}, "is the dead-letter topic"},
			{[]string{"--output", "actorserve.models"}, "is the control topic"},
			{[]string{"--output", "actorserve.state"}, "is the learned-state topic"},
			{[]string{"--output", "actorserve.events"}, "is an input topic"},
			{[]string{"--output", "mine", "--predictions-topic", "mine"}, "is the live predictions topic"},
			{[]string{"--output", "x", "--version", "7"}, `model "rp" keeps no version 7: the versions it keeps are 2 (current), 1`},
			{[]string{"--output", "x", "--from", "yesterday"}, `--from "yesterday": want an RFC 3339 time`},
			{[]string{"--output", "x", "--input-topics", "nope"}, `input topic "nope" does not exist`},
			{[]string{"--output", "x", "--model", "ghost"}, `model "ghost" has no record in control topic actorserve.models`},
		} {
			args := append([]string{"replay", "--brokers", strings.Join(brokers, ","), "--model", "rp", "--from", "start"}, tc.args...)
			var stdout, stderr bytes.Buffer
			err := Run(t.Context(), args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%v: got %v, want an error with %q", tc.args, err, tc.want)
			}
			if strings.HasPrefix(tc.want, "is ") && !errors.Is(err, ErrUsage) {
				t.Errorf("%v: %v is no usage error", tc.args, err)
			}
		}
	})

	t.Run("command", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		err := Run(t.Context(), []string{"replay", "--brokers", strings.Join(brokers, ","), "--model", "rp", "--version", "1",
			"--from", "start", "--output", "replay.rp.cli"}, &stdout, &stderr)
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr.String())
		}
		for _, want := range []string{"replayed model rp version 1 to replay.rp.cli: ", "events/s", "bad events 14: decode_error 6, nan_rejected 2, schema_mismatch 6", "accuracy "} {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("summary lacks %q:\n%s", want, stdout.String())
			}
		}
	})
}

type ioDiscard struct{}

func (ioDiscard) Write(p []byte) (int, error) { return len(p), nil }

func mapsEqual(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestReplayOverTLSAndSASL: replay reaches a broker that speaks only TLS
// and SCRAM with the node's Kafka flags, and creates its output topic.
func TestReplayOverTLSAndSASL(t *testing.T) {
	brokers, secure, _, _, _, _ := secureKafka(t)
	opts, err := secure.opts()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(opts, kgo.SeedBrokers(brokers...))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(t.Context(), 1, -1, nil, "actorserve.models"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(t.Context(), 3, -1, nil, "actorserve.events"); err != nil {
		t.Fatal(err)
	}
	d := &serving.Descriptor{ID: "rp", Version: 1, Format: "linear", Features: []string{"a"},
		Data: json.RawMessage(`{"coefficients": [[2]], "intercepts": [1], "link": "identity"}`)}
	body, err := d.Encode()
	if err != nil {
		t.Fatal(err)
	}
	recs := []*kgo.Record{{Topic: "actorserve.models", Key: []byte("rp"), Value: body}}
	for i := range 50 {
		recs = append(recs, &kgo.Record{Topic: "actorserve.events", Key: []byte("rp"), Value: fmt.Appendf(nil, `{"id":"s-%d","features":[%d],"label":%d}`, i, i, 2*i)})
	}
	ingProduce(t, cl, recs...)

	var stdout, stderr bytes.Buffer
	err = Run(t.Context(), []string{"replay", "--brokers", strings.Join(brokers, ","), "--model", "rp", "--from", "start", "--output", "replay.secure",
		"--kafka-tls", "--kafka-ca-file", secure.CAFile, "--kafka-sasl", secure.SASL, "--kafka-sasl-user", secure.User,
		"--kafka-sasl-password-file", secure.PasswordFile}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	for _, want := range []string{"replayed model rp version 1 to replay.secure: 50 events", "scored 50, written 50", "labels 50: MAE 1"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout.String())
		}
	}
	// Without the flags the broker is out of reach.
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	if err := Run(ctx, []string{"replay", "--brokers", strings.Join(brokers, ","), "--model", "rp", "--from", "start", "--output", "replay.plain"}, &stdout, &stderr); err == nil {
		t.Errorf("a replay without TLS and SASL reached the broker")
	}
}
