package pmml

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// expr is a compiled PMML expression.
type expr interface {
	eval(f *frame) (value, error)
}

type constExpr struct{ v value }

func (x *constExpr) eval(f *frame) (value, error) { return x.v, f.run.step() }

type fieldRef struct {
	name         string
	mapMissingTo *value
}

func (x *fieldRef) eval(f *frame) (value, error) {
	if err := f.run.step(); err != nil {
		return missing, err
	}
	v, err := f.get(x.name)
	if err != nil {
		return missing, err
	}
	if v.k == kMissing && x.mapMissingTo != nil {
		return *x.mapMissingTo, nil
	}
	return v, nil
}

// mapMissing reads an optional mapMissingTo-style attribute as dataType t.
func mapMissing(e *elem, attr string, t dataType) (*value, error) {
	s, ok := e.attr(attr)
	if !ok {
		return nil, nil
	}
	v, ok := parseLiteral(s, t)
	if !ok {
		return nil, errf(e, "%s=%q is not a %s", attr, s, dtName(t))
	}
	return &v, nil
}

func (c *compiler) fieldAttr(e *elem, sc *scope) (string, error) {
	name := e.get("field")
	if name == "" {
		return "", errf(e, "attribute field is missing")
	}
	if !sc.has(name) {
		return "", errf(e, "field %q is not defined", name)
	}
	return name, nil
}

type normContinuous struct {
	field        string
	mapMissingTo *value
	orig, norm   []float64
	outliers     string
}

func (x *normContinuous) eval(f *frame) (value, error) {
	if err := f.run.step(); err != nil {
		return missing, err
	}
	v, err := f.get(x.field)
	if err != nil {
		return missing, err
	}
	if v.k == kMissing {
		if x.mapMissingTo != nil {
			return *x.mapMissingTo, nil
		}
		return missing, nil
	}
	in, ok := v.number()
	if !ok {
		return missing, fmt.Errorf("NormContinuous: field %q value %q is not a number", x.field, v.String())
	}
	n := len(x.orig)
	switch {
	case in < x.orig[0]:
		switch x.outliers {
		case "asMissingValues":
			return missing, nil
		case "asExtremeValues":
			return num(x.norm[0]), nil
		}
		return num(interp(in, x.orig[0], x.orig[1], x.norm[0], x.norm[1])), nil
	case in > x.orig[n-1]:
		switch x.outliers {
		case "asMissingValues":
			return missing, nil
		case "asExtremeValues":
			return num(x.norm[n-1]), nil
		}
		return num(interp(in, x.orig[n-2], x.orig[n-1], x.norm[n-2], x.norm[n-1])), nil
	}
	i := sort.SearchFloat64s(x.orig, in) // first orig >= in
	if i == 0 {
		return num(x.norm[0]), nil
	}
	if x.orig[i] == in {
		return num(x.norm[i]), nil
	}
	return num(interp(in, x.orig[i-1], x.orig[i], x.norm[i-1], x.norm[i])), nil
}

// invert maps a normalized value back to the original scale (for NeuralOutput regression).
func (x *normContinuous) invert(y float64) float64 {
	n := len(x.norm)
	for i := 1; i < n; i++ {
		lo, hi := x.norm[i-1], x.norm[i]
		if (y >= min(lo, hi) && y <= max(lo, hi)) || i == n-1 || (i == 1 && ((lo < hi && y < lo) || (lo > hi && y > lo))) {
			return interp(y, x.norm[i-1], x.norm[i], x.orig[i-1], x.orig[i])
		}
	}
	return math.NaN()
}

func interp(x, x0, x1, y0, y1 float64) float64 {
	return y0 + (x-x0)*(y1-y0)/(x1-x0)
}

