package pmml

import (
	"fmt"
	"math"
	"slices"
	"strconv"
)

type segment struct {
	id     string
	pred   predicate
	weight float64
	model  *modelDef
}

type segmentation struct {
	method   string
	segments []*segment
	classify bool
	classes  []string
}

func (c *compiler) miningModel(e *elem, m *modelDef, sc *scope) error {
	se := e.child("Segmentation")
	if se == nil {
		return errf(e, "has no Segmentation (models embedded directly in a MiningModel, PMML 3.x style, are not supported)")
	}
	s := &segmentation{method: se.get("multipleModelMethod"), classify: m.classify()}
	switch s.method {
	case "majorityVote", "weightedMajorityVote":
		if !s.classify {
			return errf(se, "multipleModelMethod %s needs functionName classification", s.method)
		}
	case "average", "weightedAverage", "median", "max", "sum", "weightedSum", "selectFirst", "modelChain":
	case "selectAll":
		return errf(se, "multipleModelMethod selectAll returns one answer per segment, which a single prediction cannot carry; use selectFirst or an aggregation")
	case "":
		return errf(se, "multipleModelMethod is missing")
	default:
		return errf(se, "multipleModelMethod %q is not supported", s.method)
	}
	for i, ge := range se.children("Segment") {
		g := &segment{id: ge.get("id")}
		if g.id == "" {
			g.id = strconv.Itoa(i + 1)
		}
		var err error
		if g.weight, err = finiteAttr(ge, "weight", 1); err != nil {
			return err
		}
		if g.pred, err = c.predicateChild(ge, sc); err != nil {
			return err
		}
		me, err := modelChild(ge)
		if err != nil {
			return err
		}
		if g.model, err = c.compileModel(me, sc, nil); err != nil {
			return err
		}
		if s.method == "modelChain" { // later segments see earlier segments' outputs
			for _, o := range g.model.outputs {
				sc.types[o.name] = o.dt
			}
		}
		if s.classify && s.method != "modelChain" && s.method != "selectFirst" && !g.model.classify() {
			return errf(ge, "segment %q is a %s model; %s of a classification needs classification segments", g.id, g.model.fn, s.method)
		}
		if !s.classify && s.method != "modelChain" && s.method != "selectFirst" && g.model.classify() {
			return errf(ge, "segment %q is a classification model; %s of a regression needs regression segments", g.id, s.method)
		}
		s.segments = append(s.segments, g)
	}
	if len(s.segments) == 0 {
		return errf(se, "has no Segment")
	}
	if s.classify && len(m.classes) == 0 {
		for _, g := range s.segments {
			for _, cl := range g.model.classes {
				addClass(&m.classes, cl)
			}
		}
	}
	s.classes = m.classes
	m.eval = s.eval
	return nil
}

func (s *segmentation) eval(f *frame) (*result, error) {
	var (
		results []*result
		weights []float64
		segs    = map[string]*result{}
		last    *result
	)
	for _, g := range s.segments {
		r, err := g.pred.test(f)
		if err != nil {
			return nil, err
		}
		if r != tTrue {
			continue
		}
		res, sf, err := g.model.run(f)
		if err != nil {
			return nil, fmt.Errorf("segment %q: %w", g.id, err)
		}
		segs[g.id] = res
		switch s.method {
		case "selectFirst":
			out := *res
			out.segs = segs
			return &out, nil
		case "modelChain":
			for _, o := range g.model.outputs {
				f.vals[o.name] = sf.vals[o.name]
			}
			last = res
			continue
		}
		results = append(results, res)
		weights = append(weights, g.weight)
	}
	if s.method == "selectFirst" {
		return &result{missing: true, segs: segs}, nil
	}
	if s.method == "modelChain" {
		if last == nil {
			return &result{missing: true, segs: segs}, nil
		}
		out := *last
		out.segs = segs
		return &out, nil
	}
	var out *result
	if s.classify {
		out = s.classification(results, weights)
	} else {
		out = s.regression(results, weights)
	}
	out.segs = segs
	return out, nil
}

func (s *segmentation) regression(results []*result, weights []float64) *result {
	if len(results) == 0 {
		return &result{missing: true}
	}
	vals := make([]float64, 0, len(results))
	for _, r := range results {
		if r.missing {
			return &result{missing: true}
		}
		vals = append(vals, r.value)
	}
	var v float64
	switch s.method {
	case "average":
		for _, x := range vals {
			v += x
		}
		v /= float64(len(vals))
	case "weightedAverage":
		var ws float64
		for i, x := range vals {
			v += weights[i] * x
			ws += weights[i]
		}
		v /= ws
	case "sum":
		for _, x := range vals {
			v += x
		}
	case "weightedSum":
		for i, x := range vals {
			v += weights[i] * x
		}
	case "median":
		v = median(vals)
	case "max":
		v = slices.Max(vals)
	}
	return &result{value: v}
}

func median(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func (s *segmentation) classification(results []*result, weights []float64) *result {
	out := &result{probs: map[string]float64{}}
	switch s.method {
	case "majorityVote", "weightedMajorityVote":
		total := 0.0
		for i, r := range results {
			if r.missing || r.label == "" {
				continue
			}
			w := 1.0
			if s.method == "weightedMajorityVote" {
				w = weights[i]
			}
			out.probs[r.label] += w
			total += w
		}
		if total == 0 {
			return &result{missing: true}
		}
		for k := range out.probs {
			out.probs[k] /= total
		}
	case "average", "weightedAverage", "sum", "weightedSum":
		ws := 0.0
		for i, r := range results {
			if r.missing || r.probs == nil {
				return &result{missing: true}
			}
			w := 1.0
			if s.method == "weightedAverage" || s.method == "weightedSum" {
				w = weights[i]
			}
			for k, p := range r.probs {
				out.probs[k] += w * p
			}
			ws += w
		}
		if ws == 0 {
			return &result{missing: true}
		}
		if s.method == "average" || s.method == "weightedAverage" {
			for k := range out.probs {
				out.probs[k] /= ws
			}
		}
	case "median":
		per := map[string][]float64{}
		for _, r := range results {
			if r.missing || r.probs == nil {
				return &result{missing: true}
			}
			for _, c := range s.classes {
				per[c] = append(per[c], r.probs[c])
			}
		}
		if len(results) == 0 {
			return &result{missing: true}
		}
		for c, ps := range per {
			out.probs[c] = median(ps)
		}
	case "max":
		// The winner is the class with the highest probability in any segment; its
		// distribution is the average over the segments that give the winner that maximum.
		best, bp := "", math.Inf(-1)
		for _, r := range results {
			if r.missing || r.probs == nil {
				return &result{missing: true}
			}
			for _, c := range s.classes {
				if p, ok := r.probs[c]; ok && p > bp {
					best, bp = c, p
				}
			}
		}
		if best == "" {
			return &result{missing: true}
		}
		n := 0.0
		for _, r := range results {
			if r.probs[best] == bp {
				for k, p := range r.probs {
					out.probs[k] += p
				}
				n++
			}
		}
		for k := range out.probs {
			out.probs[k] /= n
		}
		out.label = best
		return out
	}
	if len(out.probs) == 0 {
		return &result{missing: true}
	}
	out.label = argmax(out.probs, s.classes)
	return out
}
