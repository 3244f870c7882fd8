package msg_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/actorserve/actorserve/actors/msg"
	"github.com/actorserve/actorserve/cluster"
	"github.com/actorserve/actorserve/cluster/clustertest"
	"github.com/actorserve/actorserve/cluster/wire"
	"github.com/actorserve/actorserve/serving"
)

// at is a wall-clock time as it comes back from msgpack: no monotonic
// reading, nanosecond precision, in time.Local (msgpack decodes times
// into the local zone, so a UTC sample would not compare DeepEqual).
func at(sec, nsec int64) time.Time { return time.Unix(sec, nsec) }

func ptr(v float64) *float64 { return &v }

func stats(id string, base float64, prev *msg.ModelStats) msg.ModelStats {
	return msg.ModelStats{
		ID: id, Version: 3, Format: "linear", Description: "a model", Node: "n2", State: "active",
		Since: at(1_700_000_000, 123_456_789), LastUsed: at(1_700_000_100, 987_654_321),
		Usage: 42, Errors: 5, ErrorsBy: map[string]int64{msg.CodeSchemaMismatch: 3, msg.CodeNaNRejected: 2},
		DurationMS: base, MinMS: base / 10, MaxMS: base * 2, MeanMS: base / 2,
		P50MS: base / 3, P95MS: base * 1.5, P99MS: base * 1.9,
		LastError: `event "e7": expected 2 features, got 3`, Previous: prev,
		Rate1m: base * 4, Mailbox: 3, Shed: 11, Sketch: []byte{2, 0x7f, 1}, Buckets: []uint64{1, 4, 9},
		Role: "canary", Weight: 0.1, Served: 7, Compared: 40, Agreed: 38, Agreement: 0.95,
		Learning: &msg.LearningStats{
			Algorithm: "scw1", Task: "binary", Labels: 40, Updates: 40, Accuracy: 0.9, AccuracyRecent: 0.95,
			Kappa: 0.8, KappaT: 0.7, MAE: 0.1, MAERecent: 0.2, Drifts: 2, LastDrift: at(1_700_000_050, 5),
			LabelLagMS: 12.5, Matched: 30, Unmatched: 4, Expired: 1, Pending: 6, Checkpoints: 3, RestoredFrom: 17, Replayed: 4, Epoch: 88, Partition: 3, Position: 1234, StateSHA256: "ab12",
		},
	}
}

