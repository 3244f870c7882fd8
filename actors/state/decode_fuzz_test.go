package state

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

func seedCheckpoints() []*Checkpoint {
	at := time.Date(2026, 12, 4, 5, 6, 7, 8, time.UTC)
	return []*Checkpoint{
		{F: formatVersion, Model: "m", Version: 3, Epoch: 41, Node: "n1", Updates: 1200, At: at, State: []byte{1, 2, 3}, Topic: "actorserve.events", Pos: map[int32]int64{0: 10, 5: 1 << 40}},
		{F: formatVersion, Model: "m", Kind: KindClaim, Node: "n2", At: at},
		{F: formatVersion, Model: "m", Kind: KindDeleted, Node: "n2", At: at},
		{Model: "m", Epoch: 1733290000, Node: "n1", At: at, State: []byte{}}, // format 0: wall-clock epochs
	}
}

// FuzzDecodeCheckpoint feeds arbitrary record values to the checkpoint
// decoder, as the state table does with what it reads from the state topic:
// no panic and no unbounded allocation; an accepted record belongs to its
// key, has a known kind and a format-0 epoch of -1; and it encodes and
// decodes again to the same record.
func FuzzDecodeCheckpoint(f *testing.F) {
	for _, c := range seedCheckpoints() {
		b, err := msgpack.Marshal(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)-1])
	}
	f.Add([]byte("\x81\xa1s\xc6\xff\xff\xff\xff"))           // state: bin32 of 4 GB
	f.Add([]byte("\x82\xa1m\xa1m\xa1p\xdf\xff\xff\xff\xff")) // pos: map32 of 4G
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decode("m", b)
		if err != nil {
			if c != nil || !strings.Contains(err.Error(), `"m"`) {
				t.Fatalf("decode failed (%v) but returned %+v, or its error does not name the key", err, c)
			}
			return
		}
		if c.Model != "m" || c.Kind > KindDeleted || (c.F == 0 && c.Epoch != -1) {
			t.Fatalf("accepted %+v", c)
		}
		again, err := msgpack.Marshal(c)
		if err != nil {
			t.Fatalf("encode %+v: %v", c, err)
		}
		c2, err := decode("m", again)
		if err != nil {
			t.Fatalf("%+v does not decode again: %v", c, err)
		}
		x, y := *c, *c2
		if !x.At.Equal(y.At) {
			t.Fatalf("time %v came back as %v", x.At, y.At)
		}
		x.At, y.At = time.Time{}, time.Time{}
		// Empty and absent mean the same (omitempty drops an empty map or
		// slice on the way out).
		for _, c := range []*Checkpoint{&x, &y} {
			if len(c.Pos) == 0 {
				c.Pos = nil
			}
			if len(c.State) == 0 {
				c.State = nil
			}
		}
		if !reflect.DeepEqual(x, y) {
			t.Fatalf("changed on a second trip:\n%+v\n%+v", c, c2)
		}
	})
}

// TestDecodeCheckpointSeeds: each kind of record decodes to what was
// written (a format-0 record with epoch -1); a record under another key,
// of an unknown kind, or claiming gigabytes fails naming the key.
func TestDecodeCheckpointSeeds(t *testing.T) {
	for i, want := range seedCheckpoints() {
		b, _ := msgpack.Marshal(want)
		got, err := decode("m", b)
		if err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		if want.F == 0 {
			w := *want
			w.Epoch = -1
			want = &w
		}
		if !got.At.Equal(want.At) || got.Model != want.Model || got.Kind != want.Kind || got.Epoch != want.Epoch ||
			got.Updates != want.Updates || !bytes.Equal(got.State, want.State) || len(got.Pos) != len(want.Pos) || got.Pos[5] != want.Pos[5] {
			t.Errorf("seed %d: decoded %+v, wrote %+v", i, got, want)
		}
	}
	b, _ := msgpack.Marshal(seedCheckpoints()[0])
	for name, c := range map[string]struct {
		key  string
		b    []byte
		want string
	}{
		"other key":    {"x", b, `checkpoint of "m" under key "x"`},
		"unknown kind": {"m", mustMarshal(t, &Checkpoint{F: 1, Model: "m", Kind: 3}), `checkpoint of "m": unknown record kind 3`},
		"4 GB state":   {"m", []byte("\x81\xa1s\xc6\xff\xff\xff\xff"), `checkpoint of "m": msgpack value at byte`},
	} {
		start := time.Now()
		if _, err := decode(c.key, c.b); err == nil || !strings.Contains(err.Error(), c.want) || time.Since(start) > time.Second {
			t.Errorf("%s: %v after %s, want %q", name, err, time.Since(start), c.want)
		}
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
