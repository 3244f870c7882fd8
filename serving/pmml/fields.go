package pmml

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// errf builds a load error naming the element and its line.
func errf(e *elem, format string, args ...any) error {
	return fmt.Errorf("%s: %s", e.where(), fmt.Sprintf(format, args...))
}

// errInvalidValue marks a prediction refused because an input is invalid under
// invalidValueTreatment="returnInvalid".
var errInvalidValue = errors.New("invalid input value")

type interval struct {
	left, right         float64
	leftOpen, rightOpen bool
}

func (iv interval) contains(x float64) bool {
	if x < iv.left || (iv.leftOpen && x == iv.left) {
		return false
	}
	if x > iv.right || (iv.rightOpen && x == iv.right) {
		return false
	}
	return true
}

func parseInterval(e *elem) (interval, error) {
	iv := interval{left: math.Inf(-1), right: math.Inf(1)}
	var err error
	if iv.left, err = parseFloatAttr(e, "leftMargin", math.Inf(-1)); err != nil {
		return iv, err
	}
	if iv.right, err = parseFloatAttr(e, "rightMargin", math.Inf(1)); err != nil {
		return iv, err
	}
	switch c := e.get("closure"); c {
	case "openClosed":
		iv.leftOpen = true
	case "openOpen":
		iv.leftOpen, iv.rightOpen = true, true
	case "closedOpen":
		iv.rightOpen = true
	case "closedClosed":
	default:
		return iv, errf(e, "closure %q is not openClosed, openOpen, closedOpen or closedClosed", c)
	}
	if iv.left > iv.right || math.IsNaN(iv.left) || math.IsNaN(iv.right) {
		return iv, errf(e, "leftMargin %v is above rightMargin %v", iv.left, iv.right)
	}
	return iv, nil
}

// dataField is a DataDictionary entry.
type dataField struct {
	name      string
	dt        dataType
	optype    string
	valid     []value // Value elements with property valid (the categories, in order)
	invalid   []value
	missingAs []value // Value elements with property missing
	intervals []interval
}

func (d *dataField) categories() []string {
	out := make([]string, len(d.valid))
	for i, v := range d.valid {
		out[i] = v.String()
	}
	return out
}

// status says whether v is missing (by a missing Value), invalid or valid for this field.
func (d *dataField) status(v value) (isMissing, isInvalid bool) {
	if v.k == kMissing {
		return true, false
	}
	for _, m := range d.missingAs {
		if equalValues(v, m) {
			return true, false
		}
	}
	for _, m := range d.invalid {
		if equalValues(v, m) {
			return false, true
		}
	}
	if d.optype != "continuous" && len(d.valid) > 0 {
		for _, m := range d.valid {
			if equalValues(v, m) {
				return false, false
			}
		}
		return false, true
	}
	if len(d.intervals) > 0 {
		x, ok := v.number()
		if !ok {
			return false, true
		}
		for _, iv := range d.intervals {
			if iv.contains(x) {
				return false, false
			}
		}
		return false, true
	}
	if d.dt.numeric() {
		if _, ok := v.number(); !ok {
			return false, true
		}
	}
	return false, false
}

func parseDataDictionary(e *elem) (map[string]*dataField, []string, error) {
	if e == nil {
		return nil, nil, errors.New("no DataDictionary")
	}
	fields := make(map[string]*dataField)
	var order []string
	for _, fe := range e.children("DataField") {
		name := fe.get("name")
		if name == "" {
			return nil, nil, errf(fe, "name is missing")
		}
		if _, dup := fields[name]; dup {
			return nil, nil, errf(fe, "field %q is defined twice", name)
		}
		dt, ok := parseDataType(fe.get("dataType"))
		if !ok {
			return nil, nil, errf(fe, "field %q: dataType %q is not supported", name, fe.get("dataType"))
		}
		opt := fe.get("optype")
		switch opt {
		case "categorical", "ordinal", "continuous":
		case "":
			opt = "continuous"
			if dt == dtString || dt == dtBoolean {
				opt = "categorical"
			}
		default:
			return nil, nil, errf(fe, "field %q: optype %q is not categorical, ordinal or continuous", name, opt)
		}
		if dt == dtUnknown {
			dt = dtDouble
			if opt != "continuous" {
				dt = dtString
			}
		}
		df := &dataField{name: name, dt: dt, optype: opt}
		for _, ve := range fe.children("Value") {
			v, ok := parseLiteral(ve.get("value"), dt)
			if !ok {
				return nil, nil, errf(ve, "field %q: value %q is not a %s", name, ve.get("value"), fe.get("dataType"))
			}
			switch p := ve.get("property"); p {
			case "", "valid":
				df.valid = append(df.valid, v)
			case "invalid":
				df.invalid = append(df.invalid, v)
			case "missing":
				df.missingAs = append(df.missingAs, v)
			default:
				return nil, nil, errf(ve, "property %q is not valid, invalid or missing", p)
			}
		}
		for _, ie := range fe.children("Interval") {
			iv, err := parseInterval(ie)
			if err != nil {
				return nil, nil, err
			}
			df.intervals = append(df.intervals, iv)
		}
		fields[name] = df
		order = append(order, name)
	}
	return fields, order, nil
}

