package msg

import (
	"fmt"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/remote"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/actorserve/actorserve/cluster/wire"
	"github.com/actorserve/actorserve/serving"
)

// The compact wire form of a PredictRequest (type TypePredictRequestV2):
//
//	[model, [names...]..., [event...], budget]
//	event = [id, names index (-1: positional), [values...], no-features, label, part, off]
//	label = nil | [s, v, num]
//
// A batch of events read from one stream shares its feature names, so the
// names cross the wire once per batch instead of once per event, and the
// decoder allocates one names table and one array of values for the whole
// batch. (The plain msgpack form, TypePredictRequest, is still read from
// nodes of older builds.) budget is the time left before the request's
// deadline in nanoseconds when it was encoded (0: no deadline); the
// receiver sets the deadline from its own clock. A decoder reads the
// fields it knows and skips any that a newer build appends.

const eventFields = 7

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m *PredictRequest) EncodeMsgpack(enc *msgpack.Encoder) error {
	var table [][]string
	idx := make([]int, len(m.Events))
	for i := range m.Events {
		names := m.Events[i].Features.Names
		if names == nil {
			idx[i] = -1
			continue
		}
		j := slices.IndexFunc(table, func(t []string) bool { return slices.Equal(t, names) })
		if j < 0 {
			j = len(table)
			table = append(table, names)
		}
		idx[i] = j
	}
	hasKeys := slices.ContainsFunc(m.Events, func(e Event) bool { return e.Key != "" })
	fields := 4
	if hasKeys {
		fields = 5
	}
	if err := enc.EncodeArrayLen(fields); err != nil {
		return err
	}
	if err := enc.EncodeString(m.Model); err != nil {
		return err
	}
	if err := enc.EncodeArrayLen(len(table)); err != nil {
		return err
	}
	for _, names := range table {
		if err := enc.EncodeArrayLen(len(names)); err != nil {
			return err
		}
		for _, n := range names {
			if err := enc.EncodeString(n); err != nil {
				return err
			}
		}
	}
	if err := enc.EncodeArrayLen(len(m.Events)); err != nil {
		return err
	}
	for i := range m.Events {
		ev := &m.Events[i]
		if err := encodeEvent(enc, ev, idx[i]); err != nil {
			return err
		}
	}
	var budget int64
	if m.Deadline != 0 {
		budget = max(1, m.Deadline-time.Now().UnixNano()) // expired stays a deadline
	}
	if err := enc.EncodeInt64(budget); err != nil {
		return err
	}
	if !hasKeys {
		return nil
	}
	// The events' keys, in order: a field older builds skip.
	if err := enc.EncodeArrayLen(len(m.Events)); err != nil {
		return err
	}
	for i := range m.Events {
		if err := enc.EncodeString(m.Events[i].Key); err != nil {
			return err
		}
	}
	return nil
}

