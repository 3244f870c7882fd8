package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/actorserve/actorserve/serving/onnx/internal/pb"
)

// dtype is an element type the evaluator computes with.
type dtype uint8

const (
	dtUndefined dtype = iota
	dtFloat           // float32
	dtDouble          // float64
	dtInt64
	dtString
)

func (d dtype) String() string {
	switch d {
	case dtFloat:
		return "float"
	case dtDouble:
		return "double"
	case dtInt64:
		return "int64"
	case dtString:
		return "string"
	}
	return "undefined"
}

func (d dtype) numeric() bool { return d == dtFloat || d == dtDouble || d == dtInt64 }
func (d dtype) real() bool    { return d == dtFloat || d == dtDouble }

// dtypeOf maps an ONNX TensorProto data type to a dtype, or dtUndefined when the evaluator
// does not compute with it.
func dtypeOf(t int32) dtype {
	switch pb.TensorProto_DataType(t) {
	case pb.TensorProto_FLOAT:
		return dtFloat
	case pb.TensorProto_DOUBLE:
		return dtDouble
	case pb.TensorProto_INT64:
		return dtInt64
	case pb.TensorProto_STRING:
		return dtString
	}
	return dtUndefined
}

// onnxTypeName names an ONNX data type for errors.
func onnxTypeName(t int32) string {
	if n, ok := pb.TensorProto_DataType_name[t]; ok {
		return strings.ToLower(n)
	}
	return "data type " + strconv.Itoa(int(t))
}

// tensor is a dense tensor. Exactly one of the data slices is used, by dt. Tensors are
// immutable once built: kernels never write to their inputs, so constants can be shared by
// concurrent runs.
type tensor struct {
	dt    dtype
	shape []int
	f     []float32
	d     []float64
	i     []int64
	s     []string

	// A ZipMap output: a sequence (one per row of f) of maps from class key to probability.
	// seqMap marks it; the keys are intKeys or strKeys.
	seqMap  bool
	intKeys []int64
	strKeys []string
}

// numElems multiplies dims, reporting false when a dim is negative or the product exceeds
// MaxTensorElements.
func numElems(dims []int) (int, bool) {
	n := 1
	for _, d := range dims {
		if d < 0 {
			return 0, false
		}
		if d == 0 {
			n = 0
			continue
		}
		if n > MaxTensorElements/d {
			return 0, false
		}
		n *= d
	}
	if n > MaxTensorElements {
		return 0, false
	}
	return n, true
}

func (t *tensor) size() int {
	switch t.dt {
	case dtFloat:
		return len(t.f)
	case dtDouble:
		return len(t.d)
	case dtInt64:
		return len(t.i)
	case dtString:
		return len(t.s)
	}
	return 0
}

func (t *tensor) rank() int { return len(t.shape) }

// newTensor allocates a zero tensor of the given type and shape, failing when the shape is
// over the element limit.
func newTensor(dt dtype, shape []int) (*tensor, error) {
	n, ok := numElems(shape)
	if !ok {
		return nil, fmt.Errorf("tensor of shape %v is over the limit of %d elements", shape, MaxTensorElements)
	}
	t := &tensor{dt: dt, shape: shape}
	switch dt {
	case dtFloat:
		t.f = make([]float32, n)
	case dtDouble:
		t.d = make([]float64, n)
	case dtInt64:
		t.i = make([]int64, n)
	case dtString:
		t.s = make([]string, n)
	default:
		return nil, fmt.Errorf("cannot make a tensor of type %s", dt)
	}
	return t, nil
}

// withShape returns a tensor sharing t's data with another shape of the same size.
func (t *tensor) withShape(shape []int) *tensor {
	c := *t
	c.shape = shape
	return &c
}

// float64At returns element k of a numeric tensor as float64.
func (t *tensor) float64At(k int) float64 {
	switch t.dt {
	case dtFloat:
		return float64(t.f[k])
	case dtDouble:
		return t.d[k]
	case dtInt64:
		return float64(t.i[k])
	}
	return math.NaN()
}

