package mojo

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Node kinds of a decoded tree.
const (
	kindLeaf     uint8 = iota
	kindNumeric        // right iff x >= split
	kindBitset         // right iff bit x is set
	kindNAvsRest       // any value left, NaN per the NA direction
)

// node is one decoded tree node. Trees are decoded once at load into a flat slice; the
// scoring walk follows child indices instead of re-reading the byte encoding.
type node struct {
	value  float64 // split threshold (float32 widened), or the leaf value
	kind   uint8
	naLeft bool  // NaN (and out-of-range categoricals) go left
	bsIdx  int32 // kindBitset, and NAvsREST nodes with a bitset flag: index into forest.bitsets, -1 none
	col    int32
	domLen int32 // levels of the split column for MOJO >= 1.2, -1 when numeric or older
	left   int32
	right  int32
}

// bitset is one categorical split's set: bits [off, off+n) stored from bytes[start].
type bitset struct {
	start int32
	off   int32
	n     int32
}

// forest holds a tree model's decoded trees: trees[k] are class k's trees in group order
// (empty trees left out), each a root index into nodes.
type forest struct {
	nodes   []node
	bitsets []bitset
	bits    []byte
	trees   [][]int32
	groups  int // n_trees
	scheme  int // tree encoding: 0 for MOJO 1.0, 1 for 1.1, 2 for 1.2 and later
}

// decoder decodes one tree's bytes into a forest.
type decoder struct {
	f       *forest
	b       []byte
	name    string
	domains [][]string
}

func (d *decoder) errf(pos int, format string, args ...any) error {
	return loadErr("%s: byte %d: %s", d.name, pos, fmt.Sprintf(format, args...))
}

func (d *decoder) need(pos, n int) error {
	if pos < 0 || n < 0 || pos > len(d.b)-n {
		return d.errf(pos, "tree data ends early (%d bytes)", len(d.b))
	}
	return nil
}

func (d *decoder) u16(pos int) int { return int(binary.LittleEndian.Uint16(d.b[pos:])) }
func (d *decoder) f32(pos int) float64 {
	return float64(math.Float32frombits(binary.LittleEndian.Uint32(d.b[pos:])))
}

// addNode appends n and returns its index, within the MaxNodes budget.
func (d *decoder) addNode(n node) (int32, error) {
	if len(d.f.nodes) >= MaxNodes {
		return 0, loadErr("trees have more than %d nodes", MaxNodes)
	}
	d.f.nodes = append(d.f.nodes, n)
	return int32(len(d.f.nodes) - 1), nil
}

func (d *decoder) leaf(pos int) (int32, error) {
	if err := d.need(pos, 4); err != nil {
		return 0, err
	}
	return d.addNode(node{kind: kindLeaf, value: d.f32(pos), col: -1})
}

