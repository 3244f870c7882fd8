package mojo

import (
	"math"
	"testing"
)

// fuzzRows are rows every accepted model must score without panicking.
func fuzzRows(n int) [][]float64 {
	var rows [][]float64
	for _, fill := range []float64{0, 1, -1, 2.5, math.NaN(), math.Inf(1), math.Inf(-1), 1e300, -1e300, 3} {
		x := make([]float64, n)
		for i := range x {
			x[i] = fill
		}
		rows = append(rows, x)
	}
	return rows
}

// FuzzLoad feeds arbitrary bytes to the MOJO reader as a zip. It must never panic, hang or
// allocate without bound, and any model it accepts must predict without panicking on
// ordinary, missing and extreme inputs.
// Run: go test -run=^$ -fuzz=FuzzLoad -fuzztime=30s ./serving/mojo
func FuzzLoad(f *testing.F) {
	for _, name := range fixtureNames {
		f.Add(readFixture(f, name+".zip"))
	}
	f.Add(rezip(f, readFixture(f, "kmeans_titanic.zip"), setKey("center_num", "4")))
	f.Add([]byte("PK\x05\x06\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			return
		}
		for _, x := range fuzzRows(m.NumFeatures()) {
			_, _ = m.Predict(x)
		}
	})
}

// FuzzTree decodes arbitrary bytes as one compressed tree of each encoding scheme and walks
// it. Decoding must not panic and an accepted tree must score any row.
// Run: go test -run=^$ -fuzz=FuzzTree -fuzztime=30s ./serving/mojo
func FuzzTree(f *testing.F) {
	for _, name := range []string{"gbm_binomial_prostate", "drf_binomial_titanic", "isofor_prostate"} {
		a, err := openArchive(readFixture(f, name+".zip"))
		if err != nil {
			f.Fatal(err)
		}
		for _, tree := range []string{"trees/t00_000.bin", "trees/t00_001.bin", "trees/t00_005.bin"} {
			if b, err := a.read(tree); err == nil {
				f.Add(b, uint8(2))
			}
		}
	}
	f.Add([]byte{0, 0xff, 0xff, 0, 0, 0x80, 0x3f}, uint8(0))
	f.Add([]byte{0xc8 | 48, 1, 0, 3, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}, uint8(1))
	f.Fuzz(func(t *testing.T, b []byte, scheme uint8) {
		domains := [][]string{nil, {"a", "b", "c"}, nil, make([]string, 40)}
		fo := &forest{scheme: int(scheme % 3), groups: 1}
		d := &decoder{f: fo, b: b, name: "fuzz", domains: domains}
		root, err := d.decode(0, 0)
		if err != nil {
			return
		}
		for _, x := range fuzzRows(len(domains)) {
			_ = fo.leafValue(root, x)
		}
		_ = fo.leafValue(root, []float64{-0.5, 2, 7, 39})
	})
}

// FuzzModelINI rewrites model.ini of a fixture MOJO (the other entries kept) with arbitrary
// text: the most reachable part of the reader, since mutated zip bytes mostly fail their
// checksums. Run: go test -run=^$ -fuzz=FuzzModelINI -fuzztime=30s ./serving/mojo
func FuzzModelINI(f *testing.F) {
	names := []string{"kmeans_titanic", "glm_regression_prostate", "glm_binomial_titanic", "isofor_prostate", "drf_binomial_titanic"}
	zips := make([][]byte, len(names))
	for i, name := range names {
		zips[i] = readFixture(f, name+".zip")
		a, err := openArchive(zips[i])
		if err != nil {
			f.Fatal(err)
		}
		ini, err := a.read("model.ini")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(ini), uint8(i))
	}
	f.Fuzz(func(t *testing.T, ini string, which uint8) {
		b := rezip(t, zips[int(which)%len(zips)], func(string) string { return ini })
		m, err := Parse(b)
		if err != nil {
			return
		}
		for _, x := range fuzzRows(m.NumFeatures()) {
			_, _ = m.Predict(x)
		}
	})
}