// ints returns the elements of an int64 tensor (used for shapes, axes, indices).
func (t *tensor) ints() ([]int64, error) {
	if t.dt != dtInt64 {
		return nil, fmt.Errorf("want an int64 tensor, got %s", t.dt)
	}
	return t.i, nil
}

// asFloat32 returns the elements of a numeric tensor converted to float32 (shared, not
// copied, when t is already float).
func (t *tensor) asFloat32() []float32 {
	switch t.dt {
	case dtFloat:
		return t.f
	case dtDouble:
		out := make([]float32, len(t.d))
		for k, v := range t.d {
			out[k] = float32(v)
		}
		return out
	case dtInt64:
		out := make([]float32, len(t.i))
		for k, v := range t.i {
			out[k] = float32(v)
		}
		return out
	}
	return nil
}

// asFloat64 returns the elements of a numeric tensor converted to float64.
func (t *tensor) asFloat64() []float64 {
	switch t.dt {
	case dtDouble:
		return t.d
	case dtFloat:
		out := make([]float64, len(t.f))
		for k, v := range t.f {
			out[k] = float64(v)
		}
		return out
	case dtInt64:
		out := make([]float64, len(t.i))
		for k, v := range t.i {
			out[k] = float64(v)
		}
		return out
	}
	return nil
}

