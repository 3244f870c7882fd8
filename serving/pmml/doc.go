// Package pmml serves PMML documents (format "pmml") with its own evaluator, written against
// the DMG PMML 4.4 specification; PMML 3.x and 4.0–4.4 documents are accepted (they differ in
// the namespace). [Register] adds the format to a [serving.Registry]; [Load] reads the
// document from a descriptor (inline base64 or XML text, or a location through
// serving/source) and [Compile] turns it into an immutable, concurrency-safe [Model].
//
// Supported: DataDictionary (Values with valid/invalid/missing properties, Intervals),
// MiningSchema (usage types, missingValueReplacement, missingValueTreatment returnInvalid,
// invalidValueTreatment returnInvalid/asIs/asMissing/asValue, outliers),
// TransformationDictionary and LocalTransformations (Constant, FieldRef, NormContinuous with
// outliers, NormDiscrete, Discretize, MapValues with an InlineTable, Apply with the built-in
// functions and DefineFunction), Targets (min/max, rescaleFactor, rescaleConstant,
// castInteger, defaultValue and priorProbability), Output (predictedValue,
// predictedDisplayValue, probability, confidence, entityId, transformedValue, decision,
// segmentId), and the models RegressionModel, TreeModel, MiningModel (Segmentation with
// every multipleModelMethod but selectAll, which a single prediction cannot carry),
// NeuralNetwork, GeneralRegressionModel (regression, generalLinear, generalizedLinear,
// multinomialLogistic, ordinalMultinomial), NaiveBayesModel and SupportVectorMachineModel.
// Anything else fails the load with an error naming the element and its line.
//
// Inputs are float64 vectors in descriptor order: NaN is missing, a number given to a string
// field is compared as its decimal text, and float fields round to float32 as PMML
// evaluators do. Classification predictions carry the predicted category as the label and
// the class probabilities, when the model defines them, as scores; regressions carry a value.
// A null prediction (a tree that does not cover the input, a missing required input) is an
// empty Prediction, which the descriptor's on_empty policy handles.
//
// Hostile documents are bounded by [Limits]: document size, element depth and count, tree
// nodes, models and an evaluation step budget per prediction; DTD entity declarations are
// rejected and encoding/xml expands no entities.
package pmml
