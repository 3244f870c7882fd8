package serving

import (
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"time"
)

// A model's lifecycle lives in its one control record: the current
// (primary) version, an optional variant beside it (a shadow that scores a
// copy of every event, or a canary that serves a share of the keys), the
// earlier versions kept loadable for rollback, and the decisions that led
// there. Every change is a whole new record computed from the current one
// with the functions below, published with the next revision, so every
// node that reads the control topic agrees on it, a restart keeps it, and
// topic compaction (which keeps only a model's latest record) loses
// nothing.

// Rollout modes.
const (
	RolloutShadow = "shadow"
	RolloutCanary = "canary"
)

// Lifecycle limits.
const (
	// DefaultKeepVersions is how many versions a model keeps loadable
	// (the current one included) unless the node is configured otherwise.
	DefaultKeepVersions = 3
	// MaxKeepVersions bounds the versions a model keeps.
	MaxKeepVersions = 32
	// maxDecisions is how many decisions a record keeps.
	maxDecisions = 16
	// historyBytes bounds the inline model data a record carries for its
	// history; the oldest versions are dropped first beyond it.
	historyBytes = 8 << 20
	// DefaultMinLabels is the labels a variant needs before its rules decide.
	DefaultMinLabels = 100
)

// Rollout makes a deployed version a variant of the model's current one.
type Rollout struct {
	Mode string `json:"mode"` // "shadow" | "canary"
	// Weight is the share of event keys a canary serves, in (0, 1).
	Weight float64 `json:"weight,omitempty"`
	// Rules, when set, promote or roll back the variant on live figures.
	Rules *Rules `json:"rules,omitempty"`
}

// Rules decide a variant's fate from the labels both versions received.
// Once the variant has at least MinLabels labels, it is promoted when its
// accuracy over the recent labels is at least the primary's minus
// MaxAccuracyDrop (its mean absolute error at most the primary's plus
// MaxAccuracyDrop for regressions), its p99 latency is at most MaxP99MS
// (when set) and its error rate at most MaxErrorRate (when set); otherwise
// it is rolled back. Promote and Rollback turn the two outcomes off
// (nil: on).
type Rules struct {
	MinLabels       int64   `json:"min_labels,omitempty"`
	MaxAccuracyDrop float64 `json:"max_accuracy_drop,omitempty"`
	MaxP99MS        float64 `json:"max_p99_ms,omitempty"`
	MaxErrorRate    float64 `json:"max_error_rate,omitempty"`
	Promote         *bool   `json:"promote,omitempty"`
	Rollback        *bool   `json:"rollback,omitempty"`
}

// Labels is the number of labels a variant needs before the rules decide.
func (r *Rules) Labels() int64 {
	if r == nil || r.MinLabels <= 0 {
		return DefaultMinLabels
	}
	return r.MinLabels
}

// Decision is one lifecycle change of a model, with who made it and why.
type Decision struct {
	At     time.Time `json:"at"`
	Action string    `json:"action"` // deploy, shadow, canary, promote, rollback, end_variant
	From   int64     `json:"from,omitempty"`
	To     int64     `json:"to,omitempty"`
	By     string    `json:"by,omitempty"` // "api", or "rules@<node>"
	Reason string    `json:"reason,omitempty"`
}

// Lifecycle actions.
const (
	ActionDeploy     = "deploy"
	ActionPromote    = "promote"
	ActionRollback   = "rollback"
	ActionEndVariant = "end_variant"
)

// ErrLifecycle wraps lifecycle requests that do not apply to the model's
// current state (no variant to promote, no such version to roll back to).
var ErrLifecycle = fmt.Errorf("lifecycle")

// Rev is the record's revision: Revision, or Version for records written
// before revisions existed.
func (d *Descriptor) Rev() int64 {
	if d.Revision > 0 {
		return d.Revision
	}
	return d.Version
}

// TopVersion is the highest version the record knows (current, variant,
// history); a new version goes above it, so versions stay unique.
func (d *Descriptor) TopVersion() int64 {
	top := d.Version
	if d.Variant != nil {
		top = max(top, d.Variant.Version)
	}
	for _, h := range d.History {
		top = max(top, h.Version)
	}
	return top
}

// Bare returns a copy of one version without the lifecycle fields.
func (d *Descriptor) Bare() *Descriptor {
	c := *d
	c.Revision, c.Variant, c.History, c.Decisions, c.Unknown = 0, nil, nil, nil, nil
	return &c
}