func encodeEvent(enc *msgpack.Encoder, ev *Event, names int) error {
	if err := enc.EncodeArrayLen(eventFields); err != nil {
		return err
	}
	if err := enc.EncodeString(ev.ID); err != nil {
		return err
	}
	if err := enc.EncodeInt(int64(names)); err != nil {
		return err
	}
	if ev.Features.Values == nil {
		if err := enc.EncodeNil(); err != nil {
			return err
		}
	} else {
		if err := enc.EncodeArrayLen(len(ev.Features.Values)); err != nil {
			return err
		}
		for _, v := range ev.Features.Values {
			if err := enc.EncodeFloat64(v); err != nil {
				return err
			}
		}
	}
	if err := enc.EncodeBool(ev.NoFeatures); err != nil {
		return err
	}
	if ev.Label == nil {
		if err := enc.EncodeNil(); err != nil {
			return err
		}
	} else {
		if err := enc.EncodeArrayLen(3); err != nil {
			return err
		}
		if err := enc.EncodeString(ev.Label.S); err != nil {
			return err
		}
		if err := enc.EncodeFloat64(ev.Label.V); err != nil {
			return err
		}
		if err := enc.EncodeBool(ev.Label.Num); err != nil {
			return err
		}
	}
	if err := enc.EncodeInt(int64(ev.Part)); err != nil {
		return err
	}
	return enc.EncodeInt(ev.Off)
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *PredictRequest) DecodeMsgpack(dec *msgpack.Decoder) error {
	n, err := dec.DecodeArrayLen()
	if err != nil {
		return err
	}
	if n < 3 || n > maxWireLen {
		return fmt.Errorf("predict request: %d fields, want at least 3", n)
	}
	if m.Model, err = dec.DecodeString(); err != nil {
		return err
	}
	nt, err := dec.DecodeArrayLen()
	if err != nil {
		return err
	}
	if nt < 0 || nt > maxWireLen {
		return fmt.Errorf("predict request: %d name lists", nt)
	}
	table := make([][]string, nt)
	for i := range table {
		k, err := dec.DecodeArrayLen()
		if err != nil {
			return err
		}
		if k < 0 || k > maxWireLen {
			return fmt.Errorf("predict request: %d names", k)
		}
		table[i] = make([]string, k)
		for j := range table[i] {
			if table[i][j], err = dec.DecodeString(); err != nil {
				return err
			}
		}
	}
	ne, err := dec.DecodeArrayLen()
	if err != nil {
		return err
	}
	if ne < 0 || ne > maxWireLen {
		return fmt.Errorf("predict request: %d events", ne)
	}
	m.Events = nil // an empty batch decodes as nil, as it was before encoding
	if ne > 0 {
		m.Events = make([]Event, ne)
	}
	var values []float64 // one backing array for the batch
	for i := range m.Events {
		if values, err = decodeEvent(dec, &m.Events[i], table, values); err != nil {
			return fmt.Errorf("predict request: event %d: %w", i, err)
		}
	}
	m.Deadline, m.Sent = 0, time.Now().UnixNano()
	if n >= 4 {
		budget, err := dec.DecodeInt64()
		if err != nil {
			return fmt.Errorf("predict request: budget: %w", err)
		}
		if budget > 0 {
			m.Deadline = time.Now().UnixNano() + min(budget, int64(24*time.Hour))
		}
	}
	if n >= 5 {
		nk, err := dec.DecodeArrayLen()
		if err != nil {
			return fmt.Errorf("predict request: keys: %w", err)
		}
		if nk != -1 && nk != len(m.Events) {
			return fmt.Errorf("predict request: %d keys for %d events", nk, len(m.Events))
		}
		for i := range max(nk, 0) {
			if m.Events[i].Key, err = dec.DecodeString(); err != nil {
				return fmt.Errorf("predict request: key %d: %w", i, err)
			}
		}
	}
	for range n - 5 {
		if err := dec.Skip(); err != nil { // fields of a newer build
			return err
		}
	}
	return nil
}

// maxWireLen bounds any list in a decoded message (the gRPC message limit
// bounds the bytes; this bounds what a forged length could allocate).
const maxWireLen = 1 << 22

func decodeEvent(dec *msgpack.Decoder, ev *Event, table [][]string, values []float64) ([]float64, error) {
	n, err := dec.DecodeArrayLen()
	if err != nil {
		return values, err
	}
	if n != eventFields {
		return values, fmt.Errorf("%d fields, want %d", n, eventFields)
	}
	if ev.ID, err = dec.DecodeString(); err != nil {
		return values, err
	}
	idx, err := dec.DecodeInt()
	if err != nil {
		return values, err
	}
	switch {
	case idx == -1:
	case idx >= 0 && idx < len(table):
		ev.Features.Names = table[idx]
	default:
		return values, fmt.Errorf("names index %d of %d", idx, len(table))
	}
	k, err := dec.DecodeArrayLen()
	if err != nil {
		return values, err
	}
	if k > maxWireLen {
		return values, fmt.Errorf("%d values", k)
	}
	if k >= 0 {
		if cap(values)-len(values) < k {
			values = make([]float64, 0, max(k*64, 256))
		}
		start := len(values)
		for range k {
			v, err := dec.DecodeFloat64()
			if err != nil {
				return values, err
			}
			values = append(values, v)
		}
		ev.Features.Values = values[start:len(values):len(values)]
	}
	if ev.Features.Names != nil && len(ev.Features.Names) != len(ev.Features.Values) {
		return values, fmt.Errorf("%w: %d names but %d values", serving.ErrInvalidEvent, len(ev.Features.Names), len(ev.Features.Values))
	}
	if ev.NoFeatures, err = dec.DecodeBool(); err != nil {
		return values, err
	}
	ln, err := dec.DecodeArrayLen()
	if err != nil {
		return values, err
	}
	switch ln {
	case -1:
	case 3:
		l := &Label{}
		if l.S, err = dec.DecodeString(); err != nil {
			return values, err
		}
		if l.V, err = dec.DecodeFloat64(); err != nil {
			return values, err
		}
		if l.Num, err = dec.DecodeBool(); err != nil {
			return values, err
		}
		ev.Label = l
	default:
		return values, fmt.Errorf("label of %d fields", ln)
	}
	part, err := dec.DecodeInt32()
	if err != nil {
		return values, err
	}
	ev.Part = part
	if ev.Off, err = dec.DecodeInt64(); err != nil {
		return values, err
	}
	return values, nil
}

