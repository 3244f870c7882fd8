package ingress

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/actorserve/actorserve/actors/msg"
	"github.com/actorserve/actorserve/cluster"
	"github.com/actorserve/actorserve/cluster/wire"
	"github.com/actorserve/actorserve/serving"
)

// entry is one input record on its way through the partition.
type entry struct {
	rec    *kgo.Record
	polled time.Time
	enc    encoding
	// remaining counts the outputs (predictions or dead letters) not yet
	// acknowledged by Kafka; the record is processed at 0.
	remaining atomic.Int32
	fields    map[string]any // decoded lazily for output expressions
	fieldsErr error
	decoded   bool
}

// item is one event for one model.
type item struct {
	e  *entry
	ev msg.Event
}

// modelQueue holds one model's events of this partition. At most one batch
// per model is in flight, which keeps the model's events in partition
// order and batches naturally under load.
type modelQueue struct {
	id    string
	items []item
	busy  bool
	since time.Time // arrival of the oldest queued item
	// retryAt holds the queue back after the model was overloaded or
	// timed out; backoff is the last pause, timeouts the consecutive
	// timeouts of the batch at the head.
	retryAt  time.Time
	backoff  time.Duration
	timeouts int
}

type batchResult struct {
	q     *modelQueue
	items []item
	resp  *msg.PredictResponse
	err   error
}

type chunk struct {
	recs   []*kgo.Record
	polled time.Time
}

// partition is the ingress actor of one assigned partition: it decodes and
// routes its records, micro-batches them per model, writes every outcome
// to Kafka and tracks the offset up to which everything is processed. Its
// state is owned by its goroutine; the poll loop only appends chunks.
type partition struct {
	in    *Ingress
	topic string
	id    int32

	qmu    sync.Mutex
	queue  []chunk
	closed bool
	wake   chan struct{}

	hwm       atomic.Int64 // high watermark seen in the last fetch
	processed atomic.Int64 // offset up to which everything is processed (next to read); -1 before any
	kick      chan struct{}
	retry     chan struct{} // a backed-off model queue may send again
	results   chan *batchResult
	stop      chan struct{}
	done      chan struct{}
	inflight  atomic.Int64
	// ctx bounds this partition's produce calls: cancelled when the
	// partition is revoked or the ingress stops, so a worker blocked on a
	// full producer buffer always returns.
	ctx    context.Context
	cancel context.CancelFunc

	pmu    sync.Mutex
	paused bool

	// owned by the worker goroutine
	entries  []*entry
	head     int
	models   map[string]*modelQueue
	last     *kgo.Record // last record seen
	lastSync time.Time   // last catch-up of the descriptor table

	cmu       sync.Mutex
	commit    kgo.EpochOffset // processed up to (next offset to read)
	hasCommit bool
	committed int64
}

func newPartition(in *Ingress, topic string, id int32) *partition {
	p := &partition{
		in: in, topic: topic, id: id,
		wake: make(chan struct{}, 1), kick: make(chan struct{}, 1), retry: make(chan struct{}, 1),
		results: make(chan *batchResult, 16), stop: make(chan struct{}), done: make(chan struct{}),
		models: map[string]*modelQueue{}, committed: -1,
	}
	p.processed.Store(-1)
	p.hwm.Store(-1)
	p.ctx, p.cancel = context.WithCancel(in.base)
	return p
}

// lag is the number of records behind the high watermark not yet
// processed (-1 when unknown).
func (p *partition) lag() int64 {
	hwm, done := p.hwm.Load(), p.processed.Load()
	if hwm == 0 {
		return 0 // an empty partition
	}
	if hwm < 0 || done < 0 {
		return -1
	}
	return max(0, hwm-done)
}

