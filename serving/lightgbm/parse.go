package lightgbm

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"strings"
)

// rawTree is one Tree= block of model.txt, as written.
type rawTree struct {
	numLeaves     int
	numCat        int
	splitFeature  []int64
	threshold     []float64
	decisionType  []int64
	leftChild     []int64
	rightChild    []int64
	leafValue     []float64
	catBoundaries []int64
	catThreshold  []int64
}

// header holds the key=value lines before the first tree.
type header struct {
	first          string // the first line, "tree" in a model file
	values         map[string]string
	averageOutput  bool
	sawEndOfTrees  bool
	trees          []*rawTree
	treeLineNumber []int
}

// Keys read from the header; others (version, label_index, feature_infos, tree_sizes,
// monotone_constraints, ...) are not needed for prediction.
var headerKeys = map[string]bool{
	"num_class": true, "num_tree_per_iteration": true, "max_feature_idx": true,
	"objective": true, "feature_names": true,
}

// Keys read from a Tree= block.
var treeKeys = map[string]bool{
	"num_leaves": true, "num_cat": true, "split_feature": true, "threshold": true,
	"decision_type": true, "left_child": true, "right_child": true, "leaf_value": true,
	"cat_boundaries": true, "cat_threshold": true, "is_linear": true,
}

// lines calls fn for each line of b without its line ending and surrounding spaces, with its
// 1-based number, until fn returns false or an error.
func lines(b []byte, fn func(no int, line string) (bool, error)) error {
	no := 0
	for len(b) > 0 {
		no++
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		more, err := fn(no, string(bytes.TrimSpace(line)))
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// split parses model.txt into its header and tree blocks, stopping at "end of trees".
func split(b []byte) (*header, error) {
	h := &header{values: make(map[string]string)}
	var tree map[string]string
	var treeNo int
	finish := func() error {
		if tree == nil {
			return nil
		}
		t, err := parseTree(treeNo, tree)
		if err != nil {
			return err
		}
		h.trees = append(h.trees, t)
		tree = nil
		return nil
	}
	err := lines(b, func(no int, line string) (bool, error) {
		if no == 1 {
			h.first = line
			return true, nil
		}
		switch {
		case line == "":
			return true, nil
		case line == "end of trees":
			h.sawEndOfTrees = true
			return false, finish()
		case strings.HasPrefix(line, "Tree="):
			if err := finish(); err != nil {
				return false, err
			}
			if len(h.trees) >= MaxTrees {
				return false, loadErr("model has more than %d trees", MaxTrees)
			}
			idx, err := strconv.Atoi(line[len("Tree="):])
			if err != nil || idx != len(h.trees) {
				return false, loadErr("line %d: %q, want Tree=%d", no, line, len(h.trees))
			}
			treeNo, tree = idx, make(map[string]string, 16)
			return true, nil
		}
		key, value, hasValue := strings.Cut(line, "=")
		if tree != nil {
			if !treeKeys[key] {
				return true, nil
			}
			if _, dup := tree[key]; dup {
				return false, loadErr("Tree=%d: %s appears twice (line %d)", treeNo, key, no)
			}
			tree[key] = value
			return true, nil
		}
		if !hasValue {
			if line == "average_output" {
				h.averageOutput = true
			}
			return true, nil
		}
		if headerKeys[key] {
			if _, dup := h.values[key]; dup {
				return false, loadErr("header: %s appears twice (line %d)", key, no)
			}
			h.values[key] = value
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}

func parseInts(tree int, key, s string, lo, hi int64) ([]int64, error) {
	f := strings.Fields(s)
	out := make([]int64, len(f))
	for i, tok := range f {
		v, err := strconv.ParseInt(tok, 10, 64)
		if err != nil || v < lo || v > hi {
			return nil, loadErr("Tree=%d: %s[%d] = %.30q is not an integer in [%d, %d]", tree, key, i, tok, lo, hi)
		}
		out[i] = v
	}
	return out, nil
}

func parseFloats(tree int, key, s string, finite bool) ([]float64, error) {
	f := strings.Fields(s)
	out := make([]float64, len(f))
	for i, tok := range f {
		v, err := strconv.ParseFloat(tok, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) { // out of range: ±Inf or 0, as in C's strtod
			return nil, loadErr("Tree=%d: %s[%d] = %.30q is not a number", tree, key, i, tok)
		}
		if math.IsNaN(v) || (finite && math.IsInf(v, 0)) {
			return nil, loadErr("Tree=%d: %s[%d] = %.30q is not finite", tree, key, i, tok)
		}
		out[i] = v
	}
	return out, nil
}

// parseTree reads one Tree= block and checks that its arrays have the lengths num_leaves and
// num_cat call for. Index ranges and the tree shape are checked by the model builder.
func parseTree(no int, kv map[string]string) (*rawTree, error) {
	t := &rawTree{}
	nl, err := strconv.Atoi(kv["num_leaves"])
	if err != nil || nl < 1 || nl > MaxNodes {
		return nil, loadErr("Tree=%d: num_leaves %.30q is not an integer in [1, %d]", no, kv["num_leaves"], MaxNodes)
	}
	t.numLeaves = nl
	if s, ok := kv["num_cat"]; ok {
		nc, err := strconv.Atoi(s)
		if err != nil || nc < 0 || nc >= nl {
			return nil, loadErr("Tree=%d: num_cat %.30q is not an integer in [0, num_leaves)", no, s)
		}
		t.numCat = nc
	}
	if s := kv["is_linear"]; s != "" && s != "0" {
		return nil, loadErr("Tree=%d: linear trees (is_linear=%.10s, linear_tree=true) are not supported", no, s)
	}
	const maxIndex = math.MaxInt32
	if t.leafValue, err = parseFloats(no, "leaf_value", kv["leaf_value"], true); err != nil {
		return nil, err
	}
	if len(t.leafValue) != nl {
		return nil, loadErr("Tree=%d: leaf_value has %d values, num_leaves is %d", no, len(t.leafValue), nl)
	}
	if nl == 1 {
		return t, nil // a single leaf; LightGBM writes the split arrays empty
	}
	if t.splitFeature, err = parseInts(no, "split_feature", kv["split_feature"], 0, maxIndex); err != nil {
		return nil, err
	}
	if t.threshold, err = parseFloats(no, "threshold", kv["threshold"], false); err != nil {
		return nil, err
	}
	if t.decisionType, err = parseInts(no, "decision_type", kv["decision_type"], 0, 255); err != nil {
		return nil, err
	}
	if t.leftChild, err = parseInts(no, "left_child", kv["left_child"], -maxIndex, maxIndex); err != nil {
		return nil, err
	}
	if t.rightChild, err = parseInts(no, "right_child", kv["right_child"], -maxIndex, maxIndex); err != nil {
		return nil, err
	}
	for _, a := range []struct {
		key string
		n   int
	}{
		{"split_feature", len(t.splitFeature)}, {"threshold", len(t.threshold)},
		{"decision_type", len(t.decisionType)}, {"left_child", len(t.leftChild)}, {"right_child", len(t.rightChild)},
	} {
		if a.n != nl-1 {
			return nil, loadErr("Tree=%d: %s has %d values, want num_leaves-1 = %d", no, a.key, a.n, nl-1)
		}
	}
	if t.numCat > 0 {
		if t.catBoundaries, err = parseInts(no, "cat_boundaries", kv["cat_boundaries"], 0, maxIndex); err != nil {
			return nil, err
		}
		if t.catThreshold, err = parseInts(no, "cat_threshold", kv["cat_threshold"], 0, math.MaxUint32); err != nil {
			return nil, err
		}
		if len(t.catBoundaries) != t.numCat+1 {
			return nil, loadErr("Tree=%d: cat_boundaries has %d values, want num_cat+1 = %d", no, len(t.catBoundaries), t.numCat+1)
		}
		prev := int64(0)
		for i, b := range t.catBoundaries {
			if (i == 0 && b != 0) || b < prev {
				return nil, loadErr("Tree=%d: cat_boundaries must start at 0 and not decrease (cat_boundaries[%d] = %d)", no, i, b)
			}
			prev = b
		}
		if prev != int64(len(t.catThreshold)) {
			return nil, loadErr("Tree=%d: cat_boundaries ends at %d but cat_threshold has %d words", no, prev, len(t.catThreshold))
		}
	}
	return t, nil
}

// intParam parses a header integer in [lo, hi].
func intParam(h *header, key string, def, lo, hi int) (int, error) {
	s, ok := h.values[key]
	if !ok {
		if def < lo {
			return 0, loadErr("header has no %s", key)
		}
		return def, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		return 0, loadErr("header: %s=%.30q is not an integer in [%d, %d]", key, s, lo, hi)
	}
	return v, nil
}

// parseObjective splits LightGBM's objective line, for example "binary sigmoid:1",
// "multiclass num_class:3" or "regression sqrt", into its name and parameters.
func parseObjective(s string) (name string, params map[string]string) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return "", nil
	}
	params = make(map[string]string, len(f)-1)
	for _, p := range f[1:] {
		k, v, _ := strings.Cut(p, ":")
		params[k] = v
	}
	return f[0], params
}
