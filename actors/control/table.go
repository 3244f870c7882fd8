package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/btree"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	pollMaxRecords   = 10000
	minBackoff       = 100 * time.Millisecond
	maxBackoff       = 5 * time.Second
	listTimeout      = 10 * time.Second
	errorLogInterval = 10 * time.Second
	fetchMaxWait     = 500 * time.Millisecond
)

// Entry is one change applied to a [Table], as passed to subscribers.
type Entry[T any] struct {
	ID      string // model id (the record key)
	Value   T      // decoded value; the zero value when Deleted
	Deleted bool   // a tombstone removed ID
	Offset  int64  // offset of the record in the control topic
}

type row[T any] struct {
	value  T
	offset int64
}

// Table holds the latest decoded value of every key of the control topic, like a Kafka Streams
// GlobalKTable: [Table.Run] reads the whole topic from the beginning, then follows it. Readers
// (Get, List, Len, WaitFor) may be called from any goroutine at any time.
//
// A record whose value fails to decode is logged, counted and skipped; the key keeps its
// previous value, so a bad descriptor never retires a working model.
type Table[T any] struct {
	cfg    Config
	topic  string
	decode func(key string, value []byte) (T, error)
	logger *slog.Logger
	m      *metrics

	mu      sync.RWMutex
	rows    map[string]row[T]
	ids     *btree.BTreeG[string] // the keys of rows, in order: List and Ascend never sort
	changed chan struct{}         // closed and replaced after every applied change

	subMu   sync.Mutex
	subs    map[uint64]*subscriber[T]
	nextSub uint64

	// resolve, when set, decides whether a decoded record replaces the
	// key's current value (see SetResolver).
	resolve func(id string, cur T, had bool, next T, offset int64) (T, bool)

	readyCh chan struct{}
	ready   atomic.Bool
	started atomic.Bool
	start   time.Time // set by Run before readiness can be declared

	progMu  sync.Mutex
	listed  bool            // end offsets listed
	targets map[int32]int64 // partition -> offset to reach before ready (removed once reached)
	next    map[int32]int64 // partition -> next offset to apply
	adm     atomic.Pointer[kadm.Client]
	applied int64 // records read, including skipped ones

	// Sync's watermark look-ups are shared: at most one runs at a time,
	// callers that arrive meanwhile share the next one (which starts after
	// they called, as read-your-writes needs), and rounds start at least
	// syncInterval apart. However many unknown ids are asked for, the
	// broker sees at most one round of offset requests per interval.
	syncMu      sync.Mutex
	syncRunning bool
	syncNext    *syncRound
	syncLast    time.Time
	syncRounds  atomic.Int64
}

// syncRound is one shared look-up of the topic's watermarks.
type syncRound struct {
	done   chan struct{}
	ends   kadm.ListedOffsets
	starts kadm.ListedOffsets
	err    error
}

// syncInterval is the least time between two watermark look-ups of Sync.
const syncInterval = 10 * time.Millisecond

type subscriber[T any] struct {
	fn        func(Entry[T])
	cancelled atomic.Bool
}

