package learning

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/actorserve/actorserve/learning/internal/wire"
	"github.com/actorserve/actorserve/serving"
)

// StateVersion is the format version byte that starts every snapshot MarshalBinary writes.
// UnmarshalBinary reads this version only; a change of layout gets a new number.
const StateVersion = 1

// MaxStateBytes is the largest snapshot UnmarshalBinary (and New, for descriptor data) accepts.
const MaxStateBytes = 1 << 29

// snapshotConfig is the model's configuration as a snapshot carries it (JSON inside the binary
// snapshot, so that a zero Online can be restored without its descriptor).
type snapshotConfig struct {
	Width    int              `json:"width"`
	Learning serving.Learning `json:"learning"`
}

// MarshalBinary writes the model's whole state: configuration, labels, learner, scaler, drift
// detector, metrics and counters, after a version byte ([StateVersion]). Floats are stored as
// their IEEE-754 bits, so a restored model predicts bit-identically.
func (o *Online) MarshalBinary() ([]byte, error) {
	if o.cls == nil && o.reg == nil {
		return nil, fmt.Errorf("%w: marshal: the model was not built by New", ErrInvalidConfig)
	}
	cfg, err := json.Marshal(snapshotConfig{Width: o.cfg.width, Learning: o.learning})
	if err != nil {
		return nil, fmt.Errorf("marshal learning config: %w", err)
	}
	w := wire.NewWriter(256)
	w.Byte(StateVersion)
	w.Blob(cfg)
	w.Uint(uint64(len(o.labels)))
	for _, s := range o.labels {
		w.String(s)
	}
	w.Uint(o.updates)
	w.Uint(o.changes)
	w.Uint(o.drifts)
	w.Int(o.lastDrift)
	parts := []interface{ MarshalBinary() ([]byte, error) }{}
	if o.cls != nil {
		parts = append(parts, o.cls, o.cm)
	} else {
		parts = append(parts, o.reg, o.rm)
	}
	if o.scaler != nil {
		parts = append(parts, o.scaler)
	}
	if o.det != nil {
		parts = append(parts, o.det)
	}
	for _, p := range parts {
		b, err := p.MarshalBinary()
		if err != nil {
			return nil, err
		}
		w.Blob(b)
	}
	return w.Bytes(), nil
}

