// Package vec has the few dense vector helpers the learners share. Loops run in index order so
// that results are reproducible bit for bit.
package vec
