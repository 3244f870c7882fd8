package serving

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// MaxFeatures is the most values one Features may hold; decoding more is an [ErrInvalidEvent].
const MaxFeatures = 1 << 20

// Features is an event's feature payload: either named (a JSON or msgpack object; member order
// is kept) or positional (an array). A JSON null means the feature is missing and decodes to NaN;
// any other non-number (a string, a boolean, a nested value) is an error wrapping
// [ErrInvalidEvent] that names the feature.
//
// Features implements json.Marshaler/Unmarshaler and msgpack.CustomEncoder/CustomDecoder with
// the same shape in both encodings (object or array), so events arriving as msgpack decode like
// JSON ones. The msgpack struct tags are therefore not used on the wire; they only name the
// fields.
type Features struct {
	Names  []string  `msgpack:"n,omitempty"` // nil for positional input; else len(Names) == len(Values)
	Values []float64 `msgpack:"v"`
}

var (
	_ json.Marshaler        = Features{}
	_ json.Unmarshaler      = (*Features)(nil)
	_ msgpack.CustomEncoder = Features{}
	_ msgpack.CustomDecoder = (*Features)(nil)
)

// UnmarshalJSON decodes an object (named features) or an array (positional features). Anything
// else, malformed JSON included, is an error wrapping [ErrInvalidEvent]. It reuses the backing
// arrays of f's slices. Duplicate names are kept here and rejected by [Schema.Vector].
func (f *Features) UnmarshalJSON(b []byte) error {
	p := featParser{b: b}
	p.ws()
	if p.i >= len(b) {
		return fmt.Errorf("%w: features: empty input", ErrInvalidEvent)
	}
	var err error
	switch b[p.i] {
	case '{':
		err = p.object(f)
	case '[':
		err = p.array(f)
	default:
		return fmt.Errorf("%w: features: got %s, want an object or an array", ErrInvalidEvent, p.kind())
	}
	if err != nil {
		return err
	}
	p.ws()
	if p.i != len(b) {
		return p.syntax("data after the features")
	}
	return nil
}

// featParser is a strict single-pass JSON reader for flat objects and arrays of numbers.
type featParser struct {
	b []byte
	i int
}

func (p *featParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *featParser) syntax(want string) error {
	if p.i >= len(p.b) {
		return fmt.Errorf("%w: features: malformed JSON: unexpected end of input, want %s", ErrInvalidEvent, want)
	}
	return fmt.Errorf("%w: features: malformed JSON at byte %d: unexpected %q, want %s", ErrInvalidEvent, p.i, p.b[p.i], want)
}

// kind names the JSON kind of the value starting at p.i.
func (p *featParser) kind() string {
	if p.i >= len(p.b) {
		return "end of input"
	}
	switch c := p.b[p.i]; {
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '-' || '0' <= c && c <= '9':
		return "a number"
	default:
		return fmt.Sprintf("malformed JSON (unexpected %q at byte %d)", c, p.i)
	}
}

func (p *featParser) object(f *Features) error {
	p.i++ // '{'
	vals := f.Values[:0]
	// Names are unescaped into one buffer and turned into strings with one allocation.
	var kbArr [512]byte
	var offArr [64]int
	kb, offs := kbArr[:0], offArr[:0]
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
	} else {
		for {
			p.ws()
			if p.i >= len(p.b) || p.b[p.i] != '"' {
				return p.syntax("a feature name in double quotes")
			}
			var err error
			if kb, err = p.key(kb); err != nil {
				return err
			}
			offs = append(offs, len(kb))
			p.ws()
			if p.i >= len(p.b) || p.b[p.i] != ':' {
				return p.syntax("':'")
			}
			p.i++
			p.ws()
			start := 0
			if len(offs) > 1 {
				start = offs[len(offs)-2]
			}
			v, err := p.value(func() string { return fmt.Sprintf("feature %q", string(kb[start:])) })
			if err != nil {
				return err
			}
			if vals = append(vals, v); len(vals) > MaxFeatures {
				return tooMany()
			}
			p.ws()
			if p.i < len(p.b) && p.b[p.i] == ',' {
				p.i++
				continue
			}
			if p.i < len(p.b) && p.b[p.i] == '}' {
				p.i++
				break
			}
			return p.syntax("',' or '}'")
		}
	}
	names := f.Names[:0]
	if names == nil || cap(names) < len(offs) {
		names = make([]string, 0, len(offs))
	}
	all := string(kb)
	start := 0
	for _, end := range offs {
		names = append(names, all[start:end])
		start = end
	}
	f.Names, f.Values = names, vals
	return nil
}

