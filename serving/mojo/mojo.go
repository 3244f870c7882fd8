package mojo

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/actorserve/actorserve/serving"
	"github.com/actorserve/actorserve/serving/source"
)

// Format is the descriptor format name this package registers.
const Format = "mojo"

// Limits on what [Load] and [Parse] accept. They bound memory and load time for hostile or
// corrupt uploads; real models are far below them.
const (
	MaxModelBytes        = 256 << 20 // size of the MOJO zip
	MaxUncompressedBytes = 1 << 30   // all entries read from the zip, uncompressed
	MaxEntries           = 1 << 21   // entries in the zip
	MaxColumns           = 1 << 20   // n_columns
	MaxLevels            = 1 << 24   // levels in one categorical domain
	MaxClasses           = 1 << 16   // n_classes, K-means centres
	MaxTrees             = 1 << 21   // tree files (groups x trees per group)
	MaxNodes             = 1 << 26   // decoded nodes in all trees together
	MaxTreeDepth         = 1 << 14   // levels in one tree
	MaxWeights           = 1 << 28   // deep learning weights and biases together
)

// Register adds the "mojo" format to r.
func Register(r *serving.Registry) { r.Register(Format, Load) }

func loadErr(format string, args ...any) error {
	return fmt.Errorf("%w: mojo: %s", serving.ErrInvalidModel, fmt.Sprintf(format, args...))
}

// task is what a model's predictions carry.
type task uint8

const (
	taskClass   task = iota // label index and class probabilities (binomial, multinomial, ordinal)
	taskRegress             // one value
	taskCluster             // cluster index and squared distances to every centre
	taskAnomaly             // normalized score and mean path length (isolation forest)
)

// scorer is one algorithm's arithmetic. score works on row (len NumFeatures, already
// converted: categorical levels are indices or NaN) and may overwrite it; it fills preds
// (len predsLen) the way genmodel's score0 does: [label, p_0..p_K-1] for classifiers,
// [value] for regression, [cluster, d_0..d_K-1] for clustering (distances are this
// package's addition), [normalized score, mean path length] for isolation forests.
type scorer interface {
	score(h *header, row, preds []float64) error
}

// header is what every MOJO has: model.ini's common keys, column names and domains.
type header struct {
	algo        string // model.ini "algorithm", e.g. "Gradient Boosting Machine"
	version     float64
	category    string
	supervised  bool
	nfeatures   int
	nclasses    int
	columns     []string   // n_columns names; features first, response last when supervised
	domains     [][]string // per column; nil for numeric columns
	threshold   float64    // default_threshold for binomial labels
	balance     bool       // balance_classes: correct probabilities by the class priors
	prior       []float64  // prior_class_distrib, nil when absent
	modelDistrb []float64  // model_class_distrib, nil when absent
}

// Model is a loaded MOJO: immutable and safe for concurrent use.
type Model struct {
	h        header
	task     task
	sc       scorer
	predsLen int
	levels   []int32  // per feature: number of categorical levels, or -1 for a numeric column
	labels   []string // classes (taskClass), clusters (taskCluster); nil otherwise
	anomFlag bool     // isolation forest with output_anomaly_flag: label "1" or "0"
}

var _ serving.Model = (*Model)(nil)

// Load builds a model from d, whose data is the base64 of a MOJO zip (or whose location
// names one) of at most [MaxModelBytes]. A non-empty d.Features must list the MOJO's own
// feature names in order. For classifiers, d.Labels may rename the classes when the MOJO's
// response levels are "0".."K-1"; otherwise they must equal the levels. For K-means models
// d.Labels names the clusters ("0".."K-1" by default). Errors wrap [serving.ErrInvalidModel].
func Load(d *serving.Descriptor) (serving.Model, error) {
	b, err := source.Load(d, Format, "the base64 of the MOJO zip", MaxModelBytes)
	if err != nil {
		return nil, err
	}
	m, err := Parse(b)
	if err != nil {
		return nil, err
	}
	if err := m.checkFeatures(d.Features); err != nil {
		return nil, err
	}
	if err := m.setLabels(d.Labels); err != nil {
		return nil, err
	}
	return m, nil
}

