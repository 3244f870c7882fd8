package onnx

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/actorserve/actorserve/serving"
	"github.com/actorserve/actorserve/serving/onnx/internal/pb"
)

// Operator domains.
const (
	domainDefault = "ai.onnx"
	domainML      = "ai.onnx.ml"
)

// Dimension markers in static shapes.
const (
	dimUnknown = -1 // a dimension not known at load time
	dimBatch   = -2 // the batch dimension: the number of rows scored together
)

// rowDep says how a value depends on the rows of a batch.
type rowDep uint8

const (
	rowsNone  rowDep = iota // a constant: does not depend on the input at all
	rowsAxis0               // axis 0 is the batch axis and row r depends only on input row r
	rowsMixed               // depends on the input in another way: score one row per run
)

// vinfo is what the loader knows about a value before running the graph.
type vinfo struct {
	dt    dtype
	seq   bool    // a ZipMap output: a sequence of maps, not a tensor
	shape []int   // nil when the rank is unknown; dims may be dimUnknown or dimBatch
	konst *tensor // the value, when it is known at load time
	rows  rowDep

	// Set by classifier operators on their outputs (and kept by Identity), for the
	// prediction head: the class labels, and whether labels are strings.
	classes   []string
	regressor bool // produced by a regressor operator (LinearRegressor, TreeEnsembleRegressor, ...)
	pairwise  bool // SVMClassifier decision values: one per pair of classes, not per class
}

// kernel is one operator with its attributes decoded. run must not modify its inputs (they
// may be constants shared by concurrent runs) and returns one tensor per node output; it
// charges heavy loops to rc.work first.
type kernel interface {
	run(rc *runCtx, in []*tensor) ([]*tensor, error)
}

// kernelFunc adapts a function to kernel.
type kernelFunc func(rc *runCtx, in []*tensor) ([]*tensor, error)

func (f kernelFunc) run(rc *runCtx, in []*tensor) ([]*tensor, error) { return f(rc, in) }

// runCtx is the state of one graph run: what is left of its budgets.
type runCtx struct {
	elements int // tensor elements it may still compute (MaxRunElements)
	ops      int // multiply-adds or tree-node visits it may still do (MaxRunWork)
}

func newRunCtx() *runCtx { return &runCtx{elements: MaxRunElements, ops: MaxRunWork} }

// work charges an m×n×k loop (multiply-adds, kernel evaluations, node visits) to the run:
// an error when one operator would do more than maxWork or the run more than MaxRunWork.
func (rc *runCtx) work(m, n, k int) error {
	if m <= 0 || n <= 0 || k <= 0 {
		return nil
	}
	if m > maxWork/n || m*n > maxWork/k {
		return fmt.Errorf("a %d×%d×%d computation is over the limit of %d operations per operator", m, n, k, maxWork)
	}
	if rc.ops -= m * n * k; rc.ops < 0 {
		return fmt.Errorf("the run does more than %d operations", MaxRunWork)
	}
	return nil
}

// opDef describes one operator: its arity and how to build its kernel.
type opDef struct {
	minIn, maxIn   int // maxIn < 0: variadic
	minOut, maxOut int
	build          func(n *node) (kernel, []vinfo, error)
}

// registry returns the operator table of a domain.
func opTable(domain string) map[string]opDef {
	switch domain {
	case domainDefault:
		return defaultOps
	case domainML:
		return mlOps
	}
	return nil
}

// node is a NodeProto being built: its inputs' static info and its attributes.
type node struct {
	p      *pb.NodeProto
	domain string
	ver    int64    // the opset version of the node's domain
	in     []*vinfo // nil for an absent optional input
	nout   int
	attrs  map[string]*pb.AttributeProto
}

func (n *node) label() string {
	op := n.p.GetOpType()
	if n.domain == domainML {
		op = domainML + "." + op
	}
	if n.p.GetName() == "" {
		return fmt.Sprintf("node %s (outputs %s)", op, strings.Join(n.p.GetOutput(), ", "))
	}
	return fmt.Sprintf("node %q (%s)", n.p.GetName(), op)
}

