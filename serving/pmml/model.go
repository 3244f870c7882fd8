package pmml

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/actorserve/actorserve/serving"
)

// result is one model's answer before it becomes a serving.Prediction.
type result struct {
	missing bool
	value   float64 // regression
	label   string  // classification
	probs   map[string]float64
	entity  string
	segs    map[string]*result // MiningModel: answers by segment id
}

// modelDef is a compiled model element of any kind.
type modelDef struct {
	elemName string
	fn       string // "regression" or "classification"
	target   string
	classes  []string
	frame    *frameDef
	targets  *targetDef
	outputs  []*outputField
	mining   *miningSchema
	eval     func(f *frame) (*result, error)
}

func (m *modelDef) classify() bool { return m.fn == "classification" }

// run evaluates m below parent, applies Targets and computes the Output fields into the
// model's frame.
func (m *modelDef) run(parent *frame) (*result, *frame, error) {
	f := newFrame(m.frame, parent, parent.run)
	r, err := m.eval(f)
	if err != nil {
		return nil, nil, err
	}
	if r == nil {
		r = &result{missing: true}
	}
	m.targets.apply(r, m)
	for _, o := range m.outputs {
		v, err := o.compute(f, r, m)
		if err != nil {
			return nil, nil, fmt.Errorf("output field %q: %w", o.name, err)
		}
		f.vals[o.name] = v
	}
	return r, f, nil
}

// argmax returns the most probable class, the earliest in order on ties.
func argmax(probs map[string]float64, order []string) string {
	best, bp := "", math.Inf(-1)
	seen := 0
	for _, c := range order {
		if p, ok := probs[c]; ok {
			seen++
			if p > bp {
				best, bp = c, p
			}
		}
	}
	if seen < len(probs) { // classes outside order: deterministic by name
		keys := slices.Sorted(maps.Keys(probs))
		for _, c := range keys {
			if slices.Contains(order, c) {
				continue
			}
			if p := probs[c]; p > bp {
				best, bp = c, p
			}
		}
	}
	return best
}

func (c *compiler) compileModel(e *elem, parent *scope, global map[string]*derivedField) (*modelDef, error) {
	c.models++
	if c.models > c.lim.MaxModels {
		return nil, fmt.Errorf("more than the limit of %d models", c.lim.MaxModels)
	}
	m := &modelDef{elemName: e.name, fn: e.get("functionName")}
	switch m.fn {
	case "regression", "classification":
	case "":
		return nil, errf(e, "functionName is missing")
	default:
		return nil, errf(e, "functionName %q is not supported (only regression and classification)", m.fn)
	}
	if e.get("isScorable") == "false" {
		return nil, errf(e, "isScorable is false: the model says it cannot be scored")
	}
	sc := c.newScope(parent)
	ms, err := c.parseMiningSchema(e.child("MiningSchema"), sc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.where(), err)
	}
	m.mining = ms
	for _, name := range ms.order {
		sc.types[name] = parent.typeOf(name)
	}
	local, err := c.parseDerivedFields(e.child("LocalTransformations"), sc)
	if err != nil {
		return nil, err
	}
	derived := local
	if global != nil {
		derived = maps.Clone(global)
		maps.Copy(derived, local)
	}
	m.frame = &frameDef{derived: derived, mining: ms.fields}
	m.target = ms.target
	if m.target == "" {
		m.target = e.get("targetFieldName")
	}
	if df := c.fields[m.target]; df != nil && m.classify() {
		m.classes = df.categories()
	}
	if m.targets, err = c.parseTargets(e.child("Targets"), m); err != nil {
		return nil, err
	}
	switch e.name {
	case "RegressionModel":
		err = c.regressionModel(e, m, sc)
	case "TreeModel":
		err = c.treeModel(e, m, sc)
	case "MiningModel":
		err = c.miningModel(e, m, sc)
	case "NeuralNetwork":
		err = c.neuralNetwork(e, m, sc)
	case "GeneralRegressionModel":
		err = c.generalRegression(e, m, sc)
	case "NaiveBayesModel":
		err = c.naiveBayes(e, m, sc)
	case "SupportVectorMachineModel":
		err = c.svmModel(e, m, sc)
	default:
		return nil, errf(e, "model type %s is not supported", e.name)
	}
	if err != nil {
		return nil, err
	}
	if m.targets != nil && len(m.classes) == 0 && len(m.targets.priorOrder) > 0 {
		m.classes = m.targets.priorOrder
	}
	if m.outputs, err = c.parseOutput(e.child("Output"), m, sc); err != nil {
		return nil, err
	}
	return m, nil
}

