package pmml

import (
	"maps"
	"math"
	"strconv"
)

type scoreDist struct {
	val        string
	count      float64
	prob       float64 // NaN when absent
	confidence float64 // NaN when absent
}

type treeNode struct {
	id           string
	pred         predicate
	hasScore     bool
	label        string  // classification score
	value        float64 // regression score
	count        float64 // recordCount; NaN when absent
	dist         []scoreDist
	probs        map[string]float64 // from dist, precomputed
	conf         map[string]float64 // confidences (or probabilities), precomputed
	counts       map[string]float64
	children     []*treeNode
	defaultChild *treeNode
}

type treeModel struct {
	root     *treeNode
	missing  string
	noTrue   string
	classify bool
	classes  []string
}

// treeOut is where a walk ended: one node, nothing (null prediction), or a combination of
// several subtrees (weightedConfidence, aggregateNodes).
type treeOut struct {
	null   bool
	node   *treeNode
	dist   map[string]float64 // combined confidences or record counts
	value  float64
	merged bool
}

func (t *treeModel) walk(f *frame, n *treeNode) (treeOut, error) {
	for len(n.children) > 0 {
		if err := f.run.step(); err != nil {
			return treeOut{}, err
		}
		var next *treeNode
	kids:
		for i, ch := range n.children {
			r, err := ch.pred.test(f)
			if err != nil {
				return treeOut{}, err
			}
			switch r {
			case tTrue:
				next = ch
				break kids
			case tUnknown:
				switch t.missing {
				case "lastPrediction":
					return treeOut{node: n}, nil
				case "nullPrediction":
					return treeOut{null: true}, nil
				case "defaultChild":
					if n.defaultChild == nil {
						return treeOut{node: n}, nil
					}
					next = n.defaultChild
					break kids
				case "weightedConfidence", "aggregateNodes":
					return t.merge(f, n, i)
				}
			}
		}
		if next == nil {
			if t.noTrue == "returnLastPrediction" {
				return treeOut{node: n}, nil
			}
			return treeOut{null: true}, nil
		}
		n = next
	}
	return treeOut{node: n}, nil
}

// merge scores child i of n (whose predicate was unknown) and every later sibling whose
// predicate is not false, and combines them: weightedConfidence sums their confidences
// weighted by recordCount/parent recordCount; aggregateNodes sums their record counts.
func (t *treeModel) merge(f *frame, n *treeNode, first int) (treeOut, error) {
	out := treeOut{merged: true, dist: map[string]float64{}}
	total := n.count
	if math.IsNaN(total) || total <= 0 {
		total = 0
		for _, ch := range n.children[first:] {
			if !math.IsNaN(ch.count) {
				total += ch.count
			}
		}
	}
	var wsum float64
	for j, ch := range n.children[first:] {
		if j > 0 {
			r, err := ch.pred.test(f)
			if err != nil {
				return treeOut{}, err
			}
			if r == tFalse {
				continue
			}
		}
		sub, err := t.walk(f, ch)
		if err != nil {
			return treeOut{}, err
		}
		if sub.null {
			continue
		}
		w := 0.0
		if total > 0 && !math.IsNaN(ch.count) {
			w = ch.count / total
		}
		if t.missing == "aggregateNodes" {
			if t.classify {
				var counts map[string]float64
				if sub.merged {
					counts = sub.dist
				} else {
					counts = sub.node.counts
				}
				for k, v := range counts {
					out.dist[k] += v
				}
				continue
			}
			w = ch.count
		}
		var conf map[string]float64
		var val float64
		if sub.merged {
			conf, val = sub.dist, sub.value
		} else {
			conf, val = sub.node.conf, sub.node.value
		}
		for k, v := range conf {
			out.dist[k] += w * v
		}
		out.value += w * val
		wsum += w
	}
	if !t.classify && t.missing == "aggregateNodes" && wsum > 0 {
		out.value /= wsum
	}
	if t.classify && t.missing == "aggregateNodes" && !sub0(out.dist) {
		return treeOut{null: true}, nil
	}
	return out, nil
}

func sub0(m map[string]float64) bool {
	for _, v := range m {
		if v > 0 {
			return true
		}
	}
	return false
}