// CheckDeployRequest refuses the fields the cluster sets when a deploy
// request carries them, and checks a rollout.
func (d *Descriptor) CheckDeployRequest() error {
	switch {
	case d.Revision != 0:
		return fmt.Errorf("%w: revision: set by the cluster, not by a deploy", ErrInvalidDescriptor)
	case d.Variant != nil:
		return fmt.Errorf("%w: variant: set by the cluster; deploy a version with \"rollout\" instead", ErrInvalidDescriptor)
	case d.History != nil:
		return fmt.Errorf("%w: history: set by the cluster, not by a deploy", ErrInvalidDescriptor)
	case d.Decisions != nil:
		return fmt.Errorf("%w: decisions: set by the cluster, not by a deploy", ErrInvalidDescriptor)
	}
	if r := d.Rollout; r != nil {
		switch r.Mode {
		case RolloutShadow:
			if r.Weight != 0 {
				return fmt.Errorf("%w: rollout.weight: a shadow serves nothing; weight is for canaries", ErrInvalidDescriptor)
			}
		case RolloutCanary:
			if !(r.Weight > 0 && r.Weight < 1) {
				return fmt.Errorf("%w: rollout.weight: %v is outside (0, 1); a canary serves that share of the keys", ErrInvalidDescriptor, r.Weight)
			}
		default:
			return fmt.Errorf("%w: rollout.mode: %q, want %q or %q", ErrInvalidDescriptor, r.Mode, RolloutShadow, RolloutCanary)
		}
		if ru := r.Rules; ru != nil {
			for name, v := range map[string]float64{"max_accuracy_drop": ru.MaxAccuracyDrop, "max_p99_ms": ru.MaxP99MS, "max_error_rate": ru.MaxErrorRate} {
				if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
					return fmt.Errorf("%w: rollout.rules.%s: %v, want a finite number >= 0", ErrInvalidDescriptor, name, v)
				}
			}
			if ru.MinLabels < 0 {
				return fmt.Errorf("%w: rollout.rules.min_labels: %d is negative", ErrInvalidDescriptor, ru.MinLabels)
			}
		}
	}
	return nil
}

// NextDeploy returns the record that deploys d over cur (nil: the model is
// new), keeping keep versions. d's version must be set and above
// cur.TopVersion(). Without a rollout d becomes current and cur joins the
// history (a variant ends); with one, cur stays current and d becomes its
// variant.
func NextDeploy(cur, d *Descriptor, keep int, by string) (*Descriptor, error) {
	d = d.Bare()
	now := d.CreatedAt
	if now.IsZero() {
		now = time.Now().UTC()
	}
	if cur == nil {
		d.Rollout = nil
		d.Revision = 1
		if d.Version > 1 {
			d.Revision = d.Version
		}
		d.Decisions = []Decision{{At: now, Action: ActionDeploy, To: d.Version, By: by}}
		return d, nil
	}
	if top := cur.TopVersion(); d.Version <= top {
		return nil, fmt.Errorf("%w: model %q: version %d is not above %d, the highest version its record keeps", ErrLifecycle, cur.ID, d.Version, top)
	}
	if d.Rollout != nil {
		next := *cur
		next.Variant = d
		next.Revision = cur.Rev() + 1
		next.Decisions = appendDecision(cur.Decisions, Decision{At: now, Action: d.Rollout.Mode, From: cur.Version, To: d.Version, By: by,
			Reason: rolloutReason(d.Rollout)})
		return &next, nil
	}
	d.Revision = cur.Rev() + 1
	d.History = pushHistory(cur.Bare(), cur.History, keep)
	if cur.Variant != nil {
		d.Decisions = appendDecision(cur.Decisions, Decision{At: now, Action: ActionEndVariant, From: cur.Variant.Version, By: by,
			Reason: fmt.Sprintf("version %d deployed", d.Version)})
	} else {
		d.Decisions = cur.Decisions
	}
	d.Decisions = appendDecision(d.Decisions, Decision{At: now, Action: ActionDeploy, From: cur.Version, To: d.Version, By: by})
	return d, nil
}

func rolloutReason(r *Rollout) string {
	if r.Mode == RolloutCanary {
		return fmt.Sprintf("canary serving %.4g%% of keys", r.Weight*100)
	}
	return "shadow scoring a copy of every event"
}

// Rollback returns the record that makes version to (0: the most recent
// earlier version) current again. A variant ends.
func Rollback(cur *Descriptor, to int64, keep int, by, reason string, now time.Time) (*Descriptor, error) {
	if len(cur.History) == 0 {
		hint := ""
		if cur.Variant != nil && cur.Variant.Rollout != nil {
			hint = fmt.Sprintf("; to roll back its %s (version %d), end it: DELETE /v1/models/%s/variant", cur.Variant.Rollout.Mode, cur.Variant.Version, cur.ID)
		}
		return nil, fmt.Errorf("%w: model %q has no earlier version to roll back to (it keeps %d)%s", ErrLifecycle, cur.ID, keep, hint)
	}
	k := 0
	if to != 0 {
		k = slices.IndexFunc(cur.History, func(h *Descriptor) bool { return h.Version == to })
		if k < 0 {
			if to == cur.Version {
				return nil, fmt.Errorf("%w: model %q is at version %d already", ErrLifecycle, cur.ID, to)
			}
			return nil, fmt.Errorf("%w: model %q keeps versions %v; %d is not among them", ErrLifecycle, cur.ID, cur.keptVersions(), to)
		}
	}
	next := cur.History[k].Bare()
	next.Revision = cur.Rev() + 1
	next.History = pushHistory(cur.Bare(), slices.Delete(slices.Clone(cur.History), k, k+1), keep)
	next.Decisions = cur.Decisions
	if cur.Variant != nil {
		next.Decisions = appendDecision(next.Decisions, Decision{At: now, Action: ActionEndVariant, From: cur.Variant.Version, By: by,
			Reason: fmt.Sprintf("rolled back to version %d", next.Version)})
	}
	next.Decisions = appendDecision(next.Decisions, Decision{At: now, Action: ActionRollback, From: cur.Version, To: next.Version, By: by, Reason: reason})
	return next, nil
}