func shapeString(s []int) string {
	parts := make([]string, len(s))
	for k, d := range s {
		parts[k] = strconv.Itoa(d)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// tensorFromProto decodes an initializer or tensor attribute. It checks that the dims are
// non-negative and within MaxTensorElements and that the data holds exactly that many
// elements, before allocating anything. Data types other than float, double, int64 and
// string are converted when convertInts is set and they are integers (attribute tensors such
// as TreeEnsemble's uint8 nodes_modes), and rejected otherwise.
func tensorFromProto(tp *pb.TensorProto, convertInts bool) (*tensor, error) {
	if tp.GetDataLocation() == pb.TensorProto_EXTERNAL || len(tp.GetExternalData()) > 0 {
		return nil, fmt.Errorf("tensor %q keeps its data in an external file; save the model with all tensors inside it", tp.GetName())
	}
	if tp.GetSegment() != nil {
		return nil, fmt.Errorf("tensor %q is segmented; segments are not supported", tp.GetName())
	}
	dims := make([]int, len(tp.GetDims()))
	if len(dims) > maxRank {
		return nil, fmt.Errorf("tensor %q has rank %d, over the limit of %d", tp.GetName(), len(dims), maxRank)
	}
	for k, d := range tp.GetDims() {
		if d < 0 || d > MaxTensorElements {
			return nil, fmt.Errorf("tensor %q: dimension %d is %d, outside [0, %d] (the limit on tensor elements)", tp.GetName(), k, d, MaxTensorElements)
		}
		dims[k] = int(d)
	}
	n, ok := numElems(dims)
	if !ok {
		return nil, fmt.Errorf("tensor %q of shape %s is over the limit of %d elements", tp.GetName(), shapeString(dims), MaxTensorElements)
	}
	raw := tp.GetRawData()
	hasRaw := len(raw) > 0
	count := func(typed int) error {
		if hasRaw {
			return nil
		}
		if typed != n {
			return fmt.Errorf("tensor %q of shape %s has %d values, want %d", tp.GetName(), shapeString(dims), typed, n)
		}
		return nil
	}
	rawLen := func(size int) error {
		if len(raw) != n*size {
			return fmt.Errorf("tensor %q of shape %s has %d bytes of raw data, want %d", tp.GetName(), shapeString(dims), len(raw), n*size)
		}
		return nil
	}
	t := &tensor{shape: dims}
	dt := pb.TensorProto_DataType(tp.GetDataType())
	switch dt {
	case pb.TensorProto_FLOAT:
		t.dt = dtFloat
		if hasRaw {
			if err := rawLen(4); err != nil {
				return nil, err
			}
			t.f = make([]float32, n)
			for k := range t.f {
				t.f[k] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*k:]))
			}
		} else {
			if err := count(len(tp.GetFloatData())); err != nil {
				return nil, err
			}
			t.f = tp.GetFloatData()
		}
	case pb.TensorProto_DOUBLE:
		t.dt = dtDouble
		if hasRaw {
			if err := rawLen(8); err != nil {
				return nil, err
			}
			t.d = make([]float64, n)
			for k := range t.d {
				t.d[k] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*k:]))
			}
		} else {
			if err := count(len(tp.GetDoubleData())); err != nil {
				return nil, err
			}
			t.d = tp.GetDoubleData()
		}
	case pb.TensorProto_INT64:
		t.dt = dtInt64
		if hasRaw {
			if err := rawLen(8); err != nil {
				return nil, err
			}
			t.i = make([]int64, n)
			for k := range t.i {
				t.i[k] = int64(binary.LittleEndian.Uint64(raw[8*k:]))
			}
		} else {
			if err := count(len(tp.GetInt64Data())); err != nil {
				return nil, err
			}
			t.i = tp.GetInt64Data()
		}
	case pb.TensorProto_STRING:
		t.dt = dtString
		if hasRaw {
			return nil, fmt.Errorf("string tensor %q has raw data; strings belong in string_data", tp.GetName())
		}
		if err := count(len(tp.GetStringData())); err != nil {
			return nil, err
		}
		t.s = make([]string, n)
		for k, b := range tp.GetStringData() {
			if !utf8.Valid(b) {
				return nil, fmt.Errorf("string tensor %q: element %d is not UTF-8", tp.GetName(), k)
			}
			t.s[k] = string(b)
		}
	case pb.TensorProto_INT32, pb.TensorProto_UINT8, pb.TensorProto_INT8, pb.TensorProto_UINT16,
		pb.TensorProto_INT16, pb.TensorProto_BOOL:
		if !convertInts {
			return nil, fmt.Errorf("tensor %q has data type %s; supported: float, double, int64, string", tp.GetName(), onnxTypeName(tp.GetDataType()))
		}
		t.dt = dtInt64
		t.i = make([]int64, n)
		if hasRaw {
			size := map[pb.TensorProto_DataType]int{pb.TensorProto_INT32: 4, pb.TensorProto_UINT8: 1, pb.TensorProto_INT8: 1,
				pb.TensorProto_UINT16: 2, pb.TensorProto_INT16: 2, pb.TensorProto_BOOL: 1}[dt]
			if err := rawLen(size); err != nil {
				return nil, err
			}
			for k := range t.i {
				switch dt {
				case pb.TensorProto_INT32:
					t.i[k] = int64(int32(binary.LittleEndian.Uint32(raw[4*k:])))
				case pb.TensorProto_UINT8, pb.TensorProto_BOOL:
					t.i[k] = int64(raw[k])
				case pb.TensorProto_INT8:
					t.i[k] = int64(int8(raw[k]))
				case pb.TensorProto_UINT16:
					t.i[k] = int64(binary.LittleEndian.Uint16(raw[2*k:]))
				case pb.TensorProto_INT16:
					t.i[k] = int64(int16(binary.LittleEndian.Uint16(raw[2*k:])))
				}
			}
		} else {
			// These types are stored in int32_data.
			if err := count(len(tp.GetInt32Data())); err != nil {
				return nil, err
			}
			for k, v := range tp.GetInt32Data() {
				t.i[k] = int64(v)
			}
		}
	default:
		return nil, fmt.Errorf("tensor %q has data type %s; supported: float, double, int64, string", tp.GetName(), onnxTypeName(tp.GetDataType()))
	}
	return t, nil
}
