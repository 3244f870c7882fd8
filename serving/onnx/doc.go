// Package onnx serves models in the ONNX format (format "onnx") with a pure-Go evaluator: no
// cgo, no onnxruntime. [Load] decodes the ModelProto (Go types generated from onnx-ml.proto
// live in internal/pb), checks the whole graph before returning (every operator implemented,
// arities, attribute types and values, initializers, element types, static shapes, and a
// probe run on rows of zeros), and returns an immutable, concurrency-safe [serving.Model];
// [Register] adds the format to a [serving.Registry].
//
// Operators: the ai.onnx.ml operators of scikit-learn, XGBoost, LightGBM and Spark exports
// (LinearClassifier, LinearRegressor, TreeEnsembleClassifier, TreeEnsembleRegressor with every
// node mode, missing-value tracking, aggregate function, base values and post transform,
// TreeEnsemble of ai.onnx.ml 5 with set membership, SVMClassifier and SVMRegressor with the
// LINEAR, POLY, RBF and SIGMOID kernels and Platt probabilities, Scaler, Normalizer, ZipMap,
// LabelEncoder, OneHotEncoder, Imputer, ArrayFeatureExtractor, Binarizer, FeatureVectorizer)
// and the default-domain operators of small neural networks and pipelines (Gemm, MatMul, Add,
// Sub, Mul, Div, Relu, LeakyRelu, Sigmoid, Tanh, Softmax, Reshape, Flatten, Transpose,
// Unsqueeze, Squeeze, Concat, Clip, ArgMax, Cast, Identity, Constant), with the attribute and
// input forms of every opset, over float, double, int64 and string tensors. Anything else
// (convolutions, recurrent cells, control flow, sequences and maps other than ZipMap's
// output, float16, external tensor data, model-local functions) fails the load, and the error
// names every unsupported operator with its domain: never a prediction.
//
// The arithmetic follows onnxruntime, the reference: float32 where it computes in float32, the
// fused multiply-add order and block lengths of its GEMM for linear models and SVMs, its
// approximations of tanh, logistic and PROBIT's inverse erf, its binary-classifier special
// cases and its zero for unscored classes. The dense Gemm and MatMul kernels accumulate in
// float64. One deliberate difference: TreeEnsemble's integer post_transform follows the ONNX
// spec (1 SOFTMAX, 2 LOGISTIC), which onnxruntime 1.30 swaps. testdata/README.md lists the
// fixtures and the measured agreement.
//
// Predictions: a model with a label output (int64 or string) or a classifier operator is a
// classifier, with the class labels the model declares (a descriptor's labels must equal them,
// except that classes 0..K-1 with int64 labels, what scikit-learn exports for an integer target,
// are indices the descriptor's K labels name);
// a model whose only output holds one score per class (a network ending in Softmax) takes the
// descriptor's labels, or "0", "1", ...; an output of one value per row is a regression value,
// or, when the descriptor has two labels, the probability of the second. Features feed the
// graph inputs in order, each [batch, ...] input taking as many features as its fixed
// dimensions hold. [serving.Model.PredictBatch] scores a whole batch in one graph run when the
// graph keeps rows apart along the batch axis (checked statically and by the probe runs),
// else one run per row.
//
// Every input is bounded: [MaxModelBytes], [MaxNodes], [MaxTensorElements] for any tensor
// loaded or computed, [MaxRunElements] for one run, [MaxTreeNodes], [MaxClasses], and a cap on
// the multiply-adds or tree-node visits of one operator run. Errors wrap
// [serving.ErrInvalidModel] at load and [serving.ErrModel] at prediction, and name the node
// and operator concerned.
package onnx