// samples holds one value of every wire type, keyed by type id, with
// every field set (checked by requireAllSet).
func samples() map[uint32]wire.Message {
	prev := stats("m1", 0.25, nil)
	prev.Version = 2
	req := &msg.PredictRequest{Model: "m1", Events: []msg.Event{
		{ID: "e1", Features: serving.Features{Names: []string{"a", "b é"}, Values: []float64{1.5, -2e-9}}, NoFeatures: true, Label: &msg.Label{S: "3", V: 3, Num: true}, Part: 2, Off: 41, Key: "card-1"},
		{ID: "e2", Features: serving.Features{Names: []string{"z"}, Values: []float64{3}}, NoFeatures: true, Label: &msg.Label{S: "cat", V: 1, Num: true}, Part: 5, Off: 1 << 40, Key: "card-2"},
		{ID: "e3", Features: serving.Features{Names: []string{"a", "b é"}, Values: []float64{0.5, 7}}, NoFeatures: true, Label: &msg.Label{S: "dog", V: 2, Num: true}, Part: 1, Off: 2, Key: "card-1"},
	}, Deadline: time.Now().Add(time.Hour).UnixNano(), Sent: time.Now().UnixNano()}
	resp := &msg.PredictResponse{
		Model: "m1", Version: 7, Node: "n2", LatencyNS: 12345,
		Results: []msg.Result{{
			ID:         "e1",
			Prediction: serving.Prediction{Label: "pos", Scores: map[string]float64{"neg": 0.25, "pos": 0.75}, Value: ptr(-1.25)},
			Code:       msg.CodeModelError,
			Error:      "a score is not finite",
			Feedback:   true,
			Matched:    true,
		}, {
			ID:         "e2",
			Prediction: serving.Prediction{Label: "cat", Scores: map[string]float64{"cat": 0.5, "dog": 0.25, "eel": 0.25}, Value: ptr(3)},
			Code:       msg.CodeSchemaMismatch,
			Error:      "expected 2 features",
			Feedback:   true,
			Matched:    true,
		}, {
			ID:         "e3",
			Prediction: serving.Prediction{Label: "neg", Scores: map[string]float64{"neg": 0.5, "pos": 0.5}, Value: ptr(0.5)},
			Code:       msg.CodeTimeout,
			Error:      "late",
			Feedback:   true,
			Matched:    true,
		}},
		Versions: []int64{7, 8, 7},
	}
	resp.Shadow = &msg.ShadowResults{Version: 9, Results: resp.Results}
	return map[uint32]wire.Message{
		wire.TypeError:           &wire.Error{Code: msg.CodeUnknownModel, Message: `model "x" is not deployed`},
		msg.TypePredictRequestV2: req,
		msg.TypePredictRequest: msg.LegacyPredictRequest(&msg.PredictRequest{Model: "m1", Events: []msg.Event{
			{ID: "e1", Features: serving.Features{Names: []string{"a", "b é"}, Values: []float64{1.5, -2e-9}}, NoFeatures: true, Label: &msg.Label{S: "3", V: 3, Num: true}, Part: 2, Off: 41, Key: "k1"},
			{ID: "e2", Features: serving.Features{Names: []string{"z"}, Values: []float64{3}}, NoFeatures: true, Label: &msg.Label{S: "cat", V: 1, Num: true}, Part: 5, Off: 1 << 40, Key: "k2"},
		}}),
		msg.TypePredictResponse:   msg.LegacyPredictResponse(resp),
		msg.TypePredictResponseV2: resp,
		msg.TypeStatsQuery: &msg.StatsQuery{IDs: []string{"m1", "m2"}, Sketches: true, Totals: true,
			Page: &msg.PageQuery{After: "m0", Prefix: "m", State: "active", Format: "linear", Limit: 100}},
		msg.TypeStatsReply: &msg.StatsReply{Node: "n2", MemberID: "member-uuid", Models: []msg.ModelStats{stats("m1", 1.5, &prev)},
			Partitions: []msg.PartitionInfo{{Topic: "actorserve.events", Partition: 4, Lag: 17, InFlight: 3, Paused: true}},
			Totals:     &msg.NodeTotals{Active: 3, Usage: 40, Errors: 2, Rate1m: 1.5}},
		msg.TypeHistoryQuery: &msg.HistoryQuery{ID: "m1"},
		msg.TypeHistoryReply: &msg.HistoryReply{Node: "n3", Found: true, Points: []msg.HistoryPoint{
			{Minute: at(1_700_000_040, 0), Events: 120, Errors: 2, Rate: 2, P50MS: 0.05, P95MS: 0.5, P99MS: 1.25, Labels: 40, Accuracy: ptr(0.9), MAE: ptr(0.3)},
		}},
	}
}

// positional features (Names nil) cannot pass requireAllSet, so they are
// checked on the side.
var positional = &msg.PredictRequest{Events: []msg.Event{{ID: "p", Features: serving.Features{Values: []float64{0.5, 0, -7}}}}}

// requireAllSet fails when any field reachable from v is its zero value,
// so a field added to a message without a sample value here is noticed.
// A nil pointer back to a type already on the path (ModelStats.Previous
// inside a Previous) ends the recursion and is allowed.
func requireAllSet(t *testing.T, path string, v reflect.Value, outer ...reflect.Type) {
	t.Helper()
	if v.Kind() == reflect.Pointer && v.IsNil() && slices.Contains(outer, v.Type().Elem()) {
		return
	}
	if v.IsZero() {
		t.Errorf("%s is zero in the sample: give it a value", path)
		return
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		requireAllSet(t, path, v.Elem(), outer...)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			return
		}
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				requireAllSet(t, path+"."+f.Name, v.Field(i), append(outer, v.Type())...)
			}
		}
	case reflect.Slice, reflect.Map:
		if v.Len() == 0 {
			t.Errorf("%s is empty in the sample: give it an element", path)
		}
		if v.Kind() == reflect.Slice {
			for i := range v.Len() {
				requireAllSet(t, fmt.Sprintf("%s[%d]", path, i), v.Index(i), outer...)
			}
		}
	}
}