func (t *treeModel) eval(f *frame) (*result, error) {
	r, err := t.root.pred.test(f)
	if err != nil {
		return nil, err
	}
	if r != tTrue {
		return &result{missing: true}, nil
	}
	out, err := t.walk(f, t.root)
	if err != nil || out.null {
		return &result{missing: true}, err
	}
	res := &result{}
	if out.merged {
		if !t.classify {
			res.value = out.value
			return res, nil
		}
		probs := out.dist
		if t.missing == "aggregateNodes" {
			s := 0.0
			for _, v := range probs {
				s += v
			}
			for k := range probs {
				probs[k] /= s
			}
		}
		res.probs = probs
		res.label = argmax(probs, t.classes)
		return res, nil
	}
	n := out.node
	res.entity = n.id
	if !t.classify {
		if !n.hasScore {
			return &result{missing: true}, nil
		}
		res.value = n.value
		return res, nil
	}
	if n.probs != nil {
		res.probs = maps.Clone(n.probs)
	}
	switch {
	case n.hasScore:
		res.label = n.label
	case res.probs != nil:
		res.label = argmax(res.probs, t.classes)
	default:
		return &result{missing: true}, nil
	}
	return res, nil
}

func (c *compiler) treeModel(e *elem, m *modelDef, sc *scope) error {
	t := &treeModel{missing: e.get("missingValueStrategy"), noTrue: e.get("noTrueChildStrategy"), classify: m.classify()}
	switch t.missing {
	case "", "none":
		t.missing = "none"
	case "lastPrediction", "nullPrediction", "defaultChild", "weightedConfidence", "aggregateNodes":
	default:
		return errf(e, "missingValueStrategy %q is not supported", t.missing)
	}
	switch t.noTrue {
	case "", "returnNullPrediction", "returnLastPrediction":
	default:
		return errf(e, "noTrueChildStrategy %q is not supported", t.noTrue)
	}
	re := e.child("Node")
	if re == nil {
		return errf(e, "has no root Node")
	}
	var seen []string
	root, err := c.treeNode(re, sc, t, &seen)
	if err != nil {
		return err
	}
	t.root = root
	if len(m.classes) == 0 && t.classify {
		m.classes = seen
	}
	t.classes = m.classes
	m.eval = t.eval
	return nil
}

func (c *compiler) treeNode(e *elem, sc *scope, t *treeModel, classes *[]string) (*treeNode, error) {
	c.nodes++
	if c.nodes > c.lim.MaxNodes {
		return nil, errf(e, "more than the limit of %d tree nodes", c.lim.MaxNodes)
	}
	n := &treeNode{id: e.get("id")}
	var err error
	if n.pred, err = c.predicateChild(e, sc); err != nil {
		return nil, err
	}
	if n.count, err = parseFloatAttr(e, "recordCount", math.NaN()); err != nil {
		return nil, err
	}
	if s, ok := e.attr("score"); ok {
		n.hasScore = true
		if t.classify {
			n.label = s
			addClass(classes, s)
		} else if n.value, err = strconv.ParseFloat(s, 64); err != nil {
			return nil, errf(e, "score %q is not a number (functionName is regression)", s)
		}
	}
	for _, de := range e.children("ScoreDistribution") {
		d := scoreDist{val: de.get("value")}
		if d.count, err = finiteAttr(de, "recordCount", 0); err != nil {
			return nil, err
		}
		if d.prob, err = parseFloatAttr(de, "probability", math.NaN()); err != nil {
			return nil, err
		}
		if d.confidence, err = parseFloatAttr(de, "confidence", math.NaN()); err != nil {
			return nil, err
		}
		n.dist = append(n.dist, d)
		addClass(classes, d.val)
	}
	if len(n.dist) > 0 && t.classify {
		n.probs = make(map[string]float64, len(n.dist))
		n.conf = make(map[string]float64, len(n.dist))
		n.counts = make(map[string]float64, len(n.dist))
		total := 0.0
		for _, d := range n.dist {
			total += d.count
		}
		for _, d := range n.dist {
			p := d.prob
			if math.IsNaN(p) {
				p = 0
				if total > 0 {
					p = d.count / total
				}
			}
			n.probs[d.val] = p
			n.counts[d.val] = d.count
			if !math.IsNaN(d.confidence) {
				n.conf[d.val] = d.confidence
			} else {
				n.conf[d.val] = p
			}
		}
	}
	if e.child("Partition") == nil {
		for _, k := range e.kids {
			if k.name == "Regression" || k.name == "DecisionTree" {
				return nil, errf(k, "models embedded in tree nodes are not supported")
			}
		}
	}
	def := e.get("defaultChild")
	for _, ke := range e.children("Node") {
		ch, err := c.treeNode(ke, sc, t, classes)
		if err != nil {
			return nil, err
		}
		n.children = append(n.children, ch)
		if def != "" && ch.id == def {
			n.defaultChild = ch
		}
	}
	if def != "" && n.defaultChild == nil && len(n.children) > 0 {
		return nil, errf(e, "defaultChild %q is not the id of a child Node", def)
	}
	return n, nil
}

func addClass(classes *[]string, c string) {
	for _, x := range *classes {
		if x == c {
			return
		}
	}
	*classes = append(*classes, c)
}
