// Package msg declares every message that actorserve actors exchange
// across nodes. Each is a plain Go struct carried as msgpack inside the
// cluster/wire protobuf envelope, so nothing is ever dropped for not being
// protobuf.
package msg

import (
	"strconv"
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
	TypeHistoryQuery    uint32 = 104
	TypeHistoryReply    uint32 = 105
	// TypePredictRequestV2 is PredictRequest in its compact form (feature
	// names once per batch); TypePredictRequest is still read.
	TypePredictRequestV2 uint32 = 106
	// TypePredictResponseV2 is PredictResponse in its compact form (score
	// labels once per batch); TypePredictResponse is still read.
	TypePredictResponseV2 uint32 = 107
)

func init() {
	wire.Register(TypePredictRequest, "msg.PredictRequest(v1)", func() wire.Message { return new(predictRequestV1) })
	wire.Register(TypePredictRequestV2, "msg.PredictRequest", func() wire.Message { return new(PredictRequest) })
	wire.Register(TypePredictResponse, "msg.PredictResponse(v1)", func() wire.Message { return new(predictResponseV1) })
	wire.Register(TypePredictResponseV2, "msg.PredictResponse", func() wire.Message { return new(PredictResponse) })
	wire.Register(TypeStatsQuery, "msg.StatsQuery", func() wire.Message { return new(StatsQuery) })
	wire.Register(TypeStatsReply, "msg.StatsReply", func() wire.Message { return new(StatsReply) })
	wire.Register(TypeHistoryQuery, "msg.HistoryQuery", func() wire.Message { return new(HistoryQuery) })
	wire.Register(TypeHistoryReply, "msg.HistoryReply", func() wire.Message { return new(HistoryReply) })
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
	// CodeOverloaded: the model actor shed the request without running it,
	// because it could not have finished it before the request's deadline
	// (or its mailbox is full). Nothing was scored or learned; the caller
	// may send the same events again after a pause.
	CodeOverloaded = "overloaded"
)

// Event is one input to a model. An event with a Label is feedback: with
// features it is a labelled example (test-then-train); without features it
// is the label of an earlier event with the same ID.
type Event struct {
	ID       string           `msgpack:"i,omitempty" json:"id,omitempty"`
	Features serving.Features `msgpack:"f" json:"features"`
	// NoFeatures marks a label-only event.
	NoFeatures bool   `msgpack:"nf,omitempty" json:"-"`
	Label      *Label `msgpack:"l,omitempty" json:"label,omitempty"`
	// Part and Off place an event read from the first input topic: its
	// partition and offset+1 (0: not from the log). A learning model
	// learns from a labelled event once, by this position.
	Part int32 `msgpack:"pt,omitempty" json:"-"`
	Off  int64 `msgpack:"o,omitempty" json:"-"`
	// Key is what a canary's share of traffic is sticky to: the event's
	// entity (the Kafka record key when it is not the model id, or the
	// event's "key" field); empty means the event id.
	Key string `msgpack:"k,omitempty" json:"key,omitempty"`
}

// CanaryKey is the key an event's canary bucket is drawn from.
func (e *Event) CanaryKey() string {
	if e.Key != "" {
		return e.Key
	}
	return e.ID
}

// Label is a feedback label: a class name (S) or a number (V, Num).
// Numbers also name classes ("0", "1") for classifiers.
type Label struct {
	S   string  `msgpack:"s,omitempty"`
	V   float64 `msgpack:"v,omitempty"`
	Num bool    `msgpack:"n,omitempty"`
}

// String is the label as a class name.
func (l *Label) String() string {
	if l.Num {
		return strconv.FormatFloat(l.V, 'g', -1, 64)
	}
	return l.S
}

// Float is the label as a regression target.
func (l *Label) Float() (float64, error) {
	if l.Num {
		return l.V, nil
	}
	return strconv.ParseFloat(l.S, 64)
}

