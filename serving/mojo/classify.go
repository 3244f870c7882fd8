package mojo

import "math"

// label sets preds[0] to the predicted class the way genmodel's GenModel.getPrediction does,
// after correcting the probabilities for balance_classes: a binomial model predicts class 1
// iff p1 >= default_threshold; a multinomial model predicts the most probable class, a tie
// broken with a draw weighted by the prior class distribution and seeded from the row.
func (h *header) label(preds, row []float64) {
	if h.balance {
		correctProbabilities(preds, h.prior, h.modelDistrb)
	}
	if len(preds) == 3 {
		preds[0] = 0
		if preds[2] >= h.threshold {
			preds[0] = 1
		}
		return
	}
	preds[0] = float64(multinomialLabel(preds, h.prior, row))
}

// correctProbabilities rescales class probabilities preds[1:] from the (oversampled) model
// class distribution back to the prior one.
func correctProbabilities(preds, prior, model []float64) {
	var sum float64
	for c := 1; c < len(preds); c++ {
		if prior[c-1] != 0 && model[c-1] != 0 {
			preds[c] *= prior[c-1] / model[c-1]
		}
		sum += preds[c]
	}
	if sum > 0 {
		for c := 1; c < len(preds); c++ {
			preds[c] /= sum
		}
	}
}

// multinomialLabel is GenModel.getPredictionMultinomial, quirks included: its list of tied
// classes starts with class 0 and is not reset when a larger probability turns up.
func multinomialLabel(preds, prior, row []float64) int {
	ties := []int{0}
	best, tieCnt := 1, 0
	for c := 2; c < len(preds); c++ {
		switch {
		case preds[best] < preds[c]:
			best, tieCnt = c, 0
		case preds[best] == preds[c]:
			tieCnt++
			ties = append(ties, c-1)
		}
	}
	if tieCnt == 0 {
		return best - 1
	}
	var hash int64
	for _, d := range row {
		hash ^= int64(javaDoubleBits(d)) >> 6
	}
	if len(prior) == len(preds)-1 {
		var sum float64
		for _, i := range ties {
			sum += prior[i]
		}
		tie := newJavaRandom(hash).nextDouble()
		var partial float64
		for _, i := range ties {
			partial += prior[i] / sum
			if tie <= partial {
				return i
			}
		}
	}
	res := preds[best]
	idx := int32(hash) % int32(tieCnt+1)
	for b := 1; b < len(preds); b++ {
		if res == preds[b] {
			idx--
			if idx < 0 {
				return b - 1
			}
		}
	}
	return best - 1
}

// javaDoubleBits is Double.doubleToRawLongBits for the values genmodel sees: every NaN
// (a missing value) is Java's canonical Double.NaN.
func javaDoubleBits(d float64) uint64 {
	if d != d {
		return 0x7ff8000000000000
	}
	return math.Float64bits(d)
}

// javaRandom is java.util.Random's 48-bit linear congruential generator.
type javaRandom struct{ seed int64 }

const (
	javaMultiplier = 0x5DEECE66D
	javaMask       = 1<<48 - 1
)

func newJavaRandom(seed int64) *javaRandom {
	return &javaRandom{seed: (seed ^ javaMultiplier) & javaMask}
}

func (r *javaRandom) next(bits uint) int64 {
	r.seed = (r.seed*javaMultiplier + 0xB) & javaMask
	return int64(int32(r.seed >> (48 - bits)))
}

func (r *javaRandom) nextDouble() float64 {
	return float64(r.next(26)<<27+r.next(27)) * (1.0 / (1 << 53))
}
