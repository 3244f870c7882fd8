// Package msgpackcheck bounds msgpack input before it is decoded.
//
// The msgpack library (vmihailenco/msgpack/v5) allocates for a length
// prefix before it reads the data: decoding into an interface makes a slice
// of the claimed length, and a binary or string of the claimed size. Nine
// bytes claiming a 4G-element array or a 4 GB binary made a node allocate
// gigabytes, or die out of memory. Check walks the value first and rejects
// such claims, so every decoder of untrusted msgpack (events, checkpoints,
// messages from other nodes) calls it before msgpack.Unmarshal.
package msgpackcheck

import (
	"encoding/binary"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// MaxDepth bounds how deeply msgpack values may nest.
const MaxDepth = 1000

// Check walks the msgpack value at the start of b without decoding it and
// fails when a length prefix claims more than the bytes that follow could
// hold (every element takes at least one byte), or when values nest deeper
// than MaxDepth. It accepts every well-formed value; the decoder still
// judges what it means. Bytes after the value are not looked at.
func Check(b []byte) error {
	pending := []uint64{1} // values still to read at each open level
	i := 0
	for len(pending) > 0 {
		top := len(pending) - 1
		if pending[top] == 0 {
			pending = pending[:top]
			continue
		}
		pending[top]--
		if i >= len(b) {
			return fmt.Errorf("msgpack value ends early, at byte %d", i)
		}
		c := b[i]
		i++
		var (
			n       uint64 // elements of a container, or bytes of raw data
			perElem uint64 // values per container element (2 for a map), 0 for raw data
			size    int    // bytes of the length prefix
		)
		switch {
		case c <= 0x7f || c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3: // fixint, nil, false, true
		case c <= 0x8f:
			n, perElem = uint64(c&0x0f), 2
		case c <= 0x9f:
			n, perElem = uint64(c&0x0f), 1
		case c <= 0xbf:
			n = uint64(c & 0x1f)
		case c == 0xc4 || c == 0xd9: // bin8, str8
			size = 1
		case c == 0xc5 || c == 0xda: // bin16, str16
			size = 2
		case c == 0xc6 || c == 0xdb: // bin32, str32
			size = 4
		case c == 0xc7 || c == 0xc8 || c == 0xc9: // ext8, ext16, ext32: then a type byte
			size = 1 << (c - 0xc7)
		case c == 0xca || c == 0xd2 || c == 0xce:
			n = 4
		case c == 0xcb || c == 0xd3 || c == 0xcf:
			n = 8
		case c == 0xcc || c == 0xd0:
			n = 1
		case c == 0xcd || c == 0xd1:
			n = 2
		case c >= 0xd4 && c <= 0xd8: // fixext 1, 2, 4, 8, 16 and a type byte
			n = 1 + 1<<(c-0xd4)
		case c == 0xdc || c == 0xde: // array16, map16
			size, perElem = 2, 1
		case c == 0xdd || c == 0xdf: // array32, map32
			size, perElem = 4, 1
		default: // 0xc1, never used
			return fmt.Errorf("msgpack code 0x%02x at byte %d is never used", c, i-1)
		}
		if size > 0 {
			if len(b)-i < size {
				return fmt.Errorf("msgpack length at byte %d ends early", i)
			}
			switch size {
			case 1:
				n = uint64(b[i])
			case 2:
				n = uint64(binary.BigEndian.Uint16(b[i:]))
			case 4:
				n = uint64(binary.BigEndian.Uint32(b[i:]))
			}
			i += size
			if c == 0xc7 || c == 0xc8 || c == 0xc9 {
				n++ // the ext type byte
			}
			if c == 0xde || c == 0xdf {
				perElem = 2
			}
		}
		left := uint64(len(b) - i)
		if perElem == 0 {
			if n > left {
				return fmt.Errorf("msgpack value at byte %d claims %d bytes, %d follow", i, n, left)
			}
			i += int(n)
			continue
		}
		// Each element takes at least one byte.
		if n*perElem > left {
			return fmt.Errorf("msgpack container at byte %d claims %d elements, %d bytes follow", i, n, left)
		}
		if len(pending) > MaxDepth {
			return fmt.Errorf("msgpack values nest deeper than %d", MaxDepth)
		}
		pending = append(pending, n*perElem)
	}
	return nil
}

// Unmarshal is msgpack.Unmarshal that answers an error instead of
// panicking: the library panics on some malformed input (a nil where a
// struct such as time.Time is expected), and a record or message from
// outside must never take the process down.
func Unmarshal(b []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed msgpack: %v", r)
		}
	}()
	return msgpack.Unmarshal(b, v)
}
