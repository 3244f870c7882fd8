package onnx

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// defaultOps are the operators of the default domain (ai.onnx) this package implements.
var defaultOps map[string]opDef

func init() {
	defaultOps = map[string]opDef{
		"Identity":  {1, 1, 1, 1, buildIdentity},
		"Cast":      {1, 1, 1, 1, buildCast},
		"Constant":  {0, 0, 1, 1, buildConstant},
		"Gemm":      {2, 3, 1, 1, buildGemm},
		"MatMul":    {2, 2, 1, 1, buildMatMul},
		"Add":       {2, 2, 1, 1, buildBinary},
		"Sub":       {2, 2, 1, 1, buildBinary},
		"Mul":       {2, 2, 1, 1, buildBinary},
		"Div":       {2, 2, 1, 1, buildBinary},
		"Relu":      {1, 1, 1, 1, buildUnary},
		"LeakyRelu": {1, 1, 1, 1, buildUnary},
		"Sigmoid":   {1, 1, 1, 1, buildUnary},
		"Tanh":      {1, 1, 1, 1, buildUnary},
		"Softmax":   {1, 1, 1, 1, buildSoftmax},
		"Reshape":   {1, 2, 1, 1, buildReshape},
		"Flatten":   {1, 1, 1, 1, buildFlatten},
		"Transpose": {1, 1, 1, 1, buildTranspose},
		"Unsqueeze": {1, 2, 1, 1, buildUnsqueeze},
		"Squeeze":   {1, 2, 1, 1, buildSqueeze},
		"Concat":    {1, -1, 1, 1, buildConcat},
		"Clip":      {1, 3, 1, 1, buildClip},
		"ArgMax":    {1, 1, 1, 1, buildArgMax},
	}
}

type number interface {
	~float32 | ~float64 | ~int64
}

func wantTypes(n *node, k int, ok func(dtype) bool, what string) error {
	v := n.input(k)
	if v == nil {
		return nil
	}
	if !ok(v.dt) {
		return n.errf("input %d (%q) is %s, want %s", k, n.p.GetInput()[k], v.dt, what)
	}
	return nil
}

func isReal(d dtype) bool    { return d.real() }
func isNumeric(d dtype) bool { return d.numeric() }

// --- Identity, Constant, Cast -------------------------------------------------------------

func buildIdentity(n *node) (kernel, []vinfo, error) {
	v := *n.in[0]
	v.konst = nil
	return kernelFunc(func(rc *runCtx, in []*tensor) ([]*tensor, error) { return []*tensor{in[0]}, nil }), []vinfo{v}, nil
}

func buildConstant(n *node) (kernel, []vinfo, error) {
	var t *tensor
	set := 0
	for name := range n.attrs {
		switch name {
		case "value", "value_float", "value_floats", "value_int", "value_ints", "value_string", "value_strings":
			set++
		case "sparse_value":
			return nil, nil, n.errf("sparse_value is not supported")
		}
	}
	if set != 1 {
		return nil, nil, n.errf("needs exactly one value attribute, has %d", set)
	}
	var err error
	switch {
	case n.has("value"):
		t, err = n.attrTensorOf("value", false)
	case n.has("value_float"):
		var f float32
		f, err = n.attrFloat("value_float", 0)
		t = &tensor{dt: dtFloat, shape: []int{}, f: []float32{f}}
	case n.has("value_floats"):
		var fs []float32
		fs, err = n.attrFloats("value_floats")
		t = &tensor{dt: dtFloat, shape: []int{len(fs)}, f: fs}
	case n.has("value_int"):
		var i int64
		i, err = n.attrInt("value_int", 0)
		t = &tensor{dt: dtInt64, shape: []int{}, i: []int64{i}}
	case n.has("value_ints"):
		var is []int64
		is, err = n.attrInts("value_ints")
		t = &tensor{dt: dtInt64, shape: []int{len(is)}, i: is}
	case n.has("value_string"):
		var s string
		s, err = n.attrString("value_string", "")
		t = &tensor{dt: dtString, shape: []int{}, s: []string{s}}
	case n.has("value_strings"):
		var ss []string
		ss, err = n.attrStrings("value_strings")
		t = &tensor{dt: dtString, shape: []int{len(ss)}, s: ss}
	}
	if err != nil {
		return nil, nil, err
	}
	return kernelFunc(func(*runCtx, []*tensor) ([]*tensor, error) { return []*tensor{t}, nil }),
		[]vinfo{{dt: t.dt, shape: cloneShape(t.shape), konst: t}}, nil
}

func buildCast(n *node) (kernel, []vinfo, error) {
	to, err := n.attrInt("to", 0)
	if err != nil {
		return nil, nil, err
	}
	if !n.has("to") {
		return nil, nil, n.errf("attribute \"to\" is required")
	}
	dst := dtypeOf(int32(to))
	if dst == dtUndefined {
		return nil, nil, n.errf("cast to %s is not supported (supported: float, double, int64, string)", onnxTypeName(int32(to)))
	}
	out := vinfo{dt: dst, shape: cloneShape(n.in[0].shape), rows: n.rows()}
	return kernelFunc(func(rc *runCtx, in []*tensor) ([]*tensor, error) {
		t, err := castTensor(in[0], dst)
		return []*tensor{t}, err
	}), []vinfo{out}, nil
}

// float64ToInt64 converts as C++ static_cast does on x86-64: truncation toward zero, and the
// "integer indefinite" value for NaN and out-of-range inputs.
func float64ToInt64(v float64) int64 {
	if v != v || v >= 9.223372036854775807e18 || v < -9.223372036854775808e18 {
		return math.MinInt64
	}
	return int64(v)
}

// formatFloat formats like onnxruntime's Cast to string: "%.8g" for float, "%.17g" for
// double, and NaN, INF, -INF.
func formatFloat(v float64, bits int) string {
	switch {
	case v != v:
		return "NaN"
	case math.IsInf(v, 1):
		return "INF"
	case math.IsInf(v, -1):
		return "-INF"
	}
	prec := 8
	if bits == 64 {
		prec = 17
	}
	return cFormatG(v, prec)
}

// cFormatG formats v as C's printf("%.<prec>g").
func cFormatG(v float64, prec int) string {
	if v == 0 {
		if math.Signbit(v) {
			return "-0"
		}
		return "0"
	}
	e := strconv.FormatFloat(v, 'e', prec-1, 64) // d.ddde±XX
	mant, expStr, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expStr)
	if exp < -4 || exp >= prec {
		if strings.Contains(mant, ".") {
			mant = strings.TrimRight(strings.TrimRight(mant, "0"), ".")
		}
		sign := "+"
		if exp < 0 {
			sign = "-"
			exp = -exp
		}
		es := strconv.Itoa(exp)
		if len(es) < 2 {
			es = "0" + es
		}
		return mant + "e" + sign + es
	}
	s := strconv.FormatFloat(v, 'f', prec-1-exp, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// parseFloat parses a string as onnxruntime's Cast from string does (strtod rules: leading
// space, "nan", "inf", hex floats are not needed by real models).
func parseFloat(s string, bits int) (float64, error) {
	t := strings.TrimSpace(s)
	switch strings.ToLower(t) {
	case "nan", "+nan", "-nan":
		return math.NaN(), nil
	case "inf", "+inf", "infinity", "+infinity":
		return math.Inf(1), nil
	case "-inf", "-infinity":
		return math.Inf(-1), nil
	}
	v, err := strconv.ParseFloat(t, bits)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return v, nil
		}
		return 0, fmt.Errorf("cannot cast %q to a number", s)
	}
	return v, nil
}