// NewTable returns a table over cfg's control topic. decode turns a record's key and non-empty
// value into T; it must not keep value. Metrics are registered on reg unless reg is nil. Start
// the table with Run.
func NewTable[T any](cfg Config, decode func(key string, value []byte) (T, error), logger *slog.Logger, reg prometheus.Registerer) (*Table[T], error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if decode == nil {
		return nil, fmt.Errorf("%w: nil decode function", ErrInvalidConfig)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	t := &Table[T]{
		cfg:     cfg,
		topic:   cfg.topic(),
		decode:  decode,
		logger:  logger.With("component", "control", "topic", cfg.topic()),
		m:       m,
		rows:    make(map[string]row[T]),
		ids:     btree.NewOrderedG[string](32),
		changed: make(chan struct{}),
		subs:    make(map[uint64]*subscriber[T]),
		readyCh: make(chan struct{}),
		targets: make(map[int32]int64),
		next:    make(map[int32]int64),
	}
	return t, nil
}

// Run reads the control topic from its beginning and then follows it until ctx is done; it
// returns nil then. It may be called once. Lost connections and broker restarts are retried
// (franz-go reconnects by itself; fetch errors are logged and consumption continues); the start
// watermarks are retried with backoff until the broker answers.
func (t *Table[T]) Run(ctx context.Context) error {
	if !t.started.CompareAndSwap(false, true) {
		return fmt.Errorf("control table for %q: Run called twice", t.topic)
	}
	t.start = time.Now()
	opts := append(slices.Clone(t.cfg.ClientOpts),
		kgo.SeedBrokers(t.cfg.Brokers...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// Transaction markers occupy offsets too; seeing them lets the table reach a high
		// watermark that ends in a marker.
		kgo.KeepControlRecords(),
		// kgo may send its first fetch before every partition's start offset is loaded; that
		// fetch long-polls for FetchMaxWait on the partitions it has. A short wait bounds the
		// delay this adds to the catch-up; new records still wake a waiting fetch at once.
		kgo.FetchMaxWait(fetchMaxWait),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("control table for %q: create Kafka client: %w", t.topic, err)
	}
	defer cl.Close()

	adm := kadm.NewClient(cl)
	t.adm.Store(adm)
	defer t.adm.Store(nil)
	if !t.listWatermarks(ctx, adm) {
		return nil
	}
	cl.AddConsumeTopics(t.topic)

	lastErr := make(map[string]time.Time)
	for {
		fs := cl.PollRecords(ctx, pollMaxRecords)
		if ctx.Err() != nil {
			return nil
		}
		fs.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, context.Canceled) || errors.Is(err, kgo.ErrClientClosed) {
				return
			}
			key := fmt.Sprintf("%s/%d/%v", topic, p, err)
			if now := time.Now(); now.Sub(lastErr[key]) >= errorLogInterval {
				lastErr[key] = now
				t.logger.Warn("control topic fetch failed; retrying", "partition", p, "err", err)
			}
		})
		fs.EachRecord(t.apply)
		t.checkReady()
	}
}

// SetResolver makes the table apply a decoded record only when resolve
// says so, instead of last-writer-wins: resolve gets the key's current
// value (had false when none), the new value and its offset, and returns
// the value to store and whether to store it. It runs under the table's
// lock, in topic order, so every node that reads the topic resolves alike.
// Call it before Run.
func (t *Table[T]) SetResolver(resolve func(id string, cur T, had bool, next T, offset int64) (T, bool)) {
	t.resolve = resolve
}

