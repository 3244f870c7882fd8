package xgboost

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/actorserve/actorserve/serving"
	"github.com/actorserve/actorserve/serving/source"
)

// Format is the descriptor format name this package registers.
const Format = "xgboost"

// Limits on what [Load] accepts. They bound memory and load time for hostile or corrupt
// uploads; real models are far below them.
const (
	MaxModelBytes = 256 << 20 // size of the JSON model file
	MaxTrees      = 1 << 20   // trees in one model
	MaxNodes      = 1 << 25   // nodes in all trees together
	MaxFeatures   = 1 << 20   // learner_model_param.num_feature
	MaxClasses    = 1 << 12   // learner_model_param.num_class
	maxCategory   = 1 << 24   // categories are float32-exact integers below 2^24
)

// Register adds the "xgboost" format to r.
func Register(r *serving.Registry) { r.Register(Format, Load) }

type objective uint8

const (
	objRegression  objective = iota // identity: value = margin
	objRegLogistic                  // value = sigmoid(margin)
	objRegExp                       // value = exp(margin)
	objBinary                       // binary:logistic: p = sigmoid(margin)
	objLogitRaw                     // binary:logitraw: p = sigmoid(margin), value = margin
	objSoftprob                     // multi:softprob: scores = softmax(margins)
	objSoftmax                      // multi:softmax: label = argmax; scores = softmax(margins)
)

var objectives = map[string]objective{
	"reg:squarederror":     objRegression,
	"reg:linear":           objRegression,
	"reg:absoluteerror":    objRegression,
	"reg:pseudohubererror": objRegression,
	"reg:squaredlogerror":  objRegression,
	"reg:logistic":         objRegLogistic,
	"count:poisson":        objRegExp,
	"reg:gamma":            objRegExp,
	"reg:tweedie":          objRegExp,
	"binary:logistic":      objBinary,
	"binary:logitraw":      objLogitRaw,
	"multi:softprob":       objSoftprob,
	"multi:softmax":        objSoftmax,
}

