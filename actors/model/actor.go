package model

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"

	"github.com/actorserve/actorserve/actors/msg"
	"github.com/actorserve/actorserve/actors/state"
	"github.com/actorserve/actorserve/cluster/wire"
	"github.com/actorserve/actorserve/learning"
	"github.com/actorserve/actorserve/serving"
)

// refresh tells a local model actor that its descriptor changed or was
// deleted; the actor re-reads the table. Local only: never crosses nodes.
type refresh struct{}

// checkpointNow asks a local model actor to checkpoint its learner now
// (before the node leaves the cluster). Local only.
type checkpointNow struct{}

// errLearns is a replica's answer when its model turned out to learn: the
// caller goes to the model's single activation instead. Local only.
type errLearns struct{}

// checkpointFailed tells the actor that Kafka refused a checkpoint, so the
// next one is not skipped. Local only.
type checkpointFailed struct{}

// modelActor is the grain of one deployed model.
type modelActor struct {
	h      *Host
	id     string
	logger *slog.Logger
	// replica: a local actor of a frozen model (not the cluster's single
	// activation); it never learns.
	replica bool

	desc   *serving.Descriptor
	model  serving.Model
	online *learning.Online // model, when it learns
	schema *serving.Schema
	stats  *Stats

	feedback           *feedbackStore
	tracker            *labelTracker
	matched, unmatched int64
	labelLag           time.Duration
	sinceCheckpoint    int64
	checkpoints        int64
	restoredUpdates    int64
	lastCheckpoint     time.Time
	// epoch is this activation's claim offset in the state topic; topic
	// and pos are the input topic and, per partition, the next offset to
	// learn from (everything before it is in the learner).
	epoch    int64
	claimed  bool
	topic    string
	pos      map[int32]int64
	replayed int64
	// restoreErr: the learned state could not be restored; the actor
	// answers with it and stops rather than learn from a gap.
	restoreErr error
	// labelsSeen: a model that does not learn keeps its predictions for
	// joining labels only once it has received a label, so models that
	// never get feedback pay nothing for it.
	labelsSeen bool

	// perEvent and perRun estimate the time one event and one request
	// take (exponentially weighted means over recent requests); a request
	// that would finish after its deadline by the larger estimate is shed
	// unrun. The larger, because a model whose cost is per call (a remote
	// server, a kernel launch) takes as long for a small batch as for a
	// large one, and running a request that then misses its deadline is
	// work nobody waits for.
	perEvent, perRun time.Duration

	// variant is the model's shadow or canary version (variant.go).
	variant *variant

	// scratch reused across requests (the actor is single-threaded)
	rows [][]float64
	xs   [][]float64
	idx  []int
	out  []serving.Prediction
	errs []error
}

func (a *modelActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *pcluster.ClusterInit:
		a.init(ctx, m.Identity.Identity)
	case replicaInit:
		a.replica = true
		a.init(ctx, m.id)
	case *msg.PredictRequest:
		if a.shed(ctx, m) {
			return
		}
		start := time.Now()
		a.predict(ctx, m)
		a.observeRun(time.Since(start), len(m.Events))
	case refresh:
		a.refresh(ctx)
	case decideDone:
		a.decidedVariant(m)
	case checkpointFailed:
		a.sinceCheckpoint = max(a.sinceCheckpoint, 1)
		a.checkpoints--
	case checkpointNow:
		if a.stats != nil {
			a.checkpoint(ctx, "leave")
		}
		ctx.Respond(true)
	case *actor.ReceiveTimeout:
		a.logger.Debug("passivating idle model")
		ctx.Poison(ctx.Self())
	case *actor.Stopping:
		if a.stats != nil {
			a.checkpoint(ctx, "stop")
			a.h.unregister(a.id, ctx.Self())
		}
	}
}

