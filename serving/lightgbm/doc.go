// Package lightgbm serves gradient-boosted tree models saved by LightGBM in its text model
// format, the model.txt that `Booster.save_model` and the CLI write. [Register] adds the
// "lightgbm" format to a [serving.Registry]; [Load] builds an immutable, concurrency-safe
// [serving.Model] from a descriptor whose data is the base64 of that file.
//
// Predictions follow LightGBM's own arithmetic (Tree::Predict, GBDT::Predict), in float64:
// values with |x| <= 1e-35 count as zero; a numerical split sends x left when x <= threshold,
// with the decision_type bits deciding where missing values go (missing type None: NaN is
// treated as 0; Zero: 0 and NaN follow the default direction; NaN: NaN follows it); a
// categorical split sends x left when int(x) is in the split's cat_threshold bitset, and NaN
// and negative values right. Tree outputs are summed per class (tree i belongs to class
// i % num_tree_per_iteration), averaged for random-forest models (average_output), and
// transformed by the objective.
//
// Objectives: binary (sigmoid with its sigmoid:k parameter), multiclass (softmax),
// multiclassova (one sigmoid per class), cross_entropy (sigmoid value), the identity
// regressions (regression with its sqrt option, regression_l1, huber, fair, quantile, mape, and
// the ranking objectives lambdarank and rank_xendcg), and poisson, gamma and tweedie (exp).
// Linear trees (linear_tree), cross_entropy_lambda and models without an objective (custom
// objectives) are rejected with an error that names them.
//
// Every loader input is bounded: [MaxModelBytes], [MaxTrees], [MaxNodes], [MaxFeatures],
// [MaxClasses]; every child, feature and category index is checked and every tree must be a
// tree (no node reached twice, no cycle) before the model is returned.
package lightgbm
