// Package msg declares every message that actorserve actors exchange
// across nodes. Each is a plain Go struct carried as msgpack inside the
// cluster/wire protobuf envelope, so nothing is ever dropped for not being
// protobuf.
package msg

import (
	"time"

	"github.com/asynkron/protoactor-go/remote"

	"github.com/actorserve/actorserve/cluster/wire"
	"github.com/actorserve/actorserve/serving"
)

// Wire type ids of this package. ONLY APPEND TO THIS LIST: ids are part of
// the wire format between nodes of different builds.
const (
	TypePredictRequest  uint32 = 100
	TypePredictResponse uint32 = 101
	TypeStatsQuery      uint32 = 102
	TypeStatsReply      uint32 = 103
)

func init() {
	wire.Register(TypePredictRequest, "msg.PredictRequest", func() wire.Message { return new(PredictRequest) })
	wire.Register(TypePredictResponse, "msg.PredictResponse", func() wire.Message { return new(PredictResponse) })
	wire.Register(TypeStatsQuery, "msg.StatsQuery", func() wire.Message { return new(StatsQuery) })
	wire.Register(TypeStatsReply, "msg.StatsReply", func() wire.Message { return new(StatsReply) })
}

// Error codes carried in Result.Code and wire.Error.Code. They are stable:
// HTTP answers and dead letters use them.
const (
	CodeDecode         = "decode_error"
	CodeUnknownModel   = "unknown_model"
	CodeSchemaMismatch = "schema_mismatch"
	CodeNaNRejected    = "nan_rejected"
	CodeModelError     = "model_error"
	CodeTimeout        = "timeout"
	CodeModelFailed    = "model_failed" // the model could not be loaded
)

// Event is one input to a model.
type Event struct {
	ID       string           `msgpack:"i,omitempty" json:"id,omitempty"`
	Features serving.Features `msgpack:"f" json:"features"`
}

// PredictRequest asks a model actor to score events, in order.
type PredictRequest struct {
	Events []Event `msgpack:"e"`
}

// Serialize implements wire.Message.
func (m *PredictRequest) Serialize() (remote.RootSerialized, error) {
	return wire.Pack(TypePredictRequest, m)
}

// Result is the outcome for one event: a prediction, or an error code and
// text naming what was wrong with the event.
type Result struct {
	ID         string             `msgpack:"i,omitempty"`
	Prediction serving.Prediction `msgpack:"p"`
	Code       string             `msgpack:"c,omitempty"`
	Error      string             `msgpack:"x,omitempty"`
}

// PredictResponse answers a PredictRequest, one Result per event in order.
type PredictResponse struct {
	Model     string   `msgpack:"m"`
	Version   int64    `msgpack:"v"`
	Node      string   `msgpack:"n"`
	LatencyNS int64    `msgpack:"l"` // time spent scoring the whole request in the actor
	Results   []Result `msgpack:"r"`
}

// Serialize implements wire.Message.
func (m *PredictResponse) Serialize() (remote.RootSerialized, error) {
	return wire.Pack(TypePredictResponse, m)
}

// StatsQuery asks a node for the stats of the model actors it hosts (all
// of them when IDs is empty).
type StatsQuery struct {
	IDs []string `msgpack:"i,omitempty"`
}

// Serialize implements wire.Message.
func (m *StatsQuery) Serialize() (remote.RootSerialized, error) { return wire.Pack(TypeStatsQuery, m) }

// StatsReply is one node's answer to a StatsQuery.
type StatsReply struct {
	Node     string       `msgpack:"n"`
	MemberID string       `msgpack:"id"`
	Models   []ModelStats `msgpack:"m"`
}

// Serialize implements wire.Message.
func (m *StatsReply) Serialize() (remote.RootSerialized, error) { return wire.Pack(TypeStatsReply, m) }

// ModelStats is the live state of one model actor. Durations are in
// milliseconds as floats, so sub-millisecond models do not report 0.
type ModelStats struct {
	ID          string           `msgpack:"id" json:"id"`
	Version     int64            `msgpack:"v" json:"version"`
	Format      string           `msgpack:"f" json:"format"`
	Description string           `msgpack:"d,omitempty" json:"description,omitempty"`
	Node        string           `msgpack:"n" json:"node"`
	State       string           `msgpack:"s" json:"state"`
	Since       time.Time        `msgpack:"t" json:"since"`
	LastUsed    time.Time        `msgpack:"lu,omitempty" json:"last_used,omitzero"`
	Usage       int64            `msgpack:"u" json:"usage"`
	Errors      int64            `msgpack:"e" json:"errors"`
	ErrorsBy    map[string]int64 `msgpack:"eb,omitempty" json:"errors_by_reason,omitempty"`
	DurationMS  float64          `msgpack:"du" json:"duration_ms"`
	MinMS       float64          `msgpack:"mn" json:"min_ms"`
	MaxMS       float64          `msgpack:"mx" json:"max_ms"`
	MeanMS      float64          `msgpack:"me" json:"mean_ms"`
	P50MS       float64          `msgpack:"p5" json:"p50_ms"`
	P95MS       float64          `msgpack:"p9" json:"p95_ms"`
	P99MS       float64          `msgpack:"p99" json:"p99_ms"`
	LastError   string           `msgpack:"le,omitempty" json:"last_error,omitempty"`
	Previous    *ModelStats      `msgpack:"pv,omitempty" json:"previous,omitempty"`
}