func (c *compiler) normContinuous(e *elem, sc *scope) (*normContinuous, error) {
	field, err := c.fieldAttr(e, sc)
	if err != nil {
		return nil, err
	}
	x := &normContinuous{field: field, outliers: e.get("outliers")}
	switch x.outliers {
	case "", "asIs", "asMissingValues", "asExtremeValues":
	default:
		return nil, errf(e, "outliers %q is not asIs, asMissingValues or asExtremeValues", x.outliers)
	}
	if x.mapMissingTo, err = mapMissing(e, "mapMissingTo", dtDouble); err != nil {
		return nil, err
	}
	for _, ln := range e.children("LinearNorm") {
		o, err := requireFloatAttr(ln, "orig")
		if err != nil {
			return nil, err
		}
		n, err := requireFloatAttr(ln, "norm")
		if err != nil {
			return nil, err
		}
		if math.IsNaN(o) || math.IsInf(o, 0) || math.IsNaN(n) || math.IsInf(n, 0) {
			return nil, errf(ln, "orig and norm must be finite")
		}
		if k := len(x.orig); k > 0 && o <= x.orig[k-1] {
			return nil, errf(ln, "orig %v does not increase (previous %v)", o, x.orig[k-1])
		}
		x.orig = append(x.orig, o)
		x.norm = append(x.norm, n)
	}
	if len(x.orig) < 2 {
		return nil, errf(e, "needs at least two LinearNorm elements, has %d", len(x.orig))
	}
	return x, nil
}

type normDiscrete struct {
	field        string
	val          value
	mapMissingTo *value
}

func (x *normDiscrete) eval(f *frame) (value, error) {
	if err := f.run.step(); err != nil {
		return missing, err
	}
	v, err := f.get(x.field)
	if err != nil {
		return missing, err
	}
	if v.k == kMissing {
		if x.mapMissingTo != nil {
			return *x.mapMissingTo, nil
		}
		return missing, nil
	}
	return num(b2f(equalValues(v, x.val))), nil
}

type discretizeBin struct {
	iv  interval
	val value
}

type discretize struct {
	field        string
	bins         []discretizeBin
	mapMissingTo *value
	defaultValue *value
}

func (x *discretize) eval(f *frame) (value, error) {
	if err := f.run.step(); err != nil {
		return missing, err
	}
	v, err := f.get(x.field)
	if err != nil {
		return missing, err
	}
	if v.k == kMissing {
		if x.mapMissingTo != nil {
			return *x.mapMissingTo, nil
		}
		return missing, nil
	}
	if in, ok := v.number(); ok {
		for _, b := range x.bins {
			if b.iv.contains(in) {
				return b.val, nil
			}
		}
	}
	if x.defaultValue != nil {
		return *x.defaultValue, nil
	}
	return missing, nil
}

type mapValues struct {
	fields  []string
	columns []string
	rows    [][]value // one value per column in fields order, then the output
	mapMiss *value
	deflt   *value
}

func (x *mapValues) eval(f *frame) (value, error) {
	if err := f.run.step(); err != nil {
		return missing, err
	}
	in := make([]value, len(x.fields))
	for i, name := range x.fields {
		v, err := f.get(name)
		if err != nil {
			return missing, err
		}
		if v.k == kMissing {
			if x.mapMiss != nil {
				return *x.mapMiss, nil
			}
			return missing, nil
		}
		in[i] = v
	}
rows:
	for _, r := range x.rows {
		for i, v := range in {
			if !equalValues(v, r[i]) {
				continue rows
			}
		}
		return r[len(in)], nil
	}
	if x.deflt != nil {
		return *x.deflt, nil
	}
	return missing, nil
}

