package app

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/actorserve/actorserve/actors/msg"
	"github.com/actorserve/actorserve/serving"
)

// These tests drive the Kafka ingress of one in-process node end to end:
// events are produced to the embedded broker with an independent franz-go
// client, and the predictions and dead letters the node writes are read
// back with another one.

// ingFailingModel takes two features and fails every row whose first feature
// is negative.
type ingFailingModel struct{}

func (ingFailingModel) NumFeatures() int { return 2 }

func (ingFailingModel) Predict(x []float64) (serving.Prediction, error) {
	if x[0] < 0 {
		return serving.Prediction{}, fmt.Errorf("%w: failing: first feature %v is negative", serving.ErrModel, x[0])
	}
	v := x[0] + x[1]
	return serving.Prediction{Value: &v}, nil
}

func (m ingFailingModel) PredictBatch(xs [][]float64, out []serving.Prediction, errs []error) error {
	for i, x := range xs {
		out[i], errs[i] = m.Predict(x)
	}
	return nil
}

// ingSlowModel takes two features, sleeps *delay per row (read per row, so a
// change applies at once) and predicts the first feature.
type ingSlowModel struct{ delay *atomic.Int64 }

func (ingSlowModel) NumFeatures() int { return 2 }

func (m ingSlowModel) Predict(x []float64) (serving.Prediction, error) {
	if d := time.Duration(m.delay.Load()); d > 0 {
		time.Sleep(d)
	}
	v := x[0]
	return serving.Prediction{Value: &v}, nil
}

func (m ingSlowModel) PredictBatch(xs [][]float64, out []serving.Prediction, errs []error) error {
	for i, x := range xs {
		out[i], errs[i] = m.Predict(x)
	}
	return nil
}

