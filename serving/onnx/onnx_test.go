package onnx

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/actorserve/actorserve/serving"
	"github.com/actorserve/actorserve/serving/onnx/internal/pb"
)

func load(t testing.TB, b []byte, labels []string) *model {
	t.Helper()
	m, err := Load(descriptorFor(b, labels))
	if err != nil {
		t.Fatal(err)
	}
	return m.(*model)
}

func TestLinearClassifierModel(t *testing.T) {
	m := load(t, linearModel().bytes(t), nil)
	if m.NumFeatures() != 2 || !m.batch || m.task != taskClassify {
		t.Fatalf("width %d, batch %v, task %v", m.NumFeatures(), m.batch, m.task)
	}
	p, err := m.Predict([]float64{2, 1})
	if err != nil {
		t.Fatal(err)
	}
	// scores 2, 1, -2.5: softmax
	e := []float64{math.Exp(2), math.Exp(1), math.Exp(-2.5)}
	sum := e[0] + e[1] + e[2]
	if p.Label != "a" || math.Abs(p.Scores["a"]-e[0]/sum) > 1e-6 || math.Abs(p.Scores["c"]-e[2]/sum) > 1e-6 || p.Value != nil {
		t.Errorf("Predict = %+v", p)
	}
	// The model's labels must match the descriptor's when both are given.
	if _, err := Load(descriptorFor(linearModel().bytes(t), []string{"a", "b", "c"})); err != nil {
		t.Errorf("equal labels: %v", err)
	}
	_, err = Load(descriptorFor(linearModel().bytes(t), []string{"a", "c", "b"}))
	if !errors.Is(err, serving.ErrInvalidModel) || !strings.Contains(err.Error(), `["a", "b", "c"]`) {
		t.Errorf("labels in another order: %v", err)
	}
}

// An ArgMax label output declares no classes: its indices name the descriptor's labels.
func TestArgMaxLabels(t *testing.T) {
	b := mlpModel(2, 3, 3).op("ArgMax", []string{"probs"}, []string{"label"}, aInt("axis", 1), aInt("keepdims", 0))
	b.outputs = append([]*pb.ValueInfoProto{valueInfo("label", pb.TensorProto_INT64, -1)}, b.outputs...)
	m := load(t, b.bytes(t), []string{"x", "y", "z"})
	p, err := m.Predict([]float64{1, -1})
	if err != nil {
		t.Fatal(err)
	}
	best := "x"
	for _, l := range []string{"y", "z"} {
		if p.Scores[l] > p.Scores[best] {
			best = l
		}
	}
	if p.Label != best || len(p.Scores) != 3 {
		t.Errorf("Predict = %+v, want label %q", p, best)
	}
	if _, err := Load(descriptorFor(b.bytes(t), nil)); !errors.Is(err, serving.ErrInvalidModel) || !strings.Contains(err.Error(), "set the descriptor's labels") {
		t.Errorf("no labels: %v", err)
	}
}