// enqueue hands polled records to the worker. It never blocks; it pauses
// the partition when too much is in flight.
func (p *partition) enqueue(recs []*kgo.Record, hwm int64, polled time.Time) {
	p.hwm.Store(hwm)
	if p.processed.Load() < 0 && len(recs) > 0 {
		p.processed.CompareAndSwap(-1, recs[0].Offset)
	}
	p.qmu.Lock()
	if p.closed {
		p.qmu.Unlock()
		return // revoked: the next owner reads these from the committed offset
	}
	p.queue = append(p.queue, chunk{recs, polled})
	p.qmu.Unlock()
	if n := p.inflight.Add(int64(len(recs))); n >= int64(p.in.cfg.MaxInFlight) {
		p.pause()
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// pause stops fetching the partition while its window is full. The count
// is checked again under the lock: the worker may have drained it since.
func (p *partition) pause() {
	p.pmu.Lock()
	defer p.pmu.Unlock()
	if !p.paused && p.inflight.Load() >= int64(p.in.cfg.MaxInFlight) {
		p.paused = true
		p.in.consumer.PauseFetchPartitions(map[string][]int32{p.topic: {p.id}})
		p.in.stats.pauses.Add(1)
	}
}

func (p *partition) maybeResume() {
	if p.inflight.Load() > int64(p.in.cfg.ResumeAt) {
		return
	}
	p.pmu.Lock()
	defer p.pmu.Unlock()
	if p.paused && p.inflight.Load() <= int64(p.in.cfg.ResumeAt) {
		p.paused = false
		p.in.consumer.ResumeFetchPartitions(map[string][]int32{p.topic: {p.id}})
	}
}

// close stops intake; records polled later are dropped (not committed).
func (p *partition) close() {
	p.qmu.Lock()
	p.closed = true
	p.qmu.Unlock()
}

// drain waits until every record taken in is processed, or ctx ends.
func (p *partition) drain(ctx context.Context) bool {
	for p.inflight.Load() > 0 {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(5 * time.Millisecond):
		}
	}
	return true
}

// toCommit returns the processed offset if it is ahead of what Kafka
// acknowledged as committed.
func (p *partition) toCommit() (kgo.EpochOffset, bool) {
	p.cmu.Lock()
	defer p.cmu.Unlock()
	if !p.hasCommit || p.commit.Offset <= p.committed {
		return kgo.EpochOffset{}, false
	}
	return p.commit, true
}

// committedAt records an offset Kafka acknowledged.
func (p *partition) committedAt(offset int64) {
	p.cmu.Lock()
	p.committed = max(p.committed, offset)
	p.cmu.Unlock()
}

func (p *partition) run() {
	defer close(p.done)
	var lingerC <-chan time.Time
	var lingerT *time.Ticker
	if p.in.cfg.Linger > 0 {
		lingerT = time.NewTicker(p.in.cfg.Linger)
		defer lingerT.Stop()
		lingerC = lingerT.C
	}
	for {
		select {
		case <-p.stop:
			return
		case <-p.wake:
			p.takeChunks()
		case r := <-p.results:
			p.handle(r)
		case <-p.kick:
		case <-p.retry:
			p.flushAll(false)
		case <-lingerC:
			p.flushAll(true)
		}
		p.advance()
	}
}

func (p *partition) takeChunks() {
	for {
		p.qmu.Lock()
		q := p.queue
		p.queue = nil
		p.qmu.Unlock()
		if len(q) == 0 {
			return
		}
		for _, c := range q {
			now := time.Now()
			for _, r := range c.recs {
				p.take(r, c.polled, now)
			}
			p.flushAll(false)
		}
	}
}

func (p *partition) take(r *kgo.Record, polled, now time.Time) {
	e := &entry{rec: r, polled: polled}
	p.entries = append(p.entries, e)
	p.last = r
	p.in.stats.events.Add(1)
	ev, enc, err := decodeEvent(r)
	e.enc = enc
	if err != nil {
		p.deadLetter(e, "", msg.CodeDecode, err.Error(), 1)
		return
	}
	ids, unknown := p.in.router.targets(r.Topic, r.Key, &ev)
	if len(ids) == 0 && unknown != "" && now.Sub(p.lastSync) > 250*time.Millisecond {
		// A model deployed through another node a moment ago may not be in
		// this node's table yet: catch up once, then decide.
		p.lastSync = now
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if p.in.table.Sync(ctx) == nil {
			// Sync returns once the table told its subscribers (the
			// router among them) of every change it caught up with.
			ids, unknown = p.in.router.targets(r.Topic, r.Key, &ev)
		}
		cancel()
	}
	if len(ids) == 0 {
		text := "event names no model: give the record a key or a \"model\" or \"type\" field, or bind a model to topic " + strconv.Quote(r.Topic)
		if unknown != "" {
			text = "no model is deployed for " + strconv.Quote(unknown)
		}
		p.deadLetter(e, unknown, msg.CodeUnknownModel, text, 1)
		return
	}
	out, ok := toEvent(&ev)
	if !ok {
		p.deadLetter(e, ids[0], msg.CodeSchemaMismatch, "event has no \"features\" (and no \"label\")", 1)
		return
	}
	if r.Topic == p.in.primary() {
		out.Part, out.Off = r.Partition, r.Offset+1
	}
	e.remaining.Store(int32(len(ids)))
	for _, id := range ids {
		if out.Label != nil && !out.NoFeatures && p.reroute(e, id) {
			continue
		}
		q := p.models[id]
		if q == nil {
			q = &modelQueue{id: id}
			p.models[id] = q
		}
		if len(q.items) == 0 {
			q.since = now
		}
		ev := out
		if len(r.Key) > 0 && string(r.Key) != id {
			ev.Key = string(r.Key) // the entity a canary is sticky to
		}
		q.items = append(q.items, item{e: e, ev: ev})
	}
}

// toEvent turns a decoded input event into the event a model actor gets;
// false when it has neither features nor a label.
func toEvent(ev *inEvent) (msg.Event, bool) {
	out := msg.Event{ID: string(ev.ID), Label: ev.Label.label()}
	switch {
	case ev.Features != nil:
		out.Features = *ev.Features
	case ev.Label != nil:
		out.NoFeatures = true // the label of an earlier event
	default:
		return out, false
	}
	return out, true
}

// reroute sends a labelled event (features and label) of a learning model
// that was read anywhere but the model's home partition (the partition of the first
// input topic its id is keyed to) to that partition, keyed by the model
// id, and reports true; the copy is learned from there. A learning model
// thus learns only from its home partition, in that partition's order,
// which is what its checkpoints record positions in and what a new
// activation replays. The event counts as processed for this model once
// Kafka acknowledged the copy. Label-only events are not rerouted: they
// teach by joining a prediction held in memory, which no replay can
// rebuild, so they go straight to the activation (which checkpoints before
// it acknowledges them) without the detour's delay.
func (p *partition) reroute(e *entry, id string) bool {
	d, ok := p.in.table.Get(id)
	if !ok || !d.Learns() {
		return false
	}
	primary := p.in.primary()
	n := p.in.partitionCount()
	if n <= 0 || (e.rec.Topic == primary && e.rec.Partition == KeyPartition([]byte(id), n)) {
		return false
	}
	hs := make([]kgo.RecordHeader, 0, len(e.rec.Headers)+1)
	hs = append(hs, e.rec.Headers...)
	hs = append(hs, kgo.RecordHeader{Key: "actorserve-rerouted-from", Value: []byte(e.rec.Topic + "/" + strconv.Itoa(int(e.rec.Partition)) + "/" + strconv.FormatInt(e.rec.Offset, 10))})
	rec := &kgo.Record{Topic: primary, Key: []byte(id), Value: e.rec.Value, Headers: hs}
	p.in.stats.rerouted.Add(1)
	p.produce(rec, "labelled event to its model's partition", func(err error) {
		if err != nil {
			p.deadLetterAsync(e, id, msg.CodeModelError, "label not forwarded to the model's partition: "+err.Error())
			return
		}
		p.ack(e)
	})
	return true
}

// flushAll sends every model's queued events that may go now.
func (p *partition) flushAll(lingerTick bool) {
	for id, q := range p.models {
		if len(q.items) == 0 {
			if !q.busy {
				delete(p.models, id)
			}
			continue
		}
		if p.in.cfg.Linger > 0 && len(q.items) < p.in.cfg.MaxBatch && time.Since(q.since) < p.in.cfg.Linger {
			continue
		}
		p.send(q)
	}
}

func (p *partition) send(q *modelQueue) {
	if q.busy || len(q.items) == 0 || (!q.retryAt.IsZero() && time.Now().Before(q.retryAt)) {
		return
	}
	var batch []item
	if n := len(q.items); n <= p.in.cfg.MaxBatch {
		batch, q.items = q.items, nil // the whole queue goes: no copy
	} else {
		batch = slices.Clone(q.items[:p.in.cfg.MaxBatch])
		q.items = q.items[p.in.cfg.MaxBatch:]
		q.since = time.Now()
	}
	n := len(batch)
	q.busy = true
	events := make([]msg.Event, n)
	for i := range batch {
		events[i] = batch[i].ev
	}
	go func() {
		end := p.in.traceBatch(q.id, batch)
		resp, err := p.in.predict(q.id, events)
		end(resp, err)
		select {
		case p.results <- &batchResult{q: q, items: batch, resp: resp, err: err}:
		case <-p.done:
		}
	}()
}

func (p *partition) handle(r *batchResult) {
	q := r.q
	q.busy = false
	defer p.send(q)
	if r.err != nil && p.holdBack(q, r) {
		return
	}
	if r.err == nil {
		q.backoff, q.timeouts, q.retryAt = 0, 0, time.Time{}
	}
	if r.err != nil {
		q.timeouts = 0
		code := msg.CodeTimeout
		var we *wire.Error
		switch {
		case errors.As(r.err, &we):
			code = we.Code
			if code == msg.CodeModelFailed {
				code = msg.CodeModelError
			}
		case errors.Is(r.err, cluster.ErrTimeout), errors.Is(r.err, context.DeadlineExceeded):
			code = msg.CodeTimeout
		}
		for _, it := range r.items {
			p.deadLetter(it.e, q.id, code, r.err.Error(), 0)
		}
		return
	}
	p.in.stats.batches.Add(1)
	if r.resp.Node != p.in.node {
		p.in.stats.crossNode.Add(1)
	}
	if len(r.resp.Results) != len(r.items) {
		for _, it := range r.items {
			p.deadLetter(it.e, q.id, msg.CodeModelError, "model actor answered a different number of results", 0)
		}
		return
	}
	desc, _ := p.in.table.Get(q.id)
	now := time.Now()
	for i, it := range r.items {
		res := &r.resp.Results[i]
		if res.Feedback && res.Code == "" {
			p.in.stats.feedback.Add(1)
			if !res.Matched {
				p.in.stats.unmatched.Add(1)
			}
			p.ack(it.e) // a label has no prediction to write
			continue
		}
		if res.Code != "" {
			code := res.Code
			if code == msg.CodeModelFailed {
				code = msg.CodeModelError
			}
			p.deadLetter(it.e, q.id, code, res.Error, 0)
			continue
		}
		if res.Prediction.Empty() && desc != nil {
			switch desc.Options.EmptyPolicy() {
			case serving.OnEmptySkip:
				p.in.stats.skipped.Add(1)
				p.ack(it.e)
				continue
			case serving.OnEmptyDeadLetter:
				p.deadLetter(it.e, q.id, msg.CodeModelError, "the model returned an empty prediction (on_empty: deadletter)", 0)
				continue
			}
		}
		out := outPrediction{
			Model: r.resp.Model, Version: r.resp.VersionOf(i), ID: it.ev.ID, Prediction: res.Prediction,
			Node: r.resp.Node, LatencyUS: now.Sub(it.e.polled).Microseconds(), TS: now.UTC(),
		}
		if out.Version != r.resp.Version {
			out.Variant = serving.RolloutCanary
		}
		prog, err := p.in.router.program(q.id, r.resp.Version)
		if err != nil {
			p.deadLetter(it.e, q.id, msg.CodeModelError, err.Error(), 0)
			continue
		}
		if prog != nil {
			if !it.e.decoded {
				it.e.fields, it.e.fieldsErr = eventFields(it.e.rec, it.e.enc)
				it.e.decoded = true
			}
			if it.e.fieldsErr != nil {
				p.deadLetter(it.e, q.id, msg.CodeDecode, it.e.fieldsErr.Error(), 0)
				continue
			}
			user, err := prog.Eval(it.e.fields, predictionMap(res.Prediction))
			if err != nil {
				p.deadLetter(it.e, q.id, msg.CodeModelError, err.Error(), 0)
				continue
			}
			out.User = user
		}
		p.producePrediction(it.e, &out, versionLabels(desc, out.Version))
	}
	if r.resp.Shadow != nil {
		p.produceShadow(r, desc)
	}
}

// versionLabels returns the class labels of version v of record d, the
// order its scores are written in (nil when d does not know v).
func versionLabels(d *serving.Descriptor, v int64) []string {
	switch {
	case d == nil:
		return nil
	case d.Version == v:
		return d.Labels
	case d.Variant != nil && d.Variant.Version == v:
		return d.Variant.Labels
	}
	return nil
}

// produceShadow writes a shadow version's predictions to the shadow
// topic. They are a copy: the events' fate (acknowledgement, dead
// letters) follows the current version's results alone, and a shadow
// record Kafka refuses is counted and logged, never dead-lettered.
func (p *partition) produceShadow(r *batchResult, desc *serving.Descriptor) {
	sh := r.resp.Shadow
	now := time.Now()
	labels := versionLabels(desc, sh.Version)
	for i, it := range r.items {
		if i >= len(sh.Results) {
			break
		}
		res := &sh.Results[i]
		if res.Feedback || res.Code != "" {
			continue
		}
		out := outPrediction{Model: r.resp.Model, Version: sh.Version, Variant: serving.RolloutShadow, ID: it.ev.ID,
			Prediction: res.Prediction, Node: r.resp.Node, LatencyUS: now.Sub(it.e.polled).Microseconds(), TS: now.UTC()}
		b, err := encodePrediction(&out, it.e.enc, labels)
		if err != nil {
			p.in.stats.shadowFailed.Add(1)
			continue
		}
		rec := &kgo.Record{Topic: p.in.cfg.Shadow, Key: p.predictionKey(it.e, out.ID), Value: b, Headers: p.outHeaders(it.e)}
		p.in.producer.Produce(p.ctx, rec, func(_ *kgo.Record, err error) {
			if err != nil {
				p.in.stats.shadowFailed.Add(1)
				p.in.logger.Warn("shadow prediction not written", "model", out.Model, "topic", rec.Topic, "err", err)
				return
			}
			p.in.stats.shadow.Add(1)
		})
	}
}

// holdBack puts a batch back at the head of its model's queue and pauses
// the queue when the model shed it unrun ("overloaded": always) or gave no
// answer in time (up to TimeoutRetries times in a row). The pause doubles
// from 10 ms to 1 s, with jitter so that the partitions feeding one model
// do not come back in step; meanwhile the partition's window fills and
// reading stops, so the backlog waits in Kafka, not in memory. The events
// are sent again in one larger batch, which is what lets an overloaded
// model deliver its capacity.
func (p *partition) holdBack(q *modelQueue, r *batchResult) bool {
	var we *wire.Error
	isWire := errors.As(r.err, &we)
	switch {
	case isWire && we.Code == msg.CodeOverloaded:
		p.in.stats.overloaded.Add(1)
	case !isWire && (errors.Is(r.err, cluster.ErrTimeout) || errors.Is(r.err, context.DeadlineExceeded)) && q.timeouts < p.in.cfg.TimeoutRetries:
		q.timeouts++
		p.in.stats.timeoutRetries.Add(1)
		p.in.logger.Warn("model did not answer in time; the batch is sent again", "model", q.id, "events", len(r.items), "attempt", q.timeouts+1, "err", r.err)
	default:
		return false
	}
	items := make([]item, 0, len(r.items)+len(q.items))
	items = append(items, r.items...)
	q.items = append(items, q.items...)
	q.since = time.Now()
	q.backoff = min(max(2*q.backoff, 10*time.Millisecond), time.Second)
	d := q.backoff/2 + rand.N(q.backoff/2+1)
	q.retryAt = time.Now().Add(d)
	time.AfterFunc(d, func() {
		select {
		case p.retry <- struct{}{}:
		default:
		}
	})
	return true
}

func (p *partition) producePrediction(e *entry, out *outPrediction, labels []string) {
	b, err := encodePrediction(out, e.enc, labels)
	if err != nil {
		p.deadLetter(e, out.Model, msg.CodeModelError, "encode prediction: "+err.Error(), 0)
		return
	}
	// The record's timestamp is the prediction's, taken once per batch:
	// left zero, franz-go would read the clock for every record.
	rec := &kgo.Record{Topic: p.in.cfg.Predictions, Key: p.predictionKey(e, out.ID), Value: b, Headers: p.outHeaders(e), Timestamp: out.TS}
	p.produce(rec, "prediction", func(err error) {
		if err != nil {
			// Kafka refused the record itself for good (too large,
			// invalid): the event gets a dead letter instead.
			p.in.logger.Warn("prediction refused by Kafka; writing a dead letter", "model", out.Model, "topic", rec.Topic, "err", err)
			p.deadLetterAsync(e, out.Model, msg.CodeModelError, "prediction not written: "+err.Error())
			return
		}
		p.in.stats.predictions.Add(1)
		p.in.e2e.predicted(e)
		p.ack(e)
	})
}

// predictionKey is the key of an event's prediction: the input record's
// key (the entity's predictions stay in one partition, co-partitioned with
// its input), or the event id with KeyByID or when the input had no key.
func (p *partition) predictionKey(e *entry, id string) []byte {
	if (p.in.cfg.KeyByID || len(e.rec.Key) == 0) && id != "" {
		return []byte(id)
	}
	return e.rec.Key
}

// outHeaders are a prediction's headers: the content type, and the input
// record's headers on the propagation allow-list (trace context), unchanged.
func (p *partition) outHeaders(e *entry) []kgo.RecordHeader {
	var hs []kgo.RecordHeader
	if e.enc == encMsgpack {
		hs = append(hs, kgo.RecordHeader{Key: "content-type", Value: []byte("application/msgpack")})
	}
	for _, h := range e.rec.Headers {
		for _, allowed := range p.in.cfg.PropagateHeaders {
			if strings.EqualFold(h.Key, allowed) {
				hs = append(hs, h)
				break
			}
		}
	}
	return hs
}

// deadLetter writes the original record with the reason. outputs > 0 sets
// the entry's expected output count (the dead letter is its only output);
// 0 means the dead letter stands for one of its already counted outputs.
func (p *partition) deadLetter(e *entry, model, reason, text string, outputs int32) {
	if outputs > 0 {
		e.remaining.Store(outputs)
	}
	hs := make([]kgo.RecordHeader, 0, len(e.rec.Headers)+6)
	hs = append(hs, e.rec.Headers...)
	hs = append(hs,
		kgo.RecordHeader{Key: "reason", Value: []byte(reason)},
		kgo.RecordHeader{Key: "error", Value: []byte(text)},
		kgo.RecordHeader{Key: "source-topic", Value: []byte(e.rec.Topic)},
		kgo.RecordHeader{Key: "source-partition", Value: []byte(strconv.Itoa(int(e.rec.Partition)))},
		kgo.RecordHeader{Key: "source-offset", Value: []byte(strconv.FormatInt(e.rec.Offset, 10))},
	)
	if model != "" {
		hs = append(hs, kgo.RecordHeader{Key: "model", Value: []byte(model)})
	}
	value := e.rec.Value
	if len(value) > MaxDeadLetterValue {
		// Keep the dead letter writable; the original stays in the input
		// topic at source-offset.
		hs = append(hs, kgo.RecordHeader{Key: "value-truncated", Value: []byte(strconv.Itoa(len(value)))})
		value = value[:MaxDeadLetterValue]
	}
	rec := &kgo.Record{Topic: p.in.cfg.DeadLetter, Key: e.rec.Key, Value: value, Headers: hs}
	p.in.stats.deadLetter(reason)
	p.in.logger.Debug("dead letter", "reason", reason, "err", text, "topic", e.rec.Topic, "partition", e.rec.Partition, "offset", e.rec.Offset)
	p.writeDeadLetter(e, rec, reason, 0)
}

// writeDeadLetter writes a dead letter and acknowledges the event once
// Kafka has it. A dead letter is never given up: when Kafka refuses it
// for good (larger than the topic allows, say) the event stays
// unacknowledged, its partition's offsets stop there, and the write is
// tried again every 30 s, with an ERROR each time, until an operator
// fixes the topic; losing the event silently would be worse.
func (p *partition) writeDeadLetter(e *entry, rec *kgo.Record, reason string, attempt int) {
	p.produce(rec, "dead letter", func(err error) {
		if err == nil {
			p.ack(e)
			return
		}
		p.in.stats.deadLetterFailed.Add(1)
		p.in.logger.Error("dead letter refused by Kafka; the event stays unacknowledged and the write is retried in 30 s",
			"reason", reason, "err", err, "topic", e.rec.Topic, "partition", e.rec.Partition, "offset", e.rec.Offset, "attempt", attempt+1)
		time.AfterFunc(30*time.Second, func() {
			if p.ctx.Err() == nil {
				p.writeDeadLetter(e, rec, reason, attempt+1)
			}
		})
	})
}

// deadLetterAsync is deadLetter from a producer callback, which must not
// block: it runs on its own goroutine.
func (p *partition) deadLetterAsync(e *entry, model, reason, text string) {
	go p.deadLetter(e, model, reason, text, 0)
}

// MaxDeadLetterValue bounds the original value a dead letter carries.
const MaxDeadLetterValue = 256 << 10

// refused says whether Kafka refused a record for good: something about
// the record itself that no retry changes. Anything else (a missing
// topic, authorisation, a dial error, a lost leader) may heal.
func refused(err error) bool {
	return errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) ||
		errors.Is(err, kerr.InvalidRecord) || errors.Is(err, kerr.CorruptMessage)
}

