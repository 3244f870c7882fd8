// Package mojo serves H2O MOJO models (format "mojo"), read natively in Go from the zip that
// H2O's download_mojo writes: model.ini, domains/*.txt and the algorithm's data. [Register]
// adds the format to a [serving.Registry]; [Load] builds an immutable, concurrency-safe
// [Model] from a descriptor whose data is the base64 of the zip (or whose location names
// it), and [Parse] reads the zip bytes directly.
//
// Supported algorithms, with the highest MOJO version h2o-genmodel 3.47 reads for each:
// Gradient Boosting Machine and Distributed Random Forest (regression, binomial and
// multinomial; 1.40), Isolation Forest (1.40), Generalized Linear Model (regression,
// binomial, multinomial, ordinal; 1.00), K-means (1.00) and Deep Learning (regression,
// binomial, multinomial; 1.10). Anything else — stacked ensembles, XGBoost, GLRM, PCA,
// word2vec, CoxPH, extended isolation forest, deep learning autoencoders, newer MOJO
// versions, non-AUTO categorical encodings — fails the load with an error that names it.
//
// Predictions follow genmodel's own arithmetic: the compressed trees are decoded once at
// load and walked as scoreTree does (x >= split goes right, NaN and out-of-range levels
// follow the node's NA direction), float32 leaves are summed in float64 in tree order; GBM
// applies init_f and its link, DRF averages votes, GLM adds coefficients in genmodel's
// order, K-means measures squared distances in standardized space, Deep Learning keeps its
// weights in float32 and sums them in genmodel's order. Results equal genmodel's to the
// last bit except where exp() is involved (within about 1e-15 relative).
//
// Inputs are float64 vectors in the MOJO's column order ([Model.Features]): numeric
// columns as numbers, categorical columns as the index of the level in the column's domain
// ([Model.Levels]). NaN is missing; an integer index outside the domain is an unseen level,
// treated as missing the way genmodel treats unseen levels with
// convertUnknownCategoricalLevelsToNa; a fractional index is an error.
//
// Outputs: classifiers give the class label (binomial: class 1 iff p1 >= the model's
// default_threshold; multinomial: the most probable class, ties broken as genmodel does) and
// one score per class; regressions give a value; K-means gives the cluster as label ("0",
// "1", ... unless the descriptor's labels name them) and as value, and the squared distance
// to each centre as scores; isolation forests give the normalized anomaly score as value and
// scores "score" (the same) and "mean_length" (mean path length), plus a "1"/"0" label when
// the model was trained with output_anomaly_flag.
//
// Every loader input is bounded: [MaxModelBytes], [MaxUncompressedBytes], [MaxEntries],
// [MaxColumns], [MaxLevels], [MaxClasses], [MaxTrees], [MaxNodes], [MaxTreeDepth] and
// [MaxWeights]; every tree is decoded and bounds-checked before the model is returned.
package mojo