func TestIngressDeadLetterReasons(t *testing.T) {
	b := ingBroker(t)
	reg := ingRegistry(map[string]serving.Loader{
		"failing": func(*serving.Descriptor) (serving.Model, error) { return ingFailingModel{}, nil },
	})
	n := ingStartNode(t, b.Addrs(), "t1", reg, nil)
	w := ingWatch(t, b.Addrs())
	ingDeploy(t, n, "m", ingLinear([]string{"a", "b"}, nil, [][]float64{{2, -3}}, []float64{0.5}, "identity"))
	ingDeploy(t, n, "failing", map[string]any{"format": "failing", "features": []string{"a", "b"}})

	msgpackCT := kgo.RecordHeader{Key: "content-type", Value: []byte("application/msgpack")}
	trace := kgo.RecordHeader{Key: "trace-id", Value: []byte("abc-123")}
	type bad struct {
		name    string
		rec     *kgo.Record
		reason  string
		errHas  []string
		model   string // the "model" header; "" = absent
		headers []kgo.RecordHeader
	}
	bads := []*bad{
		{name: "invalid JSON", rec: ingEvent("m", []byte(`{"id":"bad-json","features":{"a":1,`), trace),
			reason: msg.CodeDecode, errHas: []string{"invalid JSON"}, headers: []kgo.RecordHeader{trace}},
		{name: "invalid msgpack", rec: ingEvent("m", []byte{0x82, 0xa2, 'i', 'd', 0xa3, 'b', 'a'}, msgpackCT),
			reason: msg.CodeDecode, errHas: []string{"invalid msgpack"}, headers: []kgo.RecordHeader{msgpackCT}},
		{name: "unknown model by key", rec: ingEvent("nope", []byte(`{"id":"unk","features":{"a":1,"b":2}}`)),
			reason: msg.CodeUnknownModel, errHas: []string{`"nope"`}, model: "nope"},
		{name: "unknown model by field", rec: ingEvent("", []byte(`{"id":"ghost-1","model":"ghost","features":{"a":1,"b":2}}`)),
			reason: msg.CodeUnknownModel, errHas: []string{`"ghost"`}, model: "ghost"},
		{name: "no features", rec: ingEvent("m", []byte(`{"id":"nofeat"}`)),
			reason: msg.CodeSchemaMismatch, errHas: []string{`"features"`}, model: "m"},
		{name: "missing feature", rec: ingEvent("m", []byte(`{"id":"miss","features":{"a":1}}`)),
			reason: msg.CodeSchemaMismatch, errHas: []string{`missing feature "b"`}, model: "m"},
		{name: "unknown feature", rec: ingEvent("m", []byte(`{"id":"extra","features":{"a":1,"b":2,"c":3}}`)),
			reason: msg.CodeSchemaMismatch, errHas: []string{`unknown feature "c"`}, model: "m"},
		{name: "positional wrong count", rec: ingEvent("m", []byte(`{"id":"pos","features":[1,2,3]}`)),
			reason: msg.CodeSchemaMismatch, errHas: []string{"expected 2 features, got 3"}, model: "m"},
		{name: "null feature", rec: ingEvent("m", []byte(`{"id":"nan","features":{"a":1,"b":null}}`)),
			reason: msg.CodeNaNRejected, errHas: []string{`feature "b"`, "on_nan"}, model: "m"},
		{name: "model error", rec: ingEvent("failing", []byte(`{"id":"fail","features":{"a":-1,"b":2}}`)),
			reason: msg.CodeModelError, errHas: []string{"negative"}, model: "failing"},
	}

	// Good events: JSON for m, one for the failing model that passes, and
	// two msgpack events (with the content-type header, and sniffed).
	type good struct {
		id      string
		rec     *kgo.Record
		model   string
		value   float64
		msgpack bool
	}
	var goods []*good
	goodJSON := func(i int) *good {
		id := fmt.Sprintf("good-%d", i)
		a := float64(i)
		return &good{id: id, model: "m", value: 2*a - 3*1 + 0.5,
			rec: ingEvent("m", ingJSON(map[string]any{"id": id, "features": map[string]any{"a": a, "b": 1}}))}
	}
	mp := func(id string, a, b float64, hs ...kgo.RecordHeader) *good {
		v, err := msgpack.Marshal(map[string]any{"id": id, "features": map[string]any{"a": a, "b": b}})
		if err != nil {
			t.Fatal(err)
		}
		return &good{id: id, model: "m", value: 2*a - 3*b + 0.5, msgpack: true, rec: ingEvent("m", v, hs...)}
	}
	var recs []*kgo.Record
	for i, bd := range bads {
		g := goodJSON(i)
		goods = append(goods, g)
		recs = append(recs, g.rec, bd.rec)
	}
	extra := []*good{
		{id: "fail-ok", model: "failing", value: 3, rec: ingEvent("failing", []byte(`{"id":"fail-ok","features":{"a":1,"b":2}}`))},
		mp("mp-1", 3, 1, msgpackCT),
		mp("mp-2", -1, 2), // no header: recognised by its leading msgpack map
		goodJSON(len(bads)),
		// Numeric ids come back as strings.
		{id: "42", model: "m", value: 2*1 - 3*2 + 0.5, rec: ingEvent("m", []byte(`{"id":42,"features":{"b":2,"a":1}}`))},
		mp("mp-3", 0, 0, msgpackCT),
	}
	if v, err := msgpack.Marshal(map[string]any{"id": 7, "features": []float64{1, 1}}); err != nil {
		t.Fatal(err)
	} else {
		extra = append(extra, &good{id: "7", model: "m", value: 2 - 3 + 0.5, msgpack: true, rec: ingEvent("m", v)})
	}
	goods = append(goods, extra...)
	for _, g := range extra {
		recs = append(recs, g.rec)
	}
	cl := ingProducer(t, b.Addrs())
	ingProduce(t, cl, recs...)

	ingEventually(t, 15*time.Second, func() error {
		if got, want := len(w.deadLetters()), len(bads); got < want {
			return fmt.Errorf("%d of %d dead letters", got, want)
		}
		for _, g := range goods {
			if w.count(g.id) == 0 {
				if err := w.undecodable(); err != nil {
					return fmt.Errorf("no prediction for %s yet; %w", g.id, err)
				}
				return fmt.Errorf("no prediction for %s yet", g.id)
			}
		}
		return nil
	})
	// Every event was taken in and every output counted: the counters are
	// final, so the topics cannot receive more for these events.
	wantReasons := map[string]int64{}
	for _, bd := range bads {
		wantReasons[bd.reason]++
	}
	ingEventually(t, 5*time.Second, func() error {
		st := n.Ingress.Stats()
		if st.Events != int64(len(recs)) || st.Predictions != int64(len(goods)) || st.InFlight != 0 {
			return fmt.Errorf("stats: %d events (want %d), %d predictions (want %d), %d in flight", st.Events, len(recs), st.Predictions, len(goods), st.InFlight)
		}
		for r, c := range wantReasons {
			if st.DeadLetters[r] != c {
				return fmt.Errorf("stats: %d dead letters %q, want %d (all: %v)", st.DeadLetters[r], r, c, st.DeadLetters)
			}
		}
		if len(st.DeadLetters) != len(wantReasons) {
			return fmt.Errorf("stats: dead letters %v, want %v", st.DeadLetters, wantReasons)
		}
		return nil
	})

	dead := w.deadLetters()
	if len(dead) != len(bads) {
		t.Errorf("%d dead letters, want %d", len(dead), len(bads))
	}
	for _, bd := range bads {
		t.Run(bd.name, func(t *testing.T) {
			var found []ingOut
			for _, d := range dead {
				if bytes.Equal(d.Value, bd.rec.Value) && bytes.Equal(d.Key, bd.rec.Key) {
					found = append(found, d)
				}
			}
			if len(found) != 1 {
				t.Fatalf("%d dead letters with the original key %q and value %q, want 1", len(found), bd.rec.Key, bd.rec.Value)
			}
			d := found[0]
			h := d.Headers
			if h["reason"] != bd.reason {
				t.Errorf("reason %q, want %q (error %q)", h["reason"], bd.reason, h["error"])
			}
			for _, s := range bd.errHas {
				if !strings.Contains(h["error"], s) {
					t.Errorf("error %q does not contain %q", h["error"], s)
				}
			}
			if h["source-topic"] != ingEventsTopic {
				t.Errorf("source-topic %q, want %q", h["source-topic"], ingEventsTopic)
			}
			if h["source-partition"] != strconv.Itoa(int(bd.rec.Partition)) || h["source-offset"] != strconv.FormatInt(bd.rec.Offset, 10) {
				t.Errorf("source %s/%s, want %d/%d", h["source-partition"], h["source-offset"], bd.rec.Partition, bd.rec.Offset)
			}
			if m, ok := h["model"]; bd.model == "" && ok || bd.model != "" && m != bd.model {
				t.Errorf("model header %q (present %v), want %q", m, ok, bd.model)
			}
			for _, oh := range bd.headers {
				if h[oh.Key] != string(oh.Value) {
					t.Errorf("original header %s = %q, want %q", oh.Key, h[oh.Key], oh.Value)
				}
			}
		})
	}

	preds := w.predictions()
	if len(preds) != len(goods) {
		t.Errorf("%d predictions, want %d (one per good event)", len(preds), len(goods))
	}
	byID := map[string]ingOut{}
	for _, p := range preds {
		if p.DecodeErr != nil {
			t.Errorf("prediction %q (content-type %q) does not decode: %v", p.Value, p.Headers["content-type"], p.DecodeErr)
		}
		byID[p.Pred.ID] = p
	}
	for _, g := range goods {
		p, ok := byID[g.id]
		if !ok || w.count(g.id) != 1 {
			t.Errorf("%s: %d predictions, want 1", g.id, w.count(g.id))
			continue
		}
		if string(p.Key) != string(g.rec.Key) {
			t.Errorf("%s: prediction key %q, want the input record's %q", g.id, p.Key, g.rec.Key)
		}
		if p.Pred.Model != g.model || p.Pred.Version != 1 || p.Pred.Node != "t1" {
			t.Errorf("%s: model %q version %d node %q, want %q 1 t1", g.id, p.Pred.Model, p.Pred.Version, p.Pred.Node, g.model)
		}
		if v := p.Pred.Prediction.Value; v == nil || !ingNear(*v, g.value) {
			t.Errorf("%s: value %v, want %v", g.id, v, g.value)
		}
		ct := p.Headers["content-type"]
		if g.msgpack && ct != "application/msgpack" {
			t.Errorf("%s: msgpack event answered with content-type %q, want application/msgpack", g.id, ct)
		}
		if !g.msgpack && ct != "" {
			t.Errorf("%s: JSON event answered with content-type %q", g.id, ct)
		}
		if g.msgpack && len(p.Value) > 0 && p.Value[0] == '{' {
			t.Errorf("%s: msgpack event answered with JSON %s", g.id, p.Value)
		}
	}
}