func (c *compiler) mapValues(e *elem, sc *scope) (expr, error) {
	dt, _ := parseDataType(e.get("dataType"))
	x := &mapValues{}
	var err error
	if x.mapMiss, err = mapMissing(e, "mapMissingTo", dt); err != nil {
		return nil, err
	}
	if x.deflt, err = mapMissing(e, "defaultValue", dt); err != nil {
		return nil, err
	}
	out := e.get("outputColumn")
	if out == "" {
		return nil, errf(e, "outputColumn is missing")
	}
	for _, p := range e.children("FieldColumnPair") {
		name, err := c.fieldAttr(p, sc)
		if err != nil {
			return nil, err
		}
		col := p.get("column")
		if col == "" {
			return nil, errf(p, "column is missing")
		}
		x.fields = append(x.fields, name)
		x.columns = append(x.columns, col)
	}
	if e.child("TableLocator") != nil {
		return nil, errf(e, "TableLocator (an external table) is not supported; use an InlineTable")
	}
	tab := e.child("InlineTable")
	if tab == nil {
		return nil, errf(e, "InlineTable is missing")
	}
	cols := append(slices.Clone(x.columns), out)
	for _, re := range tab.children("row") {
		row := make([]value, len(cols))
		for i, col := range cols {
			cell := re.child(col)
			if cell == nil {
				// Column names may carry a namespace prefix (data:input): the local name is kept.
				return nil, errf(re, "row has no cell %q", col)
			}
			t := dtUnknown
			if i == len(cols)-1 {
				t = dt
			} else {
				t = sc.typeOf(x.fields[i])
			}
			v, ok := parseLiteral(cell.text, t)
			if !ok {
				return nil, errf(cell, "%q is not a %s", cell.text, dtName(t))
			}
			row[i] = v
		}
		x.rows = append(x.rows, row)
	}
	return x, nil
}

type applyExpr struct {
	name         string
	fn           *builtin
	user         *userFunc
	args         []expr
	mapMissingTo *value
	defaultValue *value
	invalid      string
}

func (x *applyExpr) eval(f *frame) (value, error) {
	if err := f.run.step(); err != nil {
		return missing, err
	}
	var res value
	var err error
	switch {
	case x.fn != nil && x.fn.lazy != nil:
		res, err = x.fn.lazy(f, x.args)
	default:
		args := make([]value, len(x.args))
		anyMissing := false
		for i, a := range x.args {
			if args[i], err = a.eval(f); err != nil {
				return missing, err
			}
			anyMissing = anyMissing || args[i].k == kMissing
		}
		if anyMissing && x.mapMissingTo != nil {
			return *x.mapMissingTo, nil
		}
		if x.user != nil {
			res, err = x.user.call(f, args)
		} else if anyMissing && !x.fn.takesMissing {
			res = missing
		} else {
			res, err = x.fn.fn(args)
		}
	}
	if err != nil {
		return missing, fmt.Errorf("function %q: %w", x.name, err)
	}
	if res.k == kNum && (math.IsNaN(res.n) || math.IsInf(res.n, 0)) {
		switch x.invalid {
		case "asMissing":
			res = missing
		case "asIs":
		default:
			return missing, fmt.Errorf("function %q returned %v (invalidValueTreatment=returnInvalid)", x.name, res.n)
		}
	}
	if res.k == kMissing && x.defaultValue != nil {
		return *x.defaultValue, nil
	}
	return res, nil
}

type userFunc struct {
	name   string
	params []string
	types  []dataType
	dt     dataType
	body   expr
	def    *frameDef
}

const maxCallDepth = 64

func (u *userFunc) call(f *frame, args []value) (value, error) {
	if len(args) != len(u.params) {
		return missing, fmt.Errorf("takes %d arguments, got %d", len(u.params), len(args))
	}
	if f.run.calls >= maxCallDepth {
		return missing, fmt.Errorf("calls nest deeper than %d", maxCallDepth)
	}
	f.run.calls++
	defer func() { f.run.calls-- }()
	fr := newFrame(u.def, nil, f.run)
	for i, p := range u.params {
		v, ok := cast(args[i], u.types[i])
		if !ok {
			return missing, fmt.Errorf("argument %q: %q is not a %s", p, args[i].String(), dtName(u.types[i]))
		}
		fr.vals[p] = v
	}
	v, err := u.body.eval(fr)
	if err != nil {
		return missing, err
	}
	if u.dt != dtUnknown {
		if cv, ok := cast(v, u.dt); ok {
			v = cv
		}
	}
	return v, nil
}