var modelElements = []string{"RegressionModel", "TreeModel", "MiningModel", "NeuralNetwork", "GeneralRegressionModel",
	"NaiveBayesModel", "SupportVectorMachineModel"}

var otherModels = []string{"AnomalyDetectionModel", "AssociationModel", "BaselineModel", "BayesianNetworkModel",
	"ClusteringModel", "GaussianProcessModel", "NearestNeighborModel", "RuleSetModel", "Scorecard", "SequenceModel",
	"TextModel", "TimeSeriesModel"}

// modelChild returns the first model element among e's children.
func modelChild(e *elem) (*elem, error) {
	for _, k := range e.kids {
		if slices.Contains(modelElements, k.name) {
			return k, nil
		}
		if slices.Contains(otherModels, k.name) {
			return nil, errf(k, "model type %s is not supported (supported: %s)", k.name, strings.Join(modelElements, ", "))
		}
	}
	return nil, errf(e, "no model element (want one of %s)", strings.Join(modelElements, ", "))
}

// targetDef is the Target element for the model's target field.
type targetDef struct {
	min, max         float64
	factor, constant float64
	castInteger      string
	defaultValue     *float64
	priors           map[string]float64
	priorOrder       []string
	display          map[string]string
}

func (c *compiler) parseTargets(e *elem, m *modelDef) (*targetDef, error) {
	if e == nil {
		return nil, nil
	}
	var te *elem
	for _, t := range e.children("Target") {
		if f := t.get("field"); f == "" || f == m.target || te == nil {
			te = t
			if f == m.target {
				break
			}
		}
	}
	if te == nil {
		return nil, nil
	}
	t := &targetDef{min: math.Inf(-1), max: math.Inf(1), factor: 1}
	var err error
	if t.min, err = parseFloatAttr(te, "min", math.Inf(-1)); err != nil {
		return nil, err
	}
	if t.max, err = parseFloatAttr(te, "max", math.Inf(1)); err != nil {
		return nil, err
	}
	if t.factor, err = finiteAttr(te, "rescaleFactor", 1); err != nil {
		return nil, err
	}
	if t.constant, err = finiteAttr(te, "rescaleConstant", 0); err != nil {
		return nil, err
	}
	switch t.castInteger = te.get("castInteger"); t.castInteger {
	case "", "round", "ceiling", "floor":
	default:
		return nil, errf(te, "castInteger %q is not round, ceiling or floor", t.castInteger)
	}
	for _, tv := range te.children("TargetValue") {
		if s, ok := tv.attr("defaultValue"); ok && s != "" {
			f, err := finiteAttr(tv, "defaultValue", 0)
			if err != nil {
				return nil, err
			}
			t.defaultValue = &f
		}
		val := tv.get("value")
		if dv, ok := tv.attr("displayValue"); ok && val != "" {
			if t.display == nil {
				t.display = make(map[string]string)
			}
			t.display[val] = dv
		}
		if _, ok := tv.attr("priorProbability"); ok {
			p, err := finiteAttr(tv, "priorProbability", 0)
			if err != nil {
				return nil, err
			}
			if t.priors == nil {
				t.priors = make(map[string]float64)
			}
			t.priors[val] = p
			t.priorOrder = append(t.priorOrder, val)
		}
	}
	return t, nil
}