func castTensor(t *tensor, dst dtype) (*tensor, error) {
	if t.dt == dst {
		return t, nil
	}
	out, err := newTensor(dst, t.shape)
	if err != nil {
		return nil, err
	}
	switch dst {
	case dtFloat:
		switch t.dt {
		case dtDouble:
			for k, v := range t.d {
				out.f[k] = float32(v)
			}
		case dtInt64:
			for k, v := range t.i {
				out.f[k] = float32(v)
			}
		case dtString:
			for k, v := range t.s {
				f, err := parseFloat(v, 32)
				if err != nil {
					return nil, err
				}
				out.f[k] = float32(f)
			}
		}
	case dtDouble:
		switch t.dt {
		case dtFloat:
			for k, v := range t.f {
				out.d[k] = float64(v)
			}
		case dtInt64:
			for k, v := range t.i {
				out.d[k] = float64(v)
			}
		case dtString:
			for k, v := range t.s {
				f, err := parseFloat(v, 64)
				if err != nil {
					return nil, err
				}
				out.d[k] = f
			}
		}
	case dtInt64:
		switch t.dt {
		case dtFloat:
			for k, v := range t.f {
				out.i[k] = float64ToInt64(float64(v))
			}
		case dtDouble:
			for k, v := range t.d {
				out.i[k] = float64ToInt64(v)
			}
		case dtString:
			for k, v := range t.s {
				i, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				if err != nil {
					return nil, fmt.Errorf("cannot cast %q to int64", v)
				}
				out.i[k] = i
			}
		}
	case dtString:
		switch t.dt {
		case dtFloat:
			for k, v := range t.f {
				out.s[k] = formatFloat(float64(v), 32)
			}
		case dtDouble:
			for k, v := range t.d {
				out.s[k] = formatFloat(v, 64)
			}
		case dtInt64:
			for k, v := range t.i {
				out.s[k] = strconv.FormatInt(v, 10)
			}
		}
	}
	return out, nil
}

// --- Elementwise binary: Add, Sub, Mul, Div ------------------------------------------------

func buildBinary(n *node) (kernel, []vinfo, error) {
	op := n.p.GetOpType()
	if n.ver < 7 {
		return nil, nil, n.errf("opset %d uses the legacy broadcast attribute; opset 7 or later is supported", n.ver)
	}
	a, b := n.in[0], n.in[1]
	if err := wantTypes(n, 0, isNumeric, "float, double or int64"); err != nil {
		return nil, nil, err
	}
	if a.dt != b.dt {
		return nil, nil, n.errf("inputs are %s and %s; both must have the same type", a.dt, b.dt)
	}
	shape, err := staticBroadcast(a.shape, b.shape)
	if err != nil {
		return nil, nil, n.errf("%s", err.Error())
	}
	out := vinfo{dt: a.dt, shape: shape, rows: rowsBroadcast(n, shape)}
	var k kernelFunc
	switch a.dt {
	case dtFloat:
		f := binaryFunc[float32](op)
		k = func(_ *runCtx, in []*tensor) ([]*tensor, error) {
			return binaryRun(in[0], in[1], in[0].f, in[1].f, f, func(t *tensor) []float32 { return t.f })
		}
	case dtDouble:
		f := binaryFunc[float64](op)
		k = func(_ *runCtx, in []*tensor) ([]*tensor, error) {
			return binaryRun(in[0], in[1], in[0].d, in[1].d, f, func(t *tensor) []float64 { return t.d })
		}
	case dtInt64:
		f := binaryFunc[int64](op)
		k = func(_ *runCtx, in []*tensor) ([]*tensor, error) {
			if op == "Div" {
				for _, v := range in[1].i {
					if v == 0 {
						return nil, fmt.Errorf("integer division by zero")
					}
				}
			}
			return binaryRun(in[0], in[1], in[0].i, in[1].i, f, func(t *tensor) []int64 { return t.i })
		}
	}
	return k, []vinfo{out}, nil
}

func binaryFunc[T number](op string) func(x, y T) T {
	switch op {
	case "Add":
		return func(x, y T) T { return x + y }
	case "Sub":
		return func(x, y T) T { return x - y }
	case "Mul":
		return func(x, y T) T { return x * y }
	}
	return func(x, y T) T { return x / y }
}

func binaryRun[T number](ta, tb *tensor, a, b []T, f func(x, y T) T, data func(*tensor) []T) ([]*tensor, error) {
	shape, err := broadcastShape(ta.shape, tb.shape)
	if err != nil {
		return nil, err
	}
	out, err := newTensor(ta.dt, shape)
	if err != nil {
		return nil, err
	}
	o := data(out)
	switch {
	case len(a) == len(o) && len(b) == len(o):
		for k := range o {
			o[k] = f(a[k], b[k])
		}
	case len(b) == 1 && len(a) == len(o):
		y := b[0]
		for k := range o {
			o[k] = f(a[k], y)
		}
	case len(a) == 1 && len(b) == len(o):
		x := a[0]
		for k := range o {
			o[k] = f(x, b[k])
		}
	case len(a) == len(o) && len(b) > 0 && rowVector(tb.shape, shape):
		m := len(b)
		for k := range o {
			o[k] = f(a[k], b[k%m])
		}
	default:
		broadcastIndex(ta.shape, tb.shape, shape, func(k, ia, ib int) { o[k] = f(a[ia], b[ib]) })
	}
	return []*tensor{out}, nil
}

// rowVector reports whether a tensor of shape s broadcasts to out by repeating it whole
// (s is all ones except for a suffix equal to out's).
func rowVector(s, out []int) bool {
	k := len(s) - 1
	o := len(out) - 1
	for k >= 0 && s[k] == out[o] {
		k--
		o--
	}
	for ; k >= 0; k-- {
		if s[k] != 1 {
			return false
		}
	}
	return true
}

// --- Elementwise unary: Relu, LeakyRelu, Sigmoid, Tanh -----------------------------------