// shed answers a request "overloaded" without running it when its events
// cannot be done before its deadline (they waited too long in the mailbox,
// or the model is slower than the sender allows). Work nobody waits for
// is never done, so an overloaded model spends its time on requests that
// can still be answered, and delivers its capacity instead of none. The
// events were neither scored nor learned from; the sender retries them.
func (a *modelActor) shed(ctx actor.Context, req *msg.PredictRequest) bool {
	if req.Deadline == 0 || a.stats == nil {
		return false
	}
	est := max(a.perEvent*time.Duration(len(req.Events)), a.perRun)
	if !req.Late(time.Now(), est) {
		return false
	}
	a.stats.shed.Add(int64(len(req.Events)))
	ctx.Respond(&wire.Error{Code: msg.CodeOverloaded, Message: fmt.Sprintf(
		"model %q is overloaded: %d events would take about %v and miss their deadline; %d requests wait in its mailbox",
		a.id, len(req.Events), est.Round(time.Microsecond), max(0, a.stats.pending.Load()))})
	return true
}

// observeRun updates the per-event time estimate shedding uses.
func (a *modelActor) observeRun(d time.Duration, n int) {
	if n <= 0 {
		return
	}
	per := d / time.Duration(n)
	if a.perEvent == 0 {
		a.perEvent, a.perRun = per, d
		return
	}
	a.perEvent += (per - a.perEvent) / 4
	a.perRun += (d - a.perRun) / 4
}

func (a *modelActor) init(ctx actor.Context, id string) {
	a.id = id
	a.logger = a.h.logger.With("model", id)
	a.stats = newStats(id, a.h.nodeName)
	a.h.register(id, ctx.Self(), a.stats)
	if a.h.cfg.IdleTimeout > 0 {
		ctx.SetReceiveTimeout(a.h.cfg.IdleTimeout)
	}
	a.lastCheckpoint = time.Now()
	if d, ok := a.h.descs.Get(id); ok {
		a.load(d)
	}
	if a.sinceCheckpoint >= a.h.cfg.CheckpointEvery {
		a.checkpoint(ctx, "replayed") // the next activation need not replay it again
	}
}

// restoreBudget bounds claiming, restoring and replaying at activation.
const restoreBudget = 30 * time.Second

