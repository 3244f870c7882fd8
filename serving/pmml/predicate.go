package pmml

import "fmt"

// tri is a predicate's three-valued result.
type tri uint8

const (
	tFalse tri = iota
	tTrue
	tUnknown
)

type predicate interface {
	test(f *frame) (tri, error)
}

type constPred tri

func (p constPred) test(*frame) (tri, error) { return tri(p), nil }

type op uint8

const (
	opEqual op = iota
	opNotEqual
	opLess
	opLessEq
	opGreater
	opGreaterEq
	opIsMissing
	opIsNotMissing
)

var ops = map[string]op{
	"equal": opEqual, "notEqual": opNotEqual, "lessThan": opLess, "lessOrEqual": opLessEq,
	"greaterThan": opGreater, "greaterOrEqual": opGreaterEq, "isMissing": opIsMissing, "isNotMissing": opIsNotMissing,
}

type simplePred struct {
	field string
	op    op
	val   value
	// fast path: a numeric field against a numeric constant
	numeric bool
}

func (p *simplePred) test(f *frame) (tri, error) {
	if err := f.run.step(); err != nil {
		return tFalse, err
	}
	v, err := f.get(p.field)
	if err != nil {
		return tFalse, err
	}
	switch p.op {
	case opIsMissing:
		return bt(v.k == kMissing), nil
	case opIsNotMissing:
		return bt(v.k != kMissing), nil
	}
	if v.k == kMissing {
		return tUnknown, nil
	}
	var c int
	if p.numeric && v.k == kNum {
		switch {
		case v.n < p.val.n:
			c = -1
		case v.n > p.val.n:
			c = 1
		case v.n != p.val.n: // NaN
			return tFalse, nil
		}
	} else if p.op == opEqual || p.op == opNotEqual {
		if equalValues(v, p.val) {
			c = 0
		} else {
			c = 1
		}
	} else {
		c = compareValues(v, p.val)
	}
	switch p.op {
	case opEqual:
		return bt(c == 0), nil
	case opNotEqual:
		return bt(c != 0), nil
	case opLess:
		return bt(c < 0), nil
	case opLessEq:
		return bt(c <= 0), nil
	case opGreater:
		return bt(c > 0), nil
	}
	return bt(c >= 0), nil
}

func bt(b bool) tri {
	if b {
		return tTrue
	}
	return tFalse
}

type setPred struct {
	field string
	in    bool
	set   []value
}

func (p *setPred) test(f *frame) (tri, error) {
	if err := f.run.step(); err != nil {
		return tFalse, err
	}
	v, err := f.get(p.field)
	if err != nil {
		return tFalse, err
	}
	if v.k == kMissing {
		return tUnknown, nil
	}
	for _, s := range p.set {
		if equalValues(v, s) {
			return bt(p.in), nil
		}
	}
	return bt(!p.in), nil
}

type compoundPred struct {
	op    string
	preds []predicate
}

func (p *compoundPred) test(f *frame) (tri, error) {
	switch p.op {
	case "and":
		res := tTrue
		for _, q := range p.preds {
			r, err := q.test(f)
			if err != nil {
				return tFalse, err
			}
			if r == tFalse {
				return tFalse, nil
			}
			if r == tUnknown {
				res = tUnknown
			}
		}
		return res, nil
	case "or":
		res := tFalse
		for _, q := range p.preds {
			r, err := q.test(f)
			if err != nil {
				return tFalse, err
			}
			if r == tTrue {
				return tTrue, nil
			}
			if r == tUnknown {
				res = tUnknown
			}
		}
		return res, nil
	case "xor":
		res := false
		for _, q := range p.preds {
			r, err := q.test(f)
			if err != nil {
				return tFalse, err
			}
			if r == tUnknown {
				return tUnknown, nil
			}
			res = res != (r == tTrue)
		}
		return bt(res), nil
	}
	// surrogate: the first predicate that is not unknown decides.
	for _, q := range p.preds {
		r, err := q.test(f)
		if err != nil {
			return tFalse, err
		}
		if r != tUnknown {
			return r, nil
		}
	}
	return tUnknown, nil
}

func isPredicate(name string) bool {
	switch name {
	case "SimplePredicate", "CompoundPredicate", "SimpleSetPredicate", "True", "False":
		return true
	}
	return false
}

// predicateChild compiles the predicate child of e (a Node or Segment).
func (c *compiler) predicateChild(e *elem, sc *scope) (predicate, error) {
	for _, k := range e.kids {
		if isPredicate(k.name) {
			return c.predicate(k, sc)
		}
	}
	return nil, errf(e, "no predicate (want SimplePredicate, CompoundPredicate, SimpleSetPredicate, True or False)")
}

func (c *compiler) predicate(e *elem, sc *scope) (predicate, error) {
	switch e.name {
	case "True":
		return constPred(tTrue), nil
	case "False":
		return constPred(tFalse), nil
	case "SimplePredicate":
		field, err := c.fieldAttr(e, sc)
		if err != nil {
			return nil, err
		}
		o, ok := ops[e.get("operator")]
		if !ok {
			return nil, errf(e, "operator %q is not supported", e.get("operator"))
		}
		p := &simplePred{field: field, op: o}
		if o != opIsMissing && o != opIsNotMissing {
			s, ok := e.attr("value")
			if !ok {
				return nil, errf(e, "operator %s needs a value", e.get("operator"))
			}
			dt := sc.typeOf(field)
			v, ok := parseLiteral(s, dt)
			if !ok {
				return nil, errf(e, "value %q does not fit field %q of type %s", s, field, dtName(dt))
			}
			p.val = v
			p.numeric = v.k == kNum && dt.numeric()
		}
		return p, nil
	case "SimpleSetPredicate":
		field, err := c.fieldAttr(e, sc)
		if err != nil {
			return nil, err
		}
		p := &setPred{field: field}
		switch e.get("booleanOperator") {
		case "isIn":
			p.in = true
		case "isNotIn":
		default:
			return nil, errf(e, "booleanOperator %q is not isIn or isNotIn", e.get("booleanOperator"))
		}
		ae := e.child("Array")
		if ae == nil {
			return nil, errf(e, "Array is missing")
		}
		toks, err := parseArray(ae.text)
		if err != nil {
			return nil, errf(ae, "%s", err.Error())
		}
		dt := sc.typeOf(field)
		for _, t := range toks {
			v, ok := parseLiteral(t, dt)
			if !ok {
				return nil, errf(ae, "%q does not fit field %q", t, field)
			}
			p.set = append(p.set, v)
		}
		return p, nil
	case "CompoundPredicate":
		p := &compoundPred{op: e.get("booleanOperator")}
		switch p.op {
		case "and", "or", "xor", "surrogate":
		default:
			return nil, errf(e, "booleanOperator %q is not and, or, xor or surrogate", p.op)
		}
		for _, k := range e.kids {
			if !isPredicate(k.name) {
				continue
			}
			q, err := c.predicate(k, sc)
			if err != nil {
				return nil, err
			}
			p.preds = append(p.preds, q)
		}
		if len(p.preds) < 2 {
			return nil, errf(e, "needs at least two predicates, has %d", len(p.preds))
		}
		return p, nil
	}
	return nil, fmt.Errorf("%s: not a predicate", e.where())
}