func buildUnary(n *node) (kernel, []vinfo, error) {
	if err := wantTypes(n, 0, isReal, "float or double"); err != nil {
		return nil, nil, err
	}
	var f func(float64) float64
	switch n.p.GetOpType() {
	case "Relu":
		f = func(x float64) float64 {
			if x < 0 {
				return 0
			}
			return x
		}
	case "LeakyRelu":
		alpha, err := n.attrFloat("alpha", 0.01)
		if err != nil {
			return nil, nil, err
		}
		a := float64(alpha)
		f = func(x float64) float64 {
			if x < 0 {
				return a * x
			}
			return x
		}
	case "Sigmoid":
		f = sigmoid
	case "Tanh":
		f = math.Tanh
	}
	// float32 Sigmoid and Tanh use the approximations of onnxruntime's MLAS.
	op := n.p.GetOpType()
	alpha := float32(0)
	if op == "LeakyRelu" {
		a, err := n.attrFloat("alpha", 0.01)
		if err != nil {
			return nil, nil, err
		}
		alpha = a
	}
	out := vinfo{dt: n.in[0].dt, shape: cloneShape(n.in[0].shape), rows: n.rows()}
	return kernelFunc(func(rc *runCtx, in []*tensor) ([]*tensor, error) {
		t := in[0]
		o, err := newTensor(t.dt, t.shape)
		if err != nil {
			return nil, err
		}
		if t.dt == dtFloat {
			switch op {
			case "Relu":
				for k, v := range t.f {
					o.f[k] = max32(v, 0) // NaN stays NaN
				}
			case "LeakyRelu":
				for k, v := range t.f {
					if v < 0 {
						v *= alpha
					}
					o.f[k] = v
				}
			case "Sigmoid":
				for k, v := range t.f {
					o.f[k] = logisticMLAS(v)
				}
			case "Tanh":
				for k, v := range t.f {
					o.f[k] = tanhMLAS(v)
				}
			}
		} else {
			for k, v := range t.d {
				o.d[k] = f(v)
			}
		}
		return []*tensor{o}, nil
	}), []vinfo{out}, nil
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// --- Softmax -------------------------------------------------------------------------------

func buildSoftmax(n *node) (kernel, []vinfo, error) {
	if err := wantTypes(n, 0, isReal, "float or double"); err != nil {
		return nil, nil, err
	}
	def := int64(-1)
	legacy := n.ver < 13 // opset < 13 flattens to 2-D at axis
	if legacy {
		def = 1
	}
	axis, err := n.attrInt("axis", def)
	if err != nil {
		return nil, nil, err
	}
	in := n.in[0]
	out := vinfo{dt: in.dt, shape: cloneShape(in.shape), rows: n.rows()}
	if out.rows == rowsAxis0 {
		out.rows = rowsMixed
		if in.shape != nil {
			if a, ok := normAxis(axis, len(in.shape)); ok && a >= 1 {
				out.rows = rowsAxis0
			}
		}
	}
	if in.shape != nil {
		if _, ok := normAxis(axis, len(in.shape)); !ok {
			return nil, nil, n.errf("axis %d is out of range for rank %d", axis, len(in.shape))
		}
	}
	return kernelFunc(func(rc *runCtx, ins []*tensor) ([]*tensor, error) {
		t := ins[0]
		a, ok := normAxis(axis, t.rank())
		if !ok {
			return nil, fmt.Errorf("axis %d is out of range for shape %s", axis, shapeString(t.shape))
		}
		// outer × len × inner: softmax over len for each (outer, inner).
		outer, length, inner := 1, 1, 1
		for k, d := range t.shape {
			switch {
			case k < a:
				outer *= d
			case k == a || legacy:
				length *= d
			default:
				inner *= d
			}
		}
		o, err := newTensor(t.dt, t.shape)
		if err != nil {
			return nil, err
		}
		buf := make([]float64, length)
		for p := 0; p < outer; p++ {
			for q := 0; q < inner; q++ {
				base := p*length*inner + q
				for j := range length {
					buf[j] = t.float64At(base + j*inner)
				}
				softmaxInPlace(buf)
				for j, v := range buf {
					if t.dt == dtFloat {
						o.f[base+j*inner] = float32(v)
					} else {
						o.d[base+j*inner] = v
					}
				}
			}
		}
		return []*tensor{o}, nil
	}), []vinfo{out}, nil
}

func softmaxInPlace(v []float64) {
	if len(v) == 0 {
		return
	}
	hi := math.Inf(-1)
	for _, x := range v {
		if x > hi {
			hi = x
		}
	}
	var sum float64
	for k, x := range v {
		e := math.Exp(x - hi)
		v[k] = e
		sum += e
	}
	for k := range v {
		v[k] /= sum
	}
}

// --- Gemm and MatMul -----------------------------------------------------------------------

func buildGemm(n *node) (kernel, []vinfo, error) {
	if err := wantTypes(n, 0, isReal, "float or double"); err != nil {
		return nil, nil, err
	}
	a, b, c := n.in[0], n.in[1], n.input(2)
	if b.dt != a.dt || c != nil && c.dt != a.dt {
		return nil, nil, n.errf("inputs must all have the same type (A is %s)", a.dt)
	}
	alpha, err := n.attrFloat("alpha", 1)
	if err != nil {
		return nil, nil, err
	}
	beta, err := n.attrFloat("beta", 1)
	if err != nil {
		return nil, nil, err
	}
	transA, err := n.attrInt("transA", 0)
	if err != nil {
		return nil, nil, err
	}
	transB, err := n.attrInt("transB", 0)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range []*vinfo{a, b} {
		if v.shape != nil && len(v.shape) != 2 {
			return nil, nil, n.errf("input %d has rank %d, want 2", k, len(v.shape))
		}
	}
	// Static output shape [M, N].
	var shape []int
	if a.shape != nil && b.shape != nil {
		m, ka := a.shape[0], a.shape[1]
		if transA != 0 {
			m, ka = ka, m
		}
		kb, nn := b.shape[0], b.shape[1]
		if transB != 0 {
			kb, nn = nn, kb
		}
		if knownDim(ka) && knownDim(kb) && ka != kb {
			return nil, nil, n.errf("A is %s and B is %s (transA %d, transB %d): inner dimensions %d and %d differ",
				staticString(a.shape), staticString(b.shape), transA, transB, ka, kb)
		}
		shape = []int{m, nn}
		if c != nil && c.shape != nil {
			if _, err := staticBroadcast(c.shape, shape); err != nil || len(c.shape) > 2 {
				return nil, nil, n.errf("C of shape %s does not broadcast to %s", staticString(c.shape), staticString(shape))
			}
		}
	}
	out := vinfo{dt: a.dt, shape: shape, rows: n.rows()}
	if out.rows == rowsAxis0 && (transA != 0 || b.rows != rowsNone || c != nil && c.rows != rowsNone) {
		out.rows = rowsMixed
	}
	g := &gemm{alpha: float64(alpha), beta: float64(beta), transA: transA != 0, transB: transB != 0}
	if b.konst != nil && a.dt == dtFloat {
		g.packed = packB32(b.konst, g.transB)
	}
	return g, []vinfo{out}, nil
}

type gemm struct {
	alpha, beta    float64
	transA, transB bool
	packed         *packedB // B as [N][K] float32, when B is a constant
}

// packedB holds B transposed so that each output column is a contiguous row of float64.
type packedB struct {
	n, k int
	w    []float64
}

func packB32(b *tensor, transB bool) *packedB {
	if b.rank() != 2 || b.dt != dtFloat {
		return nil
	}
	k, n := b.shape[0], b.shape[1]
	if transB {
		return &packedB{n: k, k: n, w: widen(b.f)} // already [N][K]
	}
	w := make([]float64, len(b.f))
	for r := range k {
		for c := range n {
			w[c*k+r] = float64(b.f[r*n+c])
		}
	}
	return &packedB{n: n, k: k, w: w}
}

func (g *gemm) run(rc *runCtx, in []*tensor) ([]*tensor, error) {
	a, b, c := in[0], in[1], (*tensor)(nil)
	if len(in) > 2 {
		c = in[2]
	}
	if a.rank() != 2 || b.rank() != 2 {
		return nil, fmt.Errorf("A is %s and B is %s; both must be 2-D", shapeString(a.shape), shapeString(b.shape))
	}
	m, ka := a.shape[0], a.shape[1]
	if g.transA {
		m, ka = ka, m
	}
	kb, nn := b.shape[0], b.shape[1]
	if g.transB {
		kb, nn = nn, kb
	}
	if ka != kb {
		return nil, fmt.Errorf("A is %s and B is %s: inner dimensions %d and %d differ", shapeString(a.shape), shapeString(b.shape), ka, kb)
	}
	if err := rc.work(m, nn, ka); err != nil {
		return nil, err
	}
	out, err := newTensor(a.dt, []int{m, nn})
	if err != nil {
		return nil, err
	}
	if c != nil && g.beta != 0 {
		if _, err := broadcastShape(c.shape, out.shape); err != nil || c.rank() > 2 || !unidirectional(c.shape, out.shape) {
			return nil, fmt.Errorf("C of shape %s does not broadcast to %s", shapeString(c.shape), shapeString(out.shape))
		}
	}
	if a.dt == dtFloat {
		g.run32(a, b, c, out, m, nn, ka)
	} else {
		g.run64(a, b, c, out, m, nn, ka)
	}
	return []*tensor{out}, nil
}

// unidirectional reports whether shape s broadcasts to out without out changing.
func unidirectional(s, out []int) bool {
	if len(s) > len(out) {
		return false
	}
	for k := range s {
		d := s[len(s)-1-k]
		if d != 1 && d != out[len(out)-1-k] {
			return false
		}
	}
	return true
}

func (g *gemm) run32(a, b, c, out *tensor, m, nn, kk int) {
	p := g.packed
	if p == nil || p.n != nn || p.k != kk {
		p = packB32(b, g.transB)
	}
	var arow []float64
	if g.transA {
		arow = make([]float64, m*kk)
		for r := range kk {
			for col := range m {
				arow[col*kk+r] = float64(a.f[r*m+col])
			}
		}
	} else {
		arow = widen(a.f)
	}
	var bias func(i, j int) float64
	if c != nil && g.beta != 0 {
		cs := bcastStrides(c.shape, out.shape)
		beta := float32(g.beta)
		bias = func(i, j int) float64 { return float64(beta * c.f[i*cs[0]+j*cs[1]]) }
	}
	gemm64(arow, p.w, m, nn, kk, float64(float32(g.alpha)), bias, out.f)
}

func (g *gemm) run64(a, b, c, out *tensor, m, nn, kk int) {
	at := func(i, k int) float64 {
		if g.transA {
			return a.d[k*m+i]
		}
		return a.d[i*kk+k]
	}
	bt := func(k, j int) float64 {
		if g.transB {
			return b.d[j*kk+k]
		}
		return b.d[k*nn+j]
	}
	for i := range m {
		for j := range nn {
			var s float64
			for k := range kk {
				s += at(i, k) * bt(k, j)
			}
			out.d[i*nn+j] = g.alpha * s
		}
	}
	if c != nil && g.beta != 0 {
		cs := bcastStrides(c.shape, out.shape)
		for i := range m {
			for j := range nn {
				out.d[i*nn+j] += g.beta * c.d[i*cs[0]+j*cs[1]]
			}
		}
	}
}

func buildMatMul(n *node) (kernel, []vinfo, error) {
	if err := wantTypes(n, 0, isReal, "float or double"); err != nil {
		return nil, nil, err
	}
	a, b := n.in[0], n.in[1]
	if a.dt != b.dt {
		return nil, nil, n.errf("inputs are %s and %s; both must have the same type", a.dt, b.dt)
	}
	var shape []int
	if a.shape != nil && b.shape != nil {
		as, bs := a.shape, b.shape
		if len(as) == 0 || len(bs) == 0 {
			return nil, nil, n.errf("inputs must have rank 1 or more")
		}
		if len(as) == 1 {
			as = []int{1, as[0]}
		}
		if len(bs) == 1 {
			bs = []int{bs[0], 1}
		}
		ka, kb := as[len(as)-1], bs[len(bs)-2]
		if knownDim(ka) && knownDim(kb) && ka != kb {
			return nil, nil, n.errf("A is %s and B is %s: inner dimensions %d and %d differ", staticString(a.shape), staticString(b.shape), ka, kb)
		}
		batch, err := staticBroadcast(as[:len(as)-2], bs[:len(bs)-2])
		if err != nil {
			return nil, nil, n.errf("%s", err.Error())
		}
		shape = append(batch, as[len(as)-2], bs[len(bs)-1])
		if len(a.shape) == 1 {
			shape = slices.Delete(shape, len(shape)-2, len(shape)-1)
		}
		if len(b.shape) == 1 {
			shape = shape[:len(shape)-1]
		}
	}
	out := vinfo{dt: a.dt, shape: shape, rows: n.rows()}
	if out.rows == rowsAxis0 && !(a.shape != nil && len(a.shape) >= 2 && b.rows == rowsNone && b.shape != nil && len(b.shape) == 2) {
		out.rows = rowsMixed
	}
	mm := &matmul{}
	if b.konst != nil && b.dt == dtFloat && b.konst.rank() == 2 {
		mm.packed = packB32(b.konst, false)
	}
	return mm, []vinfo{out}, nil
}

type matmul struct{ packed *packedB }

func (mm *matmul) run(rc *runCtx, in []*tensor) ([]*tensor, error) {
	a, b := in[0], in[1]
	if a.rank() == 0 || b.rank() == 0 {
		return nil, fmt.Errorf("inputs must have rank 1 or more")
	}
	as, bs := a.shape, b.shape
	if len(as) == 1 {
		as = []int{1, as[0]}
	}
	if len(bs) == 1 {
		bs = []int{bs[0], 1}
	}
	m, kk := as[len(as)-2], as[len(as)-1]
	kb, nn := bs[len(bs)-2], bs[len(bs)-1]
	if kk != kb {
		return nil, fmt.Errorf("A is %s and B is %s: inner dimensions %d and %d differ", shapeString(a.shape), shapeString(b.shape), kk, kb)
	}
	batch, err := broadcastShape(as[:len(as)-2], bs[:len(bs)-2])
	if err != nil {
		return nil, err
	}
	nb, _ := numElems(batch)
	if err := rc.work(m*max(nb, 1), nn, kk); err != nil {
		return nil, err
	}
	shape := append(slices.Clone(batch), m, nn)
	out, err := newTensor(a.dt, shape)
	if err != nil {
		return nil, err
	}
	aMat, bMat := m*kk, kk*nn
	var apos, bpos []int // matrix index of each batch entry
	broadcastIndex(padShape(as[:len(as)-2], len(batch)), padShape(bs[:len(bs)-2], len(batch)), batch, func(_, ia, ib int) {
		apos = append(apos, ia)
		bpos = append(bpos, ib)
	})
	if len(batch) == 0 {
		apos, bpos = []int{0}, []int{0}
	}
	for bi := range apos {
		oOff := bi * m * nn
		if a.dt == dtFloat {
			var p *packedB
			if mm.packed != nil && len(bs) == 2 && mm.packed.n == nn && mm.packed.k == kk {
				p = mm.packed
			} else {
				p = packB32(&tensor{dt: dtFloat, shape: []int{kk, nn}, f: b.f[bpos[bi]*bMat : (bpos[bi]+1)*bMat]}, false)
			}
			gemm64(widen(a.f[apos[bi]*aMat:(apos[bi]+1)*aMat]), p.w, m, nn, kk, 1, nil, out.f[oOff:oOff+m*nn])
		} else {
			ad := a.d[apos[bi]*aMat:]
			bd := b.d[bpos[bi]*bMat:]
			for i := range m {
				for j := range nn {
					var s float64
					for k := range kk {
						s += ad[i*kk+k] * bd[k*nn+j]
					}
					out.d[oOff+i*nn+j] = s
				}
			}
		}
	}
	final := slices.Clone(shape)
	if len(a.shape) == 1 {
		final = slices.Delete(final, len(final)-2, len(final)-1)
	}
	if len(b.shape) == 1 {
		final = final[:len(final)-1]
	}
	return []*tensor{out.withShape(final)}, nil
}

func padShape(s []int, r int) []int {
	if len(s) >= r {
		return s
	}
	out := make([]int, r)
	for k := range out {
		out[k] = 1
	}
	copy(out[r-len(s):], s)
	return out
}

// --- Shape operators: Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Concat -------------

// constInts returns the values of a constant int64 input, or nil when it is not constant.
func (n *node) constInts(k int) ([]int64, bool, error) {
	v := n.input(k)
	if v == nil || v.konst == nil {
		return nil, false, nil
	}
	if v.dt != dtInt64 {
		return nil, false, n.errf("input %d (%q) is %s, want int64", k, n.p.GetInput()[k], v.dt)
	}
	return v.konst.i, true, nil
}

func buildReshape(n *node) (kernel, []vinfo, error) {
	var shapeAttr []int64
	var known bool
	allowZero := int64(0)
	if n.ver < 5 {
		s, err := n.attrInts("shape")
		if err != nil {
			return nil, nil, err
		}
		if len(n.in) > 1 {
			return nil, nil, n.errf("opset %d Reshape takes one input", n.ver)
		}
		shapeAttr, known = s, true
	} else {
		if len(n.in) < 2 || n.in[1] == nil {
			return nil, nil, n.errf("the shape input is required")
		}
		if n.in[1].dt != dtInt64 {
			return nil, nil, n.errf("the shape input is %s, want int64", n.in[1].dt)
		}
		var err error
		if shapeAttr, known, err = n.constInts(1); err != nil {
			return nil, nil, err
		}
		if allowZero, err = n.attrInt("allowzero", 0); err != nil {
			return nil, nil, err
		}
	}
	in := n.in[0]
	out := vinfo{dt: in.dt, rows: n.rows()}
	if out.rows == rowsAxis0 {
		out.rows = rowsMixed
	}
	if known {
		if len(shapeAttr) > maxRank {
			return nil, nil, n.errf("target shape has rank %d, over the limit of %d", len(shapeAttr), maxRank)
		}
		s, err := staticReshape(in.shape, shapeAttr, allowZero != 0)
		if err != nil {
			return nil, nil, n.errf("%s", err.Error())
		}
		out.shape = s
		if n.in[0].rows == rowsAxis0 && (len(n.in) < 2 || n.in[1].rows == rowsNone) && s != nil && len(s) > 0 && s[0] == dimBatch {
			out.rows = rowsAxis0
		}
	}
	return kernelFunc(func(rc *runCtx, ins []*tensor) ([]*tensor, error) {
		target := shapeAttr
		if !known {
			var err error
			if target, err = ins[1].ints(); err != nil {
				return nil, err
			}
		}
		s, err := reshapeDims(ins[0].shape, target, allowZero != 0)
		if err != nil {
			return nil, err
		}
		return []*tensor{ins[0].withShape(s)}, nil
	}), []vinfo{out}, nil
}

// reshapeDims resolves a Reshape target (0 copies the input dim unless allowZero, -1 is
// inferred) against a run-time input shape.
func reshapeDims(in []int, target []int64, allowZero bool) ([]int, error) {
	if len(target) > maxRank {
		return nil, fmt.Errorf("target shape has rank %d, over the limit of %d", len(target), maxRank)
	}
	total, _ := numElems(in)
	out := make([]int, len(target))
	infer := -1
	prod := 1
	for k, d := range target {
		switch {
		case d == 0 && !allowZero:
			if k >= len(in) {
				return nil, fmt.Errorf("target %v copies dimension %d of %s, which does not exist", target, k, shapeString(in))
			}
			out[k] = in[k]
		case d == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("target %v has more than one -1", target)
			}
			infer = k
			continue
		case d < 0 || d > MaxTensorElements:
			return nil, fmt.Errorf("target %v has dimension %d", target, d)
		default:
			out[k] = int(d)
		}
		if out[k] == 0 {
			prod = 0
		} else if prod > MaxTensorElements/out[k] {
			return nil, fmt.Errorf("target %v is over the limit of %d elements", target, MaxTensorElements)
		} else {
			prod *= out[k]
		}
	}
	if infer >= 0 {
		if prod == 0 || total%prod != 0 {
			return nil, fmt.Errorf("cannot reshape %s to %v", shapeString(in), target)
		}
		out[infer] = total / prod
	} else if prod != total {
		return nil, fmt.Errorf("cannot reshape %s (%d elements) to %v", shapeString(in), total, target)
	}
	return out, nil
}