// predictRequestV1 is the plain msgpack form of a PredictRequest that
// nodes of older builds send (TypePredictRequest).
type predictRequestV1 struct {
	Model  string  `msgpack:"m,omitempty"`
	Events []Event `msgpack:"e"`
}

// Serialize implements wire.Message: the old form as older builds read it.
func (m *predictRequestV1) Serialize() (remote.RootSerialized, error) {
	return wire.Pack(TypePredictRequest, m)
}

// Upgrade turns the old form into the PredictRequest actors receive.
func (m *predictRequestV1) Upgrade() wire.Message {
	return &PredictRequest{Model: m.Model, Events: m.Events, Sent: time.Now().UnixNano()}
}

// The compact wire form of a PredictResponse (type TypePredictResponseV2):
//
//	[model, version, node, latency, [labels...]..., [result...]]
//	result = [id, label, labels index (-1: none), [scores...], value|nil, code, error, feedback, matched]
//
// The results of a batch share their score labels, which cross the wire
// once; a result's scores are its values in that order.

const resultFields = 9

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m *PredictResponse) EncodeMsgpack(enc *msgpack.Encoder) error {
	var table [][]string
	idx := make([]int, len(m.Results))
	var keys []string
	for i := range m.Results {
		sc := m.Results[i].Prediction.Scores
		if sc == nil {
			idx[i] = -1
			continue
		}
		keys = keys[:0]
		for k := range sc {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		j := slices.IndexFunc(table, func(t []string) bool { return slices.Equal(t, keys) })
		if j < 0 {
			j = len(table)
			table = append(table, slices.Clone(keys))
		}
		idx[i] = j
	}
	fields := 6
	if m.Versions != nil || m.Shadow != nil {
		fields = 7 // older builds only meet it once a variant runs, which needs this build
	}
	if err := encodeAll(enc, fields, m.Model, m.Version, m.Node, m.LatencyNS); err != nil {
		return err
	}
	if err := enc.EncodeArrayLen(len(table)); err != nil {
		return err
	}
	for _, t := range table {
		if err := enc.EncodeArrayLen(len(t)); err != nil {
			return err
		}
		for _, k := range t {
			if err := enc.EncodeString(k); err != nil {
				return err
			}
		}
	}
	if err := enc.EncodeArrayLen(len(m.Results)); err != nil {
		return err
	}
	for i := range m.Results {
		r := &m.Results[i]
		if err := encodeAll(enc, resultFields, r.ID, r.Prediction.Label, idx[i]); err != nil {
			return err
		}
		if idx[i] < 0 {
			if err := enc.EncodeNil(); err != nil {
				return err
			}
		} else {
			t := table[idx[i]]
			if err := enc.EncodeArrayLen(len(t)); err != nil {
				return err
			}
			for _, k := range t {
				if err := enc.EncodeFloat64(r.Prediction.Scores[k]); err != nil {
					return err
				}
			}
		}
		if r.Prediction.Value == nil {
			if err := enc.EncodeNil(); err != nil {
				return err
			}
		} else if err := enc.EncodeFloat64(*r.Prediction.Value); err != nil {
			return err
		}
		for _, v := range []any{r.Code, r.Error, r.Feedback, r.Matched} {
			if err := enc.Encode(v); err != nil {
				return err
			}
		}
	}
	if fields == 7 {
		return enc.Encode(&responseExt{Versions: m.Versions, Shadow: m.Shadow})
	}
	return nil
}

// responseExt is a PredictResponse's seventh field: what a variant did.
type responseExt struct {
	Versions []int64        `msgpack:"vs,omitempty"`
	Shadow   *ShadowResults `msgpack:"sw,omitempty"`
}

// encodeAll writes an array header of n and then vs (the first fields).
func encodeAll(enc *msgpack.Encoder, n int, vs ...any) error {
	if err := enc.EncodeArrayLen(n); err != nil {
		return err
	}
	for _, v := range vs {
		if err := enc.Encode(v); err != nil {
			return err
		}
	}
	return nil
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *PredictResponse) DecodeMsgpack(dec *msgpack.Decoder) error {
	n, err := dec.DecodeArrayLen()
	if err != nil {
		return err
	}
	if n < 6 || n > maxWireLen {
		return fmt.Errorf("predict response: %d fields, want at least 6", n)
	}
	if m.Model, err = dec.DecodeString(); err != nil {
		return err
	}
	if m.Version, err = dec.DecodeInt64(); err != nil {
		return err
	}
	if m.Node, err = dec.DecodeString(); err != nil {
		return err
	}
	if m.LatencyNS, err = dec.DecodeInt64(); err != nil {
		return err
	}
	nt, err := dec.DecodeArrayLen()
	if err != nil {
		return err
	}
	if nt < 0 || nt > maxWireLen {
		return fmt.Errorf("predict response: %d label lists", nt)
	}
	table := make([][]string, nt)
	for i := range table {
		k, err := dec.DecodeArrayLen()
		if err != nil {
			return err
		}
		if k < 0 || k > maxWireLen {
			return fmt.Errorf("predict response: %d labels", k)
		}
		table[i] = make([]string, k)
		for j := range table[i] {
			if table[i][j], err = dec.DecodeString(); err != nil {
				return err
			}
		}
	}
	nr, err := dec.DecodeArrayLen()
	if err != nil {
		return err
	}
	if nr < 0 || nr > maxWireLen {
		return fmt.Errorf("predict response: %d results", nr)
	}
	m.Results = nil
	if nr > 0 {
		m.Results = make([]Result, nr)
	}
	for i := range m.Results {
		if err := decodeResult(dec, &m.Results[i], table); err != nil {
			return fmt.Errorf("predict response: result %d: %w", i, err)
		}
	}
	m.Versions, m.Shadow = nil, nil
	if n >= 7 {
		var ext responseExt
		if err := dec.Decode(&ext); err != nil {
			return fmt.Errorf("predict response: variant: %w", err)
		}
		if ext.Versions != nil && len(ext.Versions) != len(m.Results) {
			return fmt.Errorf("predict response: %d versions for %d results", len(ext.Versions), len(m.Results))
		}
		if ext.Shadow != nil && len(ext.Shadow.Results) != len(m.Results) {
			return fmt.Errorf("predict response: %d shadow results for %d results", len(ext.Shadow.Results), len(m.Results))
		}
		m.Versions, m.Shadow = ext.Versions, ext.Shadow
	}
	for range n - 7 {
		if err := dec.Skip(); err != nil { // fields of a newer build
			return err
		}
	}
	return nil
}

func decodeResult(dec *msgpack.Decoder, r *Result, table [][]string) error {
	n, err := dec.DecodeArrayLen()
	if err != nil {
		return err
	}
	if n != resultFields {
		return fmt.Errorf("%d fields, want %d", n, resultFields)
	}
	if r.ID, err = dec.DecodeString(); err != nil {
		return err
	}
	if r.Prediction.Label, err = dec.DecodeString(); err != nil {
		return err
	}
	idx, err := dec.DecodeInt()
	if err != nil {
		return err
	}
	k, err := dec.DecodeArrayLen()
	if err != nil {
		return err
	}
	switch {
	case idx == -1 && k == -1:
	case idx >= 0 && idx < len(table) && k == len(table[idx]):
		keys := table[idx]
		r.Prediction.Scores = make(map[string]float64, k)
		for _, key := range keys {
			v, err := dec.DecodeFloat64()
			if err != nil {
				return err
			}
			r.Prediction.Scores[key] = v
		}
	default:
		return fmt.Errorf("scores: labels index %d of %d with %d values", idx, len(table), k)
	}
	if err := dec.Decode(&r.Prediction.Value); err != nil {
		return err
	}
	if r.Code, err = dec.DecodeString(); err != nil {
		return err
	}
	if r.Error, err = dec.DecodeString(); err != nil {
		return err
	}
	if r.Feedback, err = dec.DecodeBool(); err != nil {
		return err
	}
	r.Matched, err = dec.DecodeBool()
	return err
}

// predictResponseV1 is the plain msgpack form of a PredictResponse that
// nodes of older builds send (TypePredictResponse).
type predictResponseV1 struct {
	Model     string   `msgpack:"m"`
	Version   int64    `msgpack:"v"`
	Node      string   `msgpack:"n"`
	LatencyNS int64    `msgpack:"l"`
	Results   []Result `msgpack:"r"`
}

// Serialize implements wire.Message: the old form as older builds read it.
func (m *predictResponseV1) Serialize() (remote.RootSerialized, error) {
	return wire.Pack(TypePredictResponse, m)
}

// Upgrade turns the old form into the PredictResponse callers receive.
func (m *predictResponseV1) Upgrade() wire.Message {
	return &PredictResponse{Model: m.Model, Version: m.Version, Node: m.Node, LatencyNS: m.LatencyNS, Results: m.Results}
}
