package ingress

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"

	"github.com/actorserve/actorserve/actors/msg"
	"github.com/actorserve/actorserve/internal/msgpackcheck"
	"github.com/actorserve/actorserve/serving"
)

// encoding is the wire encoding of an input record; predictions are
// written in the same one.
type encoding uint8

const (
	encJSON encoding = iota
	encMsgpack
)

// MaxEventBytes bounds one input record's value (Kafka's default largest
// message is 1 MB).
const MaxEventBytes = 1 << 20

var errDecode = errors.New("decode")

// flexID accepts an event id given as a string or a number.
type flexID string

func (f *flexID) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexID(s)
		return nil
	}
	if string(b) == "null" {
		return nil
	}
	if _, err := strconv.ParseFloat(string(b), 64); err != nil {
		return fmt.Errorf("id must be a string or a number, got %s", b)
	}
	*f = flexID(b)
	return nil
}

func (f *flexID) DecodeMsgpack(dec *msgpack.Decoder) error {
	v, err := dec.DecodeInterface()
	if err != nil {
		return err
	}
	switch x := v.(type) {
	case nil:
	case string:
		*f = flexID(x)
	case int8, int16, int32, int64, uint8, uint16, uint32, uint64:
		*f = flexID(fmt.Sprint(x))
	case float32, float64:
		*f = flexID(strconv.FormatFloat(toFloat(x), 'g', -1, 64))
	default:
		return fmt.Errorf("id must be a string or a number, got %T", v)
	}
	return nil
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case float32:
		return float64(x)
	case float64:
		return x
	}
	return 0
}

// inEvent is an input event as users write it.
type inEvent struct {
	Model    string            `json:"model" msgpack:"model"`
	ID       flexID            `json:"id" msgpack:"id"`
	Type     string            `json:"type" msgpack:"type"`
	Features *serving.Features `json:"features" msgpack:"features"`
	Label    *inLabel          `json:"label" msgpack:"label"`
}

// inLabel is a label given as a string or a number.
type inLabel msg.Label

func (l *inLabel) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*l = inLabel{S: s}
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("label must be a string or a number, got %s", b)
	}
	*l = inLabel{V: v, Num: true}
	return nil
}

func (l *inLabel) DecodeMsgpack(dec *msgpack.Decoder) error {
	v, err := dec.DecodeInterface()
	if err != nil {
		return err
	}
	switch x := v.(type) {
	case string:
		*l = inLabel{S: x}
	case int8, int16, int32, int64, uint8, uint16, uint32, uint64:
		f, _ := strconv.ParseFloat(fmt.Sprint(x), 64)
		*l = inLabel{V: f, Num: true}
	case float32, float64:
		*l = inLabel{V: toFloat(x), Num: true}
	default:
		return fmt.Errorf("label must be a string or a number, got %T", v)
	}
	return nil
}

func (l *inLabel) label() *msg.Label {
	if l == nil {
		return nil
	}
	m := msg.Label(*l)
	return &m
}

// isMsgpack says whether a record carries msgpack: the content-type header
// says so, or the value starts with a msgpack map.
func isMsgpack(r *kgo.Record) bool {
	for _, h := range r.Headers {
		if h.Key == "content-type" {
			return bytes.HasPrefix(h.Value, []byte("application/msgpack")) || bytes.HasPrefix(h.Value, []byte("application/x-msgpack"))
		}
	}
	if len(r.Value) == 0 {
		return false
	}
	c := r.Value[0]
	return msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32
}

// decodeEvent decodes a record's value. Errors wrap errDecode.
func decodeEvent(r *kgo.Record) (inEvent, encoding, error) {
	var ev inEvent
	if len(r.Value) > MaxEventBytes {
		return ev, encJSON, fmt.Errorf("%w: event is %d bytes, over the limit of %d", errDecode, len(r.Value), MaxEventBytes)
	}
	if len(r.Value) == 0 {
		return ev, encJSON, fmt.Errorf("%w: empty record value", errDecode)
	}
	if isMsgpack(r) {
		if err := msgpackcheck.Check(r.Value); err != nil {
			return ev, encMsgpack, fmt.Errorf("%w: invalid msgpack event: %v", errDecode, err)
		}
		if err := msgpackcheck.Unmarshal(r.Value, &ev); err != nil {
			return ev, encMsgpack, fmt.Errorf("%w: invalid msgpack event: %v", errDecode, err)
		}
		return ev, encMsgpack, nil
	}
	if fastDecodeJSON(r.Value, &ev) {
		return ev, encJSON, nil
	}
	ev = inEvent{}
	if err := json.Unmarshal(r.Value, &ev); err != nil {
		return ev, encJSON, fmt.Errorf("%w: invalid JSON event: %v", errDecode, err)
	}
	return ev, encJSON, nil
}

// eventFields decodes the whole event as a map, for user output
// expressions (only models with an output block pay for it).
func eventFields(r *kgo.Record, enc encoding) (map[string]any, error) {
	var m map[string]any
	var err error
	if enc == encMsgpack {
		err = msgpackcheck.Unmarshal(r.Value, &m)
	} else {
		err = json.Unmarshal(r.Value, &m)
	}
	return m, err
}

// outPrediction is a record of the predictions topic.
type outPrediction struct {
	Model      string             `json:"model" msgpack:"model"`
	Version    int64              `json:"version" msgpack:"version"`
	Variant    string             `json:"variant,omitempty" msgpack:"variant,omitempty"` // "canary" when a canary answered; "shadow" on the shadow topic
	ID         string             `json:"id,omitempty" msgpack:"id,omitempty"`
	Prediction serving.Prediction `json:"prediction" msgpack:"prediction"`
	User       map[string]any     `json:"user,omitempty" msgpack:"user,omitempty"`
	Node       string             `json:"node" msgpack:"node"`
	LatencyUS  int64              `json:"latency_us" msgpack:"latency_us"`
	TS         time.Time          `json:"ts" msgpack:"ts"`
}

func encodePrediction(p *outPrediction, enc encoding, labels []string) ([]byte, error) {
	if enc == encMsgpack {
		return msgpack.Marshal(p)
	}
	var user []byte
	if p.User != nil {
		var err error
		if user, err = json.Marshal(p.User); err != nil {
			return nil, err
		}
	}
	return appendPredictionJSON(make([]byte, 0, 256), p, labels, user), nil
}

// predictionMap is the prediction as output expressions see it.
func predictionMap(p serving.Prediction) map[string]any {
	m := map[string]any{"label": p.Label}
	if p.Scores != nil {
		s := make(map[string]any, len(p.Scores))
		for k, v := range p.Scores {
			s[k] = v
		}
		m["scores"] = s
	} else {
		m["scores"] = map[string]any{}
	}
	if p.Value != nil {
		m["value"] = *p.Value
	} else {
		m["value"] = nil
	}
	return m
}