// miningField is a MiningSchema entry with its treatments.
type miningField struct {
	name           string
	usage          string
	df             *dataField // nil for fields that are not in the DataDictionary
	replacement    *value     // missingValueReplacement
	missingInvalid bool       // missingValueTreatment="returnInvalid"
	invalid        string     // returnInvalid | asIs | asMissing | asValue
	invalidValue   *value
	outliers       string // asIs | asMissingValues | asExtremeValues
	low, high      float64
}

func (m *miningField) treat(v value) (value, error) {
	isMissing, isInvalid := false, false
	if m.df != nil {
		isMissing, isInvalid = m.df.status(v)
		if !isMissing && !isInvalid {
			var ok bool
			if v, ok = cast(v, m.df.dt); !ok {
				isInvalid = true
			}
		}
	} else {
		isMissing = v.k == kMissing
	}
	if isInvalid {
		switch m.invalid {
		case "asIs":
		case "asMissing":
			isMissing = true
		case "asValue":
			if m.invalidValue == nil {
				isMissing = true
			} else {
				v = *m.invalidValue
			}
		default:
			return missing, fmt.Errorf("%w: field %q: %q is not a valid value (invalidValueTreatment=returnInvalid)", errInvalidValue, m.name, v.String())
		}
	}
	if isMissing {
		if m.replacement != nil {
			return *m.replacement, nil
		}
		if m.missingInvalid {
			return missing, fmt.Errorf("%w: field %q is missing (missingValueTreatment=returnInvalid)", errInvalidValue, m.name)
		}
		return missing, nil
	}
	if m.outliers != "" && m.outliers != "asIs" && v.k == kNum {
		switch {
		case v.n < m.low:
			if m.outliers == "asMissingValues" {
				return missing, nil
			}
			return num(m.low), nil
		case v.n > m.high:
			if m.outliers == "asMissingValues" {
				return missing, nil
			}
			return num(m.high), nil
		}
	}
	return v, nil
}

type miningSchema struct {
	fields map[string]*miningField
	order  []string
	active []string
	target string
}