// Sync waits until the table has applied every record the topic held
// when Sync was called: read-your-writes across nodes. A node that misses
// an id in its table calls it before answering "not found", so a model
// deployed through another node a moment ago is found. It costs one
// end-offset request to the broker.
func (t *Table[T]) Sync(ctx context.Context) error {
	adm := t.adm.Load()
	if adm == nil {
		return fmt.Errorf("control table for %q: %w", t.topic, ErrNotReady)
	}
	t.syncMu.Lock()
	r := t.syncNext
	if r == nil {
		r = &syncRound{done: make(chan struct{})}
		t.syncNext = r
	}
	if !t.syncRunning {
		t.startSyncLocked(adm)
	}
	t.syncMu.Unlock()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-r.done:
	}
	if r.err != nil {
		return r.err
	}
	ends, starts := r.ends, r.starts
	for {
		behind := false
		t.progMu.Lock()
		for p, end := range ends[t.topic] {
			start, _ := starts.Lookup(t.topic, p)
			if end.Err == nil && end.Offset > start.Offset && t.next[p] < end.Offset {
				behind = true
				break
			}
		}
		t.progMu.Unlock()
		if !behind {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// startSyncLocked runs the queued round (syncMu held): it lists the
// watermarks once for all its callers, then starts the next queued round.
func (t *Table[T]) startSyncLocked(adm *kadm.Client) {
	r := t.syncNext
	t.syncNext = nil
	t.syncRunning = true
	wait := time.Until(t.syncLast.Add(syncInterval))
	go func() {
		if wait > 0 {
			time.Sleep(wait)
		}
		t.syncMu.Lock()
		t.syncLast = time.Now()
		t.syncMu.Unlock()
		t.syncRounds.Add(1)
		ctx, cancel := context.WithTimeout(context.Background(), listTimeout)
		r.ends, r.err = adm.ListEndOffsets(ctx, t.topic)
		if r.err != nil {
			r.err = fmt.Errorf("control table for %q: list end offsets: %w", t.topic, r.err)
		} else if r.starts, r.err = adm.ListStartOffsets(ctx, t.topic); r.err != nil {
			r.err = fmt.Errorf("control table for %q: list start offsets: %w", t.topic, r.err)
		}
		cancel()
		close(r.done)
		t.syncMu.Lock()
		t.syncRunning = false
		if t.syncNext != nil {
			t.startSyncLocked(adm)
		}
		t.syncMu.Unlock()
	}()
}

// SyncRounds returns how many watermark look-ups Sync has made.
func (t *Table[T]) SyncRounds() int64 { return t.syncRounds.Load() }

// listWatermarks lists the log start and end offsets the table must reach before it is ready,
// retrying until it succeeds; it returns false if ctx ends first.
func (t *Table[T]) listWatermarks(ctx context.Context, adm *kadm.Client) bool {
	backoff := minBackoff
	for attempt := 1; ; attempt++ {
		targets, missing, err := t.watermarks(ctx, adm)
		if err == nil {
			t.progMu.Lock()
			t.targets = targets
			t.listed = true
			t.progMu.Unlock()
			if missing {
				t.logger.Warn("control topic does not exist; the table starts empty and picks the topic up once it is created")
			}
			t.checkReady()
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		t.logger.Warn("list control topic offsets failed; retrying", "brokers", t.cfg.Brokers, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// watermarks returns, per non-empty partition, the end offset to reach. missing reports that
// the topic does not exist.
func (t *Table[T]) watermarks(ctx context.Context, adm *kadm.Client) (targets map[int32]int64, missing bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, t.topic)
	if err != nil {
		return nil, false, err
	}
	starts, err := adm.ListStartOffsets(ctx, t.topic)
	if err != nil {
		return nil, false, err
	}
	targets = make(map[int32]int64)
	for _, lists := range []kadm.ListedOffsets{ends, starts} {
		for _, o := range lists[t.topic] {
			if o.Err == nil {
				continue
			}
			if o.Partition == -1 && errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
				return targets, true, nil
			}
			return nil, false, fmt.Errorf("partition %d: %w", o.Partition, o.Err)
		}
	}
	for p, end := range ends[t.topic] {
		start, ok := starts.Lookup(t.topic, p)
		if !ok {
			return nil, false, fmt.Errorf("partition %d: no log start offset listed", p)
		}
		if end.Offset > start.Offset {
			targets[p] = end.Offset
		}
	}
	return targets, false, nil
}

// apply applies one record; it runs on the Run goroutine only.
func (t *Table[T]) apply(r *kgo.Record) {
	t.m.records.Inc()
	// Progress moves only once the record is applied and its subscribers
	// told, so that Sync never returns before the table holds the record.
	defer func() {
		t.progMu.Lock()
		t.next[r.Partition] = r.Offset + 1
		t.applied++
		t.progMu.Unlock()
	}()
	if r.Attrs.IsControl() {
		return
	}
	live := t.ready.Load()
	id := string(r.Key)
	if id == "" {
		t.m.decodeErrors.Inc()
		t.logger.Warn("control record without key (model id) skipped", "partition", r.Partition, "offset", r.Offset)
		return
	}
	if len(r.Value) == 0 {
		t.mu.Lock()
		_, had := t.rows[id]
		if had {
			delete(t.rows, id)
			t.ids.Delete(id)
			t.broadcastLocked()
		}
		n := len(t.rows)
		t.mu.Unlock()
		if !had {
			return
		}
		t.m.descriptors.Set(float64(n))
		t.logChange(live, "model descriptor deleted", id, r.Offset)
		t.notify(Entry[T]{ID: id, Deleted: true, Offset: r.Offset})
		return
	}
	v, err := t.safeDecode(id, r.Value)
	if err != nil {
		t.m.decodeErrors.Inc()
		t.logger.Warn("control record failed to decode; skipped, the model keeps its previous value",
			"id", id, "partition", r.Partition, "offset", r.Offset, "bytes", len(r.Value), "err", err)
		return
	}
	t.mu.Lock()
	if t.resolve != nil {
		cur, had := t.rows[id]
		var keep bool
		if v, keep = t.resolve(id, cur.value, had, v, r.Offset); !keep {
			t.mu.Unlock()
			t.logger.Debug("record not applied: the key holds a newer value", "id", id, "partition", r.Partition, "offset", r.Offset)
			return
		}
	}
	if _, had := t.rows[id]; !had {
		t.ids.ReplaceOrInsert(id)
	}
	t.rows[id] = row[T]{value: v, offset: r.Offset}
	t.broadcastLocked()
	n := len(t.rows)
	t.mu.Unlock()
	t.m.descriptors.Set(float64(n))
	t.logChange(live, "model descriptor updated", id, r.Offset)
	t.notify(Entry[T]{ID: id, Value: v, Offset: r.Offset})
}

func (t *Table[T]) safeDecode(id string, value []byte) (v T, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decoder panicked: %v", p)
		}
	}()
	return t.decode(id, value)
}

// logChange logs live changes at info and the catch-up replay at debug.
func (t *Table[T]) logChange(live bool, msg, id string, offset int64) {
	lvl := slog.LevelDebug
	if live {
		lvl = slog.LevelInfo
	}
	t.logger.Log(context.Background(), lvl, msg, "id", id, "offset", offset)
}

func (t *Table[T]) broadcastLocked() {
	close(t.changed)
	t.changed = make(chan struct{})
}

func (t *Table[T]) notify(e Entry[T]) {
	t.subMu.Lock()
	subs := make([]*subscriber[T], 0, len(t.subs))
	for _, id := range slices.Sorted(maps.Keys(t.subs)) {
		subs = append(subs, t.subs[id])
	}
	t.subMu.Unlock()
	for _, s := range subs {
		if !s.cancelled.Load() {
			s.fn(e)
		}
	}
}

// checkReady declares the table ready once every partition reached its start high watermark.
func (t *Table[T]) checkReady() {
	if t.ready.Load() {
		return
	}
	t.progMu.Lock()
	if !t.listed {
		t.progMu.Unlock()
		return
	}
	for p, target := range t.targets {
		if t.next[p] >= target {
			delete(t.targets, p)
		}
	}
	done, applied := len(t.targets) == 0, t.applied
	t.progMu.Unlock()
	if !done {
		return
	}
	t.ready.Store(true)
	close(t.readyCh)
	t.logger.Info("control table ready", "records", applied, "descriptors", t.Len(), "took", time.Since(t.start).Round(time.Millisecond))
}

// WaitReady returns nil once the table has applied every record up to the high watermarks it
// listed when Run started (at once for an empty topic). It returns an error wrapping
// ErrNotReady and the context's error if ctx ends, or Config.ReadyTimeout passes, first.
func (t *Table[T]) WaitReady(ctx context.Context) error {
	if t.ready.Load() {
		return nil
	}
	if t.cfg.ReadyTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.cfg.ReadyTimeout)
		defer cancel()
	}
	select {
	case <-t.readyCh:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: control topic %q at %v: %s: %w", ErrNotReady, t.topic, t.cfg.Brokers, t.progress(), ctx.Err())
	}
}

