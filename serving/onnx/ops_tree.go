package onnx

import (
	"fmt"
	"math"
	"slices"
)

// Node modes of the tree ensemble operators.
const (
	modeLeaf uint8 = iota
	modeLEQ
	modeLT
	modeGTE
	modeGT
	modeEQ
	modeNEQ
	modeMember
)

var modeNames = map[string]uint8{
	"LEAF": modeLeaf, "BRANCH_LEQ": modeLEQ, "BRANCH_LT": modeLT, "BRANCH_GTE": modeGTE,
	"BRANCH_GT": modeGT, "BRANCH_EQ": modeEQ, "BRANCH_NEQ": modeNEQ,
}

type aggregate uint8

const (
	aggSum aggregate = iota
	aggAverage
	aggMin
	aggMax
)

// tnode is one node of a flattened tree ensemble. For a branch, t and f index the children
// in ensemble.nodes; for a leaf they delimit its weights in ensemble.weights.
type tnode struct {
	th   float64
	feat int32
	t, f int32
	mode uint8
	miss bool  // NaN goes to the true branch
	set  int32 // modeMember: index into ensemble.sets
}

type leafWeight struct {
	target int32
	w      float64
}

// ensemble is a validated tree ensemble (TreeEnsembleClassifier/Regressor v1-v3 and
// TreeEnsemble v5 share it). Scores accumulate in float32 unless the parameters came as
// double tensors, as in onnxruntime.
type ensemble struct {
	nodes    []tnode
	roots    []int32
	weights  []leafWeight
	sets     [][]float64
	nTargets int
	agg      aggregate
	post     postTransform
	base     []float64
	double   bool       // accumulate in float64
	fast     []fastNode // when every branch is BRANCH_LEQ, or every branch BRANCH_LT: the branchless walk
	fastLT   bool       // the fast walk compares with <, not <=
	depth    []int32    // per tree: node visits on its longest path
	maxFeat  int32
	outType  dtype
	walkCost int // node visits to score one row, at most (the sum of the trees' depths)

	// Classifiers.
	classifier  bool
	lab         *labeler
	nClasses    int
	binaryCase  bool // two classes and weights for one class id only
	allPositive bool
}

// validate checks the structure: children in range, no cycles, features in range.
func (e *ensemble) validate(n *node) error {
	const (
		white = iota
		grey
		black
	)
	color := make([]uint8, len(e.nodes))
	depth := make([]int32, len(e.nodes))
	var stack []int32
	for ti, r := range e.roots {
		if r < 0 || int(r) >= len(e.nodes) {
			return n.errf("tree %d has root %d, outside the %d nodes", ti, r, len(e.nodes))
		}
		if color[r] == black {
			continue
		}
		// Iterative DFS with an explicit stack of (node, state).
		stack = append(stack[:0], r)
		for len(stack) > 0 {
			i := stack[len(stack)-1]
			nd := &e.nodes[i]
			if color[i] == white {
				color[i] = grey
				if nd.mode == modeLeaf {
					continue
				}
				for _, c := range [2]int32{nd.t, nd.f} {
					if c < 0 || int(c) >= len(e.nodes) {
						return n.errf("tree %d: node %d has child %d, outside the %d nodes", ti, i, c, len(e.nodes))
					}
					switch color[c] {
					case grey:
						return n.errf("tree %d has a cycle through node %d", ti, c)
					case white:
						stack = append(stack, c)
					}
				}
				continue
			}
			stack = stack[:len(stack)-1]
			color[i] = black
			depth[i] = 1
			if nd.mode != modeLeaf {
				depth[i] += max(depth[nd.t], depth[nd.f])
			}
		}
	}
	e.walkCost = 0
	e.depth = make([]int32, len(e.roots))
	for k, r := range e.roots {
		e.walkCost += int(depth[r])
		e.depth[k] = depth[r]
	}
	var branchMode uint8
	uniform := true
	for i := range e.nodes {
		nd := &e.nodes[i]
		if nd.mode == modeLeaf {
			continue
		}
		if nd.feat < 0 {
			return n.errf("node %d uses feature %d", i, nd.feat)
		}
		e.maxFeat = max(e.maxFeat, nd.feat)
		if branchMode == 0 {
			branchMode = nd.mode
		}
		if nd.mode != branchMode || nd.mode != modeLEQ && nd.mode != modeLT {
			uniform = false
		}
		if nd.mode != modeMember && math.IsNaN(nd.th) {
			return n.errf("node %d has a NaN threshold", i)
		}
	}
	if uniform {
		e.fastLT = branchMode == modeLT
		e.fast = make([]fastNode, len(e.nodes))
		for i := range e.nodes {
			nd := &e.nodes[i]
			if nd.mode == modeLeaf { // a fixed point: both children are the leaf itself
				e.fast[i] = fastNode{th: math.Inf(1), next: [2]int32{int32(i), int32(i)}}
				continue
			}
			e.fast[i] = fastNode{th: nd.th, feat: nd.feat, next: [2]int32{nd.t, nd.f}, miss: b2i(nd.miss)}
		}
	}
	if f := n.in[0].shape; f != nil && len(f) >= 1 {
		if w := f[len(f)-1]; knownDim(w) && int(e.maxFeat) >= w && hasBranch(e.nodes) {
			return n.errf("a node splits on feature %d but the input has %d features", e.maxFeat, w)
		}
	}
	return nil
}