// registered reports whether this binary's wire registry knows id: an
// unknown id fails to deserialize with wire.ErrUnknownType, a known one
// with at most a decode error for the empty payload.
func registered(id uint32) bool {
	empty, _ := msgpack.Marshal(map[string]any{})
	_, err := (&wire.Envelope{Type: id, Data: empty}).Deserialize()
	return !errors.Is(err, wire.ErrUnknownType)
}

func TestEverySampleRoundTrips(t *testing.T) {
	all := samples()
	// The table covers exactly the registered ids (msg's 100.. range and
	// wire's own), so a type appended to msg.go without a sample fails here.
	for id := uint32(0); id < 1000; id++ {
		_, have := all[id]
		if reg := registered(id); reg != have {
			t.Errorf("type id %d: registered %v, sample in this test %v", id, reg, have)
		}
	}
	for _, want := range []uint32{wire.TypeError, msg.TypePredictRequest, msg.TypePredictRequestV2, msg.TypePredictResponse, msg.TypePredictResponseV2, msg.TypeStatsQuery, msg.TypeStatsReply, msg.TypeHistoryQuery, msg.TypeHistoryReply} {
		if _, ok := all[want]; !ok {
			t.Errorf("no sample for type id %d", want)
		}
	}
	for id, m := range all {
		t.Run(fmt.Sprintf("%d_%T", id, m), func(t *testing.T) {
			requireAllSet(t, fmt.Sprintf("%T", m), reflect.ValueOf(m))
			s, err := m.Serialize()
			if err != nil {
				t.Fatalf("serialize: %v", err)
			}
			if env, ok := s.(*wire.Envelope); !ok || env.GetType() != id {
				t.Fatalf("serialized to %T type %d, want an envelope of type %d", s, env.GetType(), id)
			}
			got, err := wire.RoundTrip(m)
			if err != nil {
				t.Fatalf("round trip: %v", err)
			}
			want := m
			if u, ok := m.(wire.Upgrader); ok {
				want = u.Upgrade() // an old form arrives as the current type
			}
			want = alignDeadline(t, got, want).(wire.Message)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip changed the message:\n got %#v\nwant %#v", got, want)
			}
		})
	}
	got, err := wire.RoundTrip(positional)
	var want any = positional
	if err == nil {
		want = alignDeadline(t, got, positional)
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("positional features: round trip gave %#v, %v", got, err)
	}
}

// echo is a grain that answers every wire message with the message itself.
func echoKind() cluster.Options {
	return cluster.Options{Kinds: []*pcluster.Kind{
		pcluster.NewKind("echo", actor.PropsFromFunc(func(ctx actor.Context) {
			if m, ok := ctx.Message().(wire.Message); ok {
				ctx.Respond(m)
			}
		})),
	}}
}

func TestEveryMessageCrossesNodes(t *testing.T) {
	c := clustertest.New(t, 2, clustertest.WithOptions(func(int) cluster.Options { return echoKind() }))
	from, to := c.Nodes[0], c.Nodes[1]

	// An identity owned by the second node, as both nodes see the ring.
	var id string
	clustertest.Eventually(t, 5*time.Second, func() error {
		for i := range 1000 {
			cand := fmt.Sprintf("echo-%d", i)
			if from.Owner("echo", cand) == to.RemoteAddr() && to.Owner("echo", cand) == to.RemoteAddr() {
				id = cand
				return nil
			}
		}
		return fmt.Errorf("no identity of 1000 owned by %s", to.RemoteAddr())
	})

	all := samples()
	all[0] = positional // not a type id; just one more value to send
	for tid, sample := range all {
		t.Run(fmt.Sprintf("%d_%T", tid, sample), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			res, err := from.Request(ctx, "echo", id, sample)
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			if res == any(sample) {
				t.Fatalf("reply is the sample itself: the message did not cross nodes")
			}
			want := any(sample)
			if u, ok := sample.(wire.Upgrader); ok {
				want = u.Upgrade() // an old form arrives as the current type
			}
			want = alignDeadline(t, res, want)
			if !reflect.DeepEqual(res, want) {
				t.Errorf("reply differs from the sample:\n got %#v\nwant %#v", res, want)
			}
		})
	}
}