// progress describes how far the catch-up got, for errors.
func (t *Table[T]) progress() string {
	if !t.started.Load() {
		return "Table.Run has not been started"
	}
	t.progMu.Lock()
	defer t.progMu.Unlock()
	if !t.listed {
		return "the broker has not answered the offset listing yet"
	}
	var parts []string
	for _, p := range slices.Sorted(maps.Keys(t.targets)) {
		parts = append(parts, fmt.Sprintf("partition %d at offset %d of %d", p, t.next[p], t.targets[p]))
	}
	return fmt.Sprintf("read %d records; %s", t.applied, strings.Join(parts, ", "))
}

// Ready reports whether WaitReady would return nil at once.
func (t *Table[T]) Ready() bool { return t.ready.Load() }

// Get returns the value for id and whether it exists.
func (t *Table[T]) Get(id string) (T, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	r, ok := t.rows[id]
	return r.value, ok
}

// List returns every value, sorted by id. It copies the whole table: use
// Ascend for a page.
func (t *Table[T]) List() []T {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]T, 0, len(t.rows))
	t.ids.Ascend(func(id string) bool {
		out = append(out, t.rows[id].value)
		return true
	})
	return out
}

// Ascend calls fn for every id at or after from, in id order, with its
// value, until fn returns false. It costs O(log n) to start and O(1) per
// id, whatever the size of the table. fn runs under the table's read lock:
// it must be quick and must not call the table.
func (t *Table[T]) Ascend(from string, fn func(id string, v T) bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	t.ids.AscendGreaterOrEqual(from, func(id string) bool {
		return fn(id, t.rows[id].value)
	})
}