// PredictRequest asks a model actor to score events, in order.
type PredictRequest struct {
	// Model is the addressed model's id (the mailbox gauge counts by it).
	Model  string  `msgpack:"m,omitempty"`
	Events []Event `msgpack:"e"`
	// Deadline is when the sender stops waiting (Unix nanoseconds of this
	// node's clock; 0 = none). An actor that cannot finish the request by
	// then sheds it unrun (CodeOverloaded). On the wire it travels as the
	// time left, so the clocks of two nodes need not agree.
	Deadline int64 `msgpack:"-"`
	// Sent is when the request was sent (or arrived from another node),
	// in Unix nanoseconds of this node's clock; 0 = unknown.
	Sent int64 `msgpack:"-"`
}

// Expired says whether a request with a deadline cannot be finished in
// time if it takes est from now.
func (m *PredictRequest) Expired(now time.Time, est time.Duration) bool {
	return m.Deadline != 0 && now.Add(est).UnixNano() >= m.Deadline
}

// Late says whether a model actor should shed the request unrun: its
// deadline has passed, or it will have by the time est from now, though
// it would not have had it not waited. A request whose whole budget is
// shorter than est is shed only once its deadline has passed: the model is
// slower than its senders allow even without waiting, and shedding every
// request would starve it (running one also corrects a stale estimate).
func (m *PredictRequest) Late(now time.Time, est time.Duration) bool {
	if m.Deadline == 0 {
		return false
	}
	if m.Sent != 0 && est >= time.Duration(m.Deadline-m.Sent) {
		est = 0
	}
	return m.Expired(now, est)
}

// Serialize implements wire.Message.
func (m *PredictRequest) Serialize() (remote.RootSerialized, error) {
	return wire.Pack(TypePredictRequestV2, m)
}

// Result is the outcome for one event: a prediction, or an error code and
// text naming what was wrong with the event.
type Result struct {
	ID         string             `msgpack:"i,omitempty"`
	Prediction serving.Prediction `msgpack:"p"`
	Code       string             `msgpack:"c,omitempty"`
	Error      string             `msgpack:"x,omitempty"`
	// Feedback marks the result of a label-only event: there is no
	// prediction; Matched says whether an earlier prediction was found.
	Feedback bool `msgpack:"fb,omitempty"`
	Matched  bool `msgpack:"mt,omitempty"`
}

// PredictResponse answers a PredictRequest, one Result per event in order.
type PredictResponse struct {
	Model     string   `msgpack:"m"`
	Version   int64    `msgpack:"v"`
	Node      string   `msgpack:"n"`
	LatencyNS int64    `msgpack:"l"` // time spent scoring the whole request in the actor
	Results   []Result `msgpack:"r"`
	// Versions, when a canary served some of the events, holds per result
	// the version that answered it (0: Version).
	Versions []int64 `msgpack:"vs,omitempty"`
	// Shadow holds a shadow version's results for the same events; they
	// never go to the main output.
	Shadow *ShadowResults `msgpack:"sw,omitempty"`
}

// ShadowResults are a shadow version's results, one per event in order.
type ShadowResults struct {
	Version int64    `msgpack:"v"`
	Results []Result `msgpack:"r"`
}

// VersionOf returns the version that answered result i.
func (m *PredictResponse) VersionOf(i int) int64 {
	if i < len(m.Versions) && m.Versions[i] != 0 {
		return m.Versions[i]
	}
	return m.Version
}

// Serialize implements wire.Message.
func (m *PredictResponse) Serialize() (remote.RootSerialized, error) {
	return wire.Pack(TypePredictResponseV2, m)
}

// StatsQuery asks a node for the stats of the model actors it hosts (all
// of them when IDs is empty).
type StatsQuery struct {
	IDs []string `msgpack:"i,omitempty"`
	// Sketches asks for each model's encoded latency sketch, needed only
	// to merge a model reported by two nodes.
	Sketches bool `msgpack:"s,omitempty"`
	// Page, when set, asks instead for one page of the models active on
	// the node (GET /v1/models?limit=...): no more than a page crosses the
	// network, whatever the number of models.
	Page *PageQuery `msgpack:"pg,omitempty"`
	// Totals asks for the node's counters over all its active models.
	Totals bool `msgpack:"t,omitempty"`
}

