package model

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actorserve/actorserve/actors/msg"
	"github.com/actorserve/actorserve/learning"
	"github.com/actorserve/actorserve/serving"
)

// A variant is a model's shadow or canary version, run in the same actor
// as the current (primary) version on the same events: a shadow scores a
// copy of every event and its results go to the shadow output only; a
// canary scores every event too (so both versions are judged on the same
// labels) and answers for the share of keys its weight gives it. Each
// keeps its own stats and accuracy; a variant of an online model learns
// from the same labels on its own (in memory: its learned state is not
// checkpointed until it is promoted). Rules, when the rollout has them,
// promote or roll back the variant once it has seen enough labels.
type variant struct {
	desc   *serving.Descriptor
	model  serving.Model
	online *learning.Online
	schema *serving.Schema
	stats  *Stats
	canary bool
	weight float64
	row    []float64

	// mine tracks the variant's predictions against the labels, theirs
	// the primary's against the same labels (paired comparison).
	mine, theirs *labelTracker
	feedback     *feedbackStore
	labels       int64

	served, compared, agreed int64
	// deciding: a rule decision was handed to the publisher and not
	// answered yet; decided: it was published (the record that ends the
	// variant is on its way).
	deciding, decided bool
}

// variantPending is a variant's prediction waiting for its label, with
// the primary's prediction of the same event.
type variantPending struct {
	pred, primary serving.Prediction
	x             []float64
}

// decideDone tells the actor how publishing its rule decision went. Local only.
type decideDone struct {
	version int64
	err     error
}

// Decider publishes a rule decision about a model's variant: promote it,
// or end it (roll it back). It may block; the actor calls it on its own
// goroutine.
type Decider func(ctx context.Context, id string, version int64, promote bool, reason string) error

// setVariant loads, keeps or drops the variant of record d.
func (a *modelActor) setVariant(d *serving.Descriptor) {
	vd := d.Variant
	if vd == nil || vd.Rollout == nil {
		if a.variant != nil {
			a.logger.Info("variant ended", "variant_version", a.variant.desc.Version)
		}
		a.variant = nil
		a.stats.setVariant(nil)
		return
	}
	if v := a.variant; v != nil && v.desc.Version == vd.Version && v.desc.CreatedAt.Equal(vd.CreatedAt) {
		return
	}
	m, err := a.h.reg.Load(vd)
	if err != nil {
		a.logger.Warn("variant failed to load; the current version serves alone", "variant_version", vd.Version, "err", err)
		a.stats.setLastError(fmt.Sprintf("variant version %d: %s", vd.Version, err))
		a.variant = nil
		a.stats.setVariant(nil)
		return
	}
	v := &variant{desc: vd, model: m, schema: serving.NewSchema(vd, m.NumFeatures()),
		canary: vd.Rollout.Mode == serving.RolloutCanary, weight: vd.Rollout.Weight,
		mine: newLabelTracker(vd), theirs: newLabelTracker(a.desc),
		feedback: newFeedbackStore(a.h.cfg.FeedbackMax, a.h.cfg.FeedbackTTL),
		stats:    newStats(a.id, a.h.nodeName)}
	v.online, _ = m.(*learning.Online)
	v.stats.reset(vd.Version, vd.Format, vd.Description, time.Now())
	v.stats.setRole(vd.Rollout.Mode, vd.Rollout.Weight)
	a.variant = v
	a.stats.setVariant(v.stats)
	a.logger.Info("variant loaded", "mode", vd.Rollout.Mode, "variant_version", vd.Version, "weight", vd.Rollout.Weight)
}

// adoptVariant hands the variant's loaded model to a promotion of it:
// an online variant keeps what it learned on its own.
func (a *modelActor) adoptVariant(d *serving.Descriptor) (serving.Model, bool) {
	v := a.variant
	if v == nil || v.desc.Version != d.Version || !v.desc.CreatedAt.Equal(d.CreatedAt) {
		return nil, false
	}
	return v.model, true
}