// errf reports a problem with the node at load time.
func (n *node) errf(format string, args ...any) error {
	return fmt.Errorf("%w: onnx: %s: %s", serving.ErrInvalidModel, n.label(), fmt.Sprintf(format, args...))
}

func loadErr(format string, args ...any) error {
	return fmt.Errorf("%w: onnx: %s", serving.ErrInvalidModel, fmt.Sprintf(format, args...))
}

// input returns input k, or nil when it is absent.
func (n *node) input(k int) *vinfo {
	if k < len(n.in) {
		return n.in[k]
	}
	return nil
}

// rows returns the combined row dependency of the inputs for an operator that is row-wise
// (row r of every output depends only on row r of its inputs) when each input that depends
// on the rows has its batch axis first.
func (n *node) rows() rowDep {
	r := rowsNone
	for _, v := range n.in {
		if v != nil && v.rows > r {
			r = v.rows
		}
	}
	return r
}

// graph is a loaded, immutable computation graph in topological order.
type graph struct {
	nslots  int
	consts  []*tensor // per slot: the constant value, or nil for a computed one
	inputs  []graphInput
	steps   []step
	outputs []graphOutput
}

type graphInput struct {
	name string
	slot int
	dt   dtype
	dims []int // static shape; dims[0] may be dimBatch
	info *vinfo
}

type graphOutput struct {
	name string
	slot int
	info *vinfo
}

type step struct {
	k    kernel
	desc string // the node, for errors
	in   []int  // slots; -1 for an absent optional input
	out  []int
}

// run evaluates the graph on feeds (one tensor per graph input) and returns its outputs.
// Errors wrap serving.ErrModel and name the node that failed.
func (g *graph) run(feeds []*tensor) ([]*tensor, error) {
	vals := make([]*tensor, g.nslots)
	copy(vals, g.consts)
	for k, in := range g.inputs {
		vals[in.slot] = feeds[k]
	}
	var buf [8]*tensor
	rc := newRunCtx()
	for i := range g.steps {
		s := &g.steps[i]
		ins := buf[:0]
		for _, sl := range s.in {
			if sl < 0 {
				ins = append(ins, nil)
			} else {
				ins = append(ins, vals[sl])
			}
		}
		outs, err := s.k.run(rc, ins)
		if err != nil {
			return nil, fmt.Errorf("%w: onnx: %s: %w", serving.ErrModel, s.desc, err)
		}
		if len(outs) < len(s.out) {
			return nil, fmt.Errorf("%w: onnx: %s produced %d outputs, want %d", serving.ErrModel, s.desc, len(outs), len(s.out))
		}
		for k, sl := range s.out {
			t := outs[k]
			if t == nil {
				return nil, fmt.Errorf("%w: onnx: %s produced no output %d", serving.ErrModel, s.desc, k)
			}
			n := t.size()
			if t.dt == dtString {
				n *= 2 // a string header is two words
			}
			if rc.elements -= n; rc.elements < 0 {
				return nil, fmt.Errorf("%w: onnx: %s: the run computes more than %d tensor elements", serving.ErrModel, s.desc, MaxRunElements)
			}
			vals[sl] = t
		}
	}
	res := make([]*tensor, len(g.outputs))
	for k, o := range g.outputs {
		res[k] = vals[o.slot]
	}
	return res, nil
}

// opsets maps a domain to its imported version.
type opsets map[string]int64

func normDomain(d string) string {
	if d == "" || d == "ai.onnx" {
		return domainDefault
	}
	return d
}