func (c *compiler) compileExpr(e *elem, sc *scope) (expr, error) {
	c.exprs++
	switch e.name {
	case "Constant":
		dt, ok := parseDataType(e.get("dataType"))
		if !ok {
			return nil, errf(e, "dataType %q is not supported", e.get("dataType"))
		}
		if e.get("missing") == "true" {
			return &constExpr{v: missing}, nil
		}
		v, ok := parseLiteral(strings.TrimSpace(e.text), dt)
		if !ok {
			return nil, errf(e, "%q is not a %s", e.text, dtName(dt))
		}
		if dt == dtString {
			v = str(e.text)
		}
		return &constExpr{v: v}, nil
	case "FieldRef":
		name, err := c.fieldAttr(e, sc)
		if err != nil {
			return nil, err
		}
		mm, err := mapMissing(e, "mapMissingTo", sc.typeOf(name))
		if err != nil {
			return nil, err
		}
		return &fieldRef{name: name, mapMissingTo: mm}, nil
	case "NormContinuous":
		return c.normContinuous(e, sc)
	case "NormDiscrete":
		field, err := c.fieldAttr(e, sc)
		if err != nil {
			return nil, err
		}
		if m := e.get("method"); m != "" && m != "indicator" {
			return nil, errf(e, "method %q is not supported (only indicator)", m)
		}
		val, ok := parseLiteral(e.get("value"), sc.typeOf(field))
		if !ok {
			return nil, errf(e, "value %q does not fit field %q", e.get("value"), field)
		}
		mm, err := mapMissing(e, "mapMissingTo", dtDouble)
		if err != nil {
			return nil, err
		}
		return &normDiscrete{field: field, val: val, mapMissingTo: mm}, nil
	case "Discretize":
		field, err := c.fieldAttr(e, sc)
		if err != nil {
			return nil, err
		}
		dt, _ := parseDataType(e.get("dataType"))
		x := &discretize{field: field}
		if x.mapMissingTo, err = mapMissing(e, "mapMissingTo", dt); err != nil {
			return nil, err
		}
		if x.defaultValue, err = mapMissing(e, "defaultValue", dt); err != nil {
			return nil, err
		}
		for _, be := range e.children("DiscretizeBin") {
			ie := be.child("Interval")
			if ie == nil {
				return nil, errf(be, "Interval is missing")
			}
			iv, err := parseInterval(ie)
			if err != nil {
				return nil, err
			}
			bv, ok := be.attr("binValue")
			if !ok {
				return nil, errf(be, "binValue is missing")
			}
			v, ok := parseLiteral(bv, dt)
			if !ok {
				return nil, errf(be, "binValue %q is not a %s", bv, dtName(dt))
			}
			x.bins = append(x.bins, discretizeBin{iv: iv, val: v})
		}
		return x, nil
	case "MapValues":
		return c.mapValues(e, sc)
	case "Apply":
		return c.apply(e, sc)
	}
	return nil, errf(e, "expression %s is not supported", e.name)
}

