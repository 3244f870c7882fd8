package onnx

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/actorserve/actorserve/serving/onnx/internal/pb"
)

// A small ModelProto builder for tests, fuzz seeds and benchmarks.

type mb struct {
	nodes   []*pb.NodeProto
	inits   []*pb.TensorProto
	inputs  []*pb.ValueInfoProto
	outputs []*pb.ValueInfoProto
	opset   int64
	ml      int64 // 0: no ai.onnx.ml import
}

func newMB() *mb { return &mb{opset: 13, ml: 3} }

func (b *mb) node(op, domain string, in, out []string, attrs ...*pb.AttributeProto) *mb {
	b.nodes = append(b.nodes, &pb.NodeProto{OpType: proto.String(op), Domain: proto.String(domain),
		Input: in, Output: out, Attribute: attrs})
	return b
}

func (b *mb) ml1(op string, in, out []string, attrs ...*pb.AttributeProto) *mb {
	return b.node(op, domainML, in, out, attrs...)
}

func (b *mb) op(op string, in, out []string, attrs ...*pb.AttributeProto) *mb {
	return b.node(op, "", in, out, attrs...)
}

// dims: -1 is a symbolic (batch) dimension.
func valueInfo(name string, elem pb.TensorProto_DataType, dims ...int64) *pb.ValueInfoProto {
	shape := &pb.TensorShapeProto{}
	for _, d := range dims {
		dim := &pb.TensorShapeProto_Dimension{}
		if d < 0 {
			dim.Value = &pb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}
		} else {
			dim.Value = &pb.TensorShapeProto_Dimension_DimValue{DimValue: d}
		}
		shape.Dim = append(shape.Dim, dim)
	}
	return &pb.ValueInfoProto{Name: proto.String(name), Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{
		TensorType: &pb.TypeProto_Tensor{ElemType: proto.Int32(int32(elem)), Shape: shape}}}}
}

func (b *mb) input(name string, elem pb.TensorProto_DataType, dims ...int64) *mb {
	b.inputs = append(b.inputs, valueInfo(name, elem, dims...))
	return b
}

func (b *mb) output(name string, elem pb.TensorProto_DataType, dims ...int64) *mb {
	b.outputs = append(b.outputs, valueInfo(name, elem, dims...))
	return b
}

func (b *mb) floats(name string, dims []int64, v ...float32) *mb {
	b.inits = append(b.inits, &pb.TensorProto{Name: proto.String(name), Dims: dims,
		DataType: proto.Int32(int32(pb.TensorProto_FLOAT)), FloatData: v})
	return b
}

func (b *mb) ints(name string, dims []int64, v ...int64) *mb {
	b.inits = append(b.inits, &pb.TensorProto{Name: proto.String(name), Dims: dims,
		DataType: proto.Int32(int32(pb.TensorProto_INT64)), Int64Data: v})
	return b
}

func (b *mb) proto() *pb.ModelProto {
	imports := []*pb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(b.opset)}}
	if b.ml > 0 {
		imports = append(imports, &pb.OperatorSetIdProto{Domain: proto.String(domainML), Version: proto.Int64(b.ml)})
	}
	return &pb.ModelProto{IrVersion: proto.Int64(8), OpsetImport: imports, Graph: &pb.GraphProto{
		Name: proto.String("test"), Node: b.nodes, Initializer: b.inits, Input: b.inputs, Output: b.outputs}}
}

func (b *mb) bytes(t testing.TB) []byte {
	t.Helper()
	out, err := proto.Marshal(b.proto())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func aInt(name string, v int64) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func aFloat(name string, v float32) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

func aString(name, v string) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_STRING.Enum(), S: []byte(v)}
}

func aInts(name string, v ...int64) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_INTS.Enum(), Ints: v}
}

func aFloats(name string, v ...float32) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_FLOATS.Enum(), Floats: v}
}

func aStrings(name string, v ...string) *pb.AttributeProto {
	a := &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_STRINGS.Enum()}
	for _, s := range v {
		a.Strings = append(a.Strings, []byte(s))
	}
	return a
}

func aTensor(name string, t *pb.TensorProto) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_TENSOR.Enum(), T: t}
}