func TestIngressTopicBindings(t *testing.T) {
	b := ingBroker(t)
	brokers := b.Addrs()

	// iris-events and t-a are created up front with kadm; t-b is left to
	// auto-creation by the producer's first write.
	adm, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	cr, err := kadm.NewClient(adm).CreateTopics(ctx, 3, 1, nil, "iris-events", "t-a")
	if err != nil {
		t.Fatalf("create topics: %v", err)
	}
	for _, r := range cr.Sorted() {
		if r.Err != nil {
			t.Fatalf("create topic %s: %v", r.Topic, r.Err)
		}
	}

	n := ingStartNode(t, brokers, "t1", nil, nil)
	w := ingWatch(t, brokers)
	irisA := ingLinear([]string{"a", "b"}, []string{"no", "yes"}, [][]float64{{1, 1}}, []float64{0}, "logistic")
	irisA["topics"] = []string{"iris-events"}
	irisA["data_types"] = []string{"iris"}
	irisA["output"] = map[string]string{"alert": "prediction.scores.yes > 0.5", "card": "event.card_id"}
	irisB := ingLinear([]string{"a", "b"}, nil, [][]float64{{1, 2}}, []float64{0}, "identity")
	irisB["topics"] = []string{"iris-events"}
	irisB["data_types"] = []string{"iris"}
	multi := ingLinear([]string{"a", "b"}, nil, [][]float64{{10, 0}}, []float64{1}, "identity")
	multi["topics"] = []string{"t-a", "t-b"}
	ingDeploy(t, n, "irisA", irisA)
	ingDeploy(t, n, "irisB", irisB)
	ingDeploy(t, n, "multi", multi)

	type ev struct {
		id     string
		a, b   float64
		models []string
		card   string
	}
	var evs []ev
	var recs []*kgo.Record
	for i := range 5 {
		e := ev{id: fmt.Sprintf("i-%d", i), a: float64(i) - 2, b: 0.5, models: []string{"irisA", "irisB"}, card: fmt.Sprintf("c-%d", i)}
		evs = append(evs, e)
		recs = append(recs, &kgo.Record{Topic: "iris-events", Value: ingJSON(map[string]any{
			"id": e.id, "card_id": e.card, "features": map[string]any{"a": e.a, "b": e.b}})})
	}
	for _, topic := range []string{"t-a", "t-b"} {
		for i := range 3 {
			e := ev{id: fmt.Sprintf("%s-%d", topic, i), a: float64(i), b: 7, models: []string{"multi"}}
			evs = append(evs, e)
			recs = append(recs, &kgo.Record{Topic: topic, Value: ingJSON(map[string]any{
				"id": e.id, "features": map[string]any{"a": e.a, "b": e.b}})})
		}
	}
	// By data type, on the default events topic, without a key.
	tyEv := ev{id: "ty-0", a: 1, b: 1, models: []string{"irisA", "irisB"}, card: "c-ty"}
	evs = append(evs, tyEv)
	recs = append(recs, ingEvent("", ingJSON(map[string]any{
		"id": tyEv.id, "type": "iris", "card_id": tyEv.card, "features": map[string]any{"a": 1, "b": 1}})))

	cl := ingProducer(t, brokers, kgo.AllowAutoTopicCreation())
	ingProduce(t, cl, recs...)

	want := 0
	for _, e := range evs {
		want += len(e.models)
	}
	ingEventually(t, 20*time.Second, func() error {
		for _, e := range evs {
			for _, m := range e.models {
				if w.countIDModel(e.id, m) == 0 {
					return fmt.Errorf("no prediction of %s for %s yet (%d of %d predictions; stats %+v)", m, e.id, len(w.predictions()), want, n.Ingress.Stats())
				}
			}
		}
		return nil
	})
	ingEventually(t, 5*time.Second, func() error {
		if st := n.Ingress.Stats(); st.Events != int64(len(recs)) || st.Predictions != int64(want) || st.InFlight != 0 {
			return fmt.Errorf("stats: %d events (want %d), %d predictions (want %d), %d in flight", st.Events, len(recs), st.Predictions, want, st.InFlight)
		}
		return nil
	})
	if d := w.deadLetters(); len(d) != 0 {
		t.Errorf("%d dead letters, want none; first: reason %q error %q", len(d), d[0].Headers["reason"], d[0].Headers["error"])
	}
	if got := len(w.predictions()); got != want {
		t.Errorf("%d predictions, want %d", got, want)
	}
	if dup := w.duplicates(); len(dup) > 0 {
		t.Errorf("duplicate predictions: %v", dup)
	}
	for _, p := range w.predictions() {
		var e *ev
		for i := range evs {
			if evs[i].id == p.Pred.ID {
				e = &evs[i]
			}
		}
		if e == nil || !slices.Contains(e.models, p.Pred.Model) {
			t.Errorf("unexpected prediction %s", p.Value)
			continue
		}
		switch p.Pred.Model {
		case "irisA":
			yes := p.Pred.Prediction.Scores["yes"]
			wantYes := 1 / (1 + math.Exp(-(e.a + e.b)))
			if !ingNear(yes, wantYes) {
				t.Errorf("%s irisA: scores.yes %v, want %v", e.id, yes, wantYes)
			}
			wantUser := map[string]any{"alert": wantYes > 0.5, "card": e.card}
			if fmt.Sprint(p.Pred.User) != fmt.Sprint(wantUser) {
				t.Errorf("%s irisA: user %v, want %v (record %s)", e.id, p.Pred.User, wantUser, p.Value)
			}
		case "irisB":
			if v := p.Pred.Prediction.Value; v == nil || !ingNear(*v, e.a+2*e.b) {
				t.Errorf("%s irisB: value %v, want %v", e.id, v, e.a+2*e.b)
			}
			if p.Pred.User != nil {
				t.Errorf("%s irisB: user %v, want none (no output block)", e.id, p.Pred.User)
			}
		case "multi":
			if v := p.Pred.Prediction.Value; v == nil || !ingNear(*v, 10*e.a+1) {
				t.Errorf("%s multi: value %v, want %v", e.id, v, 10*e.a+1)
			}
		}
	}
}