func hasBranch(nodes []tnode) bool {
	for i := range nodes {
		if nodes[i].mode != modeLeaf {
			return true
		}
	}
	return false
}

// leaf walks a tree from root for row x and returns the leaf's index.
func (e *ensemble) leaf(root int32, x []float64) int32 {
	nodes := e.nodes
	i := root
	for {
		nd := &nodes[i]
		v := x[nd.feat]
		var ok bool
		switch nd.mode {
		case modeLeaf:
			return i
		case modeLEQ:
			ok = v <= nd.th
		case modeLT:
			ok = v < nd.th
		case modeGTE:
			ok = v >= nd.th
		case modeGT:
			ok = v > nd.th
		case modeEQ:
			ok = v == nd.th
		case modeNEQ:
			ok = v != nd.th
		case modeMember:
			ok = slices.Contains(e.sets[nd.set], v)
		}
		if ok || nd.miss && v != v {
			i = nd.t
		} else {
			i = nd.f
		}
	}
}

// fastNode is a node of the branchless walk: next[0] is the true branch, next[1] the false
// one; a leaf is a fixed point (both point to itself, and +Inf makes it "true").
type fastNode struct {
	th   float64
	feat int32
	next [2]int32
	miss int32 // 1: NaN goes to the true branch
}

func b2i(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// lanes is how many trees (or rows) the branchless walk advances together: independent
// walks hide each other's memory and comparison latency.
const lanes = 8

// walkTrees walks up to lanes trees (roots[k], with the given longest depth) for row x and
// stores the leaves in leaf. The lanes are unrolled so that their indices stay in registers.
func (e *ensemble) walkTrees(roots []int32, depth int32, x []float64, leaf *[lanes]int32) {
	last := len(roots) - 1
	i0, i1, i2, i3 := roots[0], roots[min(1, last)], roots[min(2, last)], roots[min(3, last)]
	i4, i5, i6, i7 := roots[min(4, last)], roots[min(5, last)], roots[min(6, last)], roots[min(7, last)]
	fast := e.fast
	if e.fastLT {
		for range depth - 1 {
			i0, i1 = fastStepLT(&fast[i0], x), fastStepLT(&fast[i1], x)
			i2, i3 = fastStepLT(&fast[i2], x), fastStepLT(&fast[i3], x)
			i4, i5 = fastStepLT(&fast[i4], x), fastStepLT(&fast[i5], x)
			i6, i7 = fastStepLT(&fast[i6], x), fastStepLT(&fast[i7], x)
		}
	} else {
		for range depth - 1 {
			i0, i1 = fastStepLEQ(&fast[i0], x), fastStepLEQ(&fast[i1], x)
			i2, i3 = fastStepLEQ(&fast[i2], x), fastStepLEQ(&fast[i3], x)
			i4, i5 = fastStepLEQ(&fast[i4], x), fastStepLEQ(&fast[i5], x)
			i6, i7 = fastStepLEQ(&fast[i6], x), fastStepLEQ(&fast[i7], x)
		}
	}
	*leaf = [lanes]int32{i0, i1, i2, i3, i4, i5, i6, i7}
}

// fastStepLEQ and fastStepLT take one branchless step from node nd for row x.
func fastStepLEQ(nd *fastNode, x []float64) int32 {
	v := x[nd.feat]
	return nd.next[(b2i(!(v <= nd.th))&^(b2i(v != v)&nd.miss))&1]
}

func fastStepLT(nd *fastNode, x []float64) int32 {
	v := x[nd.feat]
	return nd.next[(b2i(!(v < nd.th))&^(b2i(v != v)&nd.miss))&1]
}

// walkRows walks one tree for up to lanes rows and stores the leaves in leaf.
func (e *ensemble) walkRows(root, depth int32, rows [][]float64, leaf *[lanes]int32) {
	var idx [lanes]int32
	var xs [lanes][]float64
	for l := range idx {
		idx[l] = root
		xs[l] = rows[min(l, len(rows)-1)]
	}
	fast := e.fast
	if e.fastLT {
		for range depth - 1 {
			for l := range idx {
				idx[l] = fastStepLT(&fast[idx[l]], xs[l])
			}
		}
	} else {
		for range depth - 1 {
			for l := range idx {
				idx[l] = fastStepLEQ(&fast[idx[l]], xs[l])
			}
		}
	}
	*leaf = idx
}

// run scores every row of the input.
func (e *ensemble) run(rc *runCtx, in []*tensor) ([]*tensor, error) {
	nr, nf, err := batchOf(in[0])
	if err != nil {
		return nil, err
	}
	if hasBranch(e.nodes) && int(e.maxFeat) >= nf {
		return nil, fmt.Errorf("a node splits on feature %d but the input has %d features", e.maxFeat, nf)
	}
	if err := rc.work(nr, e.walkCost, 1); err != nil {
		return nil, err
	}
	x := in[0].asFloat64()
	width := e.nTargets
	if e.classifier {
		width = e.nClasses
	}
	z := make([]float64, nr*width)
	var y *tensor
	if e.classifier {
		y = e.lab.tensor(nr)
	}
	acc := make([]float64, nr*width)
	has := make([]bool, nr*width)
	sum := e.agg == aggSum || e.agg == aggAverage
	add := func(r int, leaf int32) {
		l := &e.nodes[leaf]
		base := r * width
		if sum && !e.double { // the common case, kept short: float32 sums
			for _, w := range e.weights[l.t:l.f] {
				j := base + int(w.target)
				acc[j] = float64(float32(acc[j] + w.w))
				has[j] = true
			}
			return
		}
		a, h := acc[base:base+width], has[base:base+width]
		for _, w := range e.weights[l.t:l.f] {
			e.addTo(a, h, int(w.target), w.w)
		}
	}
	rows := make([][]float64, nr)
	for r := range rows {
		rows[r] = x[r*nf : (r+1)*nf]
	}
	var leaves [lanes]int32
	switch {
	case e.fast != nil && nr >= lanes/2:
		// Tree by tree, a block of rows at a time: one tree's nodes stay in cache.
		for t, root := range e.roots {
			for r0 := 0; r0 < nr; r0 += lanes {
				block := rows[r0:min(r0+lanes, nr)]
				e.walkRows(root, e.depth[t], block, &leaves)
				for l := range block {
					add(r0+l, leaves[l])
				}
			}
		}
	case e.fast != nil:
		for r, xr := range rows {
			for t0 := 0; t0 < len(e.roots); t0 += lanes {
				group := e.roots[t0:min(t0+lanes, len(e.roots))]
				depth := slices.Max(e.depth[t0 : t0+len(group)])
				e.walkTrees(group, depth, xr, &leaves)
				for l := range group {
					add(r, leaves[l])
				}
			}
		}
	default:
		for r, xr := range rows {
			for _, root := range e.roots {
				add(r, e.leaf(root, xr))
			}
		}
	}
	for r := 0; r < nr; r++ {
		a, h := acc[r*width:(r+1)*width], has[r*width:(r+1)*width]
		zr := z[r*width : (r+1)*width]
		if e.classifier {
			e.finishClassifier(a, h, zr, y, r)
		} else {
			e.finishRegressor(a, h, zr)
		}
	}
	out := &tensor{shape: []int{nr, width}}
	if e.outType == dtDouble {
		out.dt, out.d = dtDouble, z
	} else {
		out.dt, out.f = dtFloat, make([]float32, len(z))
		for k, v := range z {
			out.f[k] = float32(v)
		}
	}
	if e.classifier {
		return []*tensor{y, out}, nil
	}
	return []*tensor{out}, nil
}

// round keeps a value at the accumulation precision.
func (e *ensemble) round(v float64) float64 {
	if e.double {
		return v
	}
	return float64(float32(v))
}

func (e *ensemble) addTo(acc []float64, has []bool, t int, w float64) {
	switch e.agg {
	case aggSum, aggAverage:
		acc[t] = e.round(acc[t] + w)
	case aggMin:
		if !has[t] || w < acc[t] {
			acc[t] = w
		}
	case aggMax:
		if !has[t] || w > acc[t] {
			acc[t] = w
		}
	}
	has[t] = true
}

// finishRegressor applies averaging, base values and the post transform as onnxruntime's
// tree aggregators do.
func (e *ensemble) finishRegressor(acc []float64, has []bool, z []float64) {
	nt := float64(len(e.roots))
	if e.nTargets == 1 {
		origin := 0.0
		if len(e.base) == 1 {
			origin = e.base[0]
		}
		s := acc[0]
		switch e.agg {
		case aggSum:
			s = e.round(s + origin)
		case aggAverage:
			s = e.round(e.round(s/nt) + origin)
		default:
			if has[0] {
				s = e.round(s + origin)
			} else {
				s = origin
			}
		}
		if e.post == ptProbit {
			s = float64(probit32(float32(s)))
		}
		z[0] = s
		return
	}
	// onnxruntime writes a target that no tree scored as 0, base value or not.
	useBase := len(e.base) == e.nTargets
	for t := range z {
		s := acc[t]
		switch e.agg {
		case aggSum:
			if useBase {
				s = e.round(s + e.base[t])
			}
		case aggAverage:
			s = e.round(s / nt)
			if useBase {
				s = e.round(s + e.base[t])
			}
		default:
			if useBase {
				s = e.round(e.base[t] + s)
			}
		}
		if !has[t] {
			s = 0
		}
		z[t] = s
	}
	e.transform(z)
}

// transform applies the post transform to a row of two or more scores, in float32 (as
// onnxruntime does even for double outputs).
func (e *ensemble) transform(z []float64) {
	if e.post == ptNone {
		return
	}
	var buf [16]float32
	v := buf[:0]
	if len(z) > len(buf) {
		v = make([]float32, 0, len(z))
	}
	for _, s := range z {
		v = append(v, float32(s))
	}
	e.post.apply(v)
	for k, s := range v {
		z[k] = float64(s)
	}
}

// finishClassifier turns class scores into the label and the score row, following
// onnxruntime's TreeAggregatorClassifier, including its binary special cases.
func (e *ensemble) finishClassifier(acc []float64, has []bool, z []float64, y *tensor, r int) {
	if e.nClasses > 2 {
		for k := 0; k < len(e.base) && k < len(acc); k++ {
			if !has[k] {
				has[k] = true
				acc[k] = e.base[k]
			} else {
				acc[k] = e.round(acc[k] + e.base[k])
			}
		}
		best := -1
		for k := range acc {
			if has[k] && (best < 0 || acc[k] > acc[best]) {
				best = k
			}
		}
		e.lab.set(y, r, max(best, 0), 0)
		for k := range z {
			if has[k] {
				z[k] = acc[k]
			} else {
				z[k] = 0 // onnxruntime writes unscored classes as 0
			}
		}
		e.transform(z)
		return
	}
	// Two classes.
	extra := -1
	s0, s1 := acc[0], acc[1]
	h0, h1 := has[0], has[1]
	size := 2
	switch len(e.base) {
	case 2:
		if h1 {
			s1 = e.round(e.base[1] + s0)
			s0 = -s1
		} else {
			s1 = e.round(s1 + e.base[1])
			s0 = e.round(s0 + e.base[0])
		}
	case 1:
		s0 = e.round(s0 + e.base[0])
		if !h1 {
			size = 1
		}
	case 0:
		extra = 3
		if !h1 {
			size = 1
		}
	}
	// _set_score_binary
	pos := 0.0
	switch {
	case size == 2 && h1:
		pos = s1
	case h0:
		pos = s0
	}
	if e.binaryCase {
		if e.allPositive {
			if pos > 0.5 {
				extra = 0
				e.lab.set(y, r, 1, 0)
			} else {
				extra = 1
				e.lab.set(y, r, 0, 0)
			}
		} else {
			if pos > 0 {
				extra = 2
				e.lab.set(y, r, 1, 0)
			} else {
				extra = 3
				e.lab.set(y, r, 0, 0)
			}
		}
	} else if pos > 0 {
		e.setLiteral(y, r, 1)
	} else {
		e.setLiteral(y, r, 0)
	}
	// write_scores: classes without a score are written as 0.
	if !h0 {
		s0 = 0
	}
	if size == 2 {
		if !h1 {
			s1 = 0
		}
		z[0], z[1] = s0, s1
		e.transform(z)
		return
	}
	if e.post == ptProbit {
		z[0], z[1] = float64(probit32(float32(s0))), 0
		return
	}
	switch extra {
	case 0, 1:
		z[0], z[1] = float64(1-float32(s0)), s0
	case 2, 3:
		if e.post == ptLogistic {
			z[0], z[1] = float64(logistic32(float32(-s0))), float64(logistic32(float32(s0)))
		} else {
			z[0], z[1] = -s0, s0
		}
	default:
		z[0], z[1] = s0, 0
	}
}

// setLiteral writes onnxruntime's literal positive (1) or negative (0) label, used for two
// classes with weights for both: int labels become 1 or 0 whatever classlabels say; string
// labels index classlabels_strings.
func (e *ensemble) setLiteral(y *tensor, r int, v int64) {
	if e.lab.isString {
		e.lab.set(y, r, int(v), 0)
		return
	}
	y.i[r] = v
}

// --- building from TreeEnsembleClassifier/Regressor (ai.onnx.ml 1 and 3) --------------------

type treeAttrs struct {
	treeIDs, nodeIDs, featIDs, trueIDs, falseIDs, missing []int64
	modes                                                 []string
	values                                                []float64
	valuesDouble                                          bool
}

func readTreeAttrs(n *node) (*treeAttrs, error) {
	var a treeAttrs
	var err error
	for _, p := range []struct {
		name string
		dst  *[]int64
	}{
		{"nodes_treeids", &a.treeIDs}, {"nodes_nodeids", &a.nodeIDs}, {"nodes_featureids", &a.featIDs},
		{"nodes_truenodeids", &a.trueIDs}, {"nodes_falsenodeids", &a.falseIDs},
		{"nodes_missing_value_tracks_true", &a.missing},
	} {
		if *p.dst, err = n.attrInts(p.name); err != nil {
			return nil, err
		}
	}
	if a.modes, err = n.attrStrings("nodes_modes"); err != nil {
		return nil, err
	}
	if a.values, a.valuesDouble, err = n.attrReals("nodes_values"); err != nil {
		return nil, err
	}
	nn := len(a.treeIDs)
	if nn == 0 {
		return nil, n.errf("the ensemble has no nodes")
	}
	if nn > MaxTreeNodes {
		return nil, n.errf("%d nodes is over the limit of %d", nn, MaxTreeNodes)
	}
	for name, l := range map[string]int{"nodes_nodeids": len(a.nodeIDs), "nodes_featureids": len(a.featIDs),
		"nodes_modes": len(a.modes), "nodes_truenodeids": len(a.trueIDs), "nodes_falsenodeids": len(a.falseIDs)} {
		if l != nn {
			return nil, n.errf("%s has %d entries, nodes_treeids has %d", name, l, nn)
		}
	}
	if len(a.values) != nn {
		return nil, n.errf("nodes_values has %d entries, nodes_treeids has %d", len(a.values), nn)
	}
	if a.missing != nil && len(a.missing) != nn {
		return nil, n.errf("nodes_missing_value_tracks_true has %d entries, nodes_treeids has %d", len(a.missing), nn)
	}
	return &a, nil
}

// buildV1 flattens the node attributes into e.nodes and attaches the leaf weights.
func (e *ensemble) buildV1(n *node, a *treeAttrs, wTree, wNode, wTarget []int64, wVal []float64, nTargets int) error {
	type key struct{ tree, node int64 }
	index := make(map[key]int32, len(a.treeIDs))
	e.nodes = make([]tnode, len(a.treeIDs))
	seenTree := map[int64]bool{}
	prev := int64(math.MinInt64)
	for i := range a.treeIDs {
		k := key{a.treeIDs[i], a.nodeIDs[i]}
		if _, dup := index[k]; dup {
			return n.errf("node %d of tree %d appears twice", k.node, k.tree)
		}
		index[k] = int32(i)
		if a.treeIDs[i] != prev {
			if seenTree[a.treeIDs[i]] {
				return n.errf("the nodes of tree %d are not contiguous", a.treeIDs[i])
			}
			seenTree[a.treeIDs[i]] = true
			e.roots = append(e.roots, int32(i))
			prev = a.treeIDs[i]
		}
		m, ok := modeNames[a.modes[i]]
		if !ok {
			return n.errf("node %d of tree %d has mode %q (want LEAF or BRANCH_LEQ, _LT, _GTE, _GT, _EQ, _NEQ)", k.node, k.tree, a.modes[i])
		}
		if a.featIDs[i] < 0 || a.featIDs[i] > MaxTensorElements {
			if m != modeLeaf {
				return n.errf("node %d of tree %d uses feature %d", k.node, k.tree, a.featIDs[i])
			}
		}
		th := a.values[i]
		if !a.valuesDouble {
			th = float64(float32(th))
		}
		e.nodes[i] = tnode{th: th, feat: int32(max(0, min(a.featIDs[i], MaxTensorElements))), mode: m,
			miss: a.missing != nil && a.missing[i] == 1}
	}
	for i := range e.nodes {
		nd := &e.nodes[i]
		if nd.mode == modeLeaf {
			continue
		}
		for j, id := range [2]int64{a.trueIDs[i], a.falseIDs[i]} {
			c, ok := index[key{a.treeIDs[i], id}]
			if !ok {
				return n.errf("node %d of tree %d points to node %d, which tree %d does not have", a.nodeIDs[i], a.treeIDs[i], id, a.treeIDs[i])
			}
			if c == int32(i) {
				return n.errf("node %d of tree %d points to itself", a.nodeIDs[i], a.treeIDs[i])
			}
			if j == 0 {
				nd.t = c
			} else {
				nd.f = c
			}
		}
	}
	// Weights, grouped by leaf in the order given.
	nw := len(wTree)
	if len(wNode) != nw || len(wTarget) != nw || len(wVal) != nw {
		return n.errf("the weight attributes have %d, %d, %d and %d entries; they must match", nw, len(wNode), len(wTarget), len(wVal))
	}
	owner := make([]int32, nw)
	count := make([]int32, len(e.nodes)+1)
	for k := range nw {
		i, ok := index[key{wTree[k], wNode[k]}]
		if !ok {
			return n.errf("a weight is for node %d of tree %d, which does not exist", wNode[k], wTree[k])
		}
		if wTarget[k] < 0 || wTarget[k] >= int64(nTargets) {
			return n.errf("a weight is for target or class %d, outside [0, %d)", wTarget[k], nTargets)
		}
		if math.IsNaN(wVal[k]) || math.IsInf(wVal[k], 0) {
			return n.errf("the weight of node %d of tree %d is not finite", wNode[k], wTree[k])
		}
		owner[k] = i
		count[i+1]++
	}
	for i := 1; i < len(count); i++ {
		count[i] += count[i-1]
	}
	e.weights = make([]leafWeight, nw)
	fill := slices.Clone(count)
	for k := range nw {
		i := owner[k]
		e.weights[fill[i]] = leafWeight{target: int32(wTarget[k]), w: wVal[k]}
		fill[i]++
	}
	for i := range e.nodes {
		if e.nodes[i].mode == modeLeaf {
			e.nodes[i].t, e.nodes[i].f = count[i], count[i+1]
		}
	}
	return e.validate(n)
}

func treeInput(n *node) error {
	_, err := mlInput(n, -1, isNumeric, "float, double or int64")
	return err
}

func buildTreeClassifier(n *node) (kernel, []vinfo, error) {
	if err := treeInput(n); err != nil {
		return nil, nil, err
	}
	a, err := readTreeAttrs(n)
	if err != nil {
		return nil, nil, err
	}
	labels, ints, isStr, err := n.classLabels("classlabels_int64s", true)
	if err != nil {
		return nil, nil, err
	}
	if len(labels) < 2 {
		return nil, nil, n.errf("%d class labels; a classifier needs at least 2", len(labels))
	}
	post, err := n.postTransform()
	if err != nil {
		return nil, nil, err
	}
	wTree, err := n.attrInts("class_treeids")
	if err != nil {
		return nil, nil, err
	}
	wNode, err := n.attrInts("class_nodeids")
	if err != nil {
		return nil, nil, err
	}
	wID, err := n.attrInts("class_ids")
	if err != nil {
		return nil, nil, err
	}
	wVal, wDouble, err := n.attrReals("class_weights")
	if err != nil {
		return nil, nil, err
	}
	base, bDouble, err := n.attrReals("base_values")
	if err != nil {
		return nil, nil, err
	}
	if k := finite(base); k >= 0 {
		return nil, nil, n.errf("base_values[%d] is not finite", k)
	}
	e := &ensemble{classifier: true, nClasses: len(labels), post: post, base: base, outType: dtFloat,
		double: a.valuesDouble || wDouble || bDouble,
		lab:    &labeler{isString: isStr, strs: labels, ints: ints}}
	if !wDouble {
		for k, v := range wVal {
			wVal[k] = float64(float32(v))
		}
	}
	if len(base) != 0 && len(base) != len(labels) && !(len(labels) == 2 && len(base) == 1) {
		return nil, nil, n.errf("%d base_values for %d classes", len(base), len(labels))
	}
	if err := e.buildV1(n, a, wTree, wNode, wID, wVal, len(labels)); err != nil {
		return nil, nil, err
	}
	ids := map[int64]bool{}
	e.allPositive = true
	for k, id := range wID {
		ids[id] = true
		if wVal[k] < 0 {
			e.allPositive = false
		}
	}
	e.binaryCase = len(labels) == 2 && len(ids) == 1
	rows := rowsOut(n)
	outs := []vinfo{
		{dt: e.lab.tensor(0).dt, shape: []int{outN(n)}, rows: rows, classes: labels},
		{dt: dtFloat, shape: []int{outN(n), len(labels)}, rows: rows, classes: labels},
	}
	return e, outs, nil
}

func buildTreeRegressor(n *node) (kernel, []vinfo, error) {
	if err := treeInput(n); err != nil {
		return nil, nil, err
	}
	a, err := readTreeAttrs(n)
	if err != nil {
		return nil, nil, err
	}
	post, err := n.postTransform()
	if err != nil {
		return nil, nil, err
	}
	nt, err := n.attrInt("n_targets", 1)
	if err != nil {
		return nil, nil, err
	}
	if nt < 1 || nt > MaxClasses {
		return nil, nil, n.errf("n_targets %d is out of range", nt)
	}
	aggName, err := n.attrString("aggregate_function", "SUM")
	if err != nil {
		return nil, nil, err
	}
	agg, ok := map[string]aggregate{"SUM": aggSum, "AVERAGE": aggAverage, "MIN": aggMin, "MAX": aggMax}[aggName]
	if !ok {
		return nil, nil, n.errf("aggregate_function %q is not one of SUM, AVERAGE, MIN, MAX", aggName)
	}
	wTree, err := n.attrInts("target_treeids")
	if err != nil {
		return nil, nil, err
	}
	wNode, err := n.attrInts("target_nodeids")
	if err != nil {
		return nil, nil, err
	}
	wID, err := n.attrInts("target_ids")
	if err != nil {
		return nil, nil, err
	}
	wVal, wDouble, err := n.attrReals("target_weights")
	if err != nil {
		return nil, nil, err
	}
	base, bDouble, err := n.attrReals("base_values")
	if err != nil {
		return nil, nil, err
	}
	if k := finite(base); k >= 0 {
		return nil, nil, n.errf("base_values[%d] is not finite", k)
	}
	if !wDouble {
		for k, v := range wVal {
			wVal[k] = float64(float32(v))
		}
	}
	e := &ensemble{nTargets: int(nt), agg: agg, post: post, base: base, outType: dtFloat,
		double: a.valuesDouble || wDouble || bDouble}
	if err := e.buildV1(n, a, wTree, wNode, wID, wVal, int(nt)); err != nil {
		return nil, nil, err
	}
	return e, []vinfo{{dt: dtFloat, shape: []int{outN(n), int(nt)}, rows: rowsOut(n), regressor: true}}, nil
}

// --- TreeEnsemble (ai.onnx.ml 5) -----------------------------------------------------------

func buildTreeEnsemble(n *node) (kernel, []vinfo, error) {
	if err := wantTypes(n, 0, isReal, "float or double"); err != nil {
		return nil, nil, err
	}
	if _, err := mlInput(n, -1, isReal, "float or double"); err != nil {
		return nil, nil, err
	}
	ints := func(name string, required bool) ([]int64, error) {
		v, err := n.attrInts(name)
		if err == nil && required && v == nil {
			err = n.errf("attribute %q is required", name)
		}
		return v, err
	}
	featIDs, err := ints("nodes_featureids", true)
	if err != nil {
		return nil, nil, err
	}
	trueIDs, err := ints("nodes_truenodeids", true)
	if err != nil {
		return nil, nil, err
	}
	falseIDs, err := ints("nodes_falsenodeids", true)
	if err != nil {
		return nil, nil, err
	}
	trueLeaf, err := ints("nodes_trueleafs", true)
	if err != nil {
		return nil, nil, err
	}
	falseLeaf, err := ints("nodes_falseleafs", true)
	if err != nil {
		return nil, nil, err
	}
	leafTarget, err := ints("leaf_targetids", true)
	if err != nil {
		return nil, nil, err
	}
	roots, err := ints("tree_roots", true)
	if err != nil {
		return nil, nil, err
	}
	missing, err := ints("nodes_missing_value_tracks_true", false)
	if err != nil {
		return nil, nil, err
	}
	nt, err := n.attrInt("n_targets", 0)
	if err != nil {
		return nil, nil, err
	}
	aggI, err := n.attrInt("aggregate_function", 1)
	if err != nil {
		return nil, nil, err
	}
	postI, err := n.attrInt("post_transform", 0)
	if err != nil {
		return nil, nil, err
	}
	tensors := map[string]*tensor{}
	for _, name := range []string{"nodes_splits", "nodes_modes", "leaf_weights", "membership_values"} {
		t, err := n.attrTensor(name)
		if err != nil {
			return nil, nil, err
		}
		if t == nil && name != "membership_values" {
			return nil, nil, n.errf("attribute %q is required", name)
		}
		tensors[name] = t
	}
	splits, modesT, leafW, members := tensors["nodes_splits"], tensors["nodes_modes"], tensors["leaf_weights"], tensors["membership_values"]
	if !splits.dt.real() || !leafW.dt.real() || modesT.dt != dtInt64 || members != nil && !members.dt.real() {
		return nil, nil, n.errf("nodes_splits, leaf_weights and membership_values must be float or double tensors, nodes_modes uint8")
	}
	if nt < 1 || nt > MaxClasses {
		return nil, nil, n.errf("n_targets %d is out of range", nt)
	}
	if aggI < 0 || aggI > 3 || postI < 0 || postI > 4 {
		return nil, nil, n.errf("aggregate_function %d or post_transform %d is out of range", aggI, postI)
	}
	agg := [...]aggregate{aggAverage, aggSum, aggMin, aggMax}[aggI]
	post := [...]postTransform{ptNone, ptSoftmax, ptLogistic, ptSoftmaxZero, ptProbit}[postI]
	ni := len(featIDs)
	nl := len(leafTarget)
	if ni > MaxTreeNodes || nl > MaxTreeNodes {
		return nil, nil, n.errf("the ensemble is over the limit of %d nodes", MaxTreeNodes)
	}
	for name, l := range map[string]int{"nodes_truenodeids": len(trueIDs), "nodes_falsenodeids": len(falseIDs),
		"nodes_trueleafs": len(trueLeaf), "nodes_falseleafs": len(falseLeaf), "nodes_splits": splits.size(), "nodes_modes": modesT.size()} {
		if l != ni {
			return nil, nil, n.errf("%s has %d entries, nodes_featureids has %d", name, l, ni)
		}
	}
	if missing != nil && len(missing) != ni {
		return nil, nil, n.errf("nodes_missing_value_tracks_true has %d entries for %d nodes", len(missing), ni)
	}
	if leafW.size() != nl {
		return nil, nil, n.errf("leaf_weights has %d entries, leaf_targetids has %d", leafW.size(), nl)
	}
	e := &ensemble{nTargets: int(nt), agg: agg, post: post, outType: n.in[0].dt,
		double: splits.dt == dtDouble || leafW.dt == dtDouble}
	e.nodes = make([]tnode, ni+nl)
	var sets [][]float64
	if members != nil {
		var cur []float64
		for _, v := range members.asFloat64() {
			if v != v {
				sets = append(sets, cur)
				cur = nil
				continue
			}
			cur = append(cur, v)
		}
		if cur != nil {
			sets = append(sets, cur)
		}
	}
	nextSet := 0
	sv := splits.asFloat64()
	for i := range ni {
		m := modesT.i[i]
		if m < 0 || m > 6 {
			return nil, nil, n.errf("nodes_modes[%d] = %d is not a mode (0-6)", i, m)
		}
		nd := tnode{th: sv[i], mode: uint8(m) + 1, miss: missing != nil && missing[i] == 1}
		if splits.dt == dtFloat {
			nd.th = float64(float32(sv[i]))
		}
		if featIDs[i] < 0 || featIDs[i] > MaxTensorElements {
			return nil, nil, n.errf("node %d uses feature %d", i, featIDs[i])
		}
		nd.feat = int32(featIDs[i])
		if nd.mode == modeMember {
			if nextSet >= len(sets) {
				return nil, nil, n.errf("node %d tests set membership but membership_values has no set for it", i)
			}
			nd.set = int32(nextSet)
			nextSet++
		}
		child := func(id, leaf int64) (int32, error) {
			if leaf != 0 {
				if id < 0 || id >= int64(nl) {
					return 0, n.errf("node %d points to leaf %d, outside the %d leaves", i, id, nl)
				}
				return int32(ni) + int32(id), nil
			}
			if id < 0 || id >= int64(ni) {
				return 0, n.errf("node %d points to node %d, outside the %d nodes", i, id, ni)
			}
			return int32(id), nil
		}
		var err error
		if nd.t, err = child(trueIDs[i], trueLeaf[i]); err != nil {
			return nil, nil, err
		}
		if nd.f, err = child(falseIDs[i], falseLeaf[i]); err != nil {
			return nil, nil, err
		}
		e.nodes[i] = nd
	}
	e.sets = sets
	lw := leafW.asFloat64()
	e.weights = make([]leafWeight, nl)
	for j := range nl {
		if leafTarget[j] < 0 || leafTarget[j] >= nt {
			return nil, nil, n.errf("leaf %d is for target %d, outside [0, %d)", j, leafTarget[j], nt)
		}
		w := lw[j]
		if leafW.dt == dtFloat {
			w = float64(float32(w))
		}
		if math.IsNaN(w) || math.IsInf(w, 0) {
			return nil, nil, n.errf("leaf %d has a non-finite weight", j)
		}
		e.weights[j] = leafWeight{target: int32(leafTarget[j]), w: w}
		e.nodes[ni+j] = tnode{mode: modeLeaf, t: int32(j), f: int32(j + 1)}
	}
	if len(roots) == 0 {
		return nil, nil, n.errf("tree_roots is empty")
	}
	for _, r := range roots {
		if r < 0 || r >= int64(ni) {
			return nil, nil, n.errf("tree root %d is outside the %d nodes", r, ni)
		}
		if trueLeaf[r] != 0 && falseLeaf[r] != 0 && trueIDs[r] == falseIDs[r] {
			e.roots = append(e.roots, e.nodes[r].t) // a tree that is a single leaf
			continue
		}
		e.roots = append(e.roots, int32(r))
	}
	if err := e.validate(n); err != nil {
		return nil, nil, err
	}
	return e, []vinfo{{dt: n.in[0].dt, shape: []int{outN(n), int(nt)}, rows: rowsOut(n), regressor: true}}, nil
}
