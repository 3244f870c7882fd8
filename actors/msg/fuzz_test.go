package msg_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/actorserve/actorserve/actors/msg"
)

// FuzzDecodeCompact feeds arbitrary bytes to the compact decoders of the
// predict messages (they read what other nodes send): no panic, and what
// decodes re-encodes to the same value.
func FuzzDecodeCompact(f *testing.F) {
	for _, m := range samples() {
		switch m.(type) {
		case *msg.PredictRequest, *msg.PredictResponse:
			b, err := msgpack.Marshal(m)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	b, _ := msgpack.Marshal(positional)
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		var req msg.PredictRequest
		if msgpack.Unmarshal(data, &req) == nil {
			again := roundTrip(t, &req, new(msg.PredictRequest))
			alignDeadline(t, again, &req)
			// Compared as bytes (a NaN feature is not DeepEqual to
			// itself), without the deadline (it travels as the time left).
			a, r := *again, req
			a.Deadline, r.Deadline, a.Sent, r.Sent = 0, 0, 0, 0
			if !bytes.Equal(marshal(t, &a), marshal(t, &r)) {
				t.Fatalf("request changed on a second trip:\n%#v\n%#v", again, &req)
			}
		}
		var resp msg.PredictResponse
		if msgpack.Unmarshal(data, &resp) == nil {
			again := roundTrip(t, &resp, new(msg.PredictResponse))
			if !reflect.DeepEqual(again, &resp) {
				t.Fatalf("response changed on a second trip:\n%#v\n%#v", again, &resp)
			}
		}
	})
}

func marshal(t *testing.T, v any) []byte {
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return b
}

func roundTrip[T any](t *testing.T, v T, into T) T {
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatalf("re-encode: %v", err)
	}
	if err := msgpack.Unmarshal(b, into); err != nil {
		t.Fatalf("decode the re-encoded value: %v", err)
	}
	return into
}