// PageQuery selects a page of a node's active models, in id order.
type PageQuery struct {
	After  string `msgpack:"a,omitempty"` // ids after this one
	Prefix string `msgpack:"p,omitempty"` // ids starting with this
	State  string `msgpack:"s,omitempty"` // this state only (empty: any)
	Format string `msgpack:"f,omitempty"` // this format only (empty: any)
	Limit  int    `msgpack:"l"`           // at most this many
}

// NodeTotals are a node's counters over all the models active on it.
type NodeTotals struct {
	Active int     `msgpack:"a"`
	Usage  int64   `msgpack:"u"`
	Errors int64   `msgpack:"e"`
	Rate1m float64 `msgpack:"r"`
}

// Serialize implements wire.Message.
func (m *StatsQuery) Serialize() (remote.RootSerialized, error) { return wire.Pack(TypeStatsQuery, m) }

// StatsReply is one node's answer to a StatsQuery.
type StatsReply struct {
	Node     string       `msgpack:"n"`
	MemberID string       `msgpack:"id"`
	Models   []ModelStats `msgpack:"m"`
	// Partitions are the Kafka partitions the node's ingress owns.
	Partitions []PartitionInfo `msgpack:"p,omitempty"`
	// Totals answers StatsQuery.Totals.
	Totals *NodeTotals `msgpack:"t,omitempty"`
}

// PartitionInfo is one owned input partition.
type PartitionInfo struct {
	Topic     string `msgpack:"t" json:"topic"`
	Partition int32  `msgpack:"p" json:"partition"`
	Lag       int64  `msgpack:"l" json:"lag"`
	InFlight  int64  `msgpack:"f" json:"in_flight"`
	Paused    bool   `msgpack:"x" json:"paused"`
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
	Since       time.Time        `msgpack:"t" json:"since,omitzero"` // omitted while inactive
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
	// Rate1m is events per second over the last minute.
	Rate1m float64 `msgpack:"r1" json:"rate_1m"`
	// Mailbox is the number of requests waiting in the actor's mailbox.
	Mailbox int64 `msgpack:"mb" json:"mailbox"`
	// Shed counts events of requests the actor answered "overloaded"
	// without running them: they would have missed their deadline, or the
	// mailbox was full. Senders retry them; they are not errors.
	Shed int64 `msgpack:"sh,omitempty" json:"shed"`
	// Learning is present once the model received labels.
	Learning *LearningStats `msgpack:"ln,omitempty" json:"learning,omitempty"`
	Previous *ModelStats    `msgpack:"pv,omitempty" json:"previous,omitempty"`
	// Variant holds the stats of the model's shadow or canary version,
	// scored in the same actor on the same events: Role says which, Served
	// counts the events whose answer it gave (a canary's share), Compared
	// and Agreed the events both versions scored and how many got the same
	// answer (same label, or values within 1e-6 relative).
	Variant   *ModelStats `msgpack:"va,omitempty" json:"variant,omitempty"`
	Role      string      `msgpack:"ro,omitempty" json:"role,omitempty"`
	Weight    float64     `msgpack:"wt,omitempty" json:"weight,omitempty"`
	Served    int64       `msgpack:"sv,omitempty" json:"served,omitempty"`
	Compared  int64       `msgpack:"cm,omitempty" json:"compared,omitempty"`
	Agreed    int64       `msgpack:"ag,omitempty" json:"agreed,omitempty"`
	Agreement float64     `msgpack:"ar,omitempty" json:"agreement,omitempty"`
	// Sketch is the encoded latency sketch (DDSketch), so stats of one
	// model reported by two nodes during a double activation can be merged.
	Sketch []byte `msgpack:"sk,omitempty" json:"-"`
	// Buckets are the non-cumulative counts of the Prometheus latency
	// histogram (model.PromBuckets, then +Inf).
	Buckets []uint64 `msgpack:"bk,omitempty" json:"-"`
}

