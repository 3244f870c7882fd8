package onnx

import (
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/actorserve/actorserve/serving"
	"github.com/actorserve/actorserve/serving/onnx/internal/pb"
	"github.com/actorserve/actorserve/serving/source"
)

// Format is the descriptor format name this package registers.
const Format = "onnx"

// Limits on what [Load] accepts and on what one graph run may allocate or compute. They bound
// memory and time for hostile or corrupt uploads; real models are far below them.
const (
	MaxModelBytes     = 256 << 20 // size of the serialized ModelProto
	MaxNodes          = 1 << 16   // nodes in the graph
	MaxTensorElements = 1 << 24   // elements in any one tensor, loaded or computed
	MaxRunElements    = 1 << 25   // elements computed by one graph run, all tensors together
	MaxRunWork        = 1 << 30   // multiply-adds and tree-node visits of one graph run
	MaxTreeNodes      = 1 << 24   // nodes (or leaves, or support vectors) of one operator
	MaxClasses        = 1 << 16   // class labels or targets of one operator
	MaxBatchRows      = 1 << 10   // rows scored together in one graph run by PredictBatch

	maxRank         = 8       // tensor rank
	maxWork         = 1 << 28 // multiply-adds (or tree node visits) of one operator in one run
	maxProtoNesting = 64      // protobuf message nesting
)

// Register adds the "onnx" format to r.
func Register(r *serving.Registry) { r.Register(Format, Load) }

// Load builds a model from d, whose data is the base64 of an ONNX ModelProto (a .onnx file)
// of at most [MaxModelBytes].
//
// Every operator must be one this package implements: an unsupported one fails the load and
// the error names it with its domain. Classifiers (a label output, a ZipMap, or a classifier
// operator's scores) take their class labels from the model, and d.Labels, when set, must
// list the same labels in the same order. Models whose only output is one score column per
// class (small neural networks) take d.Labels, or "0", "1", ... when it is empty; a model
// with one output column is a regressor unless d.Labels has two labels (then the column is
// the probability of the second). Errors wrap [serving.ErrInvalidModel].
func Load(d *serving.Descriptor) (serving.Model, error) {
	b, err := source.Load(d, "onnx", "the base64 of the .onnx file", MaxModelBytes)
	if err != nil {
		return nil, err
	}
	m, err := parse(b)
	if err != nil {
		return nil, err
	}
	if err := m.setHead(d.Labels); err != nil {
		return nil, err
	}
	if n := len(d.Features); n > 0 && n != m.width {
		return nil, loadErr("model takes %d features but the descriptor lists %d", m.width, n)
	}
	return m, nil
}

// parse decodes a serialized ModelProto, builds and checks its graph, and probes it on rows
// of zeros. The prediction head is set later by setHead.
func parse(b []byte) (*model, error) {
	g, err := decodeGraph(b)
	if err != nil {
		return nil, err
	}
	return newModel(g)
}

// decodeGraph decodes a serialized ModelProto and builds its graph.
func decodeGraph(b []byte) (*graph, error) {
	if len(b) > MaxModelBytes {
		return nil, loadErr("model is %d bytes, over the limit of %d", len(b), MaxModelBytes)
	}
	var mp pb.ModelProto
	if err := (proto.UnmarshalOptions{RecursionLimit: maxProtoNesting}).Unmarshal(b, &mp); err != nil {
		return nil, loadErr("not an ONNX model (ModelProto): %s", err.Error())
	}
	if mp.GetIrVersion() < 1 || mp.GetGraph() == nil {
		return nil, loadErr("not an ONNX model: ir_version or graph is missing")
	}
	return buildGraph(&mp)
}

// newModel maps the feature vector onto the graph's inputs and probes the graph on rows of
// zeros.
func newModel(g *graph) (*model, error) {
	m := &model{g: g, label: -1, score: -1, batch: true}
	for _, in := range g.inputs {
		if !in.dt.numeric() {
			return nil, loadErr("graph input %q is a %s tensor; features are numbers, so inputs must be float, double or int64", in.name, in.dt)
		}
		f := feed{name: in.name, dt: in.dt, offset: m.width}
		if in.dims[0] == dimBatch {
			f.dims = in.dims[1:]
		} else {
			f.dims, f.fixed = in.dims, true // a fixed shape: one row per run
			m.batch = false
		}
		w, ok := staticProduct(f.dims)
		if !ok || w < 1 {
			return nil, loadErr("graph input %q has shape %s; want [batch, features] with known feature dims", in.name, staticString(in.dims))
		}
		f.width = w
		m.width += w
		if m.width > serving.MaxFeatures {
			return nil, loadErr("model takes more than %d features", serving.MaxFeatures)
		}
		m.feeds = append(m.feeds, f)
	}
	for _, o := range g.outputs {
		if o.info.rows != rowsAxis0 {
			m.batch = false
		}
	}
	// Probe runs on rows of zeros check the shapes the graph computes at load time, and that
	// a batch keeps its rows apart.
	one, err := g.run(m.zeros(1))
	if err != nil {
		return nil, loadErr("the graph fails on a row of zeros: %s", strings.TrimPrefix(err.Error(), serving.ErrModel.Error()+": onnx: "))
	}
	if m.batch {
		two, err := g.run(m.zeros(2))
		m.batch = err == nil && leading(one, 1) && leading(two, 2)
	}
	m.probe = one
	return m, nil
}

// leading reports whether every output has n rows along axis 0.
func leading(outs []*tensor, n int) bool {
	for _, t := range outs {
		if t == nil || t.rank() == 0 || t.shape[0] != n {
			return false
		}
	}
	return true
}

// zeros builds input tensors of zeros for n rows (n is 1 unless the model batches).
func (m *model) zeros(n int) []*tensor {
	ts := make([]*tensor, len(m.feeds))
	for k, f := range m.feeds {
		t, _ := newTensor(f.dt, m.feedShape(f, n))
		ts[k] = t
	}
	return ts
}

func (m *model) feedShape(f feed, n int) []int {
	if f.fixed {
		return f.dims
	}
	return append([]int{n}, f.dims...)
}