// apply rescales a regression value (clamp to min/max, then factor and constant, then
// castInteger) and fills a missing answer from defaultValue or priorProbability.
func (t *targetDef) apply(r *result, m *modelDef) {
	if t == nil {
		return
	}
	if m.classify() {
		if r.missing && t.priors != nil {
			r.missing = false
			r.probs = maps.Clone(t.priors)
			r.label = argmax(r.probs, t.priorOrder)
		}
		return
	}
	if r.missing {
		if t.defaultValue == nil {
			return
		}
		r.missing = false
		r.value = *t.defaultValue
		return
	}
	v := math.Min(math.Max(r.value, t.min), t.max)
	v = v*t.factor + t.constant
	switch t.castInteger {
	case "round":
		v = roundHalfUp(v)
	case "ceiling":
		v = math.Ceil(v)
	case "floor":
		v = math.Floor(v)
	}
	r.value = v
}

type outputField struct {
	name    string
	feature string
	val     *string
	segment string
	dt      dataType
	x       expr
}

func (c *compiler) parseOutput(e *elem, m *modelDef, sc *scope) ([]*outputField, error) {
	if e == nil {
		return nil, nil
	}
	var out []*outputField
	seen := map[string]bool{}
	for _, oe := range e.children("OutputField") {
		o := &outputField{name: oe.get("name"), feature: oe.get("feature"), segment: oe.get("segmentId")}
		if o.name == "" {
			return nil, errf(oe, "name is missing")
		}
		if seen[o.name] {
			return nil, errf(oe, "output field %q is defined twice", o.name)
		}
		seen[o.name] = true
		if v, ok := oe.attr("value"); ok {
			o.val = &v
		}
		var ok bool
		if o.dt, ok = parseDataType(oe.get("dataType")); !ok {
			return nil, errf(oe, "dataType %q is not supported", oe.get("dataType"))
		}
		switch o.feature {
		case "":
			o.feature = "predictedValue"
		case "predictedValue", "predictedDisplayValue", "probability", "confidence", "entityId":
		case "transformedValue", "decision":
			x, err := c.exprChild(oe, sc)
			if err != nil {
				return nil, err
			}
			o.x = x
		default:
			return nil, errf(oe, "output feature %q is not supported (supported: predictedValue, predictedDisplayValue, probability, confidence, entityId, transformedValue, decision)", o.feature)
		}
		out = append(out, o)
		sc.types[o.name] = o.dt // later output fields may refer to earlier ones
	}
	return out, nil
}

func (o *outputField) compute(f *frame, r *result, m *modelDef) (value, error) {
	if o.segment != "" {
		sr, ok := r.segs[o.segment]
		if !ok {
			return missing, nil
		}
		r = sr
	}
	var v value
	switch o.feature {
	case "predictedValue", "predictedDisplayValue":
		switch {
		case r.missing:
		case r.label != "" || m.classify():
			v = str(r.label)
			if o.feature == "predictedDisplayValue" && m.targets != nil {
				if d, ok := m.targets.display[r.label]; ok {
					v = str(d)
				}
			}
		default:
			v = num(r.value)
		}
	case "probability", "confidence":
		if r.missing || r.probs == nil {
			break
		}
		key := r.label
		if o.val != nil {
			key = *o.val
		}
		if p, ok := r.probs[key]; ok {
			v = num(p)
		} else if o.val != nil {
			v = num(0)
		}
	case "entityId":
		if !r.missing && r.entity != "" {
			v = str(r.entity)
		}
	default:
		var err error
		if v, err = o.x.eval(f); err != nil {
			return missing, err
		}
	}
	if o.dt != dtUnknown {
		if cv, ok := cast(v, o.dt); ok {
			v = cv
		}
	}
	return v, nil
}

// toPrediction converts the top model's result.
func toPrediction(r *result, m *modelDef) (serving.Prediction, error) {
	var p serving.Prediction
	if r.missing {
		return p, nil
	}
	if m.classify() {
		p.Label = r.label
		if len(r.probs) > 0 {
			p.Scores = make(map[string]float64, len(r.probs))
			for k, v := range r.probs {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return p, fmt.Errorf("%w: pmml: probability of %q is %v", serving.ErrModel, k, v)
				}
				p.Scores[k] = v
			}
		}
		return p, nil
	}
	if math.IsNaN(r.value) || math.IsInf(r.value, 0) {
		return p, fmt.Errorf("%w: pmml: prediction is %v", serving.ErrModel, r.value)
	}
	v := r.value
	p.Value = &v
	return p, nil
}