func (c *compiler) parseMiningSchema(e *elem, sc *scope) (*miningSchema, error) {
	if e == nil {
		return nil, errors.New("MiningSchema is missing")
	}
	ms := &miningSchema{fields: make(map[string]*miningField)}
	for _, fe := range e.children("MiningField") {
		name := fe.get("name")
		if name == "" {
			return nil, errf(fe, "name is missing")
		}
		if _, dup := ms.fields[name]; dup {
			return nil, errf(fe, "field %q is listed twice", name)
		}
		if !sc.has(name) {
			return nil, errf(fe, "field %q is not defined in the DataDictionary or an enclosing model", name)
		}
		mf := &miningField{name: name, usage: fe.get("usageType"), df: c.fields[name]}
		dt := sc.typeOf(name)
		switch mf.usage {
		case "", "active":
			mf.usage = "active"
			ms.active = append(ms.active, name)
		case "predicted", "target":
			if ms.target == "" {
				ms.target = name
			}
		case "supplementary", "group", "order", "frequencyWeight", "analysisWeight":
		default:
			return nil, errf(fe, "usageType %q is not supported", mf.usage)
		}
		if s, ok := fe.attr("missingValueReplacement"); ok {
			v, ok := parseLiteral(s, dt)
			if !ok {
				return nil, errf(fe, "missingValueReplacement %q does not fit field %q", s, name)
			}
			mf.replacement = &v
		}
		switch t := fe.get("missingValueTreatment"); t {
		case "", "asIs", "asMean", "asMode", "asMedian", "asValue":
		case "returnInvalid":
			mf.missingInvalid = true
		default:
			return nil, errf(fe, "missingValueTreatment %q is not supported", t)
		}
		mf.invalid = fe.get("invalidValueTreatment")
		switch mf.invalid {
		case "":
			mf.invalid = "returnInvalid"
		case "returnInvalid", "asIs", "asMissing":
		case "asValue":
			if s, ok := fe.attr("invalidValueReplacement"); ok {
				v, ok := parseLiteral(s, dt)
				if !ok {
					return nil, errf(fe, "invalidValueReplacement %q does not fit field %q", s, name)
				}
				mf.invalidValue = &v
			}
		default:
			return nil, errf(fe, "invalidValueTreatment %q is not supported", mf.invalid)
		}
		mf.outliers = fe.get("outliers")
		switch mf.outliers {
		case "", "asIs":
		case "asMissingValues", "asExtremeValues":
			var err error
			if mf.low, err = parseFloatAttr(fe, "lowValue", math.Inf(-1)); err != nil {
				return nil, err
			}
			if mf.high, err = parseFloatAttr(fe, "highValue", math.Inf(1)); err != nil {
				return nil, err
			}
		default:
			return nil, errf(fe, "outliers %q is not asIs, asMissingValues or asExtremeValues", mf.outliers)
		}
		ms.fields[name] = mf
		ms.order = append(ms.order, name)
	}
	return ms, nil
}

// scope is the compile-time view of the fields a model can see: its own (mining fields,
// derived fields, outputs of earlier chain segments) and its ancestors'.
type scope struct {
	parent *scope
	c      *compiler
	types  map[string]dataType
}

func (c *compiler) newScope(parent *scope) *scope {
	return &scope{parent: parent, c: c, types: make(map[string]dataType)}
}

func (s *scope) has(name string) bool {
	for sc := s; sc != nil; sc = sc.parent {
		if _, ok := sc.types[name]; ok {
			return true
		}
	}
	_, ok := s.c.fields[name]
	return ok
}

func (s *scope) typeOf(name string) dataType {
	for sc := s; sc != nil; sc = sc.parent {
		if t, ok := sc.types[name]; ok {
			return t
		}
	}
	if df := s.c.fields[name]; df != nil {
		return df.dt
	}
	return dtUnknown
}

// derivedField is a DerivedField: an expression cast to a dataType.
type derivedField struct {
	name string
	dt   dataType
	x    expr
}

// frameDef is what a model's frame resolves itself: derived fields and mining fields.
type frameDef struct {
	derived map[string]*derivedField
	mining  map[string]*miningField
}

// run carries per-prediction budgets.
type run struct {
	steps int
	limit int
	calls int
}

var errBudget = errors.New("evaluation step budget exhausted")

func (r *run) step() error { return r.add(1) }

// add charges n steps to the budget.
func (r *run) add(n int) error {
	r.steps += n
	if r.steps > r.limit {
		return fmt.Errorf("%w (%d steps; the document may define a cycle or an explosion of function calls)", errBudget, r.limit)
	}
	return nil
}

// frame holds one model's field values during one prediction.
type frame struct {
	def    *frameDef
	parent *frame
	vals   map[string]value
	busy   map[string]bool
	run    *run
}

func newFrame(def *frameDef, parent *frame, r *run) *frame {
	return &frame{def: def, parent: parent, vals: make(map[string]value, 8), run: r}
}

func (f *frame) get(name string) (value, error) {
	for fr := f; fr != nil; fr = fr.parent {
		if v, ok := fr.vals[name]; ok {
			return v, nil
		}
		if fr.def == nil {
			continue
		}
		if d := fr.def.derived[name]; d != nil {
			return fr.derive(d)
		}
		if m := fr.def.mining[name]; m != nil {
			var v value
			if fr.parent != nil {
				var err error
				if v, err = fr.parent.get(name); err != nil {
					return missing, err
				}
			}
			v, err := m.treat(v)
			if err != nil {
				return missing, err
			}
			fr.vals[name] = v
			return v, nil
		}
	}
	return missing, nil
}

