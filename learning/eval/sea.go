package eval

import (
	"math/rand/v2"
	"strconv"
)

// SEAThresholds are the four concepts of the SEA stream (Street and Kim,
// 2001): the class is whether f1 + f2 <= threshold.
var SEAThresholds = []float64{8, 9, 7, 9.5}

// GenerateSEA makes a SEA concepts stream of rows examples with abrupt
// drifts between four equal blocks (thresholds SEAThresholds), three
// uniform features in [0, 10) of which the third is irrelevant, and the
// given fraction of labels flipped as noise. It returns the dataset and
// the rows where the concept changes.
func GenerateSEA(rows int, seed uint64, noise float64) (*Dataset, []int) {
	r := rand.New(rand.NewPCG(seed, 0x5ea))
	d := &Dataset{Features: []string{"f1", "f2", "f3"}, Target: "class"}
	block := max(1, rows/len(SEAThresholds))
	var drifts []int
	for i := 0; i < rows; i++ {
		k := min(i/block, len(SEAThresholds)-1)
		if i > 0 && i%block == 0 && i/block < len(SEAThresholds) {
			drifts = append(drifts, i)
		}
		f := []float64{r.Float64() * 10, r.Float64() * 10, r.Float64() * 10}
		y := f[0]+f[1] <= SEAThresholds[k]
		if r.Float64() < noise {
			y = !y
		}
		d.X = append(d.X, f)
		d.Y = append(d.Y, strconv.FormatBool(y))
	}
	return d, drifts
}