// staticReshape is reshapeDims on a static shape with the batch dimension. It returns nil
// when the result is not known.
func staticReshape(in []int, target []int64, allowZero bool) ([]int, error) {
	if in == nil {
		return nil, nil
	}
	out := make([]int, len(target))
	infer := -1
	for k, d := range target {
		switch {
		case d == 0 && !allowZero:
			if k >= len(in) {
				return nil, fmt.Errorf("target %v copies dimension %d of %s, which does not exist", target, k, staticString(in))
			}
			out[k] = in[k]
		case d == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("target %v has more than one -1", target)
			}
			infer = k
		case d < 0 || d > MaxTensorElements:
			return nil, fmt.Errorf("target %v has dimension %d", target, d)
		default:
			out[k] = int(d)
		}
	}
	if infer < 0 {
		return out, nil
	}
	// The inferred dim: with the batch dim N in the input, it is N × (static input dims /
	// static target dims) when that ratio is 1; otherwise unknown.
	var inStatic, inBatch, outStatic, outBatch = 1, 0, 1, 0
	for _, d := range in {
		switch {
		case d == dimBatch:
			inBatch++
		case d == dimUnknown:
			out[infer] = dimUnknown
			return out, nil
		default:
			inStatic *= d
		}
	}
	for k, d := range out {
		switch {
		case k == infer:
		case d == dimBatch:
			outBatch++
		case d == dimUnknown:
			out[infer] = dimUnknown
			return out, nil
		default:
			outStatic *= d
		}
	}
	switch {
	case outStatic == 0:
		out[infer] = dimUnknown
	case inBatch == outBatch:
		if inStatic%outStatic != 0 {
			return nil, fmt.Errorf("cannot reshape %s to %v", staticString(in), target)
		}
		out[infer] = inStatic / outStatic
	case inBatch == outBatch+1 && inStatic == outStatic:
		out[infer] = dimBatch
	default:
		out[infer] = dimUnknown
	}
	return out, nil
}