func TestIngressSlowModelBounded(t *testing.T) {
	// The heap bound is measured in a process of its own (inOwnProcess).
	if !inOwnProcess(t, "ingress_test.go") {
		return
	}
	const (
		maxInFlight = 64
		resumeAt    = 32
		// maxPoll bounds what one poll gives a partition: one fetch of it,
		// at most the consumer's 128 KiB per partition (32 of these events)
		// or one producer batch if larger (1 MiB, 256 of them).
		maxPoll = 512
		// bound is the most one partition may hold: a full window plus one
		// poll (enqueue never blocks; it pauses once the window is full).
		bound = maxInFlight + maxPoll
		// nSlow is 70 times the bound, so a node that ignores the window
		// holds far more than bound events in flight and far more heap than
		// the budget below: both assertions fail without the bound.
		nSlow = 70 * bound
		nFast = 10000
		// Each slow event carries padBytes of padding (sent uncompressed), so
		// what the node holds shows in the heap: nSlow events are ~160 MiB, a
		// window of bound events ~2.3 MiB; the budget below (~37 MiB) sits
		// far from both the bounded figure and the unbounded one.
		padBytes = 4096
	)
	var delay atomic.Int64
	delay.Store(int64(50 * time.Millisecond))
	b := ingBroker(t)
	reg := ingRegistry(map[string]serving.Loader{
		"slow": func(*serving.Descriptor) (serving.Model, error) { return ingSlowModel{delay: &delay}, nil },
	})
	adjust := func(c *NodeConfig) {
		c.Ingress.MaxInFlight = maxInFlight
		c.Ingress.ResumeAt = resumeAt
		c.Ingress.MaxBatch = 32 // a batch of the slow model takes 1.6 s, well inside the 10 s request timeout
	}
	t.Cleanup(func() { delay.Store(0) }) // a failed test must not hold the node's shutdown drain

	// Routing is by key, so the two models need keys on different partitions.
	slowID, fastID := "slow", "fast"
	for i := 0; ingPartitionOf(fastID) == ingPartitionOf(slowID); i++ {
		fastID = fmt.Sprintf("fast-%d", i)
	}
	slowPart := ingPartitionOf(slowID)
	t.Logf("model %s on partition %d, model %s on partition %d", slowID, slowPart, fastID, ingPartitionOf(fastID))
	// A first node deploys the models and leaves; the node under test
	// starts once every event is on the broker, so the heap it grows is
	// its own and not the broker's copy of the events (the embedded broker
	// lives in this process and keeps every record).
	n0 := ingStartNode(t, b.Addrs(), "t0", reg, adjust)
	ingDeploy(t, n0, slowID, map[string]any{"format": "slow", "features": []string{"a", "b"}})
	ingDeploy(t, n0, fastID, ingLinear([]string{"a", "b"}, nil, [][]float64{{1, 1}}, []float64{0}, "identity"))
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := n0.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown t0: %v", err)
	}

	pad := strings.Repeat("p", padBytes)
	slowEvent := func(i int) *kgo.Record {
		return ingEvent(slowID, ingJSON(map[string]any{"id": fmt.Sprintf("s-%d", i), "features": []float64{float64(i), 0}, "pad": pad}))
	}
	cl := ingProducer(t, b.Addrs(), kgo.ProducerBatchCompression(kgo.NoCompression()))
	var produced atomic.Int64
	var produceErr atomic.Pointer[error]
	promise := func(r *kgo.Record, err error) {
		if err != nil {
			produceErr.CompareAndSwap(nil, &err)
		}
		produced.Add(int64(len(r.Key) + len(r.Value)))
	}
	ctx, cancel = context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	for i := range nSlow {
		cl.Produce(ctx, slowEvent(i), promise)
	}
	for i := range nFast {
		cl.Produce(ctx, ingEvent(fastID, ingJSON(map[string]any{"id": fmt.Sprintf("f-%d", i), "features": map[string]float64{"a": float64(i), "b": 1}})), promise)
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatalf("produce: %v", err)
	}
	if err := produceErr.Load(); err != nil {
		t.Fatalf("produce: %v", *err)
	}

	// Memory: HeapInuse right after a forced GC, every 200 ms, so the figure
	// is memory the node holds, not garbage the collector has not reached
	// yet. The budget is a window of bound events at twice their size
	// (the fetch buffer their records point into, the decoded event) plus
	// 32 MiB for the node itself (its clients' buffers, its actors; 17-23
	// MiB measured): about a fifth of what holding all nSlow events would
	// add. The raw HeapInuse peak is logged too.
	heapBudget := uint64(bound)*2*(padBytes+128) + 32<<20
	var ms runtime.MemStats
	heapAfterGC := func() uint64 {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse
	}
	baseHeap := heapAfterGC()
	var n *Node // the node under test, started below
	var maxHeap, maxRawHeap uint64
	var lastHeap time.Time
	var maxSlowInFlight int64
	pausedSeen := false
	sample := func(heap bool) {
		if heap {
			if time.Since(lastHeap) >= 200*time.Millisecond {
				maxHeap = max(maxHeap, heapAfterGC())
				lastHeap = time.Now()
			} else {
				runtime.ReadMemStats(&ms)
			}
			maxRawHeap = max(maxRawHeap, ms.HeapInuse)
		}
		for _, p := range n.Ingress.Stats().Partitions {
			if p.Topic == ingEventsTopic && p.Partition == slowPart {
				maxSlowInFlight = max(maxSlowInFlight, p.InFlight)
				pausedSeen = pausedSeen || p.Paused
			}
		}
	}

	n = ingStartNode(t, b.Addrs(), "t1", reg, adjust)
	w := ingWatch(t, b.Addrs())
	start := time.Now()

	// While the slow model is slow, the fast one's partition keeps flowing.
	ingEventually(t, 60*time.Second, func() error {
		sample(true)
		if got := w.countModel(fastID); got < nFast {
			return fmt.Errorf("%d of %d predictions of %s (slow %s: %d, partition %d paused: %v, max in flight %d)",
				got, nFast, fastID, slowID, w.countModel(slowID), slowPart, pausedSeen, maxSlowInFlight)
		}
		return nil
	})
	fastDone := time.Since(start)
	slowByThen := w.countModel(slowID)
	t.Logf("%d predictions of %s in %v; %s had %d of %d by then", nFast, fastID, fastDone.Round(time.Millisecond), slowID, slowByThen, nSlow)
	// At 50 ms per event the slow model cannot have done more than
	// elapsed/50ms events plus one batch.
	if limit := int(fastDone/(50*time.Millisecond)) + 32; slowByThen > limit {
		t.Errorf("the slow model scored %d events in %v, more than %d: it was not slow, the test proves nothing", slowByThen, fastDone, limit)
	}
	// Every slow event is on the broker: a node without a window reads them
	// all within a few fetches. Keep sampling for a while.
	for range 20 {
		sample(true)
		time.Sleep(200 * time.Millisecond)
	}
	if got := w.countModel(slowID); got >= nSlow-bound {
		t.Fatalf("the slow model scored %d of %d events while slow: the in-flight bound was never tested", got, nSlow)
	}
	t.Logf("slow partition %d: max in flight %d (bound %d = max-in-flight %d + one poll of %d; %d events sent); paused seen %v; pauses %d",
		slowPart, maxSlowInFlight, bound, maxInFlight, maxPoll, nSlow, pausedSeen, n.Ingress.Stats().Pauses)
	t.Logf("heap in use after GC: baseline %.1f MiB, max %.1f MiB (%+.1f MiB; budget +%.1f MiB; %.1f MiB of events sent); raw HeapInuse peak %.1f MiB",
		ingMiB(baseHeap), ingMiB(maxHeap), ingMiB(maxHeap)-ingMiB(baseHeap), ingMiB(heapBudget), ingMiB(uint64(produced.Load())), ingMiB(maxRawHeap))
	if !pausedSeen {
		t.Errorf("slow partition %d was never paused with %d events sent and %d in flight at most", slowPart, nSlow, maxSlowInFlight)
	}
	if maxSlowInFlight > bound {
		t.Errorf("slow partition had %d events in flight, over the bound %d (%d sent)", maxSlowInFlight, bound, nSlow)
	}
	if maxHeap > baseHeap+heapBudget {
		t.Errorf("heap in use grew from %.1f to %.1f MiB, over the budget of %.1f MiB (%d slow events of %d bytes sent)",
			ingMiB(baseHeap), ingMiB(maxHeap), ingMiB(heapBudget), nSlow, padBytes)
	}

	// Speed up: the slow model catches up, still within the window (the
	// heap is not sampled any more: the watcher's copies of the
	// predictions grow with every one, and reading the heap stops the
	// world, which under -race slowed the catch-up several times over).
	delay.Store(0)
	ingEventually(t, 5*time.Minute, func() error { // a wait for a condition; under -race the catch-up of 41,600 events of 4 KiB took over 2 min
		sample(false)
		if got := w.countModel(slowID); got < nSlow {
			return fmt.Errorf("%d of %d predictions of %s after it sped up", got, nSlow, slowID)
		}
		return nil
	})
	if maxSlowInFlight > bound {
		t.Errorf("slow partition had %d events in flight while catching up, over the bound %d", maxSlowInFlight, bound)
	}
	if dup := w.duplicates(); len(dup) > 0 {
		t.Errorf("%d event ids with duplicate predictions, e.g. %v", len(dup), ingFirstOf(dup))
	}
	if d := w.deadLetters(); len(d) > 0 {
		t.Errorf("%d dead letters, want none; first: reason %q error %q", len(d), d[0].Headers["reason"], d[0].Headers["error"])
	}
	for _, p := range w.predictions() {
		if p.Pred.Model != slowID {
			continue
		}
		i, err := strconv.Atoi(strings.TrimPrefix(p.Pred.ID, "s-"))
		if v := p.Pred.Prediction.Value; err != nil || v == nil || *v != float64(i) {
			t.Errorf("slow prediction %s: want value %d", p.Value, i)
			break
		}
	}
}