// Parse reads a MOJO zip. Unsupported algorithms, MOJO versions newer than genmodel 3.47
// reads, and settings this package does not implement are errors that name them.
func Parse(b []byte) (*Model, error) {
	if len(b) > MaxModelBytes {
		return nil, loadErr("MOJO is %d bytes, over the limit of %d", len(b), MaxModelBytes)
	}
	a, err := openArchive(b)
	if err != nil {
		return nil, err
	}
	if !a.exists("model.ini") {
		for name := range a.files {
			if strings.HasSuffix(name, "/model.ini") {
				return nil, loadErr("model.ini is at %q, not at the root of the zip (nested MOJOs such as stacked ensembles are not supported)", clip(name))
			}
		}
		return nil, loadErr("zip has no model.ini at its root: not a MOJO")
	}
	raw, err := a.read("model.ini")
	if err != nil {
		return nil, err
	}
	p, err := parseINI(raw)
	if err != nil {
		return nil, err
	}
	m := &Model{}
	if err := m.h.read(p, a); err != nil {
		return nil, err
	}
	alg, ok := algorithms[m.h.algo]
	if !ok {
		short, _ := p.get("algo")
		return nil, loadErr("algorithm %q (algo %q) is not supported; supported: %s", clip(m.h.algo), clip(short), supportedAlgorithms())
	}
	if m.h.version > alg.maxVersion+1e-9 {
		return nil, loadErr("%s MOJO version %s is not supported: h2o-genmodel 3.47 reads %s MOJOs up to version %.2f",
			alg.name, clip(p.kv["mojo_version"]), alg.name, alg.maxVersion)
	}
	if m.h.version < 1-1e-9 {
		return nil, loadErr("%s MOJO version %s is not supported: versions start at 1.00", alg.name, clip(p.kv["mojo_version"]))
	}
	if err := alg.read(m, p, a); err != nil {
		return nil, err
	}
	m.levels = make([]int32, m.h.nfeatures)
	for j := range m.levels {
		m.levels[j] = -1
		if d := m.h.domains[j]; d != nil {
			m.levels[j] = int32(len(d))
		}
	}
	if m.labels == nil {
		switch m.task {
		case taskClass:
			m.labels = m.h.responseLevels()
		case taskCluster:
			m.labels = indexLabels(m.predsLen - 1)
		}
	}
	return m, nil
}

type algorithm struct {
	name       string // for messages
	maxVersion float64
	read       func(m *Model, p *ini, a *archive) error
}

// algorithms maps model.ini's "algorithm" to its reader, with the highest MOJO version
// h2o-genmodel 3.47 reads for it.
var algorithms = map[string]algorithm{
	"Gradient Boosting Machine":   {"GBM", 1.40, readGBM},
	"Gradient Boosting Method":    {"GBM", 1.40, readGBM},
	"Distributed Random Forest":   {"DRF", 1.40, readDRF},
	"Isolation Forest":            {"Isolation Forest", 1.40, readIsoFor},
	"Generalized Linear Modeling": {"GLM", 1.00, readGLM},
	"Generalized Linear Model":    {"GLM", 1.00, readGLM},
	"K-means":                     {"K-means", 1.00, readKMeans},
	"Deep Learning":               {"Deep Learning", 1.10, readDeepLearning},
	"deep learning":               {"Deep Learning", 1.10, readDeepLearning},
}