func buildFlatten(n *node) (kernel, []vinfo, error) {
	axis, err := n.attrInt("axis", 1)
	if err != nil {
		return nil, nil, err
	}
	in := n.in[0]
	out := vinfo{dt: in.dt, rows: n.rows()}
	if out.rows == rowsAxis0 {
		out.rows = rowsMixed
	}
	if in.shape != nil {
		r := len(in.shape)
		a := int(axis)
		if axis < 0 {
			a = int(axis) + r
		}
		if a < 0 || a > r {
			return nil, nil, n.errf("axis %d is out of range for rank %d", axis, r)
		}
		lead, ok1 := staticProduct(in.shape[:a])
		rest, ok2 := staticProduct(in.shape[a:])
		s := []int{dimUnknown, dimUnknown}
		if ok1 {
			s[0] = lead
		}
		if ok2 {
			s[1] = rest
		}
		if a >= 1 && in.shape[0] == dimBatch {
			if mid, ok := staticProduct(in.shape[1:a]); ok && mid == 1 {
				s[0] = dimBatch
				if n.in[0].rows == rowsAxis0 {
					out.rows = rowsAxis0
				}
			}
		}
		out.shape = s
	}
	return kernelFunc(func(rc *runCtx, ins []*tensor) ([]*tensor, error) {
		t := ins[0]
		r := t.rank()
		a := int(axis)
		if axis < 0 {
			a = int(axis) + r
		}
		if a < 0 || a > r {
			return nil, fmt.Errorf("axis %d is out of range for shape %s", axis, shapeString(t.shape))
		}
		lead, _ := numElems(t.shape[:a])
		rest, _ := numElems(t.shape[a:])
		return []*tensor{t.withShape([]int{lead, rest})}, nil
	}), []vinfo{out}, nil
}