func TestIngressCommitsAndRestart(t *testing.T) {
	const first, second = 1000, 10
	b := ingBroker(t)
	brokers := b.Addrs()
	// Node t1 never commits on its own: only its shutdown can.
	n1 := ingStartNode(t, brokers, "t1", nil, func(c *NodeConfig) { c.Ingress.CommitInterval = time.Hour })
	w := ingWatch(t, brokers)
	ingDeploy(t, n1, "m", ingLinear([]string{"a", "b"}, nil, [][]float64{{1, 0}}, []float64{0}, "identity"))
	part := ingPartitionOf("m")

	cl := ingProducer(t, brokers)
	send := func(prefix string, count int) {
		recs := make([]*kgo.Record, count)
		for i := range recs {
			recs[i] = ingEvent("m", ingJSON(map[string]any{"id": fmt.Sprintf("%s-%d", prefix, i), "features": []float64{float64(i), 0}}))
		}
		ingProduce(t, cl, recs...)
	}
	send("old", first)
	ingEventually(t, 15*time.Second, func() error {
		if got := w.countModel("m"); got < first {
			return fmt.Errorf("%d of %d predictions", got, first)
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := n1.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	// A graceful shutdown commits everything processed.
	if got := ingCommitted(t, brokers, "actorserve", ingEventsTopic)[part]; got != first {
		t.Fatalf("after shutdown the group committed offset %d on partition %d, want %d", got, part, first)
	}

	n2 := ingStartNode(t, brokers, "t2", nil, func(c *NodeConfig) { c.Ingress.CommitInterval = 100 * time.Millisecond })
	send("new", second)
	ingEventually(t, 15*time.Second, func() error {
		for i := range second {
			if w.count(fmt.Sprintf("new-%d", i)) == 0 {
				return fmt.Errorf("no prediction for new-%d yet (node t2 stats %+v)", i, n2.Ingress.Stats())
			}
		}
		return nil
	})
	// The new node read only the new events; nothing was scored twice. A
	// prediction is counted when Kafka acknowledges it, which can come after
	// the watcher has read it: wait for the count, then compare exactly.
	ingEventually(t, 15*time.Second, func() error {
		if st := n2.Ingress.Stats(); st.Predictions < second {
			return fmt.Errorf("node t2 counted %d acknowledged predictions of %d", st.Predictions, second)
		}
		return nil
	})
	if st := n2.Ingress.Stats(); st.Events != second || st.Predictions != second {
		t.Errorf("node t2 read %d events and wrote %d predictions, want %d each (committed offsets not honoured?)", st.Events, st.Predictions, second)
	}
	if got, want := w.countModel("m"), first+second; got != want {
		t.Errorf("%d predictions in all, want %d", got, want)
	}
	if dup := w.duplicates(); len(dup) > 0 {
		t.Errorf("%d event ids scored twice, e.g. %v", len(dup), ingFirstOf(dup))
	}
	for _, p := range w.predictions() {
		if strings.HasPrefix(p.Pred.ID, "new-") && p.Pred.Node != "t2" {
			t.Errorf("%s scored by %q, want t2", p.Pred.ID, p.Pred.Node)
		}
	}
	ingEventually(t, 10*time.Second, func() error {
		if got := ingCommitted(t, brokers, "actorserve", ingEventsTopic)[part]; got != first+second {
			return fmt.Errorf("committed offset %d on partition %d, want %d", got, part, first+second)
		}
		return nil
	})
}

func ingMiB(b uint64) float64 { return float64(b) / (1 << 20) }

func ingFirstOf(m map[string]int) string {
	for k, v := range m {
		return fmt.Sprintf("%s×%d", k, v)
	}
	return ""
}

// TestIngressHeldUntilReleased: a node started with Held takes its
// partitions but reads nothing until Release (the bench starts every node
// of a cluster so), then reads everything once.
func TestIngressHeldUntilReleased(t *testing.T) {
	const events = 200
	b := ingBroker(t)
	n := ingStartNode(t, b.Addrs(), "h1", nil, func(c *NodeConfig) { c.Ingress.Held = true })
	w := ingWatch(t, b.Addrs())
	ingDeploy(t, n, "m", ingLinear([]string{"a", "b"}, nil, [][]float64{{1, 0}}, []float64{0}, "identity"))
	cl := ingProducer(t, b.Addrs())
	for i := range events {
		ingProduce(t, cl, ingEvent("m", ingJSON(map[string]any{"id": fmt.Sprintf("e%d", i), "features": []float64{float64(i), 0}})))
	}
	ingEventually(t, 15*time.Second, func() error {
		if k := len(n.Ingress.Stats().Partitions); k == 0 {
			return fmt.Errorf("no partition assigned yet")
		}
		return nil
	})
	// Held: several fetch intervals pass with every event on the broker
	// and the partitions assigned, and nothing is read.
	time.Sleep(time.Second)
	if st := n.Ingress.Stats(); st.Events != 0 || w.countModel("m") != 0 {
		t.Fatalf("held ingress read %d events and %d predictions were written", st.Events, w.countModel("m"))
	}
	n.Ingress.Release()
	ingEventually(t, 15*time.Second, func() error {
		if got := w.countModel("m"); got < events {
			return fmt.Errorf("%d of %d predictions after release", got, events)
		}
		return nil
	})
	if dup := w.duplicates(); len(dup) > 0 {
		t.Errorf("%d events scored twice", len(dup))
	}
}

// TestIngressBackpressureDecodesOnce reads a backlog through a small
// in-flight window, so the partition is paused and resumed over and over,
// and checks that what the node decodes stays near what it processes:
// franz-go drops a paused partition's buffered records, to fetch them
// again on resume, so a node that pauses with a fetch buffered decodes the
// backlog several times over (3.7 times at 1,000,000 events in the bench).
func TestIngressBackpressureDecodesOnce(t *testing.T) {
	const (
		n           = 60000
		maxInFlight = 256
		resumeAt    = 128
	)
	b := ingBroker(t)
	adjust := func(c *NodeConfig) {
		c.Ingress.MaxInFlight = maxInFlight
		c.Ingress.ResumeAt = resumeAt
	}
	// A first node deploys the model and leaves, so that the node under
	// test meets the whole backlog at once.
	n0 := ingStartNode(t, b.Addrs(), "t0", nil, adjust)
	ingDeploy(t, n0, "m", ingLinear([]string{"a", "b"}, nil, [][]float64{{1, 2}}, []float64{0}, "identity"))
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := n0.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown t0: %v", err)
	}
	// Batches of at most 16 KiB (Kafka's Java producer's default), so that a
	// fetch resumed inside a batch decodes little of what came before;
	// uncompressed, so that a fetch's byte limit is what the node decodes.
	cl := ingProducer(t, b.Addrs(), kgo.ProducerBatchMaxBytes(16<<10), kgo.ProducerBatchCompression(kgo.NoCompression()))
	recs := make([]*kgo.Record, 0, n)
	for i := range n {
		recs = append(recs, ingEvent("m", ingJSON(map[string]any{"id": fmt.Sprintf("e-%d", i), "features": map[string]float64{"a": float64(i), "b": 1}})))
	}
	ingProduce(t, cl, recs...)

	node := ingStartNode(t, b.Addrs(), "t1", nil, adjust)
	w := ingWatch(t, b.Addrs())
	ingEventually(t, 90*time.Second, func() error {
		if got := w.countModel("m"); got < n {
			return fmt.Errorf("%d of %d predictions", got, n)
		}
		return nil
	})
	st := node.Ingress.Stats()
	t.Logf("%d events: %d pauses, %d records decoded (%.2f per event)", st.Events, st.Pauses, st.Fetched, float64(st.Fetched)/float64(n))
	if st.Pauses < 10 {
		t.Fatalf("%d pauses over %d events with a window of %d: the backlog never filled the window, the test proves nothing", st.Pauses, n, maxInFlight)
	}
	if st.Fetched < n {
		t.Fatalf("%d records decoded for %d events: the counter misses fetches", st.Fetched, n)
	}
	if limit := n * 5 / 4; st.Fetched > int64(limit) {
		t.Errorf("%d records decoded for %d events (more than %d): pauses made the node fetch and decode the backlog again", st.Fetched, n, limit)
	}
}
