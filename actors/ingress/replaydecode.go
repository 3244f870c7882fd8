package ingress

import (
	"encoding/json"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/actorserve/actorserve/actors/msg"
	"github.com/actorserve/actorserve/serving"
	"github.com/actorserve/actorserve/serving/output"
)

// The helpers in this file let `actorserve replay` read input records and
// write prediction records exactly as the ingress does, without running
// one.

// ReplayEvent is an input record decoded as the ingress decodes it.
type ReplayEvent struct {
	Model    string
	ID       string
	Type     string
	Features *serving.Features // nil when the event has none
	Label    *msg.Label        // nil when the event has none
	Msgpack  bool              // the record is msgpack (its prediction is written so too)
}

// DecodeReplayEvent decodes an input record's value with the ingress's
// decoder (JSON or msgpack, the same size limit); an error is what the
// ingress would dead-letter with reason "decode_error".
func DecodeReplayEvent(r *kgo.Record) (ReplayEvent, error) {
	ev, enc, err := decodeEvent(r)
	out := ReplayEvent{Model: ev.Model, ID: string(ev.ID), Type: ev.Type, Features: ev.Features,
		Label: ev.Label.label(), Msgpack: enc == encMsgpack}
	return out, err
}

// ReplayPrediction is a prediction record written by a replay: the live
// record's fields plus the version it was scored with and Replay.
type ReplayPrediction struct {
	Model      string
	Version    int64
	ID         string
	Prediction serving.Prediction
	User       map[string]any
	Node       string
	LatencyUS  int64
	TS         time.Time
}

type replayMsgpack struct {
	outPrediction
	Replay bool `msgpack:"replay"`
}

// EncodeReplayPrediction encodes p as the ingress encodes a live
// prediction record (scores in the order of labels), with "replay": true
// added; msgpack when the input record was msgpack.
func EncodeReplayPrediction(p *ReplayPrediction, labels []string, asMsgpack bool) ([]byte, error) {
	out := outPrediction{Model: p.Model, Version: p.Version, ID: p.ID, Prediction: p.Prediction,
		User: p.User, Node: p.Node, LatencyUS: p.LatencyUS, TS: p.TS}
	if asMsgpack {
		return msgpack.Marshal(&replayMsgpack{outPrediction: out, Replay: true})
	}
	var user []byte
	if p.User != nil {
		var err error
		if user, err = json.Marshal(p.User); err != nil {
			return nil, err
		}
	}
	b := appendPredictionJSON(make([]byte, 0, 256), &out, labels, user)
	b = b[:len(b)-1] // the closing brace
	return append(b, `,"replay":true}`...), nil
}

// ReplayUser evaluates a model's output block on a record and its
// prediction, as the ingress does for the live record.
func ReplayUser(prog *output.Program, r *kgo.Record, msgpackValue bool, p serving.Prediction) (map[string]any, error) {
	if prog == nil {
		return nil, nil
	}
	enc := encJSON
	if msgpackValue {
		enc = encMsgpack
	}
	fields, err := eventFields(r, enc)
	if err != nil {
		return nil, err
	}
	return prog.Eval(fields, predictionMap(p))
}