// restore makes this activation the owner of the model's learned state
// and brings o up to date before the actor serves: it claims the model in
// the state topic (the claim's offset is the epoch that fences every older
// activation), restores the newest state, and replays from the input
// topic the labelled events after that state's positions. The result is
// the learner an uninterrupted run would have, whatever happened to the
// previous activation.
func (a *modelActor) restore(o *learning.Online) error {
	if a.h.ckpt == nil {
		return nil
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), restoreBudget)
	defer cancel()
	if err := a.h.ckpt.Sync(ctx); err != nil {
		return fmt.Errorf("read the state topic: %w", err)
	}
	base := &state.Checkpoint{Model: a.id, Node: a.h.nodeName}
	if c, ok := a.h.ckpt.Latest(a.id); ok && !c.Deleted() {
		base = &state.Checkpoint{Model: a.id, Node: a.h.nodeName, Version: c.Version, Updates: c.Updates,
			State: c.State, Topic: c.Topic, Pos: maps.Clone(c.Pos)}
	}
	var part int32
	if a.h.replay != nil {
		topic, p, from, err := a.h.replay.Home(ctx, a.id)
		if err != nil {
			return err
		}
		part = p
		if base.Topic != topic || base.Pos == nil {
			// No state (or state learned from another topic): learning
			// starts where the consumer group reads the home partition;
			// nothing before it was ever learned by any activation, which
			// would have claimed first.
			base.Topic, base.Pos = topic, map[int32]int64{}
		}
		if _, ok := base.Pos[part]; !ok {
			base.Pos[part] = from
		}
	}
	epoch, err := a.h.ckpt.Claim(ctx, base)
	if err != nil {
		return err
	}
	a.epoch, a.claimed, a.topic, a.pos = epoch, true, base.Topic, base.Pos
	if a.pos == nil {
		a.pos = map[int32]int64{}
	}
	if len(base.State) > 0 {
		if err := o.UnmarshalBinary(base.State); err != nil {
			a.logger.Warn("learned state not restored; learning starts afresh", "checkpoint_version", base.Version, "err", err)
		} else {
			a.restoredUpdates = base.Updates
		}
	}
	if a.h.replay != nil {
		from := a.pos[part]
		if _, err := a.h.replay.Replay(ctx, a.id, part, from, func(ev *msg.Event) error {
			a.learnReplayed(o, ev)
			return nil
		}); err != nil {
			return err
		}
	}
	if a.replayed > 0 {
		a.sinceCheckpoint = max(a.sinceCheckpoint, a.replayed)
	}
	a.logger.Info("learned state restored", "updates", o.Stats().Updates, "restored_updates", a.restoredUpdates,
		"replayed", a.replayed, "epoch", epoch, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// learnReplayed teaches o one labelled event read back from the log, as
// predictEach would have (test-then-train), unless it was learned before.
func (a *modelActor) learnReplayed(o *learning.Online, ev *msg.Event) {
	if !a.fresh(ev) {
		return
	}
	x, err := a.schema.Vector(&ev.Features, a.row(0))
	a.rows[0] = x
	if err != nil {
		return // the live path dead-lettered it too
	}
	pred, err := safePredict(o, x)
	if err != nil {
		return
	}
	if a.teach(x, ev.Label, pred, false) == nil {
		a.replayed++
	}
}

// fresh says whether a labelled event is to be learned from: events read
// from the log are learned once, by position; it advances the position.
func (a *modelActor) fresh(ev *msg.Event) bool {
	if ev.Off <= 0 || a.pos == nil {
		return true
	}
	if next, ok := a.pos[ev.Part]; ok && ev.Off-1 < next {
		return false
	}
	a.pos[ev.Part] = ev.Off
	return true
}

// checkpoint writes the learner's state if it changed since the last one.
func (a *modelActor) checkpoint(ctx actor.Context, why string) {
	if a.online == nil || a.h.ckpt == nil || a.sinceCheckpoint == 0 || !a.claimed || a.restoreErr != nil {
		return
	}
	if a.h.fencing.Load() {
		return // declared dead: a newer activation may own the model already
	}
	b, err := a.online.MarshalBinary()
	if err != nil {
		a.logger.Error("checkpoint: marshal learner", "err", err)
		return
	}
	c := &state.Checkpoint{Model: a.id, Version: a.desc.Version, Epoch: a.epoch, Node: a.h.nodeName,
		Updates: int64(a.online.Stats().Updates), At: time.Now().UTC(), State: b, Topic: a.topic, Pos: maps.Clone(a.pos)}
	sys, self := ctx.ActorSystem(), ctx.Self()
	failed := func(err error) {
		if err != nil {
			sys.Root.Send(self, checkpointFailed{}) // try again at the next chance
		}
	}
	var acked chan error
	if why == whyJoined {
		// Labels joined to predictions held in memory cannot be replayed
		// from the log: the batch is answered (and its offsets committed)
		// only once the state that learned them is in Kafka.
		acked = make(chan error, 1)
		failed = func(err error) {
			acked <- err
			if err != nil {
				sys.Root.Send(self, checkpointFailed{})
			}
		}
	}
	if err := a.h.ckpt.Save(c, failed); err != nil {
		if errors.Is(err, state.ErrStale) {
			a.logger.Warn("another activation of this model checkpointed newer state; stopping this one", "err", err)
			a.online = nil // never write again
			ctx.Poison(ctx.Self())
			return
		}
		a.logger.Error("checkpoint", "err", err)
		return
	}
	if acked != nil {
		select {
		case err := <-acked:
			if err != nil {
				a.logger.Warn("checkpoint of joined labels not written", "err", err)
			}
		case <-time.After(10 * time.Second):
			a.logger.Warn("checkpoint of joined labels not acknowledged in 10s")
		}
	}
	a.sinceCheckpoint = 0
	a.lastCheckpoint = time.Now()
	a.checkpoints++
	a.logger.Debug("checkpoint", "why", why, "updates", c.Updates)
}

// whyJoined is the checkpoint reason after labels joined to predictions.
const whyJoined = "joined"

// load swaps in the model of d. On failure the previous model (if any)
// keeps serving and the error is reported as last_error.
func (a *modelActor) load(d *serving.Descriptor) {
	if a.replica && d.Learns() {
		return // a learning model has one activation, never replicas
	}
	if a.desc != nil && a.model != nil && !primaryChanged(a.desc, d) {
		// The same version in a newer record: only the variant changed.
		a.desc = d
		a.setVariant(d)
		return
	}
	m, adopted := a.adoptVariant(d)
	var err error
	if !adopted {
		m, err = a.h.reg.Load(d)
	}
	if err != nil {
		a.logger.Warn("model failed to load; previous version keeps serving", "version", d.Version, "err", err)
		a.stats.setLastError(err.Error())
		if a.model == nil {
			a.stats.setState("failed")
			a.stats.mu.Lock()
			a.stats.version, a.stats.format, a.stats.desc = d.Version, d.Format, d.Description
			a.stats.mu.Unlock()
		}
		return
	}
	prev := a.online
	a.desc, a.model, a.schema = d, m, serving.NewSchema(d, m.NumFeatures())
	a.online, _ = m.(*learning.Online)
	if a.online != nil {
		if adopted {
			// A promoted variant keeps what it learned on its own.
		} else if prev != nil {
			// A new version of a learning model keeps what was learned
			// when the learner's shape allows.
			if b, err := prev.MarshalBinary(); err == nil {
				if err := a.online.UnmarshalBinary(b); err != nil {
					a.logger.Info("new version starts learning afresh", "err", err)
				}
			}
		} else if err := a.restore(a.online); err != nil {
			a.restoreErr = err
			a.logger.Warn("learned state could not be restored; this activation stops without serving", "err", err)
		}
	}
	if a.online != nil && a.restoreErr == nil {
		defer a.publishLearning()
	}
	a.tracker = newLabelTracker(d)
	a.feedback = newFeedbackStore(a.h.cfg.FeedbackMax, a.h.cfg.FeedbackTTL)
	a.matched, a.unmatched, a.labelLag = 0, 0, 0
	a.stats.reset(d.Version, d.Format, d.Description, time.Now())
	a.variant = nil // judged against the previous version: starts again
	a.setVariant(d)
	a.logger.Debug("model loaded", "version", d.Version, "format", d.Format)
}

// primaryChanged says whether record d holds another current version than
// the one loaded.
func primaryChanged(loaded, d *serving.Descriptor) bool {
	return d.Version != loaded.Version || !d.CreatedAt.Equal(loaded.CreatedAt) || d.Invalid != loaded.Invalid
}

// changed says whether the table's descriptor is another deploy than the
// one loaded: a new version, or the same version published again with
// other content (each publish stamps its own time).
func changed(loaded, d *serving.Descriptor) bool {
	return primaryChanged(loaded, d) || d.Rev() != loaded.Rev()
}

func (a *modelActor) refresh(ctx actor.Context) {
	d, ok := a.h.descs.Get(a.id)
	if !ok {
		a.logger.Info("model deleted; stopping its actor")
		a.stats.setState("deleted")
		a.online = nil // never checkpoint again; the API wrote the deletion marker
		ctx.Poison(ctx.Self())
		return
	}
	if a.desc == nil || a.model == nil || changed(a.desc, d) {
		a.load(d)
	}
}

func (a *modelActor) predict(ctx actor.Context, req *msg.PredictRequest) {
	if a.replica {
		if d, ok := a.h.descs.Get(a.id); ok && d.Learns() {
			ctx.Respond(errLearns{})
			ctx.Poison(ctx.Self())
			return
		}
	}
	if a.model == nil {
		// The table may have caught up since activation; if it still lacks
		// the model, it may have been deployed through another node a
		// moment ago: catch the table up once before saying unknown.
		d, ok := a.h.descs.Get(a.id)
		if s, canSync := a.h.descs.(syncer); !ok && canSync {
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if s.Sync(sctx) == nil {
				d, ok = a.h.descs.Get(a.id)
			}
			cancel()
		}
		if ok && (a.desc == nil || changed(a.desc, d)) {
			a.load(d)
		}
	}
	if a.restoreErr != nil {
		ctx.Respond(&wire.Error{Code: msg.CodeModelFailed, Message: fmt.Sprintf("model %q: learned state could not be restored: %s", a.id, a.restoreErr)})
		ctx.Poison(ctx.Self()) // the next event activates it again
		return
	}
	if a.model == nil {
		if _, ok := a.h.descs.Get(a.id); !ok {
			ctx.Respond(&wire.Error{Code: msg.CodeUnknownModel, Message: fmt.Sprintf("model %q is not deployed", a.id)})
			ctx.Poison(ctx.Self())
			return
		}
		last := a.stats.lastErr()
		a.stats.fail(msg.CodeModelFailed, last, len(req.Events))
		ctx.Respond(&wire.Error{Code: msg.CodeModelFailed, Message: fmt.Sprintf("model %q could not be loaded: %s", a.id, last)})
		return
	}

	if a.online != nil || hasFeedback(req.Events) {
		a.labelsSeen = true
		a.predictEach(ctx, req)
		return
	}
	start := time.Now()
	n := len(req.Events)
	res := make([]msg.Result, n)
	a.xs, a.idx = a.xs[:0], a.idx[:0]
	for len(a.rows) < n {
		a.rows = append(a.rows, nil)
	}
	for i := range req.Events {
		ev := &req.Events[i]
		res[i].ID = ev.ID
		x, err := a.schema.Vector(&ev.Features, a.rows[i])
		if err != nil {
			res[i].Code, res[i].Error = codeOf(err), err.Error()
			a.stats.fail(res[i].Code, fmt.Sprintf("event %q: %s", ev.ID, err), 1)
			continue
		}
		a.rows[i] = x
		a.xs = append(a.xs, x)
		a.idx = append(a.idx, i)
	}
	if k := len(a.xs); k > 0 {
		if cap(a.out) < k {
			a.out = make([]serving.Prediction, k)
			a.errs = make([]error, k)
		}
		out, errs := a.out[:k], a.errs[:k]
		clear(errs)
		if err := safeBatch(a.model, a.xs, out, errs); err != nil {
			for j := range errs {
				errs[j] = err
			}
		}
		ok := 0
		now := time.Now()
		for j, i := range a.idx {
			if errs[j] != nil {
				res[i].Code, res[i].Error = msg.CodeModelError, errs[j].Error()
				a.stats.fail(msg.CodeModelError, fmt.Sprintf("event %q: %s", res[i].ID, errs[j]), 1)
				continue
			}
			res[i].Prediction = out[j]
			out[j] = serving.Prediction{}
			if res[i].ID != "" && a.labelsSeen {
				a.feedback.put(&pending{id: res[i].ID, pred: res[i].Prediction, at: now})
			}
			ok++
		}
		a.stats.observe(time.Since(start), ok, now)
	}
	versions, shadow := a.scoreVariant(ctx, req, res)
	ctx.Respond(&msg.PredictResponse{
		Model: a.id, Version: a.desc.Version, Node: a.h.nodeName,
		LatencyNS: time.Since(start).Nanoseconds(), Results: res, Versions: versions, Shadow: shadow,
	})
}

func hasFeedback(evs []msg.Event) bool {
	for i := range evs {
		if evs[i].Label != nil || evs[i].NoFeatures {
			return true
		}
	}
	return false
}

// predictEach scores events one at a time, in order, so that a labelled
// event teaches an online model before the next event is scored
// (test-then-train), and joins labels to earlier predictions.
func (a *modelActor) predictEach(ctx actor.Context, req *msg.PredictRequest) {
	start := time.Now()
	res := make([]msg.Result, len(req.Events))
	scored := 0
	labelled, joined := false, false
	for i := range req.Events {
		ev := &req.Events[i]
		r := &res[i]
		r.ID = ev.ID
		now := time.Now()
		if ev.NoFeatures {
			if ev.Label == nil {
				r.Code, r.Error = msg.CodeSchemaMismatch, "event has no features and no label"
				a.stats.fail(r.Code, fmt.Sprintf("event %q: %s", ev.ID, r.Error), 1)
				continue
			}
			r.Feedback = true
			labelled = true
			p, ok := a.feedback.take(ev.ID)
			if ev.ID == "" || !ok {
				a.unmatched++
				continue
			}
			r.Matched = true
			joined = true
			a.matched++
			a.labelLag += now.Sub(p.at)
			if err := a.teach(p.x, ev.Label, p.pred, true); err != nil {
				r.Code, r.Error = msg.CodeSchemaMismatch, err.Error()
				a.stats.fail(r.Code, fmt.Sprintf("event %q: %s", ev.ID, err), 1)
			}
			continue
		}
		x, err := a.schema.Vector(&ev.Features, a.row(0))
		a.rows[0] = x
		if err != nil {
			r.Code, r.Error = codeOf(err), err.Error()
			a.stats.fail(r.Code, fmt.Sprintf("event %q: %s", ev.ID, err), 1)
			continue
		}
		t0 := time.Now()
		pred, err := safePredict(a.model, x)
		if err != nil {
			r.Code, r.Error = msg.CodeModelError, err.Error()
			a.stats.fail(r.Code, fmt.Sprintf("event %q: %s", ev.ID, err), 1)
			continue
		}
		a.stats.observe(time.Since(t0), 1, now)
		scored++
		r.Prediction = pred
		if ev.Label != nil {
			if a.online != nil && !a.fresh(ev) {
				continue // learned before (replayed, or read again after a failover)
			}
			labelled = true
			if err := a.teach(x, ev.Label, pred, false); err != nil {
				r.Code, r.Error = msg.CodeSchemaMismatch, err.Error()
				a.stats.fail(r.Code, fmt.Sprintf("event %q: %s", ev.ID, err), 1)
			}
			continue
		}
		if ev.ID != "" {
			p := &pending{id: ev.ID, pred: pred, at: now}
			if a.online != nil {
				p.x = append([]float64(nil), x...)
			}
			a.feedback.put(p)
		}
	}
	if labelled {
		a.publishLearning()
		switch {
		case joined && a.online != nil:
			a.checkpoint(ctx, whyJoined)
		case a.sinceCheckpoint >= a.h.cfg.CheckpointEvery || (a.sinceCheckpoint > 0 && time.Since(a.lastCheckpoint) >= a.h.cfg.CheckpointInterval):
			a.checkpoint(ctx, "periodic")
		}
	}
	versions, shadow := a.scoreVariant(ctx, req, res)
	ctx.Respond(&msg.PredictResponse{
		Model: a.id, Version: a.desc.Version, Node: a.h.nodeName,
		LatencyNS: time.Since(start).Nanoseconds(), Results: res, Versions: versions, Shadow: shadow,
	})
	_ = scored // counted per event by observe
}

func (a *modelActor) row(i int) []float64 {
	for len(a.rows) <= i {
		a.rows = append(a.rows, nil)
	}
	return a.rows[i]
}

// teach feeds one label: an online model learns from it; any model is
// scored against it. joined says the label came after its prediction.
func (a *modelActor) teach(x []float64, l *msg.Label, pred serving.Prediction, joined bool) error {
	scoreLabel(a.stats, l, pred)
	if a.online == nil {
		a.tracker.add(l, pred)
		return nil
	}
	var y learning.Target
	if a.online.Task() == "regression" {
		v, err := l.Float()
		if err != nil {
			return fmt.Errorf("label %q is not a number (regression model)", l.String())
		}
		y = learning.Value(v)
	} else {
		y = learning.Label(l.String())
	}
	upd, err := a.online.LearnAfter(x, y, pred)
	if err != nil {
		return err
	}
	a.sinceCheckpoint++
	if upd.Drift {
		a.logger.Info("concept drift detected", "updates", a.online.Stats().Updates)
	}
	return nil
}

// scoreLabel records in st's history whether pred got label l right (a
// class) or how far it was (a value).
func scoreLabel(st *Stats, l *msg.Label, pred serving.Prediction) {
	if pred.Value != nil && pred.Label == "" {
		if v, err := l.Float(); err == nil {
			st.label(true, false, math.Abs(*pred.Value-v))
		}
		return
	}
	st.label(false, pred.Label == l.String(), 0)
}

// publishLearning copies the learning statistics into the stats readers
// see (the learner itself belongs to the actor goroutine).
func (a *modelActor) publishLearning() {
	a.feedback.expire(time.Now())
	ls := &msg.LearningStats{
		Matched: a.matched, Unmatched: a.unmatched, Expired: a.feedback.expired, Pending: int64(a.feedback.len()),
		Checkpoints: a.checkpoints, RestoredFrom: a.restoredUpdates,
	}
	if a.matched > 0 {
		ls.LabelLagMS = float64(a.labelLag.Microseconds()) / 1e3 / float64(a.matched)
	}
	if a.online != nil {
		st := a.online.Stats()
		ls.Algorithm, ls.Task = a.online.Algorithm(), st.Task
		ls.Labels, ls.Updates = int64(st.Updates), int64(st.Updates)
		ls.Accuracy, ls.AccuracyRecent, ls.Kappa, ls.KappaT = st.Accuracy, st.AccuracyRecent, st.Kappa, st.KappaT
		ls.MAE, ls.MAERecent = st.MAE, st.MAERecent
		ls.Drifts, ls.LastDrift = int64(st.Drifts), st.LastDrift
		ls.Replayed, ls.Epoch = a.replayed, a.epoch
		if a.h.replay != nil && a.pos != nil {
			for p, next := range a.pos {
				ls.Partition, ls.Position = p, next
			}
		}
		if b, err := a.online.MarshalBinary(); err == nil {
			sum := sha256.Sum256(b)
			ls.StateSHA256 = hex.EncodeToString(sum[:])
		}
	} else {
		a.tracker.fill(ls)
		ls.Labels = a.tracker.n // joined to a prediction, or given with the event
	}
	a.stats.setLearning(ls)
}

// safeBatch and safePredict turn a panicking model into a model error for
// the events it was scoring: the actor answers and keeps serving.
func safeBatch(m serving.Model, xs [][]float64, out []serving.Prediction, errs []error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: the model panicked: %v", serving.ErrModel, r)
		}
	}()
	return m.PredictBatch(xs, out, errs)
}

func safePredict(m serving.Model, x []float64) (p serving.Prediction, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: the model panicked: %v", serving.ErrModel, r)
		}
	}()
	return m.Predict(x)
}

// syncer is a descriptor table that can catch up with the control topic.
type syncer interface {
	Sync(ctx context.Context) error
}

// codeOf maps a serving error to its stable reason code.
func codeOf(err error) string {
	switch {
	case errors.Is(err, serving.ErrNaNRejected):
		return msg.CodeNaNRejected
	case errors.Is(err, serving.ErrSchemaMismatch):
		return msg.CodeSchemaMismatch
	case errors.Is(err, serving.ErrInvalidEvent):
		return msg.CodeDecode
	default:
		return msg.CodeModelError
	}
}