func buildTranspose(n *node) (kernel, []vinfo, error) {
	perm, err := n.attrInts("perm")
	if err != nil {
		return nil, nil, err
	}
	in := n.in[0]
	out := vinfo{dt: in.dt, rows: n.rows()}
	checkPerm := func(r int) ([]int, error) {
		p := make([]int, r)
		if perm == nil {
			for k := range p {
				p[k] = r - 1 - k
			}
			return p, nil
		}
		if len(perm) != r {
			return nil, fmt.Errorf("perm %v has %d entries for rank %d", perm, len(perm), r)
		}
		seen := make([]bool, r)
		for k, v := range perm {
			if v < 0 || v >= int64(r) || seen[v] {
				return nil, fmt.Errorf("perm %v is not a permutation of 0..%d", perm, r-1)
			}
			seen[v] = true
			p[k] = int(v)
		}
		return p, nil
	}
	if in.shape != nil {
		p, err := checkPerm(len(in.shape))
		if err != nil {
			return nil, nil, n.errf("%s", err.Error())
		}
		out.shape = make([]int, len(p))
		for k, v := range p {
			out.shape[k] = in.shape[v]
		}
		if out.rows == rowsAxis0 && (len(p) == 0 || p[0] != 0) {
			out.rows = rowsMixed
		}
	} else if out.rows == rowsAxis0 {
		out.rows = rowsMixed
	}
	return kernelFunc(func(rc *runCtx, ins []*tensor) ([]*tensor, error) {
		t := ins[0]
		p, err := checkPerm(t.rank())
		if err != nil {
			return nil, err
		}
		shape := make([]int, len(p))
		for k, v := range p {
			shape[k] = t.shape[v]
		}
		o, err := newTensor(t.dt, shape)
		if err != nil {
			return nil, err
		}
		// Strides of the input, permuted into output order.
		r := len(p)
		inStride := make([]int, r)
		s := 1
		for k := r - 1; k >= 0; k-- {
			inStride[k] = s
			s *= t.shape[k]
		}
		st := make([]int, r)
		for k, v := range p {
			st[k] = inStride[v]
		}
		total := t.size()
		idx := make([]int, r)
		src := 0
		for dst := 0; dst < total; dst++ {
			copyElem(o, dst, t, src)
			for k := r - 1; k >= 0; k-- {
				idx[k]++
				src += st[k]
				if idx[k] < shape[k] {
					break
				}
				src -= st[k] * idx[k]
				idx[k] = 0
			}
		}
		return []*tensor{o}, nil
	}), []vinfo{out}, nil
}

func copyElem(dst *tensor, i int, src *tensor, j int) {
	switch src.dt {
	case dtFloat:
		dst.f[i] = src.f[j]
	case dtDouble:
		dst.d[i] = src.d[j]
	case dtInt64:
		dst.i[i] = src.i[j]
	case dtString:
		dst.s[i] = src.s[j]
	}
}

// axesOf reads the axes of Squeeze/Unsqueeze: an attribute before opset 13, an input from 13.
func axesOf(n *node, required bool) (axes []int64, known bool, err error) {
	if n.ver < 13 {
		if len(n.in) > 1 {
			return nil, false, n.errf("opset %d takes axes as an attribute, not an input", n.ver)
		}
		axes, err = n.attrInts("axes")
		if err != nil {
			return nil, false, err
		}
		if required && axes == nil {
			return nil, false, n.errf("attribute \"axes\" is required")
		}
		return axes, true, nil
	}
	if n.has("axes") {
		return nil, false, n.errf("opset %d takes axes as an input, not an attribute", n.ver)
	}
	if n.input(1) == nil {
		if required {
			return nil, false, n.errf("the axes input is required")
		}
		return nil, true, nil
	}
	axes, known, err = n.constInts(1)
	if err == nil && !known && n.in[1].dt != dtInt64 {
		err = n.errf("the axes input is %s, want int64", n.in[1].dt)
	}
	return axes, known, err
}

// normAxes normalizes axes against rank r, rejecting duplicates and out-of-range values.
func normAxes(axes []int64, r int) ([]int, error) {
	out := make([]int, len(axes))
	for k, a := range axes {
		v, ok := normAxis(a, r)
		if !ok {
			return nil, fmt.Errorf("axis %d is out of range for rank %d", a, r)
		}
		if slices.Contains(out[:k], v) {
			return nil, fmt.Errorf("axis %d appears twice", a)
		}
		out[k] = v
	}
	return out, nil
}

