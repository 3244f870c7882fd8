package serving

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func lcDesc(v int64) *Descriptor {
	return &Descriptor{ID: "m", Version: v, Format: "linear", Data: []byte(fmt.Sprintf(`{"v":%d}`, v)),
		CreatedAt: time.Unix(1_700_000_000+v, 0).UTC()}
}

func versionsOf(d *Descriptor) string {
	var out []string
	for _, v := range d.Versions() {
		out = append(out, fmt.Sprint(v.Version))
	}
	return strings.Join(out, ",")
}

// The record's transitions keep the invariants every node relies on: the
// revision always grows, versions stay unique, history is bounded and
// holds bare versions, and a round trip through the control topic's
// encoding changes nothing.
func TestLifecycleTransitions(t *testing.T) {
	var rec *Descriptor
	for v := int64(1); v <= 4; v++ {
		next, err := NextDeploy(rec, lcDesc(v), 3, "api")
		if err != nil {
			t.Fatal(err)
		}
		if rec != nil && next.Rev() <= rec.Rev() {
			t.Fatalf("revision %d after %d", next.Rev(), rec.Rev())
		}
		rec = next
	}
	if got := versionsOf(rec); got != "4,3,2" {
		t.Fatalf("kept %s, want 4,3,2", got)
	}
	for _, h := range rec.History {
		if h.History != nil || h.Variant != nil || h.Decisions != nil || h.Revision != 0 {
			t.Fatalf("history entry %d is not bare", h.Version)
		}
	}
	now := time.Unix(1_800_000_000, 0).UTC()
	rb, err := Rollback(rec, 2, 3, "api", "test", now)
	if err != nil {
		t.Fatal(err)
	}
	if got := versionsOf(rb); rb.Version != 2 || got != "2,4,3" || rb.Rev() != rec.Rev()+1 {
		t.Fatalf("rollback to 2: %s rev %d", got, rb.Rev())
	}
	if _, err := Rollback(rb, 1, 3, "api", "", now); !errors.Is(err, ErrLifecycle) || !strings.Contains(err.Error(), "[2 4 3]") {
		t.Errorf("rollback to a version not kept: %v", err)
	}
	// A new version goes above every kept one, even after going back.
	if top := rb.TopVersion(); top != 4 {
		t.Fatalf("top %d", top)
	}
	canary := lcDesc(5)
	canary.Rollout = &Rollout{Mode: RolloutCanary, Weight: 0.25}
	withCanary, err := NextDeploy(rb, canary, 3, "api")
	if err != nil {
		t.Fatal(err)
	}
	if withCanary.Version != 2 || withCanary.Variant == nil || withCanary.Variant.Version != 5 || withCanary.TopVersion() != 5 {
		t.Fatalf("canary record: current %d variant %+v", withCanary.Version, withCanary.Variant)
	}
	// Round trip through the stored encoding.
	b, err := withCanary.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeStoredDescriptor(b)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := back.Encode()
	if string(b) != string(b2) || len(back.Unknown) != 0 {
		t.Fatalf("round trip differs:\n%s\n%s", b, b2)
	}
	promoted, err := Promote(back, 5, 3, "rules@n1", "better", now)
	if err != nil {
		t.Fatal(err)
	}
	if got := versionsOf(promoted); promoted.Version != 5 || promoted.Rollout != nil || promoted.Variant != nil || got != "5,2,4" {
		t.Fatalf("promoted: %s", got)
	}
	last := promoted.Decisions[len(promoted.Decisions)-1]
	if last.Action != ActionPromote || last.From != 2 || last.To != 5 || last.By != "rules@n1" || last.Reason != "better" {
		t.Errorf("decision %+v", last)
	}
	if _, err := Promote(promoted, 0, 3, "api", "", now); !errors.Is(err, ErrLifecycle) {
		t.Errorf("promote without a variant: %v", err)
	}
	ended, err := EndVariant(back, 0, 3, "api", "worse", now)
	if err != nil {
		t.Fatal(err)
	}
	if got := versionsOf(ended); ended.Version != 2 || ended.Variant != nil || got != "2,5,4" {
		t.Fatalf("ended: %s", got)
	}
	// Decisions stay bounded.
	r := ended
	for range 40 {
		if r, err = Rollback(r, 0, 3, "api", "", now); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.Decisions) != maxDecisions {
		t.Errorf("%d decisions kept, want %d", len(r.Decisions), maxDecisions)
	}
}