// stopping says whether a produce failed because this partition or the
// client is shutting down: the event stays uncommitted and is read again.
func stopping(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, kgo.ErrClientClosed)
}

// produce writes rec and calls done with nil once Kafka has it, or with
// the error when Kafka refused the record itself for good. Any other
// failure (the topic is missing, the broker is unreachable, not
// authorised) keeps the event unacknowledged: the write is retried with
// exponential backoff (100 ms to 10 s) for as long as the partition is
// owned, and done is not called; while the event is held its partition's
// window fills and reading stops, which is the backpressure. done runs
// on a producer goroutine or a timer and must not block.
func (p *partition) produce(rec *kgo.Record, what string, done func(error)) {
	p.produceAttempt(rec, what, 0, done)
}

func (p *partition) produceAttempt(rec *kgo.Record, what string, attempt int, done func(error)) {
	p.in.producer.Produce(p.ctx, rec, func(_ *kgo.Record, err error) {
		switch {
		case err == nil || refused(err):
			done(err)
		case stopping(err) || p.ctx.Err() != nil:
			// The event stays uncommitted and is read again by the next owner.
		default:
			p.in.stats.produceRetries.Add(1)
			if attempt%20 == 0 { // the first failure, then every 20th
				p.in.logger.Warn("writing to Kafka failed; the event stays unacknowledged and the write is retried",
					"what", what, "topic", rec.Topic, "err", err, "attempt", attempt+1)
			}
			delay := min(100*time.Millisecond<<min(attempt, 7), 10*time.Second)
			time.AfterFunc(delay, func() {
				if p.ctx.Err() == nil {
					p.produceAttempt(rec, what, attempt+1, done)
				}
			})
		}
	})
}

func (p *partition) ack(e *entry) {
	if e.remaining.Add(-1) == 0 {
		select {
		case p.kick <- struct{}{}:
		default:
		}
	}
}

// advance pops processed records off the front and publishes the offset
// up to which everything is processed.
func (p *partition) advance() {
	popped := 0
	var lastDone *kgo.Record
	for p.head < len(p.entries) && p.entries[p.head].remaining.Load() <= 0 && p.entries[p.head].polled != (time.Time{}) {
		lastDone = p.entries[p.head].rec
		p.entries[p.head] = nil
		p.head++
		popped++
	}
	if p.head > 1024 && p.head*2 > len(p.entries) {
		n := copy(p.entries, p.entries[p.head:])
		clear(p.entries[n:])
		p.entries = p.entries[:n]
		p.head = 0
	}
	if popped == 0 {
		return
	}
	p.cmu.Lock()
	p.commit = kgo.EpochOffset{Epoch: lastDone.LeaderEpoch, Offset: lastDone.Offset + 1}
	p.hasCommit = true
	p.cmu.Unlock()
	p.processed.Store(lastDone.Offset + 1)
	p.inflight.Add(-int64(popped))
	p.maybeResume()
}