func (c *compiler) apply(e *elem, sc *scope) (expr, error) {
	name := e.get("function")
	x := &applyExpr{name: name, invalid: e.get("invalidValueTreatment")}
	switch x.invalid {
	case "", "returnInvalid", "asIs", "asMissing":
	default:
		return nil, errf(e, "invalidValueTreatment %q is not supported", x.invalid)
	}
	if b, ok := builtins[name]; ok {
		x.fn = b
	} else if u, ok := c.funcs[name]; ok {
		x.user = u
	} else {
		return nil, errf(e, "function %q is neither built in nor defined by a DefineFunction", name)
	}
	for _, k := range e.kids {
		if !isExpr(k.name) {
			continue
		}
		a, err := c.compileExpr(k, sc)
		if err != nil {
			return nil, err
		}
		x.args = append(x.args, a)
	}
	if x.fn != nil && (len(x.args) < x.fn.min || (x.fn.max >= 0 && len(x.args) > x.fn.max)) {
		want := strconv.Itoa(x.fn.min)
		switch {
		case x.fn.max < 0:
			want = "at least " + want
		case x.fn.max != x.fn.min:
			want = fmt.Sprintf("%d to %d", x.fn.min, x.fn.max)
		}
		return nil, errf(e, "function %q takes %s arguments, got %d", name, want, len(x.args))
	}
	if x.user != nil && len(x.args) != len(x.user.params) {
		return nil, errf(e, "function %q takes %d arguments, got %d", name, len(x.user.params), len(x.args))
	}
	var err error
	if x.mapMissingTo, err = mapMissing(e, "mapMissingTo", dtUnknown); err != nil {
		return nil, err
	}
	if x.defaultValue, err = mapMissing(e, "defaultValue", dtUnknown); err != nil {
		return nil, err
	}
	return x, nil
}

// builtin is a PMML built-in function. fn receives evaluated arguments (none missing unless
// takesMissing); lazy ones evaluate their own arguments.
type builtin struct {
	min, max     int // max < 0: variadic
	fn           func(args []value) (value, error)
	lazy         func(f *frame, args []expr) (value, error)
	takesMissing bool
}

var errNotNumber = errors.New("argument is not a number")

func nums(args []value) ([]float64, error) {
	out := make([]float64, len(args))
	for i, a := range args {
		f, ok := a.number()
		if !ok {
			return nil, fmt.Errorf("%w: %q", errNotNumber, a.String())
		}
		out[i] = f
	}
	return out, nil
}

func math1(f func(float64) float64) *builtin {
	return &builtin{min: 1, max: 1, fn: func(a []value) (value, error) {
		x, err := nums(a)
		if err != nil {
			return missing, err
		}
		return num(f(x[0])), nil
	}}
}

func math2(f func(x, y float64) float64) *builtin {
	return &builtin{min: 2, max: 2, fn: func(a []value) (value, error) {
		x, err := nums(a)
		if err != nil {
			return missing, err
		}
		return num(f(x[0], x[1])), nil
	}}
}

func agg(min int, f func([]float64) float64) *builtin {
	return &builtin{min: min, max: -1, fn: func(a []value) (value, error) {
		x, err := nums(a)
		if err != nil {
			return missing, err
		}
		return num(f(x)), nil
	}}
}

func cmp(f func(int) bool) *builtin {
	return &builtin{min: 2, max: 2, fn: func(a []value) (value, error) {
		return boolean(f(compareValues(a[0], a[1]))), nil
	}}
}

func str1(f func(string) string) *builtin {
	return &builtin{min: 1, max: 1, fn: func(a []value) (value, error) { return str(f(a[0].String())), nil }}
}

