package onnx

import (
	"math"
	"unicode/utf8"

	"github.com/actorserve/actorserve/serving/onnx/internal/pb"
)

// Attribute accessors. Each checks the attribute's declared type and reports a load error
// naming the node and the attribute when it does not match. Models from old exporters may
// leave the type unset; then the field that is set decides.

func (n *node) has(name string) bool {
	_, ok := n.attrs[name]
	return ok
}

func (n *node) attrOfType(name string, want pb.AttributeProto_AttributeType) (*pb.AttributeProto, bool, error) {
	a, ok := n.attrs[name]
	if !ok {
		return nil, false, nil
	}
	if t := a.GetType(); t != want && t != pb.AttributeProto_UNDEFINED {
		return nil, false, n.errf("attribute %q is of type %s, want %s", name, t, want)
	}
	return a, true, nil
}

func (n *node) attrInt(name string, def int64) (int64, error) {
	a, ok, err := n.attrOfType(name, pb.AttributeProto_INT)
	if !ok || err != nil {
		return def, err
	}
	return a.GetI(), nil
}

func (n *node) attrFloat(name string, def float32) (float32, error) {
	a, ok, err := n.attrOfType(name, pb.AttributeProto_FLOAT)
	if !ok || err != nil {
		return def, err
	}
	return a.GetF(), nil
}

func (n *node) attrString(name string, def string) (string, error) {
	a, ok, err := n.attrOfType(name, pb.AttributeProto_STRING)
	if !ok || err != nil {
		return def, err
	}
	if !utf8.Valid(a.GetS()) {
		return def, n.errf("attribute %q is not UTF-8", name)
	}
	return string(a.GetS()), nil
}

func (n *node) attrInts(name string) ([]int64, error) {
	a, ok, err := n.attrOfType(name, pb.AttributeProto_INTS)
	if !ok || err != nil {
		return nil, err
	}
	return a.GetInts(), nil
}

func (n *node) attrFloats(name string) ([]float32, error) {
	a, ok, err := n.attrOfType(name, pb.AttributeProto_FLOATS)
	if !ok || err != nil {
		return nil, err
	}
	return a.GetFloats(), nil
}

func (n *node) attrStrings(name string) ([]string, error) {
	a, ok, err := n.attrOfType(name, pb.AttributeProto_STRINGS)
	if !ok || err != nil {
		return nil, err
	}
	out := make([]string, len(a.GetStrings()))
	for k, b := range a.GetStrings() {
		if !utf8.Valid(b) {
			return nil, n.errf("attribute %q: element %d is not UTF-8", name, k)
		}
		out[k] = string(b)
	}
	return out, nil
}

// attrTensor decodes a tensor attribute; integer types narrower than int64 (such as
// TreeEnsemble's uint8 nodes_modes) are widened to int64.
func (n *node) attrTensor(name string) (*tensor, error) {
	return n.attrTensorOf(name, true)
}

func (n *node) attrTensorOf(name string, widen bool) (*tensor, error) {
	a, ok, err := n.attrOfType(name, pb.AttributeProto_TENSOR)
	if !ok || err != nil {
		return nil, err
	}
	if a.GetT() == nil {
		return nil, n.errf("attribute %q has no tensor", name)
	}
	t, err := tensorFromProto(a.GetT(), widen)
	if err != nil {
		return nil, n.errf("attribute %q: %s", name, err.Error())
	}
	return t, nil
}

// attrReals returns a real-valued attribute that may come as floats (name) or as a double
// tensor (name + "_as_tensor"), as in TreeEnsemble and LabelEncoder. Both set is an error.
func (n *node) attrReals(name string) ([]float64, bool, error) {
	fs, err := n.attrFloats(name)
	if err != nil {
		return nil, false, err
	}
	t, err := n.attrTensor(name + "_as_tensor")
	if err != nil {
		return nil, false, err
	}
	switch {
	case t != nil && fs != nil:
		return nil, false, n.errf("attributes %q and %q are both set", name, name+"_as_tensor")
	case t != nil:
		if !t.dt.real() {
			return nil, false, n.errf("attribute %q is a %s tensor, want double or float", name+"_as_tensor", t.dt)
		}
		return t.asFloat64(), t.dt == dtDouble, nil
	case fs != nil:
		out := make([]float64, len(fs))
		for k, v := range fs {
			out[k] = float64(v)
		}
		return out, false, nil
	}
	return nil, false, nil
}

// finite reports whether every value is finite.
func finite(vs []float64) int {
	for k, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return k
		}
	}
	return -1
}

func finite32(vs []float32) int {
	for k, v := range vs {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return k
		}
	}
	return -1
}