// scoreVariant runs the variant on a request the primary answered in res:
// it scores every event, compares, joins and learns labels, and (a
// canary) answers for its keys. It returns what the response carries.
func (a *modelActor) scoreVariant(ctx actor.Context, req *msg.PredictRequest, res []msg.Result) (versions []int64, shadow *msg.ShadowResults) {
	v := a.variant
	if v == nil {
		return nil, nil
	}
	if v.canary {
		versions = make([]int64, len(res))
	} else {
		shadow = &msg.ShadowResults{Version: v.desc.Version, Results: make([]msg.Result, len(res))}
	}
	labelled := false
	for i := range req.Events {
		ev := &req.Events[i]
		var sr msg.Result
		sr.ID = ev.ID
		func() {
			if ev.NoFeatures {
				sr.Feedback = true
				if ev.Label == nil || ev.ID == "" {
					return
				}
				p, ok := v.feedback.take(ev.ID)
				if !ok {
					return
				}
				sr.Matched = true
				labelled = true
				vp := p.variant
				a.teachVariant(vp.x, ev.Label, vp.pred, vp.primary)
				return
			}
			x, err := v.schema.Vector(&ev.Features, v.row)
			v.row = x
			if err != nil {
				sr.Code, sr.Error = codeOf(err), err.Error()
				v.stats.fail(sr.Code, fmt.Sprintf("event %q: %s", ev.ID, err), 1)
				return
			}
			t0 := time.Now()
			pred, err := safePredict(v.model, x)
			if err != nil {
				sr.Code, sr.Error = msg.CodeModelError, err.Error()
				v.stats.fail(sr.Code, fmt.Sprintf("event %q: %s", ev.ID, err), 1)
				return
			}
			v.stats.observe(time.Since(t0), 1, t0)
			sr.Prediction = pred
			primary := res[i].Prediction
			primaryOK := res[i].Code == "" && !res[i].Feedback
			if primaryOK {
				v.compared++
				if agree(primary, pred) {
					v.agreed++
				}
			}
			switch {
			case ev.Label != nil && primaryOK:
				labelled = true
				a.teachVariant(x, ev.Label, pred, primary)
			case ev.ID != "" && primaryOK && (a.labelsSeen || v.online != nil):
				vp := &variantPending{pred: pred, primary: primary}
				if v.online != nil {
					vp.x = append([]float64(nil), x...)
				}
				v.feedback.put(&pending{id: ev.ID, at: t0, variant: vp})
			}
			if v.canary && serving.CanaryBucket(ev.CanaryKey(), v.weight) {
				res[i].Prediction, res[i].Code, res[i].Error = pred, "", ""
				versions[i] = v.desc.Version
				v.served++
			}
		}()
		if shadow != nil {
			shadow.Results[i] = sr
		}
	}
	v.stats.setAgreement(v.served, v.compared, v.agreed)
	if labelled {
		a.publishVariantLearning()
		a.applyRules(ctx)
	}
	return versions, shadow
}

// agree says whether two predictions are the same answer: the same label,
// or values within 1e-6 relative.
func agree(a, b serving.Prediction) bool {
	if a.Label != "" || b.Label != "" {
		return a.Label == b.Label
	}
	if a.Value == nil || b.Value == nil {
		return a.Value == nil && b.Value == nil
	}
	return math.Abs(*a.Value-*b.Value) <= 1e-6*math.Max(1, math.Abs(*a.Value))
}

// teachVariant feeds one label to the variant (which learns from it when
// online) and scores both versions' predictions of the event against it.
func (a *modelActor) teachVariant(x []float64, l *msg.Label, pred, primary serving.Prediction) {
	v := a.variant
	v.labels++
	scoreLabel(v.stats, l, pred)
	v.mine.add(l, pred)
	v.theirs.add(l, primary)
	if v.online == nil || x == nil {
		return
	}
	var y learning.Target
	if v.online.Task() == "regression" {
		f, err := l.Float()
		if err != nil {
			return
		}
		y = learning.Value(f)
	} else {
		y = learning.Label(l.String())
	}
	_, _ = v.online.LearnAfter(x, y, pred)
}

