// Package datasettest gives tests the public datasets kept in the repository
// (testdata/datasets at the module root; its README says where each comes
// from and under which licence), so that a clone anywhere runs them.
package datasettest

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// SHA256 pins the uncompressed bytes of each dataset, the bytes the tests'
// accuracy ranges were measured on.
var SHA256 = map[string]string{
	"banknote.csv": "c8a1235721f98a84e007205b00b62583425f5f7fc680ef9b55115b878a8e7993",
	"elec2.csv":    "9a6c88987667becaae863f2dced6bcb44b8c37caf65c794745763b73fd78e189",
}

// Dir is the folder of the datasets: testdata/datasets under the module root,
// found by walking up from the working directory to go.mod.
func Dir(tb testing.TB) string {
	tb.Helper()
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, "testdata", "datasets")
		}
		if filepath.Dir(d) == d {
			tb.Fatalf("no go.mod above %s", wd)
		}
	}
}

// Bytes returns the uncompressed bytes of dataset name ("elec2.csv"), read
// from name or, when that is absent, from name.gz. It fails the test when the
// file is missing or its bytes are not the pinned ones; it never skips.
func Bytes(tb testing.TB, name string) []byte {
	tb.Helper()
	want, ok := SHA256[name]
	if !ok {
		tb.Fatalf("dataset %s has no SHA-256 pin in datasettest.SHA256", name)
	}
	path := filepath.Join(Dir(tb), name)
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		path += ".gz"
		b, err = readGzip(path)
	}
	if err != nil {
		tb.Fatalf("dataset %s: %v (the datasets are part of the repository, in testdata/datasets)", name, err)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != want {
		tb.Fatalf("%s has SHA-256 %s uncompressed, the tests were measured on %s", path, got, want)
	}
	return b
}

// Path returns the path of an uncompressed copy of dataset name with its
// own name, in a temporary folder of the test when the kept file is
// compressed, for code that reads a CSV file by path.
func Path(tb testing.TB, name string) string {
	tb.Helper()
	b := Bytes(tb, name)
	kept := filepath.Join(Dir(tb), name)
	if _, err := os.Stat(kept); err == nil {
		return kept
	}
	p := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

func readGzip(path string) ([]byte, error) {
	f, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(f))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}
