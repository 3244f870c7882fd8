package pmml

import (
	"math"
)

type connection struct {
	from   int // index into the network's value slots
	weight float64
}

type neuron struct {
	slot            int
	bias            float64
	width, altitude float64
	cons            []connection
}

type layer struct {
	activation string
	threshold  float64
	norm       string
	neurons    []neuron
}

type neuralOutput struct {
	slot  int
	class string          // classification: NormDiscrete value
	inv   *normContinuous // regression through NormContinuous
}

type neuralNet struct {
	inputs   []expr // each input neuron's DerivedField expression, by slot
	layers   []layer
	outputs  []neuralOutput
	slots    int
	classify bool
	classes  []string
}

func activate(name string, z, threshold float64) float64 {
	switch name {
	case "threshold":
		return b2f(z > threshold)
	case "logistic":
		return logistic(z)
	case "tanh":
		return math.Tanh(z)
	case "identity":
		return z
	case "exponential":
		return math.Exp(z)
	case "reciprocal":
		return 1 / z
	case "square":
		return z * z
	case "Gauss":
		return math.Exp(-z * z)
	case "sine":
		return math.Sin(z)
	case "cosine":
		return math.Cos(z)
	case "Elliott":
		return z / (1 + math.Abs(z))
	case "arctan":
		return 2 * math.Atan(z) / math.Pi
	case "rectifier":
		return math.Max(0, z)
	}
	return math.NaN()
}

var activations = map[string]bool{"threshold": true, "logistic": true, "tanh": true, "identity": true,
	"exponential": true, "reciprocal": true, "square": true, "Gauss": true, "sine": true, "cosine": true,
	"Elliott": true, "arctan": true, "rectifier": true, "radialBasis": true}

func (nn *neuralNet) eval(f *frame) (*result, error) {
	vals := make([]float64, nn.slots)
	for i, x := range nn.inputs {
		v, err := x.eval(f)
		if err != nil {
			return nil, err
		}
		if v.k == kMissing {
			return &result{missing: true}, nil
		}
		n, ok := v.number()
		if !ok {
			return &result{missing: true}, nil
		}
		vals[i] = n
	}
	for li := range nn.layers {
		l := &nn.layers[li]
		if err := f.run.step(); err != nil {
			return nil, err
		}
		for _, ne := range l.neurons {
			var out float64
			if l.activation == "radialBasis" {
				z := 0.0
				for _, c := range ne.cons {
					d := vals[c.from] - c.weight
					z += d * d
				}
				z /= 2 * ne.width * ne.width
				out = math.Exp(float64(len(ne.cons))*math.Log(ne.altitude) - z)
			} else {
				z := ne.bias
				for _, c := range ne.cons {
					z += c.weight * vals[c.from]
				}
				out = activate(l.activation, z, l.threshold)
			}
			vals[ne.slot] = out
		}
		switch l.norm {
		case "softmax", "simplemax":
			y := make([]float64, len(l.neurons))
			for i, ne := range l.neurons {
				y[i] = vals[ne.slot]
			}
			if l.norm == "softmax" {
				y = softmax(y)
			} else {
				y = simplemax(y)
			}
			for i, ne := range l.neurons {
				vals[ne.slot] = y[i]
			}
		}
	}
	if !nn.classify {
		o := nn.outputs[0]
		v := vals[o.slot]
		if o.inv != nil {
			v = o.inv.invert(v)
		}
		return &result{value: v}, nil
	}
	r := &result{probs: make(map[string]float64, len(nn.outputs))}
	for _, o := range nn.outputs {
		r.probs[o.class] = vals[o.slot]
	}
	r.label = argmax(r.probs, nn.classes)
	return r, nil
}