func supportedObjectives() string {
	names := make([]string, 0, len(objectives))
	for k := range objectives {
		names = append(names, k)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// Node flags, kept in the high bits of node.feature (features are below MaxFeatures).
const (
	flagDefaultLeft = 1 << 31
	flagCategorical = 1 << 30
	featureMask     = 1<<30 - 1
)

// node is one tree node. A leaf has left < 0 and its value in cond. Trees are laid out
// breadth first so that a node's right child directly follows its left child: the walk
// computes the next index without a branch on the comparison.
type node struct {
	cond    float32 // split condition (go left when float32(x) < cond), or the leaf value
	feature uint32  // feature index | flags
	left    int32   // absolute index into model.nodes of the left child; -1 for a leaf
}

type tree struct {
	root   int32
	group  int32
	weight float32 // dart weight_drop; 1 for gbtree
}

// model is an immutable XGBoost model; safe for concurrent use.
type model struct {
	obj     objective
	width   int
	groups  int
	base    float32 // base_score as a margin
	dart    bool
	trees   []tree
	nodes   []node
	cats    []int32    // per node: index into catSets for categorical splits; nil without any
	catSets [][]uint32 // sorted categories that go right
	labels  []string   // classification only
}

func loadErr(format string, args ...any) error {
	return fmt.Errorf("%w: xgboost: %s", serving.ErrInvalidModel, fmt.Sprintf(format, args...))
}

// Load builds a model from d, whose data is the base64 of an XGBoost JSON model file (the
// output of save_model("model.json"), XGBoost >= 1.0) of at most [MaxModelBytes].
//
// Binary models (objective binary:*) classify into two labels, multi:* models into num_class
// labels: d.Labels names them in class order, or is empty for "0", "1", .... Regression
// objectives take no labels. Errors wrap [serving.ErrInvalidModel] and say what is wrong.
func Load(d *serving.Descriptor) (serving.Model, error) {
	b, err := source.Load(d, "xgboost", "the base64 of the save_model(\"model.json\") file", MaxModelBytes)
	if err != nil {
		return nil, err
	}
	m, err := parse(b)
	if err != nil {
		return nil, err
	}
	if err := m.setLabels(d.Labels); err != nil {
		return nil, err
	}
	if n := len(d.Features); n > 0 && n != m.width {
		return nil, loadErr("model takes %d features (num_feature) but the descriptor lists %d", m.width, n)
	}
	return m, nil
}

func (m *model) setLabels(labels []string) error {
	var k int
	switch m.obj {
	case objBinary, objLogitRaw:
		k = 2
	case objSoftprob, objSoftmax:
		k = m.groups
	default:
		if len(labels) > 0 {
			return loadErr("objective is regression and takes no labels, descriptor has %d", len(labels))
		}
		return nil
	}
	if len(labels) == 0 {
		m.labels = make([]string, k)
		for i := range m.labels {
			m.labels[i] = strconv.Itoa(i)
		}
		return nil
	}
	if len(labels) != k {
		return loadErr("model has %d classes, descriptor has %d labels", k, len(labels))
	}
	seen := make(map[string]struct{}, k)
	for i, l := range labels {
		if _, dup := seen[l]; dup {
			return loadErr("labels[%d] %q repeats an earlier label", i, l)
		}
		seen[l] = struct{}{}
	}
	m.labels = slices.Clone(labels)
	return nil
}

// parse decodes and validates an XGBoost JSON model.
func parse(b []byte) (*model, error) {
	if len(b) > MaxModelBytes {
		return nil, loadErr("model is %d bytes, over the limit of %d", len(b), MaxModelBytes)
	}
	if err := checkFormat(b); err != nil {
		return nil, err
	}
	var jm jsonModel
	if err := json.Unmarshal(quoteNonFinite(b), &jm); err != nil {
		return nil, jsonErr(err)
	}
	if len(jm.Version) > 0 && jm.Version[0] < 1 {
		return nil, loadErr("version %v: JSON models start with XGBoost 1.0", jm.Version)
	}
	l := jm.Learner
	if l == nil {
		return nil, loadErr("no learner object; want the file of save_model(\"model.json\")")
	}
	if l.LearnerModelParam == nil {
		return nil, loadErr("learner.learner_model_param is missing")
	}
	mp := l.LearnerModelParam
	if l.Objective == nil || l.Objective.Name == "" {
		return nil, loadErr("learner.objective.name is missing")
	}
	obj, ok := objectives[l.Objective.Name]
	if !ok {
		return nil, loadErr("objective %q is not supported (supported: %s)", l.Objective.Name, supportedObjectives())
	}
	m := &model{obj: obj}

	numClass, err := param(mp.NumClass, "learner_model_param.num_class", 0, 0, MaxClasses)
	if err != nil {
		return nil, err
	}
	numTarget, err := param(mp.NumTarget, "learner_model_param.num_target", 1, 0, math.MaxInt32)
	if err != nil {
		return nil, err
	}
	if numTarget > 1 {
		return nil, loadErr("multi-target models (num_target %d) are not supported", numTarget)
	}
	if mp.NumFeature == nil {
		return nil, loadErr("learner_model_param.num_feature is missing")
	}
	width, err := param(mp.NumFeature, "learner_model_param.num_feature", 0, 1, MaxFeatures)
	if err != nil {
		return nil, err
	}
	m.width = int(width)
	m.groups = max(1, int(numClass))
	switch obj {
	case objSoftprob, objSoftmax:
		if m.groups < 2 {
			return nil, loadErr("objective %s needs num_class >= 2, model has %d", l.Objective.Name, numClass)
		}
	default:
		if m.groups != 1 {
			return nil, loadErr("objective %s has one output, but num_class is %d", l.Objective.Name, numClass)
		}
	}
	if m.base, err = baseMargin(mp.BaseScore, obj); err != nil {
		return nil, err
	}

	if len(l.GradientBooster) == 0 || string(l.GradientBooster) == "null" {
		return nil, loadErr("learner.gradient_booster is missing")
	}
	var gb jsonBooster
	if err := json.Unmarshal(l.GradientBooster, &gb); err != nil {
		return nil, jsonErr(err)
	}
	var gt *jsonGBTree
	var weights []float32
	switch gb.Name {
	case "gbtree":
		gt = gb.Model
	case "dart":
		if gb.GBTree == nil {
			return nil, loadErr("dart booster without its gbtree object")
		}
		gt = gb.GBTree.Model
		weights = gb.WeightDrop
		m.dart = true
	case "gblinear":
		return nil, loadErr("the gblinear booster is not supported; only tree boosters (gbtree, dart)")
	default:
		return nil, loadErr("gradient_booster.name %q is not supported (want gbtree or dart)", gb.Name)
	}
	if gt == nil {
		return nil, loadErr("gradient_booster has no model object")
	}
	if err := m.buildTrees(gt, weights); err != nil {
		return nil, err
	}
	return m, nil
}

// baseMargin parses base_score, stored by XGBoost >= 1.0 in output space, and converts it to
// a margin with the objective's inverse link, in float32 as XGBoost does.
func baseMargin(s *string, obj objective) (float32, error) {
	b := float32(0.5)
	if s != nil {
		str := strings.TrimSpace(*s)
		if strings.HasPrefix(str, "[") && strings.HasSuffix(str, "]") { // XGBoost >= 3.1 writes a vector
			parts := strings.Split(str[1:len(str)-1], ",")
			if len(parts) != 1 {
				return 0, loadErr("base_score %.60q: per-class base_score vectors are not supported", *s)
			}
			str = strings.TrimSpace(parts[0])
		}
		v, err := strconv.ParseFloat(str, 32)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, loadErr("learner_model_param.base_score %.60q is not a finite number", *s)
		}
		b = float32(v)
	}
	switch obj {
	case objBinary, objLogitRaw, objRegLogistic:
		if obj == objLogitRaw { // binary:logitraw keeps base_score as a margin
			return b, nil
		}
		if !(b > 0 && b < 1) {
			return 0, loadErr("base_score %v must be in (0, 1) for a logistic objective", b)
		}
		return -float32(math.Log(float64(float32(1)/b - 1))), nil
	case objRegExp:
		if !(b > 0) {
			return 0, loadErr("base_score %v must be positive for a log-link objective", b)
		}
		return float32(math.Log(float64(b))), nil
	}
	return b, nil
}

func (m *model) buildTrees(gt *jsonGBTree, weights []float32) error {
	n := len(gt.Trees)
	if n > MaxTrees {
		return loadErr("model has %d trees, over the limit of %d", n, MaxTrees)
	}
	if p := gt.Param; p != nil {
		if nt, err := param(p.NumTrees, "gbtree_model_param.num_trees", int64(n), 0, MaxTrees); err != nil {
			return err
		} else if nt != int64(n) {
			return loadErr("gbtree_model_param.num_trees is %d but the model has %d trees", nt, n)
		}
		if sl, err := param(p.SizeLeafVector, "gbtree_model_param.size_leaf_vector", 0, 0, math.MaxInt32); err != nil {
			return err
		} else if sl > 1 {
			return loadErr("vector-leaf trees (size_leaf_vector %d, multi_strategy) are not supported", sl)
		}
	}
	if len(gt.TreeInfo) != n {
		return loadErr("tree_info has %d entries for %d trees", len(gt.TreeInfo), n)
	}
	if m.dart && len(weights) != n {
		return loadErr("dart weight_drop has %d entries for %d trees", len(weights), n)
	}
	total := 0
	for i := range gt.Trees {
		total += len(gt.Trees[i].LeftChildren)
		if total > MaxNodes {
			return loadErr("model has more than %d nodes", MaxNodes)
		}
	}
	m.trees = make([]tree, n)
	m.nodes = make([]node, 0, total)
	var v validator
	for i := range gt.Trees {
		g := gt.TreeInfo[i]
		if g < 0 || g >= int64(m.groups) {
			return loadErr("tree_info[%d] = %d is not a class in [0, %d)", i, g, m.groups)
		}
		w := float32(1)
		if m.dart {
			wf := float64(weights[i])
			if math.IsNaN(wf) || math.IsInf(wf, 0) {
				return loadErr("weight_drop[%d] is not finite", i)
			}
			w = float32(wf)
		}
		root := int32(len(m.nodes))
		if err := v.addTree(m, i, &gt.Trees[i]); err != nil {
			return err
		}
		m.trees[i] = tree{root: root, group: int32(g), weight: w}
	}
	return nil
}

// validator checks trees and appends them to a model, reusing its scratch space.
type validator struct {
	seen  []bool
	order []int32 // original node indices in breadth-first order
	pos   []int32 // original node index -> position in order
	catOf []int32
}

// addTree validates tree t (index ti) and appends its nodes to m.nodes. It checks that every
// array has one entry per node, that every child index is in range, and that walking from the
// root reaches no node twice (so there is no cycle and no shared subtree) and ends in leaves.
// Nodes that the root does not reach (XGBoost's deleted nodes) are dropped.
func (v *validator) addTree(m *model, ti int, t *jsonTree) error {
	n := len(t.LeftChildren)
	if n == 0 {
		return loadErr("trees[%d] has no nodes", ti)
	}
	for _, a := range []struct {
		name string
		len  int
	}{
		{"right_children", len(t.RightChildren)},
		{"split_indices", len(t.SplitIndices)},
		{"split_conditions", len(t.SplitConditions)},
		{"default_left", len(t.DefaultLeft)},
	} {
		if a.len != n {
			return loadErr("trees[%d].%s has %d entries, left_children has %d", ti, a.name, a.len, n)
		}
	}
	if len(t.SplitType) != 0 && len(t.SplitType) != n {
		return loadErr("trees[%d].split_type has %d entries, left_children has %d", ti, len(t.SplitType), n)
	}
	if p := t.TreeParam; p != nil {
		if nn, err := param(p.NumNodes, fmt.Sprintf("trees[%d].tree_param.num_nodes", ti), int64(n), 0, MaxNodes); err != nil {
			return err
		} else if nn != int64(n) {
			return loadErr("trees[%d].tree_param.num_nodes is %d but the arrays have %d nodes", ti, nn, n)
		}
		if sl, err := param(p.SizeLeafVector, fmt.Sprintf("trees[%d].tree_param.size_leaf_vector", ti), 0, 0, math.MaxInt32); err != nil {
			return err
		} else if sl > 1 {
			return loadErr("trees[%d]: vector leaves (size_leaf_vector %d, multi_strategy) are not supported", ti, sl)
		}
	}

	// Categories: node -> sorted set of categories that go right.
	nc := len(t.CategoriesNodes)
	if len(t.CategoriesSegments) != nc || len(t.CategoriesSizes) != nc {
		return loadErr("trees[%d]: categories_nodes, categories_segments and categories_sizes have %d, %d and %d entries",
			ti, nc, len(t.CategoriesSegments), len(t.CategoriesSizes))
	}
	if nc > 0 {
		v.catOf = slices.Grow(v.catOf[:0], n)[:n]
		for i := range v.catOf {
			v.catOf[i] = -1
		}
		if m.cats == nil {
			m.cats = make([]int32, len(m.nodes), cap(m.nodes))
			for i := range m.cats {
				m.cats[i] = -1
			}
		}
		var sum int64 // bounds the copies below by the input size
		for j, nid := range t.CategoriesNodes {
			seg, size := t.CategoriesSegments[j], t.CategoriesSizes[j]
			if sum += size; size > 0 && sum > int64(len(t.Categories)) {
				return loadErr("trees[%d]: categories_sizes add up to more than the %d categories", ti, len(t.Categories))
			}
			if nid < 0 || nid >= int64(n) {
				return loadErr("trees[%d].categories_nodes[%d] = %d is not a node", ti, j, nid)
			}
			if v.catOf[nid] >= 0 {
				return loadErr("trees[%d].categories_nodes lists node %d twice", ti, nid)
			}
			if seg < 0 || size < 0 || seg > int64(len(t.Categories)) || size > int64(len(t.Categories))-seg {
				return loadErr("trees[%d]: categories of node %d (segment %d, size %d) are outside categories (%d entries)",
					ti, nid, seg, size, len(t.Categories))
			}
			set := make([]uint32, size)
			for k, c := range t.Categories[seg : seg+size] {
				if c < 0 || c >= maxCategory {
					return loadErr("trees[%d]: category %d of node %d is outside [0, %d)", ti, c, nid, maxCategory)
				}
				set[k] = uint32(c)
			}
			slices.Sort(set)
			v.catOf[nid] = int32(len(m.catSets))
			m.catSets = append(m.catSets, set)
		}
	}

	v.seen = slices.Grow(v.seen[:0], n)[:n]
	clear(v.seen)
	v.pos = slices.Grow(v.pos[:0], n)[:n]
	v.order = append(v.order[:0], 0)
	v.seen[0] = true
	for k := 0; k < len(v.order); k++ {
		i := v.order[k]
		v.pos[i] = int32(k)
		l, r := t.LeftChildren[i], t.RightChildren[i]
		if l == -1 {
			if r != -1 {
				return loadErr("trees[%d]: node %d has no left child but right child %d", ti, i, r)
			}
			if c := float64(t.SplitConditions[i]); math.IsNaN(c) || math.IsInf(c, 0) {
				return loadErr("trees[%d]: leaf %d has a non-finite value", ti, i)
			}
			continue
		}
		if l < 0 || l >= int64(n) || r < 0 || r >= int64(n) {
			return loadErr("trees[%d]: node %d has children %d and %d, outside [0, %d)", ti, i, l, r, n)
		}
		if f := t.SplitIndices[i]; f < 0 || f >= int64(m.width) {
			return loadErr("trees[%d]: node %d splits on feature %d, model has %d features", ti, i, f, m.width)
		}
		st := int64(0)
		if len(t.SplitType) > 0 {
			st = t.SplitType[i]
		}
		switch st {
		case 0:
			if math.IsNaN(float64(t.SplitConditions[i])) {
				return loadErr("trees[%d]: node %d has a NaN split condition", ti, i)
			}
		case 1:
			if nc == 0 || v.catOf[i] < 0 {
				return loadErr("trees[%d]: categorical node %d has no categories entry", ti, i)
			}
		default:
			return loadErr("trees[%d]: node %d has split_type %d (want 0 numerical or 1 categorical)", ti, i, st)
		}
		for _, c := range [2]int64{l, r} {
			if v.seen[c] {
				return loadErr("trees[%d]: node %d is reached twice from the root (a cycle or a shared subtree)", ti, c)
			}
			v.seen[c] = true
			v.order = append(v.order, int32(c))
		}
	}

	base := int32(len(m.nodes))
	for _, i := range v.order {
		nd := node{cond: t.SplitConditions[i], left: -1}
		cat := int32(-1)
		if l := t.LeftChildren[i]; l != -1 {
			nd.left = base + v.pos[l] // the right child is at v.pos[l]+1
			nd.feature = uint32(t.SplitIndices[i])
			if t.DefaultLeft[i] {
				nd.feature |= flagDefaultLeft
			}
			if len(t.SplitType) > 0 && t.SplitType[i] == 1 {
				nd.feature |= flagCategorical
				cat = v.catOf[i]
			}
		}
		m.nodes = append(m.nodes, nd)
		if m.cats != nil {
			m.cats = append(m.cats, cat)
		}
	}
	return nil
}

func (m *model) NumFeatures() int { return m.width }

// String describes the model's shape, for logs.
func (m *model) String() string {
	kind := "regression"
	switch m.obj {
	case objBinary, objLogitRaw:
		kind = "binary classifier"
	case objSoftprob, objSoftmax:
		kind = fmt.Sprintf("%d-class classifier", m.groups)
	}
	return fmt.Sprintf("xgboost %s, %d trees, %d nodes, %d features", kind, len(m.trees), len(m.nodes), m.width)
}

// leaf walks the tree rooted at i for x and returns its leaf value.
func (m *model) leaf(i int32, x []float64) float32 {
	nodes := m.nodes
	for {
		n := &nodes[i]
		if n.left < 0 {
			return n.cond
		}
		v := x[n.feature&featureMask]
		if n.feature&flagCategorical == 0 {
			right := b2i(!(float32(v) < n.cond)) // NaN compares false: right
			if v != v && n.feature&flagDefaultLeft != 0 {
				right = 0
			}
			i = n.left + right
			continue
		}
		switch {
		case v != v: // missing
			i = n.left + b2i(n.feature&flagDefaultLeft == 0)
		default:
			i = n.left + b2i(m.catRight(i, float32(v)))
		}
	}
}

// slowStep is the step from node n (index i) for a missing value or a categorical split.
func (m *model) slowStep(n *node, i int32, v float64) int32 {
	if v != v {
		return n.left + b2i(n.feature&flagDefaultLeft == 0)
	}
	return n.left + b2i(m.catRight(i, float32(v)))
}

// laneWidth is how many paths walk follows at once.
const laneWidth = 8

// walk walks laneWidth independent paths at once, lane l from node idx[l] for row x[l], and
// returns the leaf values they reach. The walks do not depend on each other, so the CPU
// overlaps their loads instead of waiting on one chain of dependent loads: one row through
// several trees (Predict) or several rows through one tree (PredictBatch).
func (m *model) walk(idx [laneWidth]int32, x *[laneWidth][]float64) (out [laneWidth]float32) {
	nodes := m.nodes
	for {
		active := false
		for l := range idx {
			n := &nodes[idx[l]]
			if n.left < 0 {
				continue
			}
			active = true
			v := x[l][n.feature&featureMask]
			if n.feature&flagCategorical != 0 || v != v {
				idx[l] = m.slowStep(n, idx[l], v)
				continue
			}
			idx[l] = n.left + b2i(!(float32(v) < n.cond))
		}
		if !active {
			for l, i := range idx {
				out[l] = nodes[i].cond
			}
			return out
		}
	}
}

// rootLanes starts every lane of walk at root.
func rootLanes(root int32) (idx [laneWidth]int32) {
	for l := range idx {
		idx[l] = root
	}
	return idx
}

// sameRow fills every lane with x.
func sameRow(x []float64) (lanes [laneWidth][]float64) {
	for l := range lanes {
		lanes[l] = x
	}
	return lanes
}

func b2i(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// catRight reports whether category c goes right at categorical node i: XGBoost sends the
// listed categories right, and everything else (unlisted, negative, too large) left.
func (m *model) catRight(i int32, c float32) bool {
	if !(c >= 0 && c < maxCategory) {
		return false
	}
	_, found := slices.BinarySearch(m.catSets[m.cats[i]], uint32(int32(c)))
	return found
}

// margins sums the trees' outputs for x into out (len m.groups) in float32, onto base_score,
// in tree order as XGBoost does. It walks laneWidth trees at a time.
func (m *model) margins(x []float64, out []float32) {
	for g := range out {
		out[g] = m.base
	}
	rows := sameRow(x)
	trees := m.trees
	for len(trees) > 0 {
		var idx [laneWidth]int32
		n := min(len(trees), laneWidth)
		for l := range idx {
			idx[l] = trees[min(l, n-1)].root // spare lanes repeat the last tree
		}
		v := m.walk(idx, &rows)
		for l, t := range trees[:n] {
			if m.dart {
				v[l] = float32(v[l] * t.weight) // the conversion keeps the product from fusing into the sum
			}
			out[t.group] += v[l]
		}
		trees = trees[n:]
	}
}

func sigmoid32(x float32) float32 {
	return 1 / (1 + float32(math.Exp(float64(-x))))
}

func finite32(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }

var errOverflow = fmt.Errorf("%w: xgboost: a score is not finite (feature values or model leaves too large?)", serving.ErrModel)

// maxStackClasses is how many classes predict scores without allocating scratch space.
const maxStackClasses = 32

func (m *model) check(x []float64) error {
	if len(x) != m.width {
		return fmt.Errorf("%w: xgboost: expected %d features, got %d", serving.ErrSchemaMismatch, m.width, len(x))
	}
	return nil
}

// Predict scores x. NaN values are missing and follow each split's default direction.
func (m *model) Predict(x []float64) (serving.Prediction, error) {
	if err := m.check(x); err != nil {
		return serving.Prediction{}, err
	}
	var p serving.Prediction
	var buf [maxStackClasses]float32
	v, hasValue, err := m.predict(x, &p, buf[:])
	if err != nil {
		return serving.Prediction{}, err
	}
	if hasValue {
		p.Value = &v
	}
	return p, nil
}

// predict fills p's label and scores for x and returns the value, if the objective has one.
// scratch holds the margins when there are at most len(scratch) classes.
func (m *model) predict(x []float64, p *serving.Prediction, scratch []float32) (value float64, hasValue bool, err error) {
	var z []float32
	if m.groups <= len(scratch) {
		z = scratch[:m.groups]
	} else {
		z = make([]float32, m.groups)
	}
	m.margins(x, z)
	return m.finish(z, p)
}

// finish turns margins z (len m.groups, overwritten) into p's label and scores, and returns
// the value if the objective has one.
func (m *model) finish(z []float32, p *serving.Prediction) (value float64, hasValue bool, err error) {
	switch m.obj {
	case objRegression, objRegLogistic, objRegExp:
		v := z[0]
		switch m.obj {
		case objRegLogistic:
			v = sigmoid32(v)
		case objRegExp:
			v = float32(math.Exp(float64(v)))
		}
		if !finite32(v) {
			return 0, false, errOverflow
		}
		return float64(v), true, nil
	case objBinary, objLogitRaw:
		if !finite32(z[0]) {
			return 0, false, errOverflow
		}
		pr := float64(sigmoid32(z[0]))
		label := m.labels[0]
		if pr > 0.5 {
			label = m.labels[1]
		}
		p.Label = label
		p.Scores = map[string]float64{m.labels[0]: 1 - pr, m.labels[1]: pr}
		if m.obj == objLogitRaw {
			return float64(z[0]), true, nil
		}
		return 0, false, nil
	}
	// multi:softprob and multi:softmax
	best := 0
	for k, v := range z {
		if !finite32(v) {
			return 0, false, errOverflow
		}
		if v > z[best] {
			best = k
		}
	}
	// XGBoost's common::Softmax: float32 exponentials, a float64 sum, float32 division.
	hi := z[best]
	var sum float64
	for k, v := range z {
		e := float32(math.Exp(float64(v - hi)))
		z[k] = e
		sum += float64(e)
	}
	s32 := float32(sum)
	scores := make(map[string]float64, len(z))
	for k, e := range z {
		scores[m.labels[k]] = float64(e / s32)
	}
	p.Label = m.labels[best]
	p.Scores = scores
	return 0, false, nil
}

// hasValue reports whether predictions carry a value (regression and binary:logitraw).
func (m *model) hasValue() bool {
	switch m.obj {
	case objBinary, objSoftprob, objSoftmax:
		return false
	}
	return true
}

// batchBlock is how many rows PredictBatch walks through each tree before moving to the next
// tree: one tree's nodes then stay in the CPU's L1 cache for the whole block.
const batchBlock = 64

// PredictBatch scores xs into out; errs[i] reports a row's failure (then out[i] is empty). It
// allocates one slice for the batch's margins, one for its values (regression), and for
// classifiers each row's scores map; nothing else per row. Results equal Predict's exactly.
func (m *model) PredictBatch(xs [][]float64, out []serving.Prediction, errs []error) error {
	if len(out) != len(xs) || len(errs) != len(xs) {
		return fmt.Errorf("%w: xgboost: batch of %d rows needs %d outputs and errors, got %d and %d",
			serving.ErrModel, len(xs), len(xs), len(out), len(errs))
	}
	var vals []float64
	if m.hasValue() {
		vals = make([]float64, len(xs))
	}
	g := m.groups
	acc := make([]float32, min(len(xs), batchBlock)*g)
	var laneBuf [batchBlock][]float64
	lanes := laneBuf[:0]
	var zeros []float64 // stands in for rows of the wrong width
	for _, x := range xs {
		if len(x) != m.width {
			zeros = make([]float64, m.width)
			break
		}
	}
	for start := 0; start < len(xs); start += batchBlock {
		rows := xs[start:min(start+batchBlock, len(xs))]
		for r, x := range rows {
			out[start+r], errs[start+r] = serving.Prediction{}, m.check(x)
			for k := range g {
				acc[r*g+k] = m.base
			}
		}
		// Rows of the wrong width walk with ok (a row of zeros) and are discarded below.
		lanes := lanes[:0]
		for _, x := range rows {
			if len(x) != m.width {
				x = zeros
			}
			lanes = append(lanes, x)
		}
		for _, t := range m.trees {
			r := 0
			for ; r+laneWidth <= len(lanes); r += laneWidth {
				v := m.walk(rootLanes(t.root), (*[laneWidth][]float64)(lanes[r:r+laneWidth]))
				for l := range v {
					if m.dart {
						v[l] = float32(v[l] * t.weight) // the conversion keeps the product from fusing into the sum
					}
					acc[(r+l)*g+int(t.group)] += v[l]
				}
			}
			for ; r < len(lanes); r++ {
				v := m.leaf(t.root, lanes[r])
				if m.dart {
					v = float32(v * t.weight)
				}
				acc[r*g+int(t.group)] += v
			}
		}
		for r := range rows {
			i := start + r
			if errs[i] != nil {
				continue
			}
			v, ok, err := m.finish(acc[r*g:(r+1)*g], &out[i])
			if err != nil {
				out[i], errs[i] = serving.Prediction{}, err
				continue
			}
			if ok {
				vals[i] = v
				out[i].Value = &vals[i]
			}
		}
	}
	return nil
}