func buildSqueeze(n *node) (kernel, []vinfo, error) {
	axes, known, err := axesOf(n, false)
	if err != nil {
		return nil, nil, err
	}
	in := n.in[0]
	out := vinfo{dt: in.dt, rows: n.rows()}
	if known && in.shape != nil {
		if axes == nil {
			if out.rows == rowsAxis0 {
				out.rows = rowsMixed // a batch of one would lose its batch axis
			}
			for _, d := range in.shape {
				if d != 1 {
					out.shape = append(out.shape, d)
				}
			}
			if out.shape == nil {
				out.shape = []int{}
			}
			if slices.Contains(in.shape, dimUnknown) {
				out.shape = nil
			}
		} else {
			ax, err := normAxes(axes, len(in.shape))
			if err != nil {
				return nil, nil, n.errf("%s", err.Error())
			}
			out.shape = []int{}
			for k, d := range in.shape {
				if slices.Contains(ax, k) {
					if knownDim(d) && d != 1 || d == dimBatch {
						if d == dimBatch {
							out.rows = rowsMixed
							continue
						}
						return nil, nil, n.errf("cannot squeeze axis %d of shape %s: it is not 1", k, staticString(in.shape))
					}
					continue
				}
				out.shape = append(out.shape, d)
			}
		}
	} else if out.rows == rowsAxis0 {
		out.rows = rowsMixed
	}
	return kernelFunc(func(rc *runCtx, ins []*tensor) ([]*tensor, error) {
		t := ins[0]
		a := axes
		if !known && len(ins) > 1 && ins[1] != nil {
			var err error
			if a, err = ins[1].ints(); err != nil {
				return nil, err
			}
		}
		var shape []int
		if a == nil {
			shape = []int{}
			for _, d := range t.shape {
				if d != 1 {
					shape = append(shape, d)
				}
			}
		} else {
			ax, err := normAxes(a, t.rank())
			if err != nil {
				return nil, err
			}
			shape = []int{}
			for k, d := range t.shape {
				if slices.Contains(ax, k) {
					if d != 1 {
						return nil, fmt.Errorf("cannot squeeze axis %d of shape %s: it is not 1", k, shapeString(t.shape))
					}
					continue
				}
				shape = append(shape, d)
			}
		}
		return []*tensor{t.withShape(shape)}, nil
	}), []vinfo{out}, nil
}

func buildUnsqueeze(n *node) (kernel, []vinfo, error) {
	axes, known, err := axesOf(n, true)
	if err != nil {
		return nil, nil, err
	}
	unsq := func(shape []int, a []int64) ([]int, []int, error) {
		r := len(shape) + len(a)
		if r > maxRank {
			return nil, nil, fmt.Errorf("result rank %d is over the limit of %d", r, maxRank)
		}
		ax, err := normAxes(a, r)
		if err != nil {
			return nil, nil, err
		}
		out := make([]int, 0, r)
		j := 0
		for k := range r {
			if slices.Contains(ax, k) {
				out = append(out, 1)
			} else {
				out = append(out, shape[j])
				j++
			}
		}
		return out, ax, nil
	}
	in := n.in[0]
	out := vinfo{dt: in.dt, rows: n.rows()}
	if known && in.shape != nil {
		s, ax, err := unsq(in.shape, axes)
		if err != nil {
			return nil, nil, n.errf("%s", err.Error())
		}
		out.shape = s
		if out.rows == rowsAxis0 && slices.Contains(ax, 0) {
			out.rows = rowsMixed
		}
	} else if out.rows == rowsAxis0 {
		out.rows = rowsMixed
	}
	return kernelFunc(func(rc *runCtx, ins []*tensor) ([]*tensor, error) {
		a := axes
		if !known {
			var err error
			if a, err = ins[1].ints(); err != nil {
				return nil, err
			}
		}
		s, _, err := unsq(ins[0].shape, a)
		if err != nil {
			return nil, err
		}
		return []*tensor{ins[0].withShape(s)}, nil
	}), []vinfo{out}, nil
}

func buildConcat(n *node) (kernel, []vinfo, error) {
	def := int64(1) // opset < 4 defaults to axis 1
	if n.ver >= 4 && !n.has("axis") {
		return nil, nil, n.errf("attribute \"axis\" is required")
	}
	axis, err := n.attrInt("axis", def)
	if err != nil {
		return nil, nil, err
	}
	dt := dtUndefined
	for k, v := range n.in {
		if v == nil {
			return nil, nil, n.errf("input %d is missing", k)
		}
		if dt == dtUndefined {
			dt = v.dt
		} else if v.dt != dt {
			return nil, nil, n.errf("input %d is %s, input 0 is %s; all must have the same type", k, v.dt, dt)
		}
	}
	out := vinfo{dt: dt, rows: n.rows()}
	var shape []int
	for k, v := range n.in {
		if v.shape == nil {
			shape = nil
			break
		}
		if k == 0 {
			shape = slices.Clone(v.shape)
			if _, ok := normAxis(axis, len(shape)); !ok {
				return nil, nil, n.errf("axis %d is out of range for rank %d", axis, len(shape))
			}
			continue
		}
		if len(v.shape) != len(shape) {
			return nil, nil, n.errf("input %d has rank %d, input 0 has rank %d", k, len(v.shape), len(shape))
		}
		a, _ := normAxis(axis, len(shape))
		for d := range shape {
			x, y := shape[d], v.shape[d]
			if d == a {
				if knownDim(x) && knownDim(y) {
					shape[d] = x + y
				} else {
					shape[d] = dimUnknown
				}
				continue
			}
			switch {
			case x == y:
			case x == dimUnknown:
				shape[d] = y
			case y == dimUnknown:
			default:
				return nil, nil, n.errf("input %d has shape %s, input 0 has %s: they differ outside axis %d", k, staticString(v.shape), staticString(n.in[0].shape), axis)
			}
		}
	}
	out.shape = shape
	if out.rows == rowsAxis0 {
		a, ok := normAxis(axis, len(shape))
		allRows := true
		for _, v := range n.in {
			if v.rows != rowsAxis0 {
				allRows = false
			}
		}
		if shape == nil || !ok || a == 0 || !allRows {
			out.rows = rowsMixed
		}
	}
	return kernelFunc(func(rc *runCtx, ins []*tensor) ([]*tensor, error) {
		return concat(ins, axis)
	}), []vinfo{out}, nil
}

