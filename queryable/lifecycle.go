package queryable

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/actorserve/actorserve/actors/msg"
	"github.com/actorserve/actorserve/serving"
)

// Model lifecycle over HTTP: the versions a model keeps, rollback,
// promotion and ending of a shadow or canary. Every change is one control
// record computed from the current one (serving.Rollback, Promote,
// EndVariant) and published with the next revision; see Transition.

// keepVersions is how many versions a model keeps loadable.
func (s *Server) keepVersions() int {
	if s.cfg.KeepVersions > 0 {
		return s.cfg.KeepVersions
	}
	return serving.DefaultKeepVersions
}

// sameRecord says whether got, read back from the control topic, is the
// record rec this node published (and not one another node published at
// the same revision).
func sameRecord(got, rec *serving.Descriptor) bool {
	if got.Rev() != rec.Rev() || got.Version != rec.Version || len(got.Decisions) == 0 || len(rec.Decisions) == 0 {
		return false
	}
	a, b := got.Decisions[len(got.Decisions)-1], rec.Decisions[len(rec.Decisions)-1]
	return a.At.Equal(b.At) && a.Action == b.Action && a.To == b.To && a.From == b.From
}

// ErrNotDeployed is Transition's error for a model that is not deployed.
var ErrNotDeployed = errors.New("model is not deployed")

// UnconfirmedError is Transition's error for a record the broker
// acknowledged that was not read back before the context ended: it is
// durable and every node applies it, unless another node published a
// record of the same revision just before it.
type UnconfirmedError struct {
	Record *serving.Descriptor // the record published
	Offset int64               // its offset in the control topic
	Err    error               // why the read-back ended
}

func (e *UnconfirmedError) Error() string {
	return fmt.Sprintf("model %q: revision %d was published at offset %d of the control topic but not read back: %v", e.Record.ID, e.Record.Rev(), e.Offset, e.Err)
}

func (e *UnconfirmedError) Unwrap() error { return e.Err }

// Transition applies next to a model's current record and publishes the
// result, as a compare-and-set over the control topic: it reads the topic
// up to date, computes the record, publishes it and reads it back; when
// another node published a record of the same revision first, it starts
// again from that one. It returns the record that won.
func Transition(ctx context.Context, table Table, pub Publisher, id string, next func(cur *serving.Descriptor) (*serving.Descriptor, error)) (*serving.Descriptor, error) {
	return transition(ctx, 0, table, pub, id, next)
}

// transition is Transition with the read-back of a published record
// bounded by confirm, from the publish on, rather than by what is left of
// ctx (0: by ctx).
func transition(ctx context.Context, confirm time.Duration, table Table, pub Publisher, id string, next func(cur *serving.Descriptor) (*serving.Descriptor, error)) (*serving.Descriptor, error) {
	for attempt := 1; ; attempt++ {
		if err := table.Sync(ctx); err != nil {
			return nil, fmt.Errorf("read the control topic: %w", err)
		}
		cur, ok := table.Get(id)
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrNotDeployed, id)
		}
		rec, err := next(cur)
		if err != nil {
			return nil, err
		}
		b, err := rec.Encode()
		if err != nil {
			return nil, err
		}
		offset, err := pub.Put(ctx, id, b)
		if err != nil {
			return nil, fmt.Errorf("publish model %q to the control topic: %w", id, err)
		}
		rctx, rcancel := ctx, context.CancelFunc(func() {})
		if confirm > 0 {
			rctx, rcancel = context.WithTimeout(context.WithoutCancel(ctx), confirm)
		}
		err = table.Sync(rctx)
		rcancel()
		if err != nil {
			return nil, &UnconfirmedError{Record: rec, Offset: offset, Err: err}
		}
		if got, ok := table.Get(id); ok && sameRecord(got, rec) {
			return got, nil
		}
		if attempt == maxDeployAttempts {
			return nil, fmt.Errorf("%w: model %q changed through other nodes %d times while this change was made; try again", serving.ErrLifecycle, id, attempt)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(attempt) * time.Duration(rand.Int64N(int64(10*time.Millisecond)))):
		}
	}
}