func supportedAlgorithms() string {
	names := make([]string, 0, len(algorithms))
	for k := range algorithms {
		names = append(names, strconv.Quote(k))
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// read fills h from model.ini and the domain files.
func (h *header) read(p *ini, a *archive) error {
	var err error
	if h.algo, err = p.str("algorithm"); err != nil {
		return loadErr("model.ini has no algorithm: not a MOJO model.ini")
	}
	if h.version, err = p.float("mojo_version"); err != nil {
		return err
	}
	if math.IsNaN(h.version) {
		return loadErr("model.ini: mojo_version is NaN")
	}
	if h.category, err = p.str("category"); err != nil {
		return err
	}
	if h.supervised, err = p.boolOr("supervised", false); err != nil {
		return err
	}
	if h.nfeatures, err = p.intKey("n_features"); err != nil {
		return err
	}
	if h.nclasses, err = p.intKey("n_classes"); err != nil {
		return err
	}
	h.columns = p.columns
	nc := len(h.columns)
	if h.nfeatures < 1 || h.nfeatures > nc {
		return loadErr("model.ini: n_features %d is not in [1, n_columns = %d]", h.nfeatures, nc)
	}
	if h.supervised && h.nfeatures == nc {
		return loadErr("model.ini: a supervised model needs a response column after its %d features, n_columns is %d", h.nfeatures, nc)
	}
	if h.nclasses < 1 || h.nclasses > MaxClasses {
		return loadErr("model.ini: n_classes %d is not in [1, %d]", h.nclasses, MaxClasses)
	}
	if h.threshold, err = p.floatOr("default_threshold", 0.5); err != nil {
		return err
	}
	if h.balance, err = p.boolOr("balance_classes", false); err != nil {
		return err
	}
	if h.prior, _, err = p.floats("prior_class_distrib"); err != nil {
		return err
	}
	if h.modelDistrb, _, err = p.floats("model_class_distrib"); err != nil {
		return err
	}
	if enc, ok := p.get("_genmodel_encoding"); ok {
		switch enc {
		case "AUTO", "Enum", "SortByResponse", "OneHotInternal":
		default:
			return loadErr("categorical_encoding %q is not supported (only AUTO, Enum, SortByResponse and OneHotInternal models take their columns as trained)", clip(enc))
		}
	}
	escape, err := p.boolOr("escape_domain_values", false)
	if err != nil {
		return err
	}
	h.domains = make([][]string, nc)
	idx := make([]int, 0, len(p.domains))
	for i := range p.domains {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	for _, i := range idx {
		if i >= nc {
			continue // genmodel ignores these too
		}
		spec := p.domains[i]
		ns, file, ok := strings.Cut(spec, " ")
		if !ok {
			return loadErr("model.ini: domain of column %d is %q, want \"nlevels file\"", i, clip(spec))
		}
		n, err := strconv.Atoi(ns)
		if err != nil || n < 0 || n > MaxLevels {
			return loadErr("model.ini: domain of column %q has %q levels, want an integer in [0, %d]", clip(h.columns[i]), clip(ns), MaxLevels)
		}
		raw, err := a.read("domains/" + file)
		if err != nil {
			return err
		}
		levels := lines(raw)
		if len(levels) != n {
			return loadErr("domains/%s has %d levels, model.ini says column %q has %d", clip(file), len(levels), clip(h.columns[i]), n)
		}
		if escape {
			for k := range levels {
				levels[k] = unescapeNewlines(levels[k])
			}
		}
		h.domains[i] = levels
	}
	if h.balance {
		if len(h.prior) != h.nclasses || len(h.modelDistrb) != h.nclasses {
			return loadErr("model.ini: balance_classes needs prior_class_distrib and model_class_distrib of n_classes = %d values", h.nclasses)
		}
	}
	return nil
}

// responseLevels names the classes: the response column's domain, or "0".."K-1" without one.
func (h *header) responseLevels() []string {
	if h.supervised {
		if d := h.domains[len(h.columns)-1]; len(d) == h.nclasses {
			return slices.Clone(d)
		}
	}
	return indexLabels(h.nclasses)
}

func indexLabels(k int) []string {
	out := make([]string, k)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}

// checkClasses checks that a classifier has the class count its algorithm reader set up.
func (h *header) checkClassifier(what string) error {
	if h.nclasses < 2 {
		return loadErr("%s model category %s has n_classes %d, want at least 2", what, h.category, h.nclasses)
	}
	if h.supervised {
		if d := h.domains[len(h.columns)-1]; d != nil && len(d) != h.nclasses {
			return loadErr("response %q has %d levels but n_classes is %d", clip(h.columns[len(h.columns)-1]), len(d), h.nclasses)
		}
	}
	return nil
}

// checkCategoricalFirst checks that the first cats columns are categorical, as GLM and
// Deep Learning models order them.
func (h *header) checkCategoricalFirst(what string, cats int) error {
	for i := range cats {
		if h.domains[i] == nil {
			return loadErr("%s has %d categorical columns first, but column %d %q has no domain", what, cats, i, clip(h.columns[i]))
		}
	}
	return nil
}

func (m *Model) checkFeatures(names []string) error {
	if len(names) == 0 {
		return nil
	}
	if len(names) != m.h.nfeatures {
		return loadErr("MOJO takes %d features (%s), the descriptor lists %d", m.h.nfeatures, clip(strings.Join(m.h.columns[:m.h.nfeatures], ", ")), len(names))
	}
	for j, n := range names {
		if n != m.h.columns[j] {
			return loadErr("features[%d] is %q but the MOJO's feature %d is %q; list the MOJO's features in its order", j, clip(n), j, clip(m.h.columns[j]))
		}
	}
	return nil
}

// setLabels applies the descriptor's labels: renames of index-named classes or clusters, or
// a check that they equal the model's own class names.
func (m *Model) setLabels(labels []string) error {
	if len(labels) == 0 {
		return nil
	}
	if m.labels == nil {
		return loadErr("a %s model takes no labels, the descriptor has %d", m.h.category, len(labels))
	}
	if len(labels) != len(m.labels) {
		return loadErr("model has %d %s, the descriptor has %d labels (model's: %s)", len(m.labels), m.labelKind(), len(labels), clip(strings.Join(m.labels, ", ")))
	}
	seen := make(map[string]struct{}, len(labels))
	for i, l := range labels {
		if _, dup := seen[l]; dup {
			return loadErr("labels[%d] %q repeats an earlier label", i, clip(l))
		}
		seen[l] = struct{}{}
	}
	if !slices.Equal(m.labels, indexLabels(len(m.labels))) {
		for i, l := range labels {
			if l != m.labels[i] {
				return loadErr("labels[%d] is %q but the model's class %d is %q; a MOJO names its classes, so labels must equal them (%s) or be left out",
					i, clip(l), i, clip(m.labels[i]), clip(strings.Join(m.labels, ", ")))
			}
		}
	}
	m.labels = slices.Clone(labels)
	return nil
}

func (m *Model) labelKind() string {
	if m.task == taskCluster {
		return "clusters"
	}
	return "classes"
}

// NumFeatures is the number of input columns (model.ini n_features).
func (m *Model) NumFeatures() int { return m.h.nfeatures }

// Algorithm is model.ini's algorithm name, such as "Gradient Boosting Machine".
func (m *Model) Algorithm() string { return m.h.algo }

// Features returns the MOJO's input column names, in input order.
func (m *Model) Features() []string { return slices.Clone(m.h.columns[:m.h.nfeatures]) }

// Levels returns the levels of categorical input column j (its value is an index into
// them), or nil for a numeric column or j out of range.
func (m *Model) Levels(j int) []string {
	if j < 0 || j >= m.h.nfeatures {
		return nil
	}
	return slices.Clone(m.h.domains[j])
}

// Labels returns the class (or cluster) names predictions use; nil for regression and
// anomaly models.
func (m *Model) Labels() []string { return slices.Clone(m.labels) }

// String describes the model, for logs.
func (m *Model) String() string {
	return fmt.Sprintf("mojo %s %s (MOJO %.2f), %d features", m.h.algo, m.h.category, m.h.version, m.h.nfeatures)
}

var errNotFinite = fmt.Errorf("%w: mojo: a prediction is not finite (feature values too large?)", serving.ErrModel)

// Predict scores x: numeric columns as numbers, categorical columns as the level index
// (see [Model.Levels]); NaN is missing, an integer index outside the levels is an unseen
// level and treated as missing, as genmodel does with convertUnknownCategoricalLevelsToNa.
func (m *Model) Predict(x []float64) (serving.Prediction, error) {
	buf := make([]float64, m.h.nfeatures+m.predsLen) // scratch: the converted row, then genmodel's preds
	return m.predict(x, buf[:m.h.nfeatures], buf[m.h.nfeatures:])
}

func (m *Model) predict(x, row, preds []float64) (serving.Prediction, error) {
	if err := m.convert(x, row); err != nil {
		return serving.Prediction{}, err
	}
	clear(preds)
	if err := m.sc.score(&m.h, row, preds); err != nil {
		return serving.Prediction{}, err
	}
	return m.output(preds)
}

// convert copies x into row, checking categorical values: NaN stays missing, an integer
// outside [0, levels) becomes missing (an unseen level), a fraction is an error.
func (m *Model) convert(x, row []float64) error {
	if len(x) != m.h.nfeatures {
		return fmt.Errorf("%w: mojo: expected %d features, got %d", serving.ErrSchemaMismatch, m.h.nfeatures, len(x))
	}
	for j, v := range x {
		if n := m.levels[j]; n >= 0 && v == v {
			if v != math.Trunc(v) {
				return fmt.Errorf("%w: mojo: feature %q is categorical and takes a level index, got %v", serving.ErrSchemaMismatch, m.h.columns[j], v)
			}
			if v < 0 || v >= float64(n) {
				v = math.NaN()
			}
		}
		row[j] = v
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// output turns genmodel's preds array into a prediction.
func (m *Model) output(preds []float64) (serving.Prediction, error) {
	var p serving.Prediction
	switch m.task {
	case taskRegress:
		v := preds[0]
		if !finite(v) {
			return p, errNotFinite
		}
		p.Value = &v
	case taskClass, taskCluster:
		k := len(m.labels)
		scores := make(map[string]float64, k)
		for i, l := range m.labels {
			s := preds[i+1]
			if !finite(s) {
				return serving.Prediction{}, errNotFinite
			}
			scores[l] = s
		}
		c := int(preds[0])
		if c < 0 || c >= k || float64(c) != preds[0] {
			return serving.Prediction{}, errNotFinite
		}
		p.Label, p.Scores = m.labels[c], scores
		if m.task == taskCluster {
			v := float64(c)
			p.Value = &v
		}
	case taskAnomaly:
		score, mean := preds[0], preds[1]
		if !finite(score) || !finite(mean) {
			return p, errNotFinite
		}
		p.Value = &score
		p.Scores = map[string]float64{"score": score, "mean_length": mean}
		if m.anomFlag {
			p.Label = "0"
			if score > m.h.threshold {
				p.Label = "1"
			}
		}
	}
	return p, nil
}

// PredictBatch scores xs into out; errs[i] reports a row's failure (then out[i] is empty).
// Results equal Predict's exactly.
func (m *Model) PredictBatch(xs [][]float64, out []serving.Prediction, errs []error) error {
	if len(out) != len(xs) || len(errs) != len(xs) {
		return fmt.Errorf("%w: mojo: batch of %d rows needs %d outputs and errors, got %d and %d",
			serving.ErrModel, len(xs), len(xs), len(out), len(errs))
	}
	row := make([]float64, m.h.nfeatures+m.predsLen)
	for i, x := range xs {
		out[i], errs[i] = m.predict(x, row[:m.h.nfeatures], row[m.h.nfeatures:])
	}
	return nil
}