func concat(ins []*tensor, axis int64) ([]*tensor, error) {
	t0 := ins[0]
	a, ok := normAxis(axis, t0.rank())
	if !ok {
		return nil, fmt.Errorf("axis %d is out of range for shape %s", axis, shapeString(t0.shape))
	}
	shape := slices.Clone(t0.shape)
	shape[a] = 0
	for k, t := range ins {
		if t.rank() != len(shape) {
			return nil, fmt.Errorf("input %d has shape %s, input 0 has %s", k, shapeString(t.shape), shapeString(t0.shape))
		}
		for d := range shape {
			if d != a && t.shape[d] != t0.shape[d] {
				return nil, fmt.Errorf("input %d has shape %s, input 0 has %s: they differ outside axis %d", k, shapeString(t.shape), shapeString(t0.shape), a)
			}
		}
		shape[a] += t.shape[a]
	}
	o, err := newTensor(t0.dt, shape)
	if err != nil {
		return nil, err
	}
	outer, _ := numElems(shape[:a])
	inner, _ := numElems(shape[a+1:])
	dst := 0
	for p := 0; p < outer; p++ {
		for _, t := range ins {
			chunk := t.shape[a] * inner
			src := p * chunk
			switch o.dt {
			case dtFloat:
				copy(o.f[dst:dst+chunk], t.f[src:src+chunk])
			case dtDouble:
				copy(o.d[dst:dst+chunk], t.d[src:src+chunk])
			case dtInt64:
				copy(o.i[dst:dst+chunk], t.i[src:src+chunk])
			case dtString:
				copy(o.s[dst:dst+chunk], t.s[src:src+chunk])
			}
			dst += chunk
		}
	}
	return []*tensor{o}, nil
}

// --- Clip, ArgMax --------------------------------------------------------------------------

func buildClip(n *node) (kernel, []vinfo, error) {
	if err := wantTypes(n, 0, isNumeric, "float, double or int64"); err != nil {
		return nil, nil, err
	}
	in := n.in[0]
	lo, hi := math.Inf(-1), math.Inf(1)
	var loIn, hiIn bool
	if n.ver < 11 {
		if len(n.in) > 1 {
			return nil, nil, n.errf("opset %d takes min and max as attributes, not inputs", n.ver)
		}
		if in.dt == dtInt64 {
			return nil, nil, n.errf("opset %d Clip takes float or double", n.ver)
		}
		l, err := n.attrFloat("min", -math.MaxFloat32)
		if err != nil {
			return nil, nil, err
		}
		h, err := n.attrFloat("max", math.MaxFloat32)
		if err != nil {
			return nil, nil, err
		}
		lo, hi = float64(l), float64(h)
	} else {
		if n.has("min") || n.has("max") {
			return nil, nil, n.errf("opset %d takes min and max as inputs, not attributes", n.ver)
		}
		for k := 1; k < len(n.in); k++ {
			v := n.in[k]
			if v == nil {
				continue
			}
			if v.dt != in.dt {
				return nil, nil, n.errf("input %d is %s, input 0 is %s", k, v.dt, in.dt)
			}
			if v.shape != nil && len(v.shape) > 1 || v.shape != nil && len(v.shape) == 1 && v.shape[0] != 1 {
				return nil, nil, n.errf("input %d has shape %s, want a scalar", k, staticString(v.shape))
			}
			if k == 1 {
				loIn = true
			} else {
				hiIn = true
			}
		}
		if in.dt == dtInt64 {
			lo, hi = math.MinInt64, math.MaxInt64
		}
	}
	out := vinfo{dt: in.dt, shape: cloneShape(in.shape), rows: n.rows()}
	if out.rows == rowsAxis0 && (loIn && n.in[1].rows != rowsNone || hiIn && n.in[2].rows != rowsNone) {
		out.rows = rowsMixed
	}
	return kernelFunc(func(rc *runCtx, ins []*tensor) ([]*tensor, error) {
		t := ins[0]
		l, h := lo, hi
		li, hi64 := int64(math.MinInt64), int64(math.MaxInt64)
		for k := 1; k < len(ins) && k < 3; k++ {
			b := ins[k]
			if b == nil {
				continue
			}
			if b.size() != 1 {
				return nil, fmt.Errorf("input %d has shape %s, want a scalar", k, shapeString(b.shape))
			}
			if k == 1 {
				l = b.float64At(0)
				if b.dt == dtInt64 {
					li = b.i[0]
				}
			} else {
				h = b.float64At(0)
				if b.dt == dtInt64 {
					hi64 = b.i[0]
				}
			}
		}
		o, err := newTensor(t.dt, t.shape)
		if err != nil {
			return nil, err
		}
		switch t.dt {
		case dtFloat:
			l32, h32 := float32(l), float32(h)
			for k, v := range t.f {
				o.f[k] = min(max(v, l32), h32)
			}
		case dtDouble:
			for k, v := range t.d {
				o.d[k] = min(max(v, l), h)
			}
		case dtInt64:
			for k, v := range t.i {
				o.i[k] = min(max(v, li), hi64)
			}
		}
		return []*tensor{o}, nil
	}), []vinfo{out}, nil
}

func buildArgMax(n *node) (kernel, []vinfo, error) {
	if err := wantTypes(n, 0, isNumeric, "float, double or int64"); err != nil {
		return nil, nil, err
	}
	axis, err := n.attrInt("axis", 0)
	if err != nil {
		return nil, nil, err
	}
	keep, err := n.attrInt("keepdims", 1)
	if err != nil {
		return nil, nil, err
	}
	last, err := n.attrInt("select_last_index", 0)
	if err != nil {
		return nil, nil, err
	}
	in := n.in[0]
	out := vinfo{dt: dtInt64, rows: n.rows()}
	if in.shape != nil {
		a, ok := normAxis(axis, len(in.shape))
		if !ok {
			return nil, nil, n.errf("axis %d is out of range for rank %d", axis, len(in.shape))
		}
		for k, d := range in.shape {
			if k == a {
				if keep != 0 {
					out.shape = append(out.shape, 1)
				}
				continue
			}
			out.shape = append(out.shape, d)
		}
		if out.shape == nil {
			out.shape = []int{}
		}
		if out.rows == rowsAxis0 && a == 0 {
			out.rows = rowsMixed
		}
	} else if out.rows == rowsAxis0 {
		out.rows = rowsMixed
	}
	return kernelFunc(func(rc *runCtx, ins []*tensor) ([]*tensor, error) {
		t := ins[0]
		a, ok := normAxis(axis, t.rank())
		if !ok {
			return nil, fmt.Errorf("axis %d is out of range for shape %s", axis, shapeString(t.shape))
		}
		if t.shape[a] == 0 {
			return nil, fmt.Errorf("cannot take the argmax over an empty axis")
		}
		var shape []int
		for k, d := range t.shape {
			if k == a {
				if keep != 0 {
					shape = append(shape, 1)
				}
				continue
			}
			shape = append(shape, d)
		}
		if shape == nil {
			shape = []int{}
		}
		o, err := newTensor(dtInt64, shape)
		if err != nil {
			return nil, err
		}
		outer, _ := numElems(t.shape[:a])
		inner, _ := numElems(t.shape[a+1:])
		length := t.shape[a]
		for p := 0; p < outer; p++ {
			for q := 0; q < inner; q++ {
				base := p*length*inner + q
				best := 0
				bv := t.float64At(base)
				for j := 1; j < length; j++ {
					v := t.float64At(base + j*inner)
					if v > bv || last != 0 && v == bv {
						best, bv = j, v
					}
				}
				o.i[p*inner+q] = int64(best)
			}
		}
		return []*tensor{o}, nil
	}), []vinfo{out}, nil
}