func (f *frame) derive(d *derivedField) (value, error) {
	if f.busy[d.name] {
		return missing, fmt.Errorf("derived field %q depends on itself", d.name)
	}
	if f.busy == nil {
		f.busy = make(map[string]bool)
	}
	f.busy[d.name] = true
	v, err := d.x.eval(f)
	delete(f.busy, d.name)
	if err != nil {
		return missing, err
	}
	if d.dt != dtUnknown {
		var ok bool
		if v, ok = cast(v, d.dt); !ok {
			return missing, fmt.Errorf("derived field %q: %q is not a valid %s", d.name, v.String(), dtName(d.dt))
		}
	}
	f.vals[d.name] = v
	return v, nil
}

func dtName(t dataType) string {
	return [...]string{"value", "string", "integer", "float", "double", "boolean"}[t]
}

// parseDerivedFields compiles the DerivedField children of e (a TransformationDictionary or
// LocalTransformations) into sc. Fields may refer to each other in any order.
func (c *compiler) parseDerivedFields(e *elem, sc *scope) (map[string]*derivedField, error) {
	out := make(map[string]*derivedField)
	if e == nil {
		return out, nil
	}
	list := e.children("DerivedField")
	for _, de := range list { // declare first: fields may refer to later ones
		name := de.get("name")
		if name == "" {
			return nil, errf(de, "name is missing")
		}
		if _, dup := out[name]; dup {
			return nil, errf(de, "derived field %q is defined twice", name)
		}
		dt, ok := parseDataType(de.get("dataType"))
		if !ok {
			return nil, errf(de, "derived field %q: dataType %q is not supported", name, de.get("dataType"))
		}
		out[name] = &derivedField{name: name, dt: dt}
		sc.types[name] = dt
	}
	for _, de := range list {
		d := out[de.get("name")]
		x, err := c.exprChild(de, sc)
		if err != nil {
			return nil, fmt.Errorf("derived field %q: %w", d.name, err)
		}
		d.x = x
	}
	return out, nil
}

func (c *compiler) parseFunctions(e *elem) error {
	if e == nil {
		return nil
	}
	list := e.children("DefineFunction")
	for _, fe := range list {
		name := fe.get("name")
		if name == "" {
			return errf(fe, "name is missing")
		}
		if _, dup := c.funcs[name]; dup {
			return errf(fe, "function %q is defined twice", name)
		}
		if _, builtin := builtins[name]; builtin {
			return errf(fe, "function %q redefines a built-in function", name)
		}
		f := &userFunc{name: name}
		for _, pe := range fe.children("ParameterField") {
			pn := pe.get("name")
			if pn == "" {
				return errf(pe, "name is missing")
			}
			dt, _ := parseDataType(pe.get("dataType"))
			f.params = append(f.params, pn)
			f.types = append(f.types, dt)
		}
		f.dt, _ = parseDataType(fe.get("dataType"))
		c.funcs[name] = f
	}
	for _, fe := range list {
		f := c.funcs[fe.get("name")]
		sc := &scope{c: c, types: make(map[string]dataType)}
		for i, p := range f.params {
			sc.types[p] = f.types[i]
		}
		x, err := c.exprChild(fe, sc)
		if err != nil {
			return fmt.Errorf("function %q: %w", f.name, err)
		}
		f.body = x
		f.def = &frameDef{}
	}
	return nil
}

// isExpr reports whether an element name is an expression.
func isExpr(name string) bool {
	switch name {
	case "Constant", "FieldRef", "NormContinuous", "NormDiscrete", "Discretize", "MapValues", "Apply",
		"TextIndex", "Aggregate", "Lag":
		return true
	}
	return false
}

func (c *compiler) exprChild(e *elem, sc *scope) (expr, error) {
	for _, k := range e.kids {
		if isExpr(k.name) {
			return c.compileExpr(k, sc)
		}
	}
	return nil, errf(e, "no expression (want one of Constant, FieldRef, NormContinuous, NormDiscrete, Discretize, MapValues, Apply)")
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