// linearModel is a 3-class LinearClassifier over 2 features with a ZipMap.
func linearModel() *mb {
	return newMB().input("X", pb.TensorProto_FLOAT, -1, 2).
		ml1("LinearClassifier", []string{"X"}, []string{"label", "probs"},
			aFloats("coefficients", 1, 0, 0, 1, -1, -1), aFloats("intercepts", 0, 0, 0.5),
			aStrings("classlabels_strings", "a", "b", "c"), aString("post_transform", "SOFTMAX")).
		ml1("ZipMap", []string{"probs"}, []string{"probabilities"}, aStrings("classlabels_strings", "a", "b", "c")).
		output("label", pb.TensorProto_STRING, -1).output("probabilities", pb.TensorProto_FLOAT, -1)
}

// mlpModel is a Gemm/Relu/Gemm/Softmax network over width features with the given hidden
// and output sizes and deterministic pseudo-random weights.
func mlpModel(width, hidden, classes int) *mb {
	b := newMB()
	b.ml = 0
	seed := uint32(7)
	rnd := func(n int) []float32 {
		out := make([]float32, n)
		for i := range out {
			seed = seed*1664525 + 1013904223
			out[i] = (float32(seed>>8)/float32(1<<24) - 0.5) * 0.6
		}
		return out
	}
	b.input("X", pb.TensorProto_FLOAT, -1, int64(width))
	b.floats("W0", []int64{int64(width), int64(hidden)}, rnd(width*hidden)...)
	b.floats("B0", []int64{int64(hidden)}, rnd(hidden)...)
	b.floats("W1", []int64{int64(hidden), int64(hidden)}, rnd(hidden*hidden)...)
	b.floats("B1", []int64{int64(hidden)}, rnd(hidden)...)
	b.floats("W2", []int64{int64(hidden), int64(classes)}, rnd(hidden*classes)...)
	b.floats("B2", []int64{int64(classes)}, rnd(classes)...)
	b.op("Gemm", []string{"X", "W0", "B0"}, []string{"h0"}).op("Relu", []string{"h0"}, []string{"a0"}).
		op("Gemm", []string{"a0", "W1", "B1"}, []string{"h1"}).op("Relu", []string{"h1"}, []string{"a1"}).
		op("Gemm", []string{"a1", "W2", "B2"}, []string{"h2"}).op("Softmax", []string{"h2"}, []string{"probs"}, aInt("axis", -1)).
		output("probs", pb.TensorProto_FLOAT, -1, int64(classes))
	return b
}

// forestModel is a TreeEnsembleClassifier of nTrees complete trees of the given depth over
// width features and 2 classes (one positive-class weight per leaf, skl2onnx style), with
// deterministic pseudo-random splits.
func forestModel(nTrees, depth, width int) *mb {
	seed := uint32(11)
	next := func() uint32 {
		seed = seed*1664525 + 1013904223
		return seed >> 8
	}
	var treeIDs, nodeIDs, feats, trues, falses, wTree, wNode, wID []int64
	var modes []string
	var values, weights []float32
	n := 1<<(depth+1) - 1
	for t := range nTrees {
		for i := range n {
			treeIDs = append(treeIDs, int64(t))
			nodeIDs = append(nodeIDs, int64(i))
			if i < n/2 {
				feats = append(feats, int64(next()%uint32(width)))
				modes = append(modes, "BRANCH_LEQ")
				values = append(values, float32(next())/float32(1<<24)*2-1)
				trues = append(trues, int64(2*i+1))
				falses = append(falses, int64(2*i+2))
				continue
			}
			feats = append(feats, 0)
			modes = append(modes, "LEAF")
			values = append(values, 0)
			trues = append(trues, 0)
			falses = append(falses, 0)
			wTree = append(wTree, int64(t))
			wNode = append(wNode, int64(i))
			wID = append(wID, 0)
			weights = append(weights, float32(next())/float32(1<<24)/float32(nTrees))
		}
	}
	return newMB().input("X", pb.TensorProto_FLOAT, -1, int64(width)).
		ml1("TreeEnsembleClassifier", []string{"X"}, []string{"label", "probs"},
			aInts("nodes_treeids", treeIDs...), aInts("nodes_nodeids", nodeIDs...), aInts("nodes_featureids", feats...),
			aStrings("nodes_modes", modes...), aFloats("nodes_values", values...), aInts("nodes_truenodeids", trues...),
			aInts("nodes_falsenodeids", falses...), aInts("class_treeids", wTree...), aInts("class_nodeids", wNode...),
			aInts("class_ids", wID...), aFloats("class_weights", weights...), aInts("classlabels_int64s", 0, 1)).
		output("label", pb.TensorProto_INT64, -1).output("probs", pb.TensorProto_FLOAT, -1, 2)
}