func (d *Descriptor) keptVersions() []int64 {
	v := []int64{d.Version}
	for _, h := range d.History {
		v = append(v, h.Version)
	}
	return v
}

// Promote returns the record that makes the variant current; the old
// current version joins the history. version, when not 0, must be the
// variant's (a rule that decided on one variant never promotes another).
func Promote(cur *Descriptor, version int64, keep int, by, reason string, now time.Time) (*Descriptor, error) {
	if cur.Variant == nil || (version != 0 && cur.Variant.Version != version) {
		return nil, fmt.Errorf("%w: model %q has no variant%s to promote", ErrLifecycle, cur.ID, versionSuffix(version))
	}
	next := cur.Variant.Bare()
	next.Rollout = nil
	next.Revision = cur.Rev() + 1
	next.History = pushHistory(cur.Bare(), cur.History, keep)
	next.Decisions = appendDecision(cur.Decisions, Decision{At: now, Action: ActionPromote, From: cur.Version, To: next.Version, By: by, Reason: reason})
	return next, nil
}

// EndVariant returns the record without its variant (the variant rolled
// back); the variant joins the history so it can still be promoted by
// a rollback to it.
func EndVariant(cur *Descriptor, version int64, keep int, by, reason string, now time.Time) (*Descriptor, error) {
	if cur.Variant == nil || (version != 0 && cur.Variant.Version != version) {
		return nil, fmt.Errorf("%w: model %q has no variant%s to end", ErrLifecycle, cur.ID, versionSuffix(version))
	}
	next := *cur
	v := cur.Variant.Bare()
	v.Rollout = nil
	next.Variant = nil
	next.Revision = cur.Rev() + 1
	next.History = pushHistory(v, cur.History, keep)
	next.Decisions = appendDecision(cur.Decisions, Decision{At: now, Action: ActionRollback, From: cur.Variant.Version, To: cur.Version, By: by, Reason: reason})
	return &next, nil
}

func versionSuffix(v int64) string {
	if v == 0 {
		return ""
	}
	return fmt.Sprintf(" at version %d", v)
}

// pushHistory puts first before rest, keeping keep-1 versions (and at
// most historyBytes of inline model data).
func pushHistory(first *Descriptor, rest []*Descriptor, keep int) []*Descriptor {
	if keep <= 0 {
		keep = DefaultKeepVersions
	}
	keep = min(keep, MaxKeepVersions)
	out := make([]*Descriptor, 0, keep)
	bytes := 0
	for _, h := range append([]*Descriptor{first}, rest...) {
		if h.Invalid != "" {
			// A placeholder for a record no node could read is not a
			// version anyone can go back to.
			continue
		}
		if len(out) >= keep-1 {
			break
		}
		bytes += len(h.Data)
		if bytes > historyBytes && len(out) > 0 {
			break
		}
		out = append(out, h)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func appendDecision(ds []Decision, d Decision) []Decision {
	out := append(slices.Clone(ds), d)
	if len(out) > maxDecisions {
		out = out[len(out)-maxDecisions:]
	}
	return out
}

// Versions returns the versions the record keeps loadable: the current
// one first, then the history.
func (d *Descriptor) Versions() []*Descriptor {
	return append([]*Descriptor{d.Bare()}, d.History...)
}

// Find returns the kept version v (current, variant or history).
func (d *Descriptor) Find(v int64) (*Descriptor, bool) {
	if d.Version == v {
		return d.Bare(), true
	}
	if d.Variant != nil && d.Variant.Version == v {
		return d.Variant, true
	}
	for _, h := range d.History {
		if h.Version == v {
			return h, true
		}
	}
	return nil, false
}

// CanaryBucket says whether an event with this key is served by a canary
// of weight w: a stable hash of the key, so a key always gets the same
// variant, on every node and across restarts.
func CanaryBucket(key string, w float64) bool {
	h := fnv.New64a()
	h.Write([]byte(key))
	x := h.Sum64()
	// FNV's low digits mix short keys poorly; a 64-bit finalizer spreads them.
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return float64(x%1_000_000) < w*1_000_000
}