func truth(v value) (bool, error) {
	switch v.k {
	case kBool, kNum:
		return v.n != 0, nil
	case kStr:
		switch v.s {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, fmt.Errorf("%q is not a boolean", v.String())
}

func logic(and bool) *builtin {
	return &builtin{min: 2, max: -1, fn: func(a []value) (value, error) {
		for _, v := range a {
			b, err := truth(v)
			if err != nil {
				return missing, err
			}
			if b != and {
				return boolean(!and), nil
			}
		}
		return boolean(and), nil
	}}
}

func roundHalfUp(x float64) float64 { return math.Floor(x + 0.5) }

func stdNormalCDF(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }

var builtins map[string]*builtin

func init() {
	isIn := func(in bool) *builtin {
		return &builtin{min: 2, max: -1, fn: func(a []value) (value, error) {
			for _, v := range a[1:] {
				if equalValues(a[0], v) {
					return boolean(in), nil
				}
			}
			return boolean(!in), nil
		}}
	}
	builtins = map[string]*builtin{
		"+":   math2(func(x, y float64) float64 { return x + y }),
		"-":   math2(func(x, y float64) float64 { return x - y }),
		"*":   math2(func(x, y float64) float64 { return x * y }),
		"/":   math2(func(x, y float64) float64 { return x / y }),
		"min": agg(1, func(x []float64) float64 { return slices.Min(x) }),
		"max": agg(1, func(x []float64) float64 { return slices.Max(x) }),
		"sum": agg(1, func(x []float64) float64 {
			s := 0.0
			for _, v := range x {
				s += v
			}
			return s
		}),
		"avg": agg(1, func(x []float64) float64 {
			s := 0.0
			for _, v := range x {
				s += v
			}
			return s / float64(len(x))
		}),
		"median": agg(1, func(x []float64) float64 {
			s := slices.Clone(x)
			slices.Sort(s)
			n := len(s)
			if n%2 == 1 {
				return s[n/2]
			}
			return (s[n/2-1] + s[n/2]) / 2
		}),
		"product": agg(1, func(x []float64) float64 {
			p := 1.0
			for _, v := range x {
				p *= v
			}
			return p
		}),
		"log10": math1(math.Log10),
		"ln":    math1(math.Log),
		"exp":   math1(math.Exp),
		"sqrt":  math1(math.Sqrt),
		"abs":   math1(math.Abs),
		"floor": math1(math.Floor),
		"ceil":  math1(math.Ceil),
		"round": math1(roundHalfUp),
		"pow":   math2(math.Pow),
		"threshold": math2(func(x, y float64) float64 {
			return b2f(x > y)
		}),
		"modulo": math2(func(x, y float64) float64 { return x - math.Floor(x/y)*y }),
		"sin":    math1(math.Sin), "cos": math1(math.Cos), "tan": math1(math.Tan),
		"asin": math1(math.Asin), "acos": math1(math.Acos), "atan": math1(math.Atan),
		"sinh": math1(math.Sinh), "cosh": math1(math.Cosh), "tanh": math1(math.Tanh),
		"atan2": math2(math.Atan2), "hypot": math2(math.Hypot),
		"expm1": math1(math.Expm1), "ln1p": math1(math.Log1p), "log1p": math1(math.Log1p),
		"rint":           math1(math.RoundToEven),
		"erf":            math1(math.Erf),
		"stdNormalCDF":   math1(stdNormalCDF),
		"stdNormalPDF":   math1(func(x float64) float64 { return math.Exp(-x*x/2) / math.Sqrt(2*math.Pi) }),
		"stdNormalIDF":   math1(func(p float64) float64 { return -math.Sqrt2 * math.Erfcinv(2*p) }),
		"isMissing":      {min: 1, max: 1, takesMissing: true, fn: func(a []value) (value, error) { return boolean(a[0].k == kMissing), nil }},
		"isNotMissing":   {min: 1, max: 1, takesMissing: true, fn: func(a []value) (value, error) { return boolean(a[0].k != kMissing), nil }},
		"isValid":        {min: 1, max: 1, takesMissing: true, fn: func(a []value) (value, error) { return boolean(a[0].k != kMissing), nil }},
		"isNotValid":     {min: 1, max: 1, takesMissing: true, fn: func(a []value) (value, error) { return boolean(false), nil }},
		"equal":          {min: 2, max: 2, fn: func(a []value) (value, error) { return boolean(equalValues(a[0], a[1])), nil }},
		"notEqual":       {min: 2, max: 2, fn: func(a []value) (value, error) { return boolean(!equalValues(a[0], a[1])), nil }},
		"lessThan":       cmp(func(c int) bool { return c < 0 }),
		"lessOrEqual":    cmp(func(c int) bool { return c <= 0 }),
		"greaterThan":    cmp(func(c int) bool { return c > 0 }),
		"greaterOrEqual": cmp(func(c int) bool { return c >= 0 }),
		"isIn":           isIn(true),
		"isNotIn":        isIn(false),
		"and":            logic(true),
		"or":             logic(false),
		"not": {min: 1, max: 1, fn: func(a []value) (value, error) {
			b, err := truth(a[0])
			return boolean(!b), err
		}},
		"if": {min: 2, max: 3, lazy: func(f *frame, args []expr) (value, error) {
			c, err := args[0].eval(f)
			if err != nil || c.k == kMissing {
				return missing, err
			}
			b, err := truth(c)
			if err != nil {
				return missing, err
			}
			if b {
				return args[1].eval(f)
			}
			if len(args) == 3 {
				return args[2].eval(f)
			}
			return missing, nil
		}},
		"uppercase":  str1(strings.ToUpper),
		"lowercase":  str1(strings.ToLower),
		"trimBlanks": str1(strings.TrimSpace),
		"stringLength": {min: 1, max: 1, fn: func(a []value) (value, error) {
			return num(float64(utf8.RuneCountInString(a[0].String()))), nil
		}},
		"substring": {min: 3, max: 3, fn: func(a []value) (value, error) {
			x, err := nums(a[1:])
			if err != nil {
				return missing, err
			}
			r := []rune(a[0].String())
			pos, n := int(x[0]), int(x[1])
			if float64(pos) != x[0] || float64(n) != x[1] || pos < 1 || n < 0 {
				return missing, fmt.Errorf("substring position %v and length %v must be integers >= 1 and >= 0", x[0], x[1])
			}
			start := min(pos-1, len(r))
			end := min(start+n, len(r))
			return str(string(r[start:end])), nil
		}},
		"concat": {min: 1, max: -1, fn: func(a []value) (value, error) {
			var b strings.Builder
			for _, v := range a {
				if b.Len() > maxStringBytes {
					break
				}
				b.WriteString(v.String())
			}
			return capStr(b.String())
		}},
		"replace": {min: 3, max: 3, fn: func(a []value) (value, error) {
			s, old, repl := a[0].String(), a[1].String(), a[2].String()
			if n := strings.Count(s, old); len(s)+n*len(repl) > maxStringBytes {
				return missing, fmt.Errorf("replace would build a string over the limit of %d bytes", maxStringBytes)
			}
			return capStr(strings.ReplaceAll(s, old, repl))
		}},
		"coalesce": {min: 1, max: -1, takesMissing: true, fn: func(a []value) (value, error) {
			for _, v := range a {
				if v.k != kMissing {
					return v, nil
				}
			}
			return missing, nil
		}},
		"formatNumber": {min: 2, max: 2, fn: func(a []value) (value, error) {
			x, ok := a[0].number()
			if !ok {
				return missing, errNotNumber
			}
			out, err := formatC(a[1].String(), x)
			if err != nil {
				return missing, err
			}
			return str(out), nil
		}},
	}
}

// formatPattern is what formatNumber accepts: one printf verb with a small width and
// precision, so that a document cannot ask for a gigabyte of padding.
var formatPattern = regexp.MustCompile(`^([^%]*)%([-+ 0#]?)(\d{0,2})(\.\d{1,2})?([dfeEgGxXo])([^%]*)$`)

// formatC applies a printf pattern of formatNumber ("%.2f", "%d", "%e", "%g").
func formatC(pattern string, x float64) (string, error) {
	sm := formatPattern.FindStringSubmatch(pattern)
	if sm == nil {
		return "", fmt.Errorf("format %q is not one printf verb with a width and precision below 100", pattern)
	}
	if strings.ContainsAny(sm[5], "dxXo") {
		if math.IsNaN(x) || math.Abs(x) > 1e18 {
			return "", fmt.Errorf("%v does not fit an integer format", x)
		}
		return fmt.Sprintf(pattern, int64(x)), nil
	}
	return fmt.Sprintf(pattern, x), nil
}

// maxStringBytes caps strings built by string functions.
const maxStringBytes = 1 << 16

func capStr(s string) (value, error) {
	if len(s) > maxStringBytes {
		return missing, fmt.Errorf("string result of %d bytes is over the limit of %d", len(s), maxStringBytes)
	}
	return str(s), nil
}