// Len returns the number of ids in the table.
func (t *Table[T]) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.rows)
}

// Subscribe calls fn after each change the table applies (an update, or a tombstone that
// removed an id), including those of the initial catch-up. Calls come from the table's Run
// goroutine, one at a time, in offset order per partition, after the change is visible to Get.
// fn must return quickly and must not block: the table does not advance while it runs. It may
// call the table's readers and cancel functions. Subscribe does not replay current contents: to miss nothing, subscribe first, then
// read List (an entry may then be seen twice).
//
// cancel stops further calls; a call already in flight may still complete after cancel returns.
func (t *Table[T]) Subscribe(fn func(Entry[T])) (cancel func()) {
	s := &subscriber[T]{fn: fn}
	t.subMu.Lock()
	id := t.nextSub
	t.nextSub++
	t.subs[id] = s
	t.subMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.cancelled.Store(true)
			t.subMu.Lock()
			delete(t.subs, id)
			t.subMu.Unlock()
		})
	}
}

// WaitFor blocks until cond(Get(id)) holds and returns nil, or returns ctx's error. cond runs on
// the caller's goroutine, once at first and again after every applied change. Use it for
// read-your-writes after Publisher.Put (wait for the version you wrote) or Delete (wait for
// !ok).
func (t *Table[T]) WaitFor(ctx context.Context, id string, cond func(T, bool) bool) error {
	for {
		t.mu.RLock()
		r, ok := t.rows[id]
		ch := t.changed
		t.mu.RUnlock()
		if cond(r.value, ok) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for model %q in control topic %q: %w", id, t.topic, ctx.Err())
		}
	}
}

type metrics struct {
	records      prometheus.Counter
	decodeErrors prometheus.Counter
	descriptors  prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		records: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "actorserve_control_records_total",
			Help: "Records read from the model control topic, including tombstones and skipped records.",
		}),
		decodeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "actorserve_control_decode_errors_total",
			Help: "Control topic records skipped because their key was empty or their value failed to decode.",
		}),
		descriptors: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "actorserve_control_descriptors",
			Help: "Model descriptors currently held in the control table.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	cs := []prometheus.Collector{m.records, m.decodeErrors, m.descriptors}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("register control table metrics (one table per registry): %w", err)
		}
	}
	return m, nil
}
