package onnx

import (
	"fmt"
	"slices"
)

// Static (load-time) shape helpers. A static shape is nil when its rank is unknown; its dims
// are known sizes, dimUnknown or dimBatch.

func knownDim(d int) bool { return d >= 0 }

// staticBroadcast applies numpy broadcasting to static shapes. It fails only when two known
// dims differ and neither is 1, or when a known dim above 1 meets the batch dim (that model
// could only score batches of exactly that size).
func staticBroadcast(a, b []int) ([]int, error) {
	if a == nil || b == nil {
		return nil, nil
	}
	r := max(len(a), len(b))
	out := make([]int, r)
	for k := range r {
		da, db := 1, 1
		if i := k - (r - len(a)); i >= 0 {
			da = a[i]
		}
		if i := k - (r - len(b)); i >= 0 {
			db = b[i]
		}
		switch {
		case da == db:
			out[k] = da
		case da == 1:
			out[k] = db
		case db == 1:
			out[k] = da
		case da == dimBatch && knownDim(db), db == dimBatch && knownDim(da):
			return nil, fmt.Errorf("shapes %s and %s do not broadcast: the batch dimension meets a fixed %d", staticString(a), staticString(b), max(da, db))
		case da == dimUnknown || db == dimUnknown:
			if knownDim(da) && da > 1 {
				out[k] = da
			} else if knownDim(db) && db > 1 {
				out[k] = db
			} else {
				out[k] = dimUnknown
			}
		case da == dimBatch || db == dimBatch:
			out[k] = dimBatch
		default:
			return nil, fmt.Errorf("shapes %s and %s do not broadcast", staticString(a), staticString(b))
		}
	}
	return out, nil
}

func staticString(s []int) string {
	if s == nil {
		return "[?]"
	}
	b := []byte{'['}
	for k, d := range s {
		if k > 0 {
			b = append(b, ',')
		}
		switch d {
		case dimBatch:
			b = append(b, 'N')
		case dimUnknown:
			b = append(b, '?')
		default:
			b = fmt.Append(b, d)
		}
	}
	return string(append(b, ']'))
}

// staticProduct multiplies dims, reporting false if one is not known.
func staticProduct(s []int) (int, bool) {
	p := 1
	for _, d := range s {
		if !knownDim(d) {
			return 0, false
		}
		p *= d
		if p > MaxTensorElements {
			return 0, false
		}
	}
	return p, true
}

// normAxis maps a possibly negative axis into [0, rank).
func normAxis(axis int64, rank int) (int, bool) {
	if axis < 0 {
		axis += int64(rank)
	}
	if axis < 0 || axis >= int64(rank) {
		return 0, false
	}
	return int(axis), true
}

// broadcastShape is the run-time numpy broadcast of two shapes.
func broadcastShape(a, b []int) ([]int, error) {
	r := max(len(a), len(b))
	out := make([]int, r)
	for k := range r {
		da, db := 1, 1
		if i := k - (r - len(a)); i >= 0 {
			da = a[i]
		}
		if i := k - (r - len(b)); i >= 0 {
			db = b[i]
		}
		switch {
		case da == db:
			out[k] = da
		case da == 1:
			out[k] = db
		case db == 1:
			out[k] = da
		default:
			return nil, fmt.Errorf("shapes %s and %s do not broadcast", shapeString(a), shapeString(b))
		}
	}
	if _, ok := numElems(out); !ok {
		return nil, fmt.Errorf("broadcast shape %s is over the limit of %d elements", shapeString(out), MaxTensorElements)
	}
	return out, nil
}

// bcastStrides returns, for each dim of the output shape out, the stride of a tensor of
// shape s broadcast to it (0 where s is broadcast).
func bcastStrides(s, out []int) []int {
	st := make([]int, len(out))
	stride := 1
	for k := len(s) - 1; k >= 0; k-- {
		o := k + len(out) - len(s)
		if s[k] != 1 {
			st[o] = stride
		}
		stride *= s[k]
	}
	return st
}

// broadcastIndex walks the output of shape out in order and calls f with the element
// indices of a and b (of shapes as and bs).
func broadcastIndex(as, bs, out []int, f func(o, ia, ib int)) {
	n, _ := numElems(out)
	if n == 0 {
		return
	}
	sa, sb := bcastStrides(as, out), bcastStrides(bs, out)
	r := len(out)
	idx := make([]int, r)
	ia, ib := 0, 0
	for o := 0; o < n; o++ {
		f(o, ia, ib)
		for k := r - 1; k >= 0; k-- {
			idx[k]++
			ia += sa[k]
			ib += sb[k]
			if idx[k] < out[k] {
				break
			}
			ia -= sa[k] * idx[k]
			ib -= sb[k] * idx[k]
			idx[k] = 0
		}
	}
}

// rowsBroadcast is the row dependency of a broadcasting operator's output of static shape
// out: row-wise when every input that depends on the rows has the output's rank (so its batch
// axis is the output's axis 0).
func rowsBroadcast(n *node, out []int) rowDep {
	r := n.rows()
	if r != rowsAxis0 {
		return r
	}
	if out == nil {
		return rowsMixed
	}
	for _, v := range n.in {
		if v == nil || v.rows == rowsNone {
			continue
		}
		if v.shape == nil || len(v.shape) != len(out) {
			return rowsMixed
		}
	}
	return rowsAxis0
}

func cloneShape(s []int) []int { return slices.Clone(s) }
