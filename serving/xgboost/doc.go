// Package xgboost serves gradient-boosted tree models saved by XGBoost (>= 1.0) in its JSON
// model format, the file `Booster.save_model("model.json")` writes. [Register] adds the
// "xgboost" format to a [serving.Registry]; [Load] builds an immutable, concurrency-safe
// [serving.Model] from a descriptor whose data is the base64 of that file.
//
// Predictions follow XGBoost's own arithmetic: inputs are rounded to float32, a node sends x
// left when float32(x) < split_condition, a NaN input follows the node's default_left,
// categorical splits send the listed categories right, tree outputs are summed in float32
// onto base_score (converted to a margin by the objective's inverse link), and the objective's
// transform is applied in float32. The result matches Booster.predict to float32 rounding.
//
// Objectives: binary:logistic and binary:logitraw (label and per-label scores; logitraw also
// reports the raw margin as value), multi:softprob and multi:softmax (label and softmax
// scores), and as regression values reg:squarederror, reg:linear, reg:absoluteerror,
// reg:pseudohubererror, reg:squaredlogerror, reg:logistic (sigmoid), count:poisson, reg:gamma
// and reg:tweedie (exp). Boosters gbtree and dart (weight_drop); random forests
// (num_parallel_tree) and multiclass models through tree_info. The UBJSON format, the old
// binary format, gblinear, vector-leaf (multi_strategy) trees and per-class base_score vectors
// are rejected with an error that names them.
//
// Every loader input is bounded: [MaxModelBytes], [MaxTrees], [MaxNodes], [MaxFeatures],
// [MaxClasses]; every child index is checked and every tree must be a tree (no node reached
// twice, no cycle) before the model is returned.
package xgboost