// decode decodes the subtree whose node starts at pos. Children start strictly after their
// parent, so there is no cycle; depth and the node budget bound the work.
func (d *decoder) decode(pos, depth int) (int32, error) {
	if depth > MaxTreeDepth {
		return 0, d.errf(pos, "tree is deeper than %d levels", MaxTreeDepth)
	}
	if err := d.need(pos, 3); err != nil {
		return 0, err
	}
	nodeType := int(d.b[pos])
	col := d.u16(pos + 1)
	p := pos + 3
	if col == 0xFFFF {
		return d.leaf(p)
	}
	if col >= len(d.domains) {
		return 0, d.errf(pos, "split on column %d, the model has %d features", col, len(d.domains))
	}
	if err := d.need(p, 1); err != nil {
		return 0, err
	}
	naDir := d.b[p]
	p++
	n := node{col: int32(col), bsIdx: -1, domLen: -1}
	n.naLeft = naDir == 2 || naDir == 4
	naVsRest := naDir == 1
	lmask := nodeType & 51
	equal := nodeType & 12
	if equal == 4 {
		return 0, d.errf(pos, "node type %#x uses the retired equality split", nodeType)
	}
	if d.f.scheme >= 2 && d.domains[col] != nil {
		n.domLen = int32(len(d.domains[col]))
	}
	switch {
	case naVsRest:
		n.kind = kindNAvsRest
	case equal == 0:
		if err := d.need(p, 4); err != nil {
			return 0, err
		}
		n.kind, n.value = kindNumeric, d.f32(p)
		p += 4
	default:
		n.kind = kindBitset
		bs := bitset{off: 0, n: 32}
		var nbytes int
		switch {
		case equal == 8:
			nbytes = 4
		case d.f.scheme >= 2:
			if err := d.need(p, 6); err != nil {
				return 0, err
			}
			bs.off = int32(d.u16(p))
			nbits := int32(binary.LittleEndian.Uint32(d.b[p+2:]))
			if nbits < 0 {
				return 0, d.errf(p, "bitset of %d bits", nbits)
			}
			bs.n = nbits
			nbytes = int((nbits-1)>>3) + 1
			p += 6
		default: // MOJO 1.0 and 1.1: the bitset's size is in bytes
			if err := d.need(p, 4); err != nil {
				return 0, err
			}
			bs.off = int32(d.u16(p))
			nbytes = d.u16(p + 2)
			bs.n = int32(nbytes) * 8
			p += 4
		}
		if err := d.need(p, nbytes); err != nil {
			return 0, err
		}
		if len(d.f.bitsets) >= MaxNodes || len(d.f.bits)+nbytes > MaxUncompressedBytes {
			return 0, loadErr("trees hold too many bitsets")
		}
		bs.start = int32(len(d.f.bits))
		d.f.bits = append(d.f.bits, d.b[p:p+nbytes]...)
		n.bsIdx = int32(len(d.f.bitsets))
		d.f.bitsets = append(d.f.bitsets, bs)
		p += nbytes
	}
	if naVsRest && equal != 0 {
		n.bsIdx = -2 // genmodel tests the range of the last bitset seen on the path
	}

	// Left child: a subtree of lmask+1 size bytes, or an inline leaf.
	var leftPos, rightPos int
	leftLeaf := false
	switch lmask {
	case 0, 1, 2, 3:
		size := lmask + 1
		if err := d.need(p, size); err != nil {
			return 0, err
		}
		var skip uint32
		for i := range size {
			skip |= uint32(d.b[p+i]) << (8 * i)
		}
		if int32(skip) < 0 {
			return 0, d.errf(p, "left subtree size %d is negative", int32(skip))
		}
		leftPos = p + size
		rightPos = leftPos + int(skip)
	case 48:
		leftLeaf = true
		leftPos = p
		rightPos = p + 4
	default:
		return 0, d.errf(pos, "node type %#x has an invalid left-child mask %d", nodeType, lmask)
	}
	rightLeaf := (nodeType&0xC0)>>2&16 != 0

	idx, err := d.addNode(n)
	if err != nil {
		return 0, err
	}
	var l, r int32
	if leftLeaf {
		l, err = d.leaf(leftPos)
	} else {
		l, err = d.decode(leftPos, depth+1)
	}
	if err != nil {
		return 0, err
	}
	if rightLeaf {
		r, err = d.leaf(rightPos)
	} else {
		r, err = d.decode(rightPos, depth+1)
	}
	if err != nil {
		return 0, err
	}
	d.f.nodes[idx].left, d.f.nodes[idx].right = l, r
	return idx, nil
}

// javaInt is Java's (int) cast of a double: truncation, saturating, NaN to 0.
func javaInt(v float64) int32 {
	switch {
	case v != v:
		return 0
	case v >= math.MaxInt32:
		return math.MaxInt32
	case v <= math.MinInt32:
		return math.MinInt32
	}
	return int32(v)
}

// inRange reports whether category c falls inside bitset bs.
func (bs *bitset) inRange(c int32) bool {
	i := int64(c) - int64(bs.off)
	return i >= 0 && i < int64(bs.n)
}

// contains reports whether bit c is set; c outside the set is not.
func (f *forest) contains(bs *bitset, c int32) bool {
	i := int64(c) - int64(bs.off)
	if i < 0 || i >= int64(bs.n) {
		return false
	}
	return f.bits[int64(bs.start)+i>>3]&(1<<(i&7)) != 0
}

// leafValue walks the tree rooted at i for row and returns its leaf value, deciding each
// split as genmodel's scoreTree (MOJO >= 1.2), scoreTree1 (1.1) or scoreTree0 (1.0) does.
func (f *forest) leafValue(i int32, row []float64) float64 {
	nodes := f.nodes
	var last *bitset // the most recent bitset on the path, as genmodel's reused GenmodelBitSet
	for {
		n := &nodes[i]
		if n.kind == kindLeaf {
			return n.value
		}
		var bs *bitset
		if n.bsIdx >= 0 {
			bs = &f.bitsets[n.bsIdx]
			last = bs
		} else if n.bsIdx == -2 {
			bs = last
		}
		d := row[n.col]
		var right bool
		if d != d {
			right = !n.naLeft
		} else {
			c := javaInt(d)
			switch {
			case f.scheme >= 1 && bs != nil && !bs.inRange(c),
				n.domLen >= 0 && n.domLen <= c:
				right = !n.naLeft
			case n.kind == kindNAvsRest:
				right = false
			case n.kind == kindNumeric:
				right = d >= n.value
			default:
				right = f.contains(bs, c)
			}
		}
		if right {
			i = n.right
		} else {
			i = n.left
		}
	}
}

// sums adds every tree's leaf value into preds[off+k] for class k, groups in order.
func (f *forest) sums(row, preds []float64, off int) {
	for k, roots := range f.trees {
		s := preds[off+k]
		for _, r := range roots {
			s += f.leafValue(r, row)
		}
		preds[off+k] = s
	}
}