// alignDeadline returns want with the deadline of got when want is a
// PredictRequest: the deadline travels as the time left and is set again
// from the receiver's clock, so it is equal only within the time the trip
// took (checked: at most a second); Sent becomes the arrival time.
func alignDeadline(t testing.TB, got, want any) any {
	w, ok := want.(*msg.PredictRequest)
	if !ok {
		return want
	}
	g, ok := got.(*msg.PredictRequest)
	if !ok {
		return want
	}
	if d := time.Duration(g.Deadline - w.Deadline); (w.Deadline == 0) != (g.Deadline == 0) || d < -time.Second || d > time.Second {
		t.Errorf("deadline %d became %d on the wire", w.Deadline, g.Deadline)
	}
	if g.Sent == 0 {
		t.Errorf("a decoded request has no arrival time")
	}
	c := *w
	c.Deadline, c.Sent = g.Deadline, g.Sent // Sent: when it arrived
	return &c
}

// TestPredictRequestDeadlineOnTheWire: a request's deadline crosses nodes
// as the time left, so an expired request stays expired, one without a
// deadline gets none, and a field a newer build appends is skipped.
func TestPredictRequestDeadlineOnTheWire(t *testing.T) {
	ev := []msg.Event{{ID: "a", Features: serving.Features{Names: []string{"x"}, Values: []float64{1}}}}
	for _, tc := range []struct {
		name     string
		deadline int64
		expired  bool
	}{
		{"none", 0, false},
		{"expired", time.Now().Add(-time.Minute).UnixNano(), true},
		{"future", time.Now().Add(time.Minute).UnixNano(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := wire.RoundTrip(&msg.PredictRequest{Model: "m", Events: ev, Deadline: tc.deadline})
			if err != nil {
				t.Fatal(err)
			}
			r := got.(*msg.PredictRequest)
			if (r.Deadline == 0) != (tc.deadline == 0) {
				t.Fatalf("deadline %d became %d", tc.deadline, r.Deadline)
			}
			if e := r.Expired(time.Now(), 0); e != tc.expired {
				t.Errorf("expired %v after the wire, want %v", e, tc.expired)
			}
			if r.Expired(time.Now(), 0) != r.Expired(time.Now(), time.Millisecond) && tc.deadline != 0 && !tc.expired {
				t.Errorf("a minute left, yet a millisecond of work would miss it")
			}
		})
	}
	// A newer build's request with a sixth field decodes here (the fifth,
	// the events' keys, may be nil).
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	if err := (&msg.PredictRequest{Model: "m", Events: ev}).EncodeMsgpack(enc); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if b[0] != 0x94 { // fixarray of 4
		t.Fatalf("compact request starts with %#x, want a 4-array", b[0])
	}
	b[0] = 0x96
	b = append(b, 0xc0, 0xa3, 'n', 'e', 'w')
	var r msg.PredictRequest
	if err := msgpack.Unmarshal(b, &r); err != nil {
		t.Fatalf("a request with an appended field: %v", err)
	}
	if r.Model != "m" || len(r.Events) != 1 || r.Events[0].Features.Values[0] != 1 {
		t.Errorf("decoded %+v", r)
	}
}

// TestLate: a request is shed when waiting made it late, but a model
// slower than the whole budget still runs requests that have time left.
func TestLate(t *testing.T) {
	now := time.Now()
	at := func(d time.Duration) int64 { return now.Add(d).UnixNano() }
	for _, tc := range []struct {
		name       string
		sent, dead time.Duration // relative to now
		est        time.Duration
		late       bool
	}{
		{"no deadline", 0, 0, time.Hour, false},
		{"fits", -10 * time.Millisecond, 140 * time.Millisecond, 30 * time.Millisecond, false},
		{"waited too long", -130 * time.Millisecond, 20 * time.Millisecond, 30 * time.Millisecond, true},
		{"past its deadline", -200 * time.Millisecond, -time.Millisecond, 0, true},
		{"slower than the budget, time left", -10 * time.Millisecond, 140 * time.Millisecond, 200 * time.Millisecond, false},
		{"slower than the budget, expired", -160 * time.Millisecond, -10 * time.Millisecond, 200 * time.Millisecond, true},
	} {
		r := &msg.PredictRequest{Sent: at(tc.sent)}
		if tc.dead != 0 {
			r.Deadline = at(tc.dead)
		}
		if got := r.Late(now, tc.est); got != tc.late {
			t.Errorf("%s: late %v, want %v", tc.name, got, tc.late)
		}
	}
}