// LearningStats is how well a model does on the labels it received.
// Online models also learn from them (updates, drifts); every model
// reports its live accuracy (or MAE for regression).
type LearningStats struct {
	Algorithm      string    `msgpack:"al,omitempty" json:"algorithm,omitempty"`
	Task           string    `msgpack:"tk,omitempty" json:"task,omitempty"`
	Labels         int64     `msgpack:"lb" json:"labels"`
	Updates        int64     `msgpack:"up" json:"updates"`
	Accuracy       float64   `msgpack:"ac" json:"accuracy"`
	AccuracyRecent float64   `msgpack:"ar" json:"accuracy_recent"`
	Kappa          float64   `msgpack:"ka" json:"kappa"`
	KappaT         float64   `msgpack:"kt" json:"kappa_t"`
	MAE            float64   `msgpack:"ma,omitempty" json:"mae,omitempty"`
	MAERecent      float64   `msgpack:"mr,omitempty" json:"mae_recent,omitempty"`
	Drifts         int64     `msgpack:"dr" json:"drifts"`
	LastDrift      time.Time `msgpack:"ld,omitempty" json:"last_drift,omitzero"`
	LabelLagMS     float64   `msgpack:"ll" json:"label_lag_ms"`
	Matched        int64     `msgpack:"fm" json:"matched_feedback"`
	Unmatched      int64     `msgpack:"fu" json:"unmatched_feedback"`
	Expired        int64     `msgpack:"fe" json:"expired_feedback"`
	Pending        int64     `msgpack:"fp" json:"pending_feedback"`
	Checkpoints    int64     `msgpack:"cp" json:"checkpoints"`
	RestoredFrom   int64     `msgpack:"rf,omitempty" json:"restored_updates,omitempty"`
	// Replayed counts the labelled events this activation learned from the
	// log before it served (events after the restored state's positions).
	Replayed int64 `msgpack:"rp,omitempty" json:"replayed,omitempty"`
	// Epoch is the activation's fence: the offset of its claim in the
	// state topic. Partition and Position: the home partition of the input
	// topic and the next offset in it to learn from.
	Epoch     int64 `msgpack:"ep,omitempty" json:"epoch,omitempty"`
	Partition int32 `msgpack:"pa,omitempty" json:"partition,omitempty"`
	Position  int64 `msgpack:"po,omitempty" json:"position,omitempty"`
	// StateSHA256 is the hex SHA-256 of the whole learned state (weights,
	// scaler, metrics): two learners with equal digests are bit-identical.
	StateSHA256 string `msgpack:"sh,omitempty" json:"state_sha256,omitempty"`
}

// HistoryQuery asks a node for the recent time series of one model.
type HistoryQuery struct {
	ID string `msgpack:"i"`
}

// Serialize implements wire.Message.
func (m *HistoryQuery) Serialize() (remote.RootSerialized, error) {
	return wire.Pack(TypeHistoryQuery, m)
}

// HistoryPoint is one minute of a model's series.
type HistoryPoint struct {
	Minute time.Time `msgpack:"t" json:"minute"`
	Events int64     `msgpack:"n" json:"events"`
	Errors int64     `msgpack:"e" json:"errors"`
	Rate   float64   `msgpack:"r" json:"rate"`
	P50MS  float64   `msgpack:"p5" json:"p50_ms"`
	P95MS  float64   `msgpack:"p95" json:"p95_ms"`
	P99MS  float64   `msgpack:"p9" json:"p99_ms"`
	// Labels scored this minute, and the model's accuracy on them
	// (classification) or mean absolute error (regression); absent
	// without labels.
	Labels   int64    `msgpack:"lb,omitempty" json:"labels,omitempty"`
	Accuracy *float64 `msgpack:"ac,omitempty" json:"accuracy,omitempty"`
	MAE      *float64 `msgpack:"ae,omitempty" json:"mae,omitempty"`
}

// HistoryReply answers a HistoryQuery; Found is false when the node does
// not host the model's actor.
type HistoryReply struct {
	Node   string         `msgpack:"n"`
	Found  bool           `msgpack:"f"`
	Points []HistoryPoint `msgpack:"p"`
}

// Serialize implements wire.Message.
func (m *HistoryReply) Serialize() (remote.RootSerialized, error) {
	return wire.Pack(TypeHistoryReply, m)
}