// lifecycleAnswer is the answer of rollback, promote and end-variant.
type lifecycleAnswer struct {
	ID       string            `json:"id"`
	Version  int64             `json:"version"`
	Revision int64             `json:"revision"`
	Variant  *variantInfo      `json:"variant,omitempty"`
	Decision *serving.Decision `json:"decision,omitempty"`
}

func (s *Server) transitionHTTP(w http.ResponseWriter, r *http.Request, next func(cur *serving.Descriptor, now time.Time) (*serving.Descriptor, error)) {
	id := r.PathValue("id")
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	got, err := transition(ctx, s.confirmTimeout(), s.d.Table, s.d.Publisher, id, func(cur *serving.Descriptor) (*serving.Descriptor, error) {
		return next(cur, time.Now().UTC())
	})
	var unconfirmed *UnconfirmedError
	switch {
	case errors.As(err, &unconfirmed) && r.Context().Err() == nil:
		s.answerPending(w, "model lifecycle", id, unconfirmed.Record.Version, unconfirmed) // published: not a failure
		return
	case errors.Is(err, ErrNotDeployed):
		writeError(w, http.StatusNotFound, "unknown_model", fmt.Sprintf("model %q is not deployed", id))
		return
	case errors.Is(err, serving.ErrLifecycle):
		writeError(w, http.StatusConflict, "lifecycle_conflict", err.Error())
		return
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "publish_failed", err.Error())
		return
	}
	ans := lifecycleAnswer{ID: id, Version: got.Version, Revision: got.Rev(), Variant: variantOf(got)}
	if n := len(got.Decisions); n > 0 {
		ans.Decision = &got.Decisions[n-1]
	}
	s.logger.Info("model lifecycle", "model", id, "version", got.Version, "revision", got.Rev(), "decision", ans.Decision)
	writeJSON(w, http.StatusOK, ans)
}

// queryVersion reads the optional version parameter name.
func queryVersion(w http.ResponseWriter, r *http.Request, name string) (int64, bool) {
	q := r.URL.Query().Get(name)
	if q == "" {
		return 0, true
	}
	v, err := strconv.ParseInt(q, 10, 64)
	if err != nil || v <= 0 || v > serving.MaxVersion {
		writeError(w, http.StatusBadRequest, "invalid_parameter", fmt.Sprintf("%s=%q is not a version (an integer in 1..%d)", name, q, int64(serving.MaxVersion)))
		return 0, false
	}
	return v, true
}

// lifecycleOp answers a lifecycle route: POST /v1/models/{id}/rollback[?to=V]
// (serving.Rollback), POST .../promote[?version=V] (serving.Promote) and
// DELETE .../variant[?version=V] (serving.EndVariant); param names the
// optional version parameter.
func (s *Server) lifecycleOp(param string, op func(cur *serving.Descriptor, v int64, keep int, by, reason string, now time.Time) (*serving.Descriptor, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, ok := queryVersion(w, r, param)
		if !ok {
			return
		}
		s.transitionHTTP(w, r, func(cur *serving.Descriptor, now time.Time) (*serving.Descriptor, error) {
			return op(cur, v, s.keepVersions(), "api", "requested", now)
		})
	}
}

// variantInfo describes a model's shadow or canary.
type variantInfo struct {
	Version int64          `json:"version"`
	Mode    string         `json:"mode"`
	Weight  float64        `json:"weight,omitempty"`
	Rules   *serving.Rules `json:"rules,omitempty"`
}

func variantOf(d *serving.Descriptor) *variantInfo {
	if d.Variant == nil || d.Variant.Rollout == nil {
		return nil
	}
	ro := d.Variant.Rollout
	return &variantInfo{Version: d.Variant.Version, Mode: ro.Mode, Weight: ro.Weight, Rules: ro.Rules}
}