// UnmarshalBinary restores a snapshot written by MarshalBinary.
//
// Into a zero Online (var o learning.Online) it restores everything, configuration included.
// Into a model built by New, the snapshot must have the same algorithm, task, feature count,
// bias rule, covariance form, scaling and drift detector (else [ErrIncompatibleState]); the
// learned state, labels, metrics and counters come from the snapshot, while the receiver keeps
// its own hyper-parameters (C, eta, r, lr, epsilon, drift parameters and reset policy, window
// length) and clock, and adds any of its descriptor's labels the snapshot lacks.
//
// Malformed input returns an error wrapping [ErrInvalidState] and never panics; on any error
// the receiver is unchanged.
func (o *Online) UnmarshalBinary(p []byte) error {
	if len(p) > MaxStateBytes {
		return fmt.Errorf("%w: %d bytes, over the limit of %d", ErrInvalidState, len(p), MaxStateBytes)
	}
	r := wire.NewReader(p)
	r.Version("online model", StateVersion)
	cfgBytes := r.Blob("config")
	if err := r.Err(); err != nil {
		return err
	}
	var sc snapshotConfig
	if err := json.Unmarshal(cfgBytes, &sc); err != nil {
		return fmt.Errorf("%w: config: %v", ErrInvalidState, err)
	}
	scfg, err := parseConfig(&sc.Learning, sc.Width)
	if err != nil {
		return fmt.Errorf("%w: config: %v", ErrInvalidState, err)
	}
	configured := o.cls != nil || o.reg != nil
	base, baseLearning := scfg, sc.Learning
	if configured {
		if err := compatible(&o.cfg, &scfg); err != nil {
			return err
		}
		base, baseLearning = o.cfg, o.learning
	}
	nl := r.Count("labels", MaxClassesLimit)
	labels := make([]string, 0, min(nl, 64))
	for i := 0; i < nl && r.Err() == nil; i++ {
		labels = append(labels, r.String("label"))
	}
	updates, changes, drifts := r.Uint(), r.Uint(), r.Uint()
	lastDrift := r.Int()
	if err := r.Err(); err != nil {
		return err
	}
	if base.task == TaskRegression && len(labels) > 0 {
		return fmt.Errorf("%w: a regression snapshot with %d labels", ErrInvalidState, len(labels))
	}
	if base.task != TaskRegression {
		limit := base.maxClasses
		if base.task == TaskBinary {
			limit = 2
		}
		if len(labels) > limit {
			return fmt.Errorf("%w: the snapshot has %d labels, this model takes at most %d", ErrIncompatibleState, len(labels), limit)
		}
		for i, s := range labels {
			if s == "" || slices.Index(labels, s) != i {
				return fmt.Errorf("%w: label %d (%q) is empty or repeated", ErrInvalidState, i, s)
			}
		}
	}
	if need := base.minStateBytes(len(labels)); len(p) < need {
		return fmt.Errorf("%w: %d bytes cannot hold a %s %s model of %d features and %d classes (at least %d bytes)",
			ErrInvalidState, len(p), base.algorithm, base.task, base.width, len(labels), need)
	}
	fresh, err := build(base, baseLearning, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidState, err)
	}
	if fresh.cls != nil {
		// Grow the learner to the snapshot's classes before reading its state.
		for _, s := range labels {
			if err := fresh.addLabel(s); err != nil {
				return fmt.Errorf("%w: %v", ErrInvalidState, err)
			}
		}
	}
	type part struct {
		name string
		u    interface{ UnmarshalBinary([]byte) error }
	}
	var parts []part
	if fresh.cls != nil {
		parts = append(parts, part{"learner", fresh.cls}, part{"metrics", fresh.cm})
	} else {
		parts = append(parts, part{"learner", fresh.reg}, part{"metrics", fresh.rm})
	}
	if fresh.scaler != nil {
		parts = append(parts, part{"scaler", fresh.scaler})
	}
	if fresh.det != nil {
		parts = append(parts, part{"drift detector", fresh.det})
	}
	for _, pt := range parts {
		b := r.Blob(pt.name)
		if err := r.Err(); err != nil {
			return err
		}
		if err := pt.u.UnmarshalBinary(b); err != nil {
			return fmt.Errorf("%s: %w", pt.name, err)
		}
	}
	if err := r.Done(); err != nil {
		return err
	}
	if fresh.cls != nil {
		if k := fresh.cls.numClasses(); k != len(labels) {
			return fmt.Errorf("%w: the learner has %d classes, the snapshot %d labels", ErrInvalidState, k, len(labels))
		}
		if err := fresh.cm.CheckClasses(len(labels)); err != nil {
			return err
		}
		if configured { // the receiver's descriptor labels the snapshot lacks
			for _, s := range o.labels {
				if _, ok := fresh.index[s]; ok {
					continue
				}
				if err := fresh.addLabel(s); err != nil {
					return fmt.Errorf("%w: label %q: %v", ErrIncompatibleState, s, err)
				}
			}
		}
	}
	if changes > updates {
		return fmt.Errorf("%w: %d weight changes but %d updates", ErrInvalidState, changes, updates)
	}
	fresh.updates, fresh.changes, fresh.drifts, fresh.lastDrift = updates, changes, drifts, lastDrift
	if configured {
		fresh.now = o.now
	}
	*o = *fresh
	return nil
}

// compatible checks that a snapshot of configuration s can be restored into a model of c.
func compatible(c, s *config) error {
	type field struct {
		name string
		a, b any
	}
	for _, f := range []field{
		{"algorithm", c.algorithm, s.algorithm},
		{"task", c.task, s.task},
		{"feature count", c.width, s.width},
		{"bias", c.bias, s.bias},
		{"covariance", c.covariance, s.covariance},
		{"scale", c.scale, s.scale},
		{"drift detector", c.drift, s.drift},
	} {
		if f.a != f.b {
			return fmt.Errorf("%w: the snapshot's %s is %v, this model's %v", ErrIncompatibleState, f.name, f.b, f.a)
		}
	}
	return nil
}

var _ serving.Model = (*Online)(nil)