func TestRegisterAndRegistryLoad(t *testing.T) {
	reg := serving.NewRegistry()
	Register(reg)
	if !reg.Has(Format) {
		t.Fatal("onnx not registered")
	}
	d := descriptorFor(linearModel().bytes(t), nil)
	d.Features = []string{"x", "y"}
	m, err := reg.Load(d)
	if err != nil {
		t.Fatal(err)
	}
	if m.NumFeatures() != 2 {
		t.Errorf("NumFeatures = %d", m.NumFeatures())
	}
	d.Features = []string{"x"}
	if _, err := reg.Load(d); !errors.Is(err, serving.ErrInvalidModel) {
		t.Errorf("feature count mismatch: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	good := linearModel
	tests := []struct {
		name string
		d    func() *serving.Descriptor
		want string
	}{
		{"missing location", func() *serving.Descriptor {
			return &serving.Descriptor{ID: "m", Format: Format, Location: "file:///nonexistent/actorserve/m.onnx"}
		}, "/nonexistent/actorserve/m.onnx"},
		{"no data", func() *serving.Descriptor { return &serving.Descriptor{ID: "m", Format: Format} }, "data is missing"},
		{"not base64", func() *serving.Descriptor {
			return &serving.Descriptor{ID: "m", Format: Format, Data: []byte(`"%%%"`)}
		}, "base64"},
		{"garbage", func() *serving.Descriptor { return descriptorFor([]byte("not a model at all"), nil) }, "not an ONNX model"},
		{"empty model", func() *serving.Descriptor { return descriptorFor(nil, nil) }, "not an ONNX model"},
		{"unsupported operators", func() *serving.Descriptor {
			b := good().op("Conv", []string{"X", "W"}, []string{"y"}).ml1("CategoryMapper", []string{"X"}, []string{"z"})
			return descriptorFor(b.bytes(t), nil)
		}, "unsupported operators: CategoryMapper (domain ai.onnx.ml), Conv (domain ai.onnx)"},
		{"unknown domain", func() *serving.Descriptor {
			b := good().node("Foo", "com.example", []string{"X"}, []string{"z"})
			return descriptorFor(b.bytes(t), nil)
		}, "Foo (domain com.example)"},
		{"domain not imported", func() *serving.Descriptor {
			b := good()
			b.ml = 0
			return descriptorFor(b.bytes(t), nil)
		}, "does not import"},
		{"missing producer", func() *serving.Descriptor {
			b := good().op("Relu", []string{"nowhere"}, []string{"r"})
			return descriptorFor(b.bytes(t), nil)
		}, `reads "nowhere"`},
		{"two producers", func() *serving.Descriptor {
			b := good().op("Identity", []string{"X"}, []string{"label"})
			return descriptorFor(b.bytes(t), nil)
		}, "produced by two nodes"},
		{"cycle", func() *serving.Descriptor {
			b := good().op("Add", []string{"X", "c2"}, []string{"c1"}).op("Add", []string{"c1", "X"}, []string{"c2"})
			return descriptorFor(b.bytes(t), nil)
		}, "cycle"},
		{"arity", func() *serving.Descriptor {
			b := good().op("Relu", []string{"X", "X"}, []string{"r"})
			return descriptorFor(b.bytes(t), nil)
		}, "has 2 inputs, want 1"},
		{"attribute type", func() *serving.Descriptor {
			b := good().op("LeakyRelu", []string{"X"}, []string{"r"}, aInt("alpha", 2))
			return descriptorFor(b.bytes(t), nil)
		}, `attribute "alpha" is of type INT, want FLOAT`},
		{"coefficients", func() *serving.Descriptor {
			b := newMB().input("X", pb.TensorProto_FLOAT, -1, 2).
				ml1("LinearRegressor", []string{"X"}, []string{"y"}, aFloats("coefficients", 1, 2, 3), aInt("targets", 2)).
				output("y", pb.TensorProto_FLOAT, -1, 2)
			return descriptorFor(b.bytes(t), nil)
		}, "do not split into 2 targets"},
		{"feature count", func() *serving.Descriptor {
			b := newMB().input("X", pb.TensorProto_FLOAT, -1, 3).
				ml1("LinearRegressor", []string{"X"}, []string{"y"}, aFloats("coefficients", 1, 2)).
				output("y", pb.TensorProto_FLOAT, -1, 1)
			return descriptorFor(b.bytes(t), nil)
		}, "input has 3 features"},
		{"gemm shapes", func() *serving.Descriptor {
			b := newMB().input("X", pb.TensorProto_FLOAT, -1, 3).floats("W", []int64{2, 2}, 1, 2, 3, 4).
				op("Gemm", []string{"X", "W"}, []string{"y"}).output("y", pb.TensorProto_FLOAT, -1, 2)
			return descriptorFor(b.bytes(t), nil)
		}, "inner dimensions 3 and 2 differ"},
		{"initializer size", func() *serving.Descriptor {
			b := newMB().input("X", pb.TensorProto_FLOAT, -1, 2).floats("W", []int64{1 << 30, 1 << 30}, 1).
				op("Add", []string{"X", "W"}, []string{"y"}).output("y", pb.TensorProto_FLOAT, -1, 2)
			return descriptorFor(b.bytes(t), nil)
		}, "the limit on tensor elements"},
		{"initializer data", func() *serving.Descriptor {
			b := newMB().input("X", pb.TensorProto_FLOAT, -1, 2).floats("W", []int64{2}, 1).
				op("Add", []string{"X", "W"}, []string{"y"}).output("y", pb.TensorProto_FLOAT, -1, 2)
			return descriptorFor(b.bytes(t), nil)
		}, "has 1 values, want 2"},
		{"string input", func() *serving.Descriptor {
			b := newMB().input("S", pb.TensorProto_STRING, -1, 1).
				ml1("LabelEncoder", []string{"S"}, []string{"y"}, aStrings("keys_strings", "a"), aInts("values_int64s", 1)).
				output("y", pb.TensorProto_INT64, -1, 1)
			return descriptorFor(b.bytes(t), nil)
		}, "features are numbers"},
		{"symbolic feature dim", func() *serving.Descriptor {
			b := newMB().input("X", pb.TensorProto_FLOAT, -1, -1).op("Relu", []string{"X"}, []string{"y"}).
				output("y", pb.TensorProto_FLOAT, -1, -1)
			return descriptorFor(b.bytes(t), nil)
		}, "only the first (batch) dimension may be symbolic"},
		{"tree cycle", func() *serving.Descriptor {
			b := newMB().input("X", pb.TensorProto_FLOAT, -1, 2).
				ml1("TreeEnsembleRegressor", []string{"X"}, []string{"y"},
					aInts("nodes_treeids", 0, 0), aInts("nodes_nodeids", 0, 1), aInts("nodes_featureids", 0, 1),
					aStrings("nodes_modes", "BRANCH_LEQ", "BRANCH_LEQ"), aFloats("nodes_values", 0, 0),
					aInts("nodes_truenodeids", 1, 0), aInts("nodes_falsenodeids", 1, 0), aInt("n_targets", 1)).
				output("y", pb.TensorProto_FLOAT, -1, 1)
			return descriptorFor(b.bytes(t), nil)
		}, "cycle"},
		{"tree feature", func() *serving.Descriptor {
			b := newMB().input("X", pb.TensorProto_FLOAT, -1, 2).
				ml1("TreeEnsembleRegressor", []string{"X"}, []string{"y"},
					aInts("nodes_treeids", 0, 0, 0), aInts("nodes_nodeids", 0, 1, 2), aInts("nodes_featureids", 5, 0, 0),
					aStrings("nodes_modes", "BRANCH_LEQ", "LEAF", "LEAF"), aFloats("nodes_values", 0, 0, 0),
					aInts("nodes_truenodeids", 1, 0, 0), aInts("nodes_falsenodeids", 2, 0, 0), aInt("n_targets", 1)).
				output("y", pb.TensorProto_FLOAT, -1, 1)
			return descriptorFor(b.bytes(t), nil)
		}, "splits on feature 5 but the input has 2 features"},
		{"tree mode", func() *serving.Descriptor {
			b := newMB().input("X", pb.TensorProto_FLOAT, -1, 2).
				ml1("TreeEnsembleRegressor", []string{"X"}, []string{"y"},
					aInts("nodes_treeids", 0), aInts("nodes_nodeids", 0), aInts("nodes_featureids", 0),
					aStrings("nodes_modes", "BRANCH_SOMETIMES"), aFloats("nodes_values", 0),
					aInts("nodes_truenodeids", 0), aInts("nodes_falsenodeids", 0), aInt("n_targets", 1)).
				output("y", pb.TensorProto_FLOAT, -1, 1)
			return descriptorFor(b.bytes(t), nil)
		}, `mode "BRANCH_SOMETIMES"`},
		{"post transform", func() *serving.Descriptor {
			b := newMB().input("X", pb.TensorProto_FLOAT, -1, 2).
				ml1("LinearRegressor", []string{"X"}, []string{"y"}, aFloats("coefficients", 1, 2), aString("post_transform", "EXP")).
				output("y", pb.TensorProto_FLOAT, -1, 1)
			return descriptorFor(b.bytes(t), nil)
		}, `post_transform "EXP"`},
		{"probit with one row", func() *serving.Descriptor {
			b := newMB().input("X", pb.TensorProto_FLOAT, -1, 2).
				ml1("LinearClassifier", []string{"X"}, []string{"l", "s"}, aFloats("coefficients", 1, 2), aFloats("intercepts", 0),
					aInts("classlabels_ints", 0, 1), aString("post_transform", "PROBIT")).
				output("l", pb.TensorProto_INT64, -1).output("s", pb.TensorProto_FLOAT, -1, 2)
			return descriptorFor(b.bytes(t), nil)
		}, "PROBIT with one coefficient row"},
		{"regressor with labels", func() *serving.Descriptor {
			b := newMB().input("X", pb.TensorProto_FLOAT, -1, 2).
				ml1("LinearRegressor", []string{"X"}, []string{"y"}, aFloats("coefficients", 1, 2)).
				output("y", pb.TensorProto_FLOAT, -1, 1)
			return descriptorFor(b.bytes(t), []string{"a", "b", "c"})
		}, "takes no labels"},
		{"multi-target regressor", func() *serving.Descriptor {
			b := newMB().input("X", pb.TensorProto_FLOAT, -1, 2).
				ml1("LinearRegressor", []string{"X"}, []string{"y"}, aFloats("coefficients", 1, 2, 3, 4), aInt("targets", 2)).
				output("y", pb.TensorProto_FLOAT, -1, 2)
			return descriptorFor(b.bytes(t), nil)
		}, "2 values per row"},
		{"mlp labels", func() *serving.Descriptor {
			return descriptorFor(mlpModel(4, 5, 3).bytes(t), []string{"a", "b"})
		}, "3 scores per row for 2 classes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Load(tc.d())
			if err == nil {
				t.Fatalf("loaded %v", m)
			}
			if !errors.Is(err, serving.ErrInvalidModel) {
				t.Errorf("error does not wrap ErrInvalidModel: %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestPredictErrors(t *testing.T) {
	m := load(t, linearModel().bytes(t), nil)
	if _, err := m.Predict([]float64{1}); !errors.Is(err, serving.ErrSchemaMismatch) {
		t.Errorf("short row: %v", err)
	}
	// int64 inputs take integers only; a bad row fails alone in a batch.
	b := newMB().input("X", pb.TensorProto_INT64, -1, 2).
		op("Cast", []string{"X"}, []string{"xf"}, aInt("to", int64(pb.TensorProto_FLOAT))).
		ml1("LinearRegressor", []string{"xf"}, []string{"y"}, aFloats("coefficients", 1, 10)).
		output("y", pb.TensorProto_FLOAT, -1, 1)
	im := load(t, b.bytes(t), nil)
	xs := [][]float64{{1, 2}, {1.5, 2}, {3, 4}, {math.NaN(), 0}}
	out := make([]serving.Prediction, len(xs))
	errs := make([]error, len(xs))
	if err := im.PredictBatch(xs, out, errs); err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || *out[0].Value != 21 || errs[2] != nil || *out[2].Value != 43 {
		t.Errorf("good rows: %+v %v, %+v %v", out[0], errs[0], out[2], errs[2])
	}
	for _, i := range []int{1, 3} {
		if !errors.Is(errs[i], serving.ErrInvalidEvent) || !out[i].Empty() {
			t.Errorf("row %d: %+v, %v", i, out[i], errs[i])
		}
	}
	if err := im.PredictBatch(xs, out[:1], errs); err == nil {
		t.Error("PredictBatch accepted short outputs")
	}
	// A score that overflows is a model error, not a NaN in the prediction.
	big := load(t, newMB().input("X", pb.TensorProto_FLOAT, -1, 1).
		ml1("LinearRegressor", []string{"X"}, []string{"y"}, aFloats("coefficients", 3e38)).
		output("y", pb.TensorProto_FLOAT, -1, 1).bytes(t), nil)
	if _, err := big.Predict([]float64{10}); !errors.Is(err, serving.ErrModel) {
		t.Errorf("overflow: %v", err)
	}
	// onnxruntime's Binarizer rejects NaN; so do we, as a model error naming the node.
	bin := load(t, newMB().input("X", pb.TensorProto_FLOAT, -1, 1).
		ml1("Binarizer", []string{"X"}, []string{"b"}, aFloat("threshold", 0.5)).
		output("b", pb.TensorProto_FLOAT, -1, 1).bytes(t), nil)
	if _, err := bin.Predict([]float64{math.NaN()}); !errors.Is(err, serving.ErrModel) || !strings.Contains(err.Error(), "Binarizer") {
		t.Errorf("NaN into Binarizer: %v", err)
	}
	if p, err := bin.Predict([]float64{0.75}); err != nil || *p.Value != 1 {
		t.Errorf("Binarizer(0.75) = %+v, %v", p, err)
	}
}

// TestBatchDetection checks that batching is used only when rows stay apart, and that the
// predictions are the same either way.
func TestBatchDetection(t *testing.T) {
	w := []float32{1, 2, 3, 4}
	tests := []struct {
		name  string
		b     *mb
		batch bool
	}{
		{"mlp", mlpModel(3, 4, 2), true},
		{"forest", forestModel(3, 2, 4), true},
		{"softmax over the batch", newMB().input("X", pb.TensorProto_FLOAT, -1, 2).
			op("Softmax", []string{"X"}, []string{"y"}, aInt("axis", 0)).output("y", pb.TensorProto_FLOAT, -1, 2), false},
		{"transpose", newMB().input("X", pb.TensorProto_FLOAT, -1, 2).floats("W", []int64{2, 2}, w...).
			op("Transpose", []string{"X"}, []string{"xt"}).op("MatMul", []string{"W", "xt"}, []string{"m"}).
			op("Transpose", []string{"m"}, []string{"y"}).op("Softmax", []string{"y"}, []string{"p"}, aInt("axis", 1)).
			output("p", pb.TensorProto_FLOAT, -1, 2), false},
		{"reshape keeps rows", newMB().input("X", pb.TensorProto_FLOAT, -1, 4).ints("s", []int64{3}, 0, 2, 2).
			ints("s2", []int64{2}, -1, 4).
			op("Reshape", []string{"X", "s"}, []string{"r"}).op("Softmax", []string{"r"}, []string{"sm"}, aInt("axis", -1)).
			op("Reshape", []string{"sm", "s2"}, []string{"y"}).output("y", pb.TensorProto_FLOAT, -1, 4), true},
		{"flatten the batch", newMB().input("X", pb.TensorProto_FLOAT, -1, 2).ints("s", []int64{1}, -1).
			op("Reshape", []string{"X", "s"}, []string{"r"}).op("Softmax", []string{"r"}, []string{"sm"}).
			ints("s2", []int64{2}, -1, 2).op("Reshape", []string{"sm", "s2"}, []string{"y"}).
			output("y", pb.TensorProto_FLOAT, -1, 2), false},
		{"fixed batch of one", newMB().input("X", pb.TensorProto_FLOAT, 1, 2).
			op("Softmax", []string{"X"}, []string{"y"}, aInt("axis", 1)).output("y", pb.TensorProto_FLOAT, 1, 2), false},
	}
	xs := [][]float64{{0.5, -1, 2, 0.25}, {3, 1, -2, 0}, {0, 0, 1, 1}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := load(t, tc.b.bytes(t), nil)
			if m.batch != tc.batch {
				t.Errorf("batch = %v, want %v", m.batch, tc.batch)
			}
			rows := make([][]float64, len(xs))
			for i, x := range xs {
				rows[i] = x[:m.NumFeatures()]
			}
			out := make([]serving.Prediction, len(rows))
			errs := make([]error, len(rows))
			if err := m.PredictBatch(rows, out, errs); err != nil {
				t.Fatal(err)
			}
			for i, x := range rows {
				p, err := m.Predict(x)
				if err != nil || errs[i] != nil || !reflect.DeepEqual(p, out[i]) {
					t.Errorf("row %d: Predict %+v (%v), PredictBatch %+v (%v)", i, p, err, out[i], errs[i])
				}
			}
		})
	}
}

// TestTreeEnsembleV5Transforms checks TreeEnsemble's integer post_transform as the ONNX spec
// numbers it (1 SOFTMAX, 2 LOGISTIC). onnxruntime 1.30 swaps 1 and 2, so the fixtures cannot
// cover these two values.
func TestTreeEnsembleV5Transforms(t *testing.T) {
	build := func(post int64) *mb {
		b := newMB()
		b.ml, b.opset = 5, 21
		return b.input("X", pb.TensorProto_FLOAT, -1, 1).
			ml1("TreeEnsemble", []string{"X"}, []string{"Y"},
				aInts("nodes_featureids", 0), aInts("nodes_truenodeids", 0), aInts("nodes_falsenodeids", 1),
				aInts("nodes_trueleafs", 1), aInts("nodes_falseleafs", 1), aInts("leaf_targetids", 0, 1),
				aInts("tree_roots", 0), aInt("n_targets", 2), aInt("post_transform", post),
				aTensor("nodes_modes", &pb.TensorProto{Dims: []int64{1}, DataType: proto.Int32(int32(pb.TensorProto_UINT8)), RawData: []byte{0}}),
				aTensor("nodes_splits", &pb.TensorProto{Dims: []int64{1}, DataType: proto.Int32(int32(pb.TensorProto_FLOAT)), FloatData: []float32{0}}),
				aTensor("leaf_weights", &pb.TensorProto{Dims: []int64{2}, DataType: proto.Int32(int32(pb.TensorProto_FLOAT)), FloatData: []float32{1.5, -0.5}})).
			output("Y", pb.TensorProto_FLOAT, -1, 2)
	}
	for _, tc := range []struct {
		post int64
		want [2]float64 // for x <= 0: target 0 scores 1.5, target 1 none (0)
	}{
		{0, [2]float64{1.5, 0}},
		{1, [2]float64{math.Exp(1.5) / (math.Exp(1.5) + 1), 1 / (math.Exp(1.5) + 1)}},
		{2, [2]float64{1 / (1 + math.Exp(-1.5)), 0.5}},
	} {
		g, err := decodeGraph(build(tc.post).bytes(t))
		if err != nil {
			t.Fatal(err)
		}
		outs, err := g.run([]*tensor{{dt: dtFloat, shape: []int{1, 1}, f: []float32{-1}}})
		if err != nil {
			t.Fatal(err)
		}
		for k, w := range tc.want {
			if got := float64(outs[0].f[k]); math.Abs(got-w) > 1e-6 {
				t.Errorf("post_transform %d: output[%d] = %v, want %v", tc.post, k, got, w)
			}
		}
	}
}

// TestConcurrentPredict runs Predict and PredictBatch from many goroutines (run with -race).
func TestConcurrentPredict(t *testing.T) {
	models := []*model{load(t, linearModel().bytes(t), nil), load(t, forestModel(5, 3, 4).bytes(t), nil),
		load(t, mlpModel(4, 8, 3).bytes(t), nil)}
	x := []float64{0.25, -0.5, 1, 0.75}
	var wg sync.WaitGroup
	for _, m := range models {
		want, err := m.Predict(x[:m.NumFeatures()])
		if err != nil {
			t.Fatal(err)
		}
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				xs := [][]float64{x[:m.NumFeatures()], x[:m.NumFeatures()]}
				out := make([]serving.Prediction, 2)
				errs := make([]error, 2)
				for range 50 {
					p, err := m.Predict(x[:m.NumFeatures()])
					if err != nil || !reflect.DeepEqual(p, want) {
						t.Errorf("Predict = %+v, %v; want %+v", p, err, want)
						return
					}
					if err := m.PredictBatch(xs, out, errs); err != nil || !reflect.DeepEqual(out[1], want) {
						t.Errorf("PredictBatch = %+v, %v", out[1], err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
}

// TestRunLimits checks that a graph that would compute huge tensors fails to load with an
// error instead of exhausting memory.
func TestRunLimits(t *testing.T) {
	col := make([]float32, 4096)
	b := newMB().input("X", pb.TensorProto_FLOAT, 1, 1).floats("c", []int64{4096, 1}, col...).floats("r", []int64{1, 4096}, col...).
		op("Add", []string{"c", "r"}, []string{"big"}). // 16M elements, folded at load
		op("Add", []string{"big", "X"}, []string{"b2"}).op("Add", []string{"b2", "X"}, []string{"b3"}).
		op("Add", []string{"b3", "X"}, []string{"y"}).output("y", pb.TensorProto_FLOAT, 4096, 4096)
	_, err := Load(descriptorFor(b.bytes(t), nil))
	if !errors.Is(err, serving.ErrInvalidModel) || !strings.Contains(err.Error(), "more than") {
		t.Errorf("huge intermediate tensors: %v", err)
	}
	b2 := newMB().input("X", pb.TensorProto_FLOAT, -1, 1).floats("c", []int64{8192, 1}, make([]float32, 8192)...).
		floats("r", []int64{1, 8192}, make([]float32, 8192)...).op("Add", []string{"c", "r"}, []string{"y"}).
		output("y", pb.TensorProto_FLOAT, -1, 1)
	if _, err := Load(descriptorFor(b2.bytes(t), nil)); !errors.Is(err, serving.ErrInvalidModel) || !strings.Contains(err.Error(), "limit") {
		t.Errorf("one huge tensor: %v", err)
	}
}

func TestCastFormatting(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		bits int
		want string
	}{
		{0.5, 32, "0.5"}, {1e10, 32, "1e+10"}, {-0.0001234, 32, "-0.0001234"}, {123456789, 32, "1.2345679e+08"},
		{1.0 / 3, 64, "0.33333333333333331"}, {math.NaN(), 32, "NaN"}, {math.Inf(-1), 64, "-INF"}, {7, 32, "7"},
		{math.Copysign(0, -1), 32, "-0"}, {1e-5, 32, "1e-05"},
	} {
		if got := formatFloat(tc.v, tc.bits); got != tc.want {
			t.Errorf("formatFloat(%v, %d) = %q, want %q", tc.v, tc.bits, got, tc.want)
		}
	}
}
