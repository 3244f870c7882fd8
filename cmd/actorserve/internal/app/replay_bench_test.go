package app

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/actorserve/actorserve/serving"
)

// BenchmarkReplay replays 1,000,000 recorded events (ACTORSERVE_REPLAY_EVENTS
// changes the count) of a two-feature logistic model, spread over the six
// partitions of the embedded broker's events topic, half of them
// labelled, with version 1 of a record whose current version is 2; it
// reports events/s, then checks every output record against scoring its
// event with version 1 directly (outside the timing).
//
//	go test ./cmd/actorserve/internal/app -run '^$' -bench BenchmarkReplay -benchtime 1x
func BenchmarkReplay(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("ACTORSERVE_REPLAY_EVENTS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			b.Fatalf("ACTORSERVE_REPLAY_EVENTS=%q: want a positive count", s)
		}
		n = v
	}
	br := ingBroker(b)
	brokers := br.Addrs()
	ctx := context.Background()

	linearVersion := func(v int64, w0, w1 float64) *serving.Descriptor {
		return &serving.Descriptor{ID: "rp", Version: v, Format: "linear", Features: []string{"a", "b"}, Labels: []string{"no", "yes"},
			Data: json.RawMessage(fmt.Sprintf(`{"coefficients": [[%g, %g]], "intercepts": [0], "link": "logistic"}`, w0, w1))}
	}
	v1 := linearVersion(1, 1, 0.2)
	rec := linearVersion(2, -0.5, 1)
	rec.Revision, rec.History = 2, []*serving.Descriptor{v1}
	body, err := rec.Encode()
	if err != nil {
		b.Fatal(err)
	}
	cl := ingProducer(b, brokers, kgo.ProducerLinger(5*time.Millisecond), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.MaxBufferedRecords(1<<16))
	ingProduce(b, cl, &kgo.Record{Topic: "actorserve.models", Key: []byte("rp"), Value: body})

	rng := rand.New(rand.NewPCG(1, 2))
	type ev struct{ a, b float64 }
	evs := make([]ev, n)
	t0 := time.Now()
	var perrMu sync.Mutex
	var perr error
	for i := range n {
		e := ev{rng.NormFloat64(), rng.NormFloat64()}
		evs[i] = e
		v := fmt.Appendf(nil, `{"model":"rp","id":"e-%d","features":{"a":%v,"b":%v}`, i, e.a, e.b)
		if i%2 == 0 {
			label := "no"
			if e.a+0.3*e.b > 0 {
				label = "yes"
			}
			v = fmt.Appendf(v, `,"label":%q`, label)
		}
		v = append(v, '}')
		cl.Produce(ctx, &kgo.Record{Topic: ingEventsTopic, Value: v}, func(_ *kgo.Record, err error) {
			perrMu.Lock()
			if err != nil && perr == nil {
				perr = err
			}
			perrMu.Unlock()
		})
	}
	if err := cl.Flush(ctx); err != nil || perr != nil {
		b.Fatalf("produce: %v %v", err, perr)
	}
	b.Logf("recorded %d events in %s", n, time.Since(t0).Round(time.Millisecond))

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		topic := fmt.Sprintf("replay.bench.%d", i)
		c := rpConfig(brokers, 1, topic, "start", "")
		b.StartTimer()
		rep, err := replay(ctx, c, ioDiscard{})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if rep.Events != int64(n) || rep.Written != int64(n) {
			b.Fatalf("replayed %d events, wrote %d, want %d", rep.Events, rep.Written, n)
		}
		b.ReportMetric(rep.rate(), "events/s")
		b.Logf("%d events in %s: %.0f events/s, accuracy %.4f on %d labels", rep.Events, rep.Elapsed.Round(time.Millisecond), rep.rate(), rep.Accuracy(), rep.Labels)

		// Every output equals version 1 scoring its event directly.
		m, err := NewRegistry().Load(v1)
		if err != nil {
			b.Fatal(err)
		}
		got := rpRead(b, brokers, topic)
		seen := make([]bool, n)
		for _, o := range got {
			k, err := strconv.Atoi(o.ID[2:])
			if err != nil || k >= n || seen[k] || o.Version != 1 || !o.Replay {
				b.Fatalf("output %+v", o)
			}
			seen[k] = true
			p, err := m.Predict([]float64{evs[k].a, evs[k].b})
			if err != nil || p.Label != o.Prediction.Label || !mapsEqual(p.Scores, o.Prediction.Scores) {
				b.Fatalf("event %s: replayed %v, version 1 says %v (%v)", o.ID, o.Prediction, p, err)
			}
		}
		if len(got) != n {
			b.Fatalf("%d output records, want %d", len(got), n)
		}
		b.StartTimer()
	}
}