// key reads the JSON string at p.i (a '"') and appends its unescaped content to kb.
func (p *featParser) key(kb []byte) ([]byte, error) {
	open := p.i
	p.i++
	start := p.i
	slow := false
	for {
		if p.i >= len(p.b) {
			return kb, p.syntax("the end of the feature name")
		}
		c := p.b[p.i]
		switch {
		case c == '"':
			raw := p.b[start:p.i]
			p.i++
			if !slow && utf8.Valid(raw) {
				return append(kb, raw...), nil
			}
			// Escapes or invalid UTF-8: let encoding/json apply its exact rules
			// (surrogate pairs, U+FFFD replacement).
			var s string
			if err := json.Unmarshal(p.b[open:p.i], &s); err != nil {
				return kb, fmt.Errorf("%w: features: malformed feature name at byte %d: %s", ErrInvalidEvent, open, err.Error())
			}
			return append(kb, s...), nil
		case c == '\\':
			slow = true
			p.i++
			if p.i >= len(p.b) {
				return kb, p.syntax("an escape sequence")
			}
			switch p.b[p.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i++
			case 'u':
				p.i++
				for k := 0; k < 4; k++ {
					if p.i >= len(p.b) || !isHex(p.b[p.i]) {
						return kb, p.syntax("4 hex digits after \\u")
					}
					p.i++
				}
			default:
				return kb, p.syntax("an escape sequence")
			}
		case c < 0x20:
			return kb, p.syntax("no control characters inside a string")
		default: // non-ASCII bytes are checked with utf8.Valid at the closing quote
			p.i++
		}
	}
}

func tooMany() error {
	return fmt.Errorf("%w: features: more than %d values", ErrInvalidEvent, MaxFeatures)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// value reads a number or null at p.i; what names the feature for errors.
func (p *featParser) value(what func() string) (float64, error) {
	if p.i >= len(p.b) {
		return 0, p.syntax("a number or null")
	}
	switch c := p.b[p.i]; {
	case c == 'n':
		if len(p.b)-p.i >= 4 && string(p.b[p.i:p.i+4]) == "null" {
			p.i += 4
			return math.NaN(), nil
		}
		return 0, p.syntax("null")
	case c == '-' || '0' <= c && c <= '9':
		return p.number(what)
	case c == '"' || c == 't' || c == 'f' || c == '{' || c == '[':
		return 0, fmt.Errorf("%w: %s: got %s, want a number or null", ErrInvalidEvent, what(), p.kind())
	}
	return 0, p.syntax("a number or null")
}

func (p *featParser) digits() int {
	n := 0
	for p.i < len(p.b) && '0' <= p.b[p.i] && p.b[p.i] <= '9' {
		p.i++
		n++
	}
	return n
}

// number reads a JSON number (RFC 8259 grammar) at p.i.
func (p *featParser) number(what func() string) (float64, error) {
	start := p.i
	if p.b[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.b) && p.b[p.i] == '0':
		p.i++
	case p.digits() == 0:
		return 0, p.syntax("a digit")
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if p.digits() == 0 {
			return 0, p.syntax("a digit after '.'")
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if p.digits() == 0 {
			return 0, p.syntax("a digit in the exponent")
		}
	}
	v, err := strconv.ParseFloat(string(p.b[start:p.i]), 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %s does not fit in a float64", ErrInvalidEvent, what(), p.b[start:p.i])
	}
	return v, nil
}

func (p *featParser) array(f *Features) error {
	p.i++ // '['
	vals := f.Values[:0]
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
	} else {
		for {
			p.ws()
			n := len(vals)
			v, err := p.value(func() string { return fmt.Sprintf("features[%d]", n) })
			if err != nil {
				return err
			}
			if vals = append(vals, v); len(vals) > MaxFeatures {
				return tooMany()
			}
			p.ws()
			if p.i < len(p.b) && p.b[p.i] == ',' {
				p.i++
				continue
			}
			if p.i < len(p.b) && p.b[p.i] == ']' {
				p.i++
				break
			}
			return p.syntax("',' or ']'")
		}
	}
	if vals == nil {
		vals = []float64{}
	}
	f.Names, f.Values = nil, vals
	return nil
}

// MarshalJSON encodes an object when Names is non-nil, else an array. NaN and ±Inf are
// encoded as null (missing).
func (f Features) MarshalJSON() ([]byte, error) {
	if f.Names != nil && len(f.Names) != len(f.Values) {
		return nil, fmt.Errorf("%w: features: %d names but %d values", ErrInvalidEvent, len(f.Names), len(f.Values))
	}
	b := make([]byte, 0, 2+len(f.Values)*20)
	if f.Names == nil {
		b = append(b, '[')
		for i, v := range f.Values {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONFloat(b, v)
		}
		return append(b, ']'), nil
	}
	b = append(b, '{')
	for i, v := range f.Values {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, f.Names[i])
		b = append(b, ':')
		b = appendJSONFloat(b, v)
	}
	return append(b, '}'), nil
}