// buildGraph checks a ModelProto and builds its graph: every operator must be supported (the
// error lists the unsupported ones with their domains), every node input must be produced
// exactly once, initializers must decode, and the node attributes and input types must suit
// each operator. Nodes whose inputs are all constants are evaluated here.
func buildGraph(mp *pb.ModelProto) (*graph, error) {
	gp := mp.GetGraph()
	if gp == nil {
		return nil, loadErr("the model has no graph")
	}
	if len(mp.GetFunctions()) > 0 {
		return nil, loadErr("model-local functions are not supported")
	}
	ops := opsets{}
	for _, o := range mp.GetOpsetImport() {
		ops[normDomain(o.GetDomain())] = o.GetVersion()
	}
	if len(mp.GetOpsetImport()) == 0 {
		ops[domainDefault] = 1 // IR version 1 models have no opset import
	}
	if n := len(gp.GetNode()); n > MaxNodes {
		return nil, loadErr("graph has %d nodes, over the limit of %d", n, MaxNodes)
	}

	// Unsupported operators first, all of them, so that one load tells the whole story.
	var unsupported []string
	for _, np := range gp.GetNode() {
		dom := normDomain(np.GetDomain())
		tab := opTable(dom)
		if _, ok := tab[np.GetOpType()]; !ok {
			name := fmt.Sprintf("%s (domain %s)", np.GetOpType(), dom)
			if !slices.Contains(unsupported, name) {
				unsupported = append(unsupported, name)
			}
		}
	}
	if len(unsupported) > 0 {
		sort.Strings(unsupported)
		return nil, fmt.Errorf("%w: onnx: unsupported operator%s: %s (supported: %s)", serving.ErrInvalidModel,
			plural(len(unsupported)), strings.Join(unsupported, ", "), supportedOps())
	}
	for _, np := range gp.GetNode() {
		dom := normDomain(np.GetDomain())
		if _, ok := ops[dom]; !ok {
			return nil, loadErr("node %q (%s) uses domain %s, which the model does not import (opset_import)", np.GetName(), np.GetOpType(), dom)
		}
	}
	if len(gp.GetSparseInitializer()) > 0 {
		return nil, loadErr("sparse initializers are not supported")
	}

	g := &graph{}
	slots := map[string]int{}
	infos := []*vinfo{}
	newSlot := func(name string, v *vinfo) int {
		s := len(infos)
		slots[name] = s
		infos = append(infos, v)
		g.consts = append(g.consts, v.konst)
		return s
	}

	for _, tp := range gp.GetInitializer() {
		name := tp.GetName()
		if name == "" {
			return nil, loadErr("an initializer has no name")
		}
		if _, dup := slots[name]; dup {
			return nil, loadErr("initializer %q is defined twice", name)
		}
		t, err := tensorFromProto(tp, false)
		if err != nil {
			return nil, loadErr("initializer %q: %s", name, err.Error())
		}
		newSlot(name, &vinfo{dt: t.dt, shape: slices.Clone(t.shape), konst: t})
	}
	for _, vi := range gp.GetInput() {
		name := vi.GetName()
		if name == "" {
			return nil, loadErr("a graph input has no name")
		}
		if _, isInit := slots[name]; isInit {
			continue // an initializer listed as an input (IR < 4): a constant here
		}
		in, err := graphInputOf(vi)
		if err != nil {
			return nil, err
		}
		in.slot = newSlot(name, in.info)
		g.inputs = append(g.inputs, in)
	}
	if len(g.inputs) == 0 {
		return nil, loadErr("graph has no inputs besides initializers")
	}

	// Topological order (Kahn), keeping the file order among ready nodes.
	nodes := gp.GetNode()
	producer := map[string]int{}
	for i, np := range nodes {
		for _, o := range np.GetOutput() {
			if o == "" {
				continue
			}
			if _, dup := slots[o]; dup {
				return nil, loadErr("node %q (%s) writes %q, which is a graph input or initializer", np.GetName(), np.GetOpType(), o)
			}
			if j, dup := producer[o]; dup {
				return nil, loadErr("value %q is produced by two nodes (%q and %q)", o, nodes[j].GetName(), np.GetName())
			}
			producer[o] = i
		}
	}
	waiting := make([]int, len(nodes))
	users := map[string][]int{}
	for i, np := range nodes {
		for _, in := range np.GetInput() {
			if in == "" {
				continue
			}
			if _, ok := slots[in]; ok {
				continue
			}
			if _, ok := producer[in]; !ok {
				return nil, loadErr("node %q (%s) reads %q, which no node, input or initializer provides", np.GetName(), np.GetOpType(), in)
			}
			waiting[i]++
			users[in] = append(users[in], i)
		}
	}
	var ready []int
	for i := range nodes {
		if waiting[i] == 0 {
			ready = append(ready, i)
		}
	}
	order := make([]int, 0, len(nodes))
	for len(ready) > 0 {
		i := ready[0]
		ready = ready[1:]
		order = append(order, i)
		for _, o := range nodes[i].GetOutput() {
			for _, u := range users[o] {
				if waiting[u]--; waiting[u] == 0 {
					ready = append(ready, u)
				}
			}
		}
	}
	if len(order) != len(nodes) {
		for i, w := range waiting {
			if w > 0 {
				return nil, loadErr("the graph has a cycle through node %q (%s)", nodes[i].GetName(), nodes[i].GetOpType())
			}
		}
	}

	fold := newRunCtx() // constant folding shares one run's budgets
	for _, i := range order {
		np := nodes[i]
		dom := normDomain(np.GetDomain())
		def := opTable(dom)[np.GetOpType()]
		n := &node{p: np, domain: dom, ver: ops[dom], nout: len(np.GetOutput()), attrs: map[string]*pb.AttributeProto{}}
		for _, a := range np.GetAttribute() {
			if a.GetRefAttrName() != "" {
				return nil, n.errf("attribute %q refers to a function attribute; functions are not supported", a.GetName())
			}
			n.attrs[a.GetName()] = a
		}
		nin := len(np.GetInput())
		if nin < def.minIn || (def.maxIn >= 0 && nin > def.maxIn) {
			return nil, n.errf("has %d inputs, want %s", nin, arity(def.minIn, def.maxIn))
		}
		if n.nout < def.minOut || n.nout > def.maxOut {
			return nil, n.errf("has %d outputs, want %s", n.nout, arity(def.minOut, def.maxOut))
		}
		var inSlots []int
		for k, in := range np.GetInput() {
			if in == "" {
				if k < def.minIn {
					return nil, n.errf("input %d is required", k)
				}
				n.in = append(n.in, nil)
				inSlots = append(inSlots, -1)
				continue
			}
			s := slots[in]
			n.in = append(n.in, infos[s])
			inSlots = append(inSlots, s)
		}
		for k, v := range n.in {
			if v != nil && v.seq {
				return nil, n.errf("input %d (%q) is a sequence of maps (a ZipMap output); only graph outputs may be", k, np.GetInput()[k])
			}
		}
		k, outs, err := def.build(n)
		if err != nil {
			return nil, err
		}
		if len(outs) < n.nout {
			return nil, n.errf("internal error: built %d outputs for %d", len(outs), n.nout)
		}
		// Constant folding: a node whose inputs are all known is evaluated now.
		konst := n.rows() == rowsNone
		for _, v := range n.in {
			if v != nil && v.konst == nil {
				konst = false
			}
		}
		var folded []*tensor
		if konst {
			ins := make([]*tensor, len(n.in))
			for k, v := range n.in {
				if v != nil {
					ins[k] = v.konst
				}
			}
			folded, err = k.run(fold, ins)
			if err != nil {
				return nil, n.errf("evaluating on constant inputs: %s", err.Error())
			}
			for _, t := range folded {
				if t != nil {
					if fold.elements -= t.size(); fold.elements < 0 {
						return nil, n.errf("constant folding computes more than %d tensor elements", MaxRunElements)
					}
				}
			}
		}
		var outSlots []int
		for j, o := range np.GetOutput() {
			v := outs[j]
			if konst {
				v.konst = folded[j]
				v.shape = slices.Clone(folded[j].shape)
				v.rows = rowsNone
			}
			if o == "" {
				o = "\x00unused" + strconv.Itoa(len(infos)) // an unused output still needs a slot
			}
			outSlots = append(outSlots, newSlot(o, &v))
		}
		if !konst {
			g.steps = append(g.steps, step{k: k, desc: n.label(), in: inSlots, out: outSlots})
		}
	}

	if len(gp.GetOutput()) == 0 {
		return nil, loadErr("graph has no outputs")
	}
	for _, vo := range gp.GetOutput() {
		s, ok := slots[vo.GetName()]
		if !ok {
			return nil, loadErr("graph output %q is not produced by any node", vo.GetName())
		}
		g.outputs = append(g.outputs, graphOutput{name: vo.GetName(), slot: s, info: infos[s]})
	}
	g.nslots = len(infos)
	return g, nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func arity(lo, hi int) string {
	switch {
	case hi < 0:
		return fmt.Sprintf("at least %d", lo)
	case lo == hi:
		return strconv.Itoa(lo)
	}
	return fmt.Sprintf("%d to %d", lo, hi)
}

// supportedOps lists the operators this package implements.
func supportedOps() string {
	var names []string
	for k := range defaultOps {
		names = append(names, k)
	}
	for k := range mlOps {
		names = append(names, domainML+"."+k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// graphInputOf reads a graph input's type: a tensor of float, double or int64 whose first
// dimension is the batch (symbolic, or 1) and whose other dimensions are known.
func graphInputOf(vi *pb.ValueInfoProto) (graphInput, error) {
	name := vi.GetName()
	tt := vi.GetType().GetTensorType()
	if tt == nil {
		return graphInput{}, loadErr("graph input %q is not a tensor; inputs must be tensors of numbers", name)
	}
	dt := dtypeOf(tt.GetElemType())
	if dt == dtUndefined {
		return graphInput{}, loadErr("graph input %q has element type %s; supported: float, double, int64 (and string inside graphs)", name, onnxTypeName(tt.GetElemType()))
	}
	if tt.GetShape() == nil {
		return graphInput{}, loadErr("graph input %q has no shape; want [batch, features]", name)
	}
	dims := tt.GetShape().GetDim()
	if len(dims) < 1 || len(dims) > maxRank {
		return graphInput{}, loadErr("graph input %q has rank %d; want [batch, features...]", name, len(dims))
	}
	shape := make([]int, len(dims))
	for k, d := range dims {
		v, isVal := d.GetValue().(*pb.TensorShapeProto_Dimension_DimValue)
		switch {
		case k == 0 && (!isVal || v.DimValue == 1 && len(dims) > 1):
			shape[0] = dimBatch
			if isVal {
				shape[0] = 1 // a fixed batch of one: rows are scored one per run
			}
		case !isVal:
			return graphInput{}, loadErr("graph input %q: dimension %d (%q) is not fixed; only the first (batch) dimension may be symbolic", name, k, d.GetDimParam())
		case v.DimValue < 1 || v.DimValue > MaxTensorElements:
			return graphInput{}, loadErr("graph input %q: dimension %d is %d", name, k, v.DimValue)
		default:
			shape[k] = int(v.DimValue)
		}
	}
	if len(dims) == 1 && shape[0] == dimBatch {
		// [N]: one feature per row.
		shape = []int{dimBatch}
	}
	info := &vinfo{dt: dt, shape: shape, rows: rowsAxis0}
	if shape[0] == 1 || len(dims) == 1 && shape[0] != dimBatch {
		info.rows = rowsMixed // a fixed shape: no batch axis to score rows together
	}
	return graphInput{name: name, dt: dt, dims: shape, info: info}, nil
}
