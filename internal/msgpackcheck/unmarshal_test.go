package msgpackcheck

import (
	"strings"
	"testing"
	"time"
)

// The msgpack library panics decoding nil into a time.Time field (a
// fuzzing finding on checkpoints); Unmarshal answers an error instead.
func TestUnmarshalDoesNotPanic(t *testing.T) {
	var v struct {
		At time.Time `msgpack:"t"`
	}
	err := Unmarshal([]byte("\x81\xa1t\xc0"), &v)
	if err == nil || !strings.Contains(err.Error(), "malformed msgpack") {
		t.Fatalf("nil into a time.Time: %v", err)
	}
	if err := Unmarshal([]byte("\x81\xa1t\xd6\xff\x00\x00\x00\x01"), &v); err != nil || v.At.Unix() != 1 {
		t.Fatalf("a valid time: %v %v", err, v.At)
	}
}
