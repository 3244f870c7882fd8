package mojo

import (
	"math"
	"strconv"
)

// kmeans assigns a row to the nearest centre in (optionally standardized) space: squared
// Euclidean distance over numeric columns, 0/1 mismatch over categorical ones.
type kmeans struct {
	standardize bool
	means       []float64
	mults       []float64 // nil: no scaling
	modes       []int     // -1 for numeric columns
	centers     [][]float64
	cat         []bool // column has a domain
}

func readKMeans(m *Model, p *ini, _ *archive) error {
	h := &m.h
	k := &kmeans{}
	var err error
	if k.standardize, err = p.boolOr("standardize", false); err != nil {
		return err
	}
	n := h.nfeatures
	if k.standardize {
		var ok bool
		if k.means, ok, err = p.floats("standardize_means"); err != nil {
			return err
		} else if !ok || len(k.means) != n {
			return loadErr("K-means standardize needs %d standardize_means, model has %d", n, len(k.means))
		}
		if k.mults, ok, err = p.floats("standardize_mults"); err != nil {
			return err
		} else if ok && len(k.mults) != n {
			return loadErr("K-means standardize_mults has %d values, want %d", len(k.mults), n)
		}
		if k.modes, ok, err = p.ints("standardize_modes"); err != nil {
			return err
		} else if !ok || len(k.modes) != n {
			return loadErr("K-means standardize needs %d standardize_modes, model has %d", n, len(k.modes))
		}
	}
	nc, err := p.intKey("center_num")
	if err != nil {
		return err
	}
	if nc < 1 || nc > MaxClasses {
		return loadErr("K-means center_num %d is not in [1, %d]", nc, MaxClasses)
	}
	k.centers = make([][]float64, nc)
	for i := range k.centers {
		key := "center_" + strconv.Itoa(i)
		c, ok, err := p.floats(key)
		if err != nil {
			return err
		}
		if !ok || len(c) != n {
			return loadErr("K-means %s has %d values, want n_features = %d", key, len(c), n)
		}
		k.centers[i] = c
	}
	k.cat = make([]bool, n)
	for j := range k.cat {
		k.cat[j] = h.domains[j] != nil
	}
	m.task, m.predsLen, m.sc = taskCluster, nc+1, k
	return nil
}

func (k *kmeans) score(_ *header, row, preds []float64) error {
	if k.standardize {
		for i, d := range row {
			if k.modes[i] == -1 {
				if d != d {
					d = k.means[i]
				}
				if k.mults != nil {
					d -= k.means[i]
					d *= k.mults[i]
				}
			} else if d != d {
				d = float64(k.modes[i])
			}
			row[i] = d
		}
	}
	best, bestD := -1, math.MaxFloat64
	for c, center := range k.centers {
		var sqr float64
		pts := len(row)
		for j, x := range center {
			d := row[j]
			if d != d {
				pts--
				continue
			}
			if k.cat[j] {
				if d != x {
					sqr += 1.0
				}
			} else {
				delta := d - x
				sqr += delta * delta
			}
		}
		if 0 < pts && pts < len(row) {
			sqr *= float64(len(row)) / float64(pts)
		}
		preds[c+1] = sqr
		if sqr < bestD {
			best, bestD = c, sqr
		}
	}
	preds[0] = float64(best)
	return nil
}
