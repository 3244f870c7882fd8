package onnx

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/actorserve/actorserve/serving"
	"github.com/actorserve/actorserve/serving/onnx/internal/pb"
)

// The benchmark models, built in code: a 100-tree TreeEnsembleClassifier of complete depth-6
// trees over 30 features (binary, one weight per leaf as skl2onnx writes it), and a small MLP
// 30 -> 64 -> 64 -> 3 of Gemm, Relu and Softmax.
func benchForest(t testing.TB) []byte { return forestModel(100, 6, 30).bytes(t) }
func benchMLP(t testing.TB) []byte    { return mlpModel(30, 64, 3).bytes(t) }

// benchLinear is a 3-class LinearClassifier over 30 features with softmax,
// as skl2onnx writes a LogisticRegression.
func benchLinear(t testing.TB) []byte {
	coef := make([]float32, 3*30)
	for i := range coef {
		coef[i] = float32(i%7)/7 - 0.4
	}
	return newMB().input("X", pb.TensorProto_FLOAT, -1, 30).
		ml1("LinearClassifier", []string{"X"}, []string{"label", "probs"},
			aFloats("coefficients", coef...), aFloats("intercepts", 0.1, -0.2, 0.3),
			aStrings("classlabels_strings", "a", "b", "c"), aString("post_transform", "SOFTMAX")).
		output("label", pb.TensorProto_STRING, -1).output("probs", pb.TensorProto_FLOAT, -1, 3).bytes(t)
}

func benchRows() [][]float64 {
	r := rand.New(rand.NewPCG(3, 4))
	xs := make([][]float64, 64)
	for i := range xs {
		xs[i] = make([]float64, 30)
		for j := range xs[i] {
			xs[i][j] = r.NormFloat64()
		}
	}
	return xs
}

func benchPredict(b *testing.B, model []byte) {
	m := load(b, model, nil)
	xs := benchRows()
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := m.Predict(xs[i%64]); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/row")
	})
	b.Run("batch64", func(b *testing.B) {
		out := make([]serving.Prediction, len(xs))
		errs := make([]error, len(xs))
		b.ReportAllocs()
		for b.Loop() {
			if err := m.PredictBatch(xs, out, errs); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(xs)), "ns/row")
	})
}

// BenchmarkTreeEnsemble scores the 100-tree classifier one row at a time and in batches of
// 64 (ns/op is per batch there; ns/row is per row in both).
// Run: go test -run='^$' -bench=. -benchmem ./serving/onnx
func BenchmarkTreeEnsemble(b *testing.B) { benchPredict(b, benchForest(b)) }

// BenchmarkMLP scores the Gemm/Relu/Softmax network the same way.
func BenchmarkMLP(b *testing.B) { benchPredict(b, benchMLP(b)) }

// BenchmarkLinear scores the 30-feature LinearClassifier.
func BenchmarkLinear(b *testing.B) { benchPredict(b, benchLinear(b)) }

// BenchmarkLoad parses, checks and probes the 100-tree model.
func BenchmarkLoad(b *testing.B) {
	model := benchForest(b)
	b.SetBytes(int64(len(model)))
	for b.Loop() {
		if _, err := parse(model); err != nil {
			b.Fatal(err)
		}
	}
}

// TestWriteBenchModels writes the benchmark models to $ONNX_BENCH_DIR so that
// testdata/bench_ort.js can time onnxruntime on the very same graphs; it does nothing when
// the variable is unset.
func TestWriteBenchModels(t *testing.T) {
	dir := os.Getenv("ONNX_BENCH_DIR")
	if dir == "" {
		t.Skip("set ONNX_BENCH_DIR to write the benchmark models")
	}
	for name, b := range map[string][]byte{"bench_forest.onnx": benchForest(t), "bench_mlp.onnx": benchMLP(t), "bench_linear.onnx": benchLinear(t)} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
