package model

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"

	"github.com/actorserve/actorserve/actors/msg"
	"github.com/actorserve/actorserve/cluster/wire"
	"github.com/actorserve/actorserve/serving"
)

// refresh tells a local model actor that its descriptor changed or was
// deleted; the actor re-reads the table. Local only: never crosses nodes.
type refresh struct{}

// modelActor is the grain of one deployed model.
type modelActor struct {
	h      *Host
	id     string
	logger *slog.Logger

	desc   *serving.Descriptor
	model  serving.Model
	schema *serving.Schema
	stats  *Stats

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
	case *msg.PredictRequest:
		a.predict(ctx, m)
	case refresh:
		a.refresh(ctx)
	case *actor.ReceiveTimeout:
		a.logger.Debug("passivating idle model")
		ctx.Poison(ctx.Self())
	case *actor.Stopping:
		if a.stats != nil {
			a.h.unregister(a.id, ctx.Self())
		}
	}
}

func (a *modelActor) init(ctx actor.Context, id string) {
	a.id = id
	a.logger = a.h.logger.With("model", id)
	a.stats = newStats(id, a.h.nodeName)
	a.h.register(id, ctx.Self(), a.stats)
	if a.h.cfg.IdleTimeout > 0 {
		ctx.SetReceiveTimeout(a.h.cfg.IdleTimeout)
	}
	if d, ok := a.h.descs.Get(id); ok {
		a.load(d)
	}
}

// load swaps in the model of d. On failure the previous model (if any)
// keeps serving and the error is reported as last_error.
func (a *modelActor) load(d *serving.Descriptor) {
	m, err := a.h.reg.Load(d)
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
	a.desc, a.model, a.schema = d, m, serving.NewSchema(d, m.NumFeatures())
	a.stats.reset(d.Version, d.Format, d.Description, time.Now())
	a.logger.Debug("model loaded", "version", d.Version, "format", d.Format)
}

func (a *modelActor) refresh(ctx actor.Context) {
	d, ok := a.h.descs.Get(a.id)
	if !ok {
		a.logger.Info("model deleted; stopping its actor")
		a.stats.setState("deleted")
		ctx.Poison(ctx.Self())
		return
	}
	if a.desc == nil || d.Version != a.desc.Version || a.model == nil {
		a.load(d)
	}
}

func (a *modelActor) predict(ctx actor.Context, req *msg.PredictRequest) {
	if a.model == nil {
		// The table may have caught up since activation.
		if d, ok := a.h.descs.Get(a.id); ok && (a.desc == nil || d.Version != a.desc.Version) {
			a.load(d)
		}
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

	start := time.Now()
	n := len(req.Events)
	res := make([]msg.Result, n)
	a.xs, a.idx = a.xs[:0], a.idx[:0]
	for len(a.rows) < n {
		a.rows = append(a.rows, nil)
	}
	failed := 0
	for i := range req.Events {
		ev := &req.Events[i]
		res[i].ID = ev.ID
		x, err := a.schema.Vector(&ev.Features, a.rows[i])
		if err != nil {
			res[i].Code, res[i].Error = codeOf(err), err.Error()
			a.stats.fail(res[i].Code, fmt.Sprintf("event %q: %s", ev.ID, err), 1)
			failed++
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
		if err := a.model.PredictBatch(a.xs, out, errs); err != nil {
			for j := range errs {
				errs[j] = err
			}
		}
		ok := 0
		for j, i := range a.idx {
			if errs[j] != nil {
				res[i].Code, res[i].Error = msg.CodeModelError, errs[j].Error()
				a.stats.fail(msg.CodeModelError, fmt.Sprintf("event %q: %s", res[i].ID, errs[j]), 1)
				continue
			}
			res[i].Prediction = out[j]
			out[j] = serving.Prediction{}
			ok++
		}
		a.stats.observe(time.Since(start), ok, time.Now())
	}
	ctx.Respond(&msg.PredictResponse{
		Model: a.id, Version: a.desc.Version, Node: a.h.nodeName,
		LatencyNS: time.Since(start).Nanoseconds(), Results: res,
	})
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
