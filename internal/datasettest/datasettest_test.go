package datasettest

import (
	"bytes"
	"os"
	"testing"
)

// TestEveryDatasetIsKeptAndPinned reads every pinned dataset (failing on a
// missing file or a changed byte) and checks that a compressed one comes
// back from Path as the same uncompressed bytes.
func TestEveryDatasetIsKeptAndPinned(t *testing.T) {
	for name := range SHA256 {
		b := Bytes(t, name)
		got, err := os.ReadFile(Path(t, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, b) {
			t.Errorf("%s: Path gives %d bytes, Bytes %d", name, len(got), len(b))
		}
	}
}