func (c *compiler) neuralNetwork(e *elem, m *modelDef, sc *scope) error {
	nn := &neuralNet{classify: m.classify()}
	netAct := e.get("activationFunction")
	if netAct == "" {
		return errf(e, "activationFunction is missing")
	}
	if !activations[netAct] {
		return errf(e, "activationFunction %q is not supported", netAct)
	}
	netNorm := e.get("normalizationMethod")
	netThreshold, err := finiteAttr(e, "threshold", 0)
	if err != nil {
		return err
	}
	netWidth, err := parseFloatAttr(e, "width", math.NaN())
	if err != nil {
		return err
	}
	netAltitude, err := finiteAttr(e, "altitude", 1)
	if err != nil {
		return err
	}
	ids := map[string]int{}
	ie := e.child("NeuralInputs")
	if ie == nil {
		return errf(e, "NeuralInputs is missing")
	}
	for _, ni := range ie.children("NeuralInput") {
		id := ni.get("id")
		if _, dup := ids[id]; dup || id == "" {
			return errf(ni, "neuron id %q is empty or repeated", id)
		}
		de := ni.child("DerivedField")
		if de == nil {
			return errf(ni, "DerivedField is missing")
		}
		x, err := c.exprChild(de, sc)
		if err != nil {
			return err
		}
		ids[id] = len(nn.inputs)
		nn.inputs = append(nn.inputs, x)
	}
	nn.slots = len(nn.inputs)
	for _, le := range e.children("NeuralLayer") {
		l := layer{activation: le.get("activationFunction"), norm: le.get("normalizationMethod")}
		if l.activation == "" {
			l.activation = netAct
		}
		if !activations[l.activation] {
			return errf(le, "activationFunction %q is not supported", l.activation)
		}
		if l.norm == "" {
			l.norm = netNorm
		}
		switch l.norm {
		case "", "none", "softmax", "simplemax":
		default:
			return errf(le, "normalizationMethod %q is not none, softmax or simplemax", l.norm)
		}
		if l.threshold, err = finiteAttr(le, "threshold", netThreshold); err != nil {
			return err
		}
		lw, err := parseFloatAttr(le, "width", netWidth)
		if err != nil {
			return err
		}
		la, err := finiteAttr(le, "altitude", netAltitude)
		if err != nil {
			return err
		}
		var defs []string
		for _, ne := range le.children("Neuron") {
			c.nodes++
			if c.nodes > c.lim.MaxNodes {
				return errf(ne, "more than the limit of %d neurons and tree nodes", c.lim.MaxNodes)
			}
			id := ne.get("id")
			if _, dup := ids[id]; dup || id == "" {
				return errf(ne, "neuron id %q is empty or repeated", id)
			}
			n := neuron{slot: nn.slots}
			if n.bias, err = finiteAttr(ne, "bias", 0); err != nil {
				return err
			}
			if n.width, err = parseFloatAttr(ne, "width", lw); err != nil {
				return err
			}
			if n.altitude, err = finiteAttr(ne, "altitude", la); err != nil {
				return err
			}
			if l.activation == "radialBasis" && (math.IsNaN(n.width) || n.width == 0) {
				return errf(ne, "radialBasis needs a non-zero width")
			}
			for _, ce := range ne.children("Con") {
				from, ok := ids[ce.get("from")]
				if !ok {
					return errf(ce, "from=%q is not an input or an earlier neuron", ce.get("from"))
				}
				w, err := finiteAttr(ce, "weight", math.NaN())
				if err != nil {
					return err
				}
				n.cons = append(n.cons, connection{from: from, weight: w})
			}
			defs = append(defs, id)
			l.neurons = append(l.neurons, n)
			nn.slots++
		}
		for i, id := range defs { // a layer's neurons see only earlier layers
			ids[id] = l.neurons[i].slot
		}
		nn.layers = append(nn.layers, l)
	}
	if len(nn.layers) == 0 {
		return errf(e, "has no NeuralLayer")
	}
	oe := e.child("NeuralOutputs")
	if oe == nil {
		return errf(e, "NeuralOutputs is missing")
	}
	for _, no := range oe.children("NeuralOutput") {
		slot, ok := ids[no.get("outputNeuron")]
		if !ok || slot < len(nn.inputs) {
			return errf(no, "outputNeuron %q is not a neuron of a layer", no.get("outputNeuron"))
		}
		de := no.child("DerivedField")
		if de == nil {
			return errf(no, "DerivedField is missing")
		}
		o := neuralOutput{slot: slot}
		var xe *elem
		for _, k := range de.kids {
			if isExpr(k.name) {
				xe = k
				break
			}
		}
		if xe == nil {
			return errf(de, "has no expression")
		}
		switch {
		case nn.classify && xe.name == "NormDiscrete":
			o.class = xe.get("value")
			addClass(&m.classes, o.class)
		case nn.classify && xe.name == "FieldRef":
			// R's nnet writes the class through a FieldRef to a derived NormDiscrete field.
			x, err := c.resolveNormDiscrete(e, xe.get("field"))
			if err != nil {
				return err
			}
			o.class = x
			addClass(&m.classes, o.class)
		case !nn.classify && xe.name == "NormContinuous":
			nc, err := c.normContinuous(xe, sc)
			if err != nil {
				return err
			}
			o.inv = nc
		case !nn.classify && xe.name == "FieldRef":
		default:
			return errf(xe, "%s in a NeuralOutput of a %s model is not supported", xe.name, m.fn)
		}
		nn.outputs = append(nn.outputs, o)
	}
	if len(nn.outputs) == 0 {
		return errf(oe, "has no NeuralOutput")
	}
	if !nn.classify && len(nn.outputs) != 1 {
		return errf(oe, "a regression network has one NeuralOutput, this one has %d", len(nn.outputs))
	}
	nn.classes = m.classes
	m.eval = nn.eval
	return nil
}

// resolveNormDiscrete finds the category of a derived field defined as a NormDiscrete in the
// model's LocalTransformations or the document's TransformationDictionary.
func (c *compiler) resolveNormDiscrete(model *elem, name string) (string, error) {
	for _, holder := range []*elem{model.child("LocalTransformations"), c.transDict} {
		if holder == nil {
			continue
		}
		for _, de := range holder.children("DerivedField") {
			if de.get("name") != name {
				continue
			}
			if nd := de.child("NormDiscrete"); nd != nil {
				return nd.get("value"), nil
			}
		}
	}
	return "", errf(model, "NeuralOutput refers to %q, which is not a NormDiscrete derived field", name)
}