// versionRow is one kept version in GET /v1/models/{id}/versions.
type versionRow struct {
	Version     int64     `json:"version"`
	Role        string    `json:"role"` // current, shadow, canary, earlier
	Format      string    `json:"format"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
	// Stats are the version's live figures where it runs (the current
	// version and a variant), or those kept from when it last served.
	Stats *msg.ModelStats `json:"stats,omitempty"`
}

type versionsAnswer struct {
	ID        string             `json:"id"`
	Current   int64              `json:"current"`
	Revision  int64              `json:"revision"`
	Keep      int                `json:"keep"`
	Variant   *variantInfo       `json:"variant,omitempty"`
	Versions  []versionRow       `json:"versions"`
	Decisions []serving.Decision `json:"decisions"`
}

// GET /v1/models/{id}/versions
func (s *Server) versions(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	d, ok := s.requireModel(w, id)
	if !ok {
		return
	}
	var st *msg.ModelStats
	if row, err := s.modelStats(r.Context(), id); err == nil {
		st = row
	}
	ans := versionsAnswer{ID: id, Current: d.Version, Revision: d.Rev(), Keep: s.keepVersions(), Variant: variantOf(d),
		Decisions: d.Decisions}
	if ans.Decisions == nil {
		ans.Decisions = []serving.Decision{}
	}
	row := func(v *serving.Descriptor, role string) versionRow {
		out := versionRow{Version: v.Version, Role: role, Format: v.Format, Description: v.Description, CreatedAt: v.CreatedAt}
		if st != nil {
			switch {
			case role == "current" && st.Version == v.Version:
				c := *st
				c.Previous, c.Variant = nil, nil
				out.Stats = &c
			case st.Variant != nil && st.Variant.Version == v.Version:
				out.Stats = st.Variant
			case st.Previous != nil && st.Previous.Version == v.Version:
				out.Stats = st.Previous
			}
		}
		return out
	}
	ans.Versions = append(ans.Versions, row(d, "current"))
	if d.Variant != nil && d.Variant.Rollout != nil {
		ans.Versions = append(ans.Versions, row(d.Variant, d.Variant.Rollout.Mode))
	}
	for _, h := range d.History {
		ans.Versions = append(ans.Versions, row(h, "earlier"))
	}
	writeJSON(w, http.StatusOK, ans)
}

// modelStats returns the cluster's merged stats of one model (nil when no
// node hosts an actor of it).
func (s *Server) modelStats(ctx context.Context, id string) (*msg.ModelStats, error) {
	g := s.gather(ctx, []string{id})
	rows := g.byID[id]
	if len(rows) == 0 {
		return nil, fmt.Errorf("model %q is not active", id)
	}
	m := merge(rows)
	m.Sketch, m.Buckets = nil, nil
	return &m, nil
}

// redacted returns a copy of d fit to show: inline model data over 4 KiB
// left out (it is in the control topic), and a remote model's literal
// header values hidden (references such as "env:NAME" stay: they are not
// secrets; literal credentials are refused at deploy, but a record written
// by an older build may hold some).
func redacted(d *serving.Descriptor) *serving.Descriptor {
	c := *d
	if len(c.Data) > 4096 {
		c.Data = nil
	}
	if c.Format == "remote" && len(c.Data) > 0 {
		var m map[string]json.RawMessage
		if json.Unmarshal(c.Data, &m) == nil {
			var hs map[string]string
			if raw, ok := m["headers"]; ok && json.Unmarshal(raw, &hs) == nil && len(hs) > 0 {
				for k, v := range hs {
					if !strings.HasPrefix(v, "env:") {
						hs[k] = "[redacted]"
					}
				}
				m["headers"], _ = json.Marshal(hs)
				c.Data, _ = json.Marshal(m)
			}
		}
	}
	if c.Variant != nil {
		c.Variant = redacted(c.Variant)
	}
	if c.History != nil {
		c.History = make([]*serving.Descriptor, len(d.History))
		for i, h := range d.History {
			c.History[i] = redacted(h)
		}
	}
	return &c
}