// appendJSONFloat formats v as encoding/json does; non-finite values become null.
func appendJSONFloat(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	format := byte('f')
	if a := math.Abs(v); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, v, format, -1, 64)
	if format == 'e' { // e-09 -> e-9, as encoding/json does
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendJSONString quotes s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// EncodeMsgpack writes a map (named) or an array (positional) of float64s.
func (f Features) EncodeMsgpack(enc *msgpack.Encoder) error {
	if f.Names != nil {
		if len(f.Names) != len(f.Values) {
			return fmt.Errorf("%w: features: %d names but %d values", ErrInvalidEvent, len(f.Names), len(f.Values))
		}
		if err := enc.EncodeMapLen(len(f.Names)); err != nil {
			return err
		}
		for i, n := range f.Names {
			if err := enc.EncodeString(n); err != nil {
				return err
			}
			if err := enc.EncodeFloat64(f.Values[i]); err != nil {
				return err
			}
		}
		return nil
	}
	if err := enc.EncodeArrayLen(len(f.Values)); err != nil {
		return err
	}
	for _, v := range f.Values {
		if err := enc.EncodeFloat64(v); err != nil {
			return err
		}
	}
	return nil
}

// maxPrealloc bounds how many entries a msgpack length prefix may make us allocate up front;
// longer payloads grow as their data actually arrives.
const maxPrealloc = 4096

// DecodeMsgpack reads a map (named) or an array (positional) whose values are numbers or nil
// (missing, NaN). Other values are errors wrapping [ErrInvalidEvent] naming the feature.
func (f *Features) DecodeMsgpack(dec *msgpack.Decoder) error {
	c, err := dec.PeekCode()
	if err != nil {
		return fmt.Errorf("%w: features: %s", ErrInvalidEvent, err.Error())
	}
	switch {
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		n, err := dec.DecodeMapLen()
		if err != nil {
			return fmt.Errorf("%w: features: %s", ErrInvalidEvent, err.Error())
		}
		if n > MaxFeatures {
			return tooMany()
		}
		names := f.Names[:0]
		if names == nil {
			names = make([]string, 0, min(n, maxPrealloc))
		}
		vals := f.Values[:0]
		for i := 0; i < n; i++ {
			kc, err := dec.PeekCode()
			if err != nil {
				return fmt.Errorf("%w: features: %s", ErrInvalidEvent, err.Error())
			}
			if !msgpcode.IsString(kc) && !msgpcode.IsBin(kc) {
				return fmt.Errorf("%w: features: name %d is %s, want a string", ErrInvalidEvent, i, msgpackKind(kc))
			}
			name, err := dec.DecodeString()
			if err != nil {
				return fmt.Errorf("%w: features: %s", ErrInvalidEvent, err.Error())
			}
			v, err := msgpackValue(dec, func() string { return fmt.Sprintf("feature %q", name) })
			if err != nil {
				return err
			}
			names = append(names, name)
			vals = append(vals, v)
		}
		f.Names, f.Values = names, vals
		return nil
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n, err := dec.DecodeArrayLen()
		if err != nil {
			return fmt.Errorf("%w: features: %s", ErrInvalidEvent, err.Error())
		}
		if n > MaxFeatures {
			return tooMany()
		}
		vals := f.Values[:0]
		if vals == nil {
			vals = make([]float64, 0, min(n, maxPrealloc))
		}
		for i := 0; i < n; i++ {
			v, err := msgpackValue(dec, func() string { return fmt.Sprintf("features[%d]", i) })
			if err != nil {
				return err
			}
			vals = append(vals, v)
		}
		f.Names, f.Values = nil, vals
		return nil
	}
	return fmt.Errorf("%w: features: got %s, want a map or an array", ErrInvalidEvent, msgpackKind(c))
}

func msgpackValue(dec *msgpack.Decoder, what func() string) (float64, error) {
	c, err := dec.PeekCode()
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %s", ErrInvalidEvent, what(), err.Error())
	}
	switch {
	case c == msgpcode.Nil:
		if err := dec.DecodeNil(); err != nil {
			return 0, fmt.Errorf("%w: %s: %s", ErrInvalidEvent, what(), err.Error())
		}
		return math.NaN(), nil
	case msgpcode.IsFixedNum(c) || c == msgpcode.Float || c == msgpcode.Double ||
		c >= msgpcode.Uint8 && c <= msgpcode.Uint64 || c >= msgpcode.Int8 && c <= msgpcode.Int64:
		v, err := dec.DecodeFloat64()
		if err != nil {
			return 0, fmt.Errorf("%w: %s: %s", ErrInvalidEvent, what(), err.Error())
		}
		return v, nil
	}
	return 0, fmt.Errorf("%w: %s: got %s, want a number or nil", ErrInvalidEvent, what(), msgpackKind(c))
}

func msgpackKind(c byte) string {
	switch {
	case c == msgpcode.Nil:
		return "nil"
	case c == msgpcode.True || c == msgpcode.False:
		return "a boolean"
	case msgpcode.IsString(c):
		return "a string"
	case msgpcode.IsBin(c):
		return "binary data"
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		return "a map"
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		return "an array"
	case msgpcode.IsExt(c):
		return "an extension value"
	case msgpcode.IsFixedNum(c) || c == msgpcode.Float || c == msgpcode.Double ||
		c >= msgpcode.Uint8 && c <= msgpcode.Uint64 || c >= msgpcode.Int8 && c <= msgpcode.Int64:
		return "a number"
	}
	return fmt.Sprintf("msgpack code 0x%02x", c)
}