func (a *modelActor) publishVariantLearning() {
	v := a.variant
	ls := &msg.LearningStats{Labels: v.labels, Matched: v.labels, Pending: int64(v.feedback.len()), Expired: v.feedback.expired}
	v.mine.fill(ls)
	if v.online != nil {
		st := v.online.Stats()
		ls.Algorithm, ls.Updates = v.online.Algorithm(), int64(st.Updates)
	}
	v.stats.setLearning(ls)
}

// applyRules decides the variant's fate once it has seen enough labels.
func (a *modelActor) applyRules(ctx actor.Context) {
	v := a.variant
	rules := v.desc.Rollout.Rules
	if rules == nil || v.deciding || v.decided || v.labels < rules.Labels() || a.h.cfg.Decide == nil {
		return
	}
	promote, reason := judge(v, rules)
	on := func(b *bool) bool { return b == nil || *b }
	if promote && !on(rules.Promote) || !promote && !on(rules.Rollback) {
		return
	}
	v.deciding = true
	version, id, decide, self, sys := v.desc.Version, a.id, a.h.cfg.Decide, ctx.Self(), ctx.ActorSystem()
	a.logger.Info("rollout rules decided", "variant_version", version, "promote", promote, "reason", reason)
	go func() {
		dctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		err := decide(dctx, id, version, promote, reason)
		sys.Root.Send(self, decideDone{version: version, err: err})
	}()
}

// judge compares the variant with the primary on the labels both saw.
func judge(v *variant, r *serving.Rules) (promote bool, reason string) {
	var mine, theirs msg.LearningStats
	v.mine.fill(&mine)
	v.theirs.fill(&theirs)
	st := v.stats.Snapshot()
	errRate := 0.0
	if n := st.Usage + st.Errors; n > 0 {
		errRate = float64(st.Errors) / float64(n)
	}
	var fails []string
	var figures string
	if v.mine.regression {
		figures = fmt.Sprintf("MAE %.4g vs current %.4g over the last %d labels", mine.MAERecent, theirs.MAERecent, min(v.labels, 1000))
		if mine.MAERecent > theirs.MAERecent+r.MaxAccuracyDrop {
			fails = append(fails, fmt.Sprintf("MAE above current + %g", r.MaxAccuracyDrop))
		}
	} else {
		figures = fmt.Sprintf("accuracy %.4f vs current %.4f over the last %d labels", mine.AccuracyRecent, theirs.AccuracyRecent, min(v.labels, 1000))
		if mine.AccuracyRecent < theirs.AccuracyRecent-r.MaxAccuracyDrop {
			fails = append(fails, fmt.Sprintf("accuracy below current - %g", r.MaxAccuracyDrop))
		}
	}
	figures += fmt.Sprintf(", p99 %.3g ms, error rate %.3g", st.P99MS, errRate)
	if r.MaxP99MS > 0 && st.P99MS > r.MaxP99MS {
		fails = append(fails, fmt.Sprintf("p99 above %g ms", r.MaxP99MS))
	}
	if r.MaxErrorRate > 0 && errRate > r.MaxErrorRate {
		fails = append(fails, fmt.Sprintf("error rate above %g", r.MaxErrorRate))
	}
	if len(fails) == 0 {
		return true, "rules held: " + figures
	}
	return false, fmt.Sprintf("rules failed (%s): %s", joinComma(fails), figures)
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}

// decided records how publishing a rule decision went: on failure the
// rules try again at the next label.
func (a *modelActor) decidedVariant(m decideDone) {
	v := a.variant
	if v == nil || v.desc.Version != m.version {
		return
	}
	v.deciding = false
	if m.err != nil {
		a.logger.Warn("rollout decision not published; trying again at the next label", "variant_version", m.version, "err", m.err)
		return
	}
	v.decided = true
}