func TestCheckDeployRequest(t *testing.T) {
	for _, tc := range []struct {
		json, want string
	}{
		{`{"revision":3}`, "revision: set by the cluster"},
		{`{"history":[]}`, "history: set by the cluster"},
		{`{"variant":{"format":"linear"}}`, "variant: set by the cluster"},
		{`{"decisions":[]}`, "decisions: set by the cluster"},
		{`{"rollout":{"mode":"blue"}}`, `rollout.mode: "blue"`},
		{`{"rollout":{"mode":"canary"}}`, "rollout.weight: 0 is outside (0, 1)"},
		{`{"rollout":{"mode":"canary","weight":1}}`, "rollout.weight: 1 is outside"},
		{`{"rollout":{"mode":"shadow","weight":0.5}}`, "weight is for canaries"},
		{`{"rollout":{"mode":"canary","weight":0.1,"rules":{"max_p99_ms":-1}}}`, "rollout.rules.max_p99_ms"},
		{`{"rollout":{"mode":"shadow","colour":1}}`, `unknown field "colour"`},
	} {
		d, err := DecodeDescriptor([]byte(tc.json))
		if err == nil {
			err = d.CheckDeployRequest()
		}
		if !errors.Is(err, ErrInvalidDescriptor) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %q", tc.json, err, tc.want)
		}
	}
	d, err := DecodeDescriptor([]byte(`{"rollout":{"mode":"canary","weight":0.1,"rules":{"min_labels":50}}}`))
	if err != nil || d.CheckDeployRequest() != nil || d.Rollout.Rules.Labels() != 50 {
		t.Errorf("a valid rollout: %v", err)
	}
}

// A canary's buckets are stable and close to their weight.
func TestCanaryBucket(t *testing.T) {
	in := 0
	for k := range 100000 {
		key := fmt.Sprintf("card-%d", k)
		b := CanaryBucket(key, 0.05)
		if b != CanaryBucket(key, 0.05) {
			t.Fatal("unstable")
		}
		if b && !CanaryBucket(key, 0.5) {
			t.Fatalf("%s is in the 5%% bucket but not in the 50%% one: raising a weight must only add keys", key)
		}
		if b {
			in++
		}
	}
	if in < 4700 || in > 5300 {
		t.Errorf("%d of 100000 keys at weight 0.05", in)
	}
}

// A placeholder for a record no node could read (Invalid) is never kept as
// a version to go back to: a deploy above it keeps the readable versions
// below it, and a rollback goes to one of those.
func TestUnreadableVersionIsNotKept(t *testing.T) {
	rec, err := NextDeploy(nil, lcDesc(1), 3, "test")
	if err != nil {
		t.Fatal(err)
	}
	bad := &Descriptor{ID: "m", Version: 2, Invalid: "format: got number, want string"}
	bad.History = nil
	next, err := NextDeploy(bad, lcDesc(3), 3, "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range next.History {
		if h.Invalid != "" {
			t.Fatalf("history keeps the unreadable version %d: %+v", h.Version, h)
		}
	}
	if len(next.History) != 0 {
		t.Errorf("history %s, want none (the only earlier record was unreadable)", versionsOf(next))
	}
	// The same with a readable version kept below the unreadable one.
	bad.History = []*Descriptor{rec.Bare()}
	next, err = NextDeploy(bad, lcDesc(3), 3, "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(next.History) != 1 || next.History[0].Version != 1 || next.History[0].Invalid != "" {
		t.Fatalf("history %s, want version 1 only", versionsOf(next))
	}
	back, err := Rollback(next, 0, 3, "test", "", time.Now())
	if err != nil || back.Version != 1 {
		t.Fatalf("rollback: %v %v, want version 1", back, err)
	}
}

// A deploy's version must be above every version the record keeps: two
// deploys computed from different views of the record must not both land
// with the same version (the later one, of a higher revision, would win
// with a version another deploy was already told it got).
func TestNextDeployRefusesAVersionNotAboveTheKeptOnes(t *testing.T) {
	rec, err := NextDeploy(nil, lcDesc(5), 3, "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []int64{5, 4} {
		if _, err := NextDeploy(rec, lcDesc(v), 3, "test"); !errors.Is(err, ErrLifecycle) {
			t.Errorf("deploy of version %d over version 5: %v, want a lifecycle error", v, err)
		}
	}
	next, err := NextDeploy(rec, lcDesc(6), 3, "test")
	if err != nil || next.Version != 6 {
		t.Fatalf("deploy of version 6: %v %v", next, err)
	}
	// After a rollback the model serves 5, and 6 is still kept: the next
	// version is 7.
	back, err := Rollback(next, 5, 3, "test", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NextDeploy(back, lcDesc(6), 3, "test"); !errors.Is(err, ErrLifecycle) {
		t.Errorf("deploy of version 6 after rolling back from it: %v, want a lifecycle error", err)
	}
}
