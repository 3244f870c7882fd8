package wire_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"google.golang.org/protobuf/proto"

	"github.com/actorserve/actorserve/actors/msg"
	"github.com/actorserve/actorserve/cluster/wire"
	"github.com/actorserve/actorserve/serving"
)

// seedMessages are one of each message type that crosses nodes.
func seedMessages() []wire.Message {
	v := 0.5
	return []wire.Message{
		&wire.Error{Code: "unknown_model", Message: `model "x" is not deployed`},
		&msg.PredictRequest{Model: "m", Events: []msg.Event{
			{ID: "e1", Features: serving.Features{Names: []string{"a", "b"}, Values: []float64{1.5, -2}}, Label: &msg.Label{S: "x"}, Part: 1, Off: 7, Key: "k"},
			{ID: "e2", Features: serving.Features{Names: []string{"a", "b"}, Values: []float64{3, 4}}},
			{ID: "e3", NoFeatures: true, Label: &msg.Label{V: 2, Num: true}},
		}},
		&msg.PredictResponse{Model: "m", Version: 3, Node: "n1", LatencyNS: 99, Results: []msg.Result{
			{ID: "e1", Prediction: serving.Prediction{Label: "pos", Scores: map[string]float64{"neg": 0.25, "pos": 0.75}}},
			{ID: "e2", Prediction: serving.Prediction{Value: &v}, Code: "model_error", Error: "no"},
		}},
		&msg.StatsQuery{},
		&msg.HistoryQuery{},
	}
}

func envelope(t testing.TB, m wire.Message) *wire.Envelope {
	s, err := m.Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s.(*wire.Envelope)
}

// canonical encodes m with sorted map keys and without the request's
// clock-relative fields, so that equal messages give equal bytes.
func canonical(t *testing.T, m any) []byte {
	if r, ok := m.(*msg.PredictRequest); ok {
		c := *r
		c.Deadline, c.Sent = 0, 0
		m = &c
	}
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.SetSortMapKeys(true)
	if err := enc.Encode(m); err != nil {
		t.Fatalf("encode %#v: %v", m, err)
	}
	return buf.Bytes()
}

// FuzzEnvelope feeds arbitrary frames to the receive side of the wire, as
// protoactor's remote layer does with what another node (or anything that
// reaches the port) sends: protobuf Envelope, then Deserialize. It never
// panics or allocates without bound; an error names an unknown type or a
// decode failure; and a message that decodes survives a second trip
// unchanged.
func FuzzEnvelope(f *testing.F) {
	for _, m := range seedMessages() {
		b, err := proto.Marshal(envelope(f, m))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, e := range []*wire.Envelope{
		{Type: 9999, Data: []byte{0x80}},
		{Type: msg.TypePredictRequestV2, Data: []byte("\xdd\xff\xff\xff\xff")},
		{Type: msg.TypePredictResponseV2, Data: []byte("\x81\xa1r\xc6\xff\xff\xff\xff")},
		{Type: msg.TypeStatsReply, Data: []byte{0x80}},
		{Type: msg.TypeHistoryReply, Data: []byte{0x80}},
		{Type: msg.TypePredictRequest, Data: []byte{0x80}},
		{Type: msg.TypePredictResponse, Data: []byte{0x80}},
	} {
		b, _ := proto.Marshal(e)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var env wire.Envelope
		if proto.Unmarshal(b, &env) != nil {
			return
		}
		got, err := env.Deserialize()
		if err != nil {
			if !errors.Is(err, wire.ErrUnknownType) && !strings.HasPrefix(err.Error(), "wire: decode ") {
				t.Fatalf("type %d: error %q is neither an unknown type nor a decode error", env.Type, err)
			}
			return
		}
		m := got.(wire.Message)
		again, err := envelope(t, m).Deserialize()
		if err != nil {
			t.Fatalf("type %d decodes to %#v, which does not decode after a second trip: %v", env.Type, m, err)
		}
		if a, b := canonical(t, m), canonical(t, again); !bytes.Equal(a, b) {
			t.Fatalf("type %d changed on a second trip:\n%#v\n%#v", env.Type, m, again)
		}
	})
}

// TestEnvelopeSeedsRoundTrip: each seed message comes back equal, and a
// frame whose length prefix claims gigabytes fails at once.
func TestEnvelopeSeedsRoundTrip(t *testing.T) {
	for _, m := range seedMessages() {
		got, err := wire.RoundTrip(m)
		if err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		if a, b := canonical(t, m), canonical(t, got); !bytes.Equal(a, b) {
			t.Errorf("%T changed on the wire:\n%#v\n%#v", m, m, got)
		}
	}
	start := time.Now()
	_, err := (&wire.Envelope{Type: msg.TypePredictRequestV2, Data: []byte("\x82\xa1e\xdd\xff\xff\xff\xff")}).Deserialize()
	if err == nil || !strings.HasPrefix(err.Error(), "wire: decode msg.PredictRequest") || time.Since(start) > time.Second {
		t.Errorf("a frame claiming 4G events: %v after %s", err, time.Since(start))
	}
}
