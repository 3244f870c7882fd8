package ingress

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/actorserve/actorserve/serving"
)

// fastDecodeJSON decodes the common shape of a JSON event without
// reflection: a flat object whose keys need no unescaping, with "model",
// "type" and "id" as plain strings (or a numeric id) and "features" handed
// to serving.Features' own parser; other members are skipped. It reports
// false for anything it does not handle, and the caller falls back to
// encoding/json, which also produces the error messages. When it reports
// true the result equals encoding/json's (a fuzz test checks this).
func fastDecodeJSON(b []byte, ev *inEvent) bool {
	p := scanner{b: b}
	p.ws()
	if !p.byte('{') {
		return false
	}
	seen := 0
	p.ws()
	if p.byte('}') {
		return p.end()
	}
	for {
		p.ws()
		key, ok := p.plainString()
		if !ok {
			return false
		}
		p.ws()
		if !p.byte(':') {
			return false
		}
		p.ws()
		var bit int
		switch key {
		case "model":
			bit = 1
			if !p.stringField(&ev.Model) {
				return false
			}
		case "type":
			bit = 2
			if !p.stringField(&ev.Type) {
				return false
			}
		case "id":
			bit = 4
			if !p.idField(&ev.ID) {
				return false
			}
		case "label":
			bit = 16
			if p.literal("null") {
				ev.Label = nil
				break
			}
			if p.i < len(p.b) && p.b[p.i] == '"' {
				str, ok := p.plainString()
				if !ok {
					return false
				}
				ev.Label = &inLabel{S: str}
				break
			}
			start := p.i
			if !p.number() {
				return false
			}
			v, err := strconv.ParseFloat(string(b[start:p.i]), 64)
			if err != nil {
				return false
			}
			ev.Label = &inLabel{V: v, Num: true}
		case "features":
			bit = 8
			start := p.i
			if !p.skipValue(0) {
				return false
			}
			raw := b[start:p.i]
			if string(raw) == "null" {
				ev.Features = nil
				break
			}
			var f serving.Features
			if err := f.UnmarshalJSON(raw); err != nil {
				return false
			}
			ev.Features = &f
		default:
			// encoding/json matches field names case-insensitively.
			if strings.EqualFold(key, "model") || strings.EqualFold(key, "type") || strings.EqualFold(key, "id") || strings.EqualFold(key, "features") || strings.EqualFold(key, "label") {
				return false
			}
			if !p.skipValue(0) {
				return false
			}
		}
		if seen&bit != 0 {
			return false // duplicate key: let encoding/json decide
		}
		seen |= bit
		p.ws()
		if p.byte(',') {
			continue
		}
		if p.byte('}') {
			return p.end()
		}
		return false
	}
}

type scanner struct {
	b []byte
	i int
}

func (p *scanner) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *scanner) byte(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *scanner) end() bool {
	p.ws()
	return p.i == len(p.b)
}

// plainString reads a string without escapes or control characters, valid UTF-8.
func (p *scanner) plainString() (string, bool) {
	if !p.byte('"') {
		return "", false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			if !utf8.Valid(s) {
				return "", false
			}
			return string(s), true
		case c == '\\' || c < 0x20:
			return "", false
		}
		p.i++
	}
	return "", false
}

func (p *scanner) stringField(dst *string) bool {
	if p.literal("null") {
		return true
	}
	s, ok := p.plainString()
	*dst = s
	return ok
}

func (p *scanner) idField(dst *flexID) bool {
	if p.i < len(p.b) && p.b[p.i] == '"' {
		s, ok := p.plainString()
		*dst = flexID(s)
		return ok
	}
	if p.literal("null") {
		return true
	}
	start := p.i
	if !p.number() {
		return false
	}
	*dst = flexID(p.b[start:p.i])
	return true
}

func (p *scanner) literal(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

func (p *scanner) number() bool {
	start := p.i
	p.byte('-')
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.i < len(p.b) && p.b[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return false
	}
	if p.byte('.') && digits() == 0 {
		return false
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if !p.byte('+') {
			p.byte('-')
		}
		if digits() == 0 {
			return false
		}
	}
	return p.i > start
}

// skipValue skips one JSON value; it rejects (returns false) anything it
// does not fully validate, such as escapes it cannot check cheaply.
func (p *scanner) skipValue(depth int) bool {
	if depth > 64 || p.i >= len(p.b) {
		return false
	}
	switch c := p.b[p.i]; {
	case c == '"':
		return p.skipString()
	case c == '{' || c == '[':
		close := byte('}')
		if c == '[' {
			close = ']'
		}
		p.i++
		p.ws()
		if p.byte(close) {
			return true
		}
		for {
			p.ws()
			if close == '}' {
				if !p.skipString() {
					return false
				}
				p.ws()
				if !p.byte(':') {
					return false
				}
				p.ws()
			}
			if !p.skipValue(depth + 1) {
				return false
			}
			p.ws()
			if p.byte(',') {
				continue
			}
			return p.byte(close)
		}
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	default:
		return p.number()
	}
}

func (p *scanner) skipString() bool {
	if !p.byte('"') {
		return false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			ok := utf8.Valid(p.b[start:p.i])
			p.i++
			return ok
		case c == '\\':
			p.i++
			if p.i >= len(p.b) {
				return false
			}
			switch p.b[p.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i++
			case 'u':
				if len(p.b)-p.i < 5 {
					return false
				}
				for _, h := range p.b[p.i+1 : p.i+5] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return false
					}
				}
				p.i += 5
			default:
				return false
			}
		case c < 0x20:
			return false
		default:
			p.i++
		}
	}
	return false
}

// appendPredictionJSON encodes a prediction record without reflection.
// The user block, when present, is encoded by encoding/json.
func appendPredictionJSON(b []byte, p *outPrediction, labels []string, user []byte) []byte {
	b = append(b, `{"model":`...)
	b = appendJSONString(b, p.Model)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, p.Version, 10)
	if p.Variant != "" {
		b = append(b, `,"variant":`...)
		b = appendJSONString(b, p.Variant)
	}
	if p.ID != "" {
		b = append(b, `,"id":`...)
		b = appendJSONString(b, p.ID)
	}
	b = append(b, `,"prediction":{`...)
	first := true
	if p.Prediction.Label != "" {
		b = append(b, `"label":`...)
		b = appendJSONString(b, p.Prediction.Label)
		first = false
	}
	if len(p.Prediction.Scores) > 0 {
		if !first {
			b = append(b, ',')
		}
		b = append(b, `"scores":{`...)
		keys := labels
		for _, k := range keys {
			if _, ok := p.Prediction.Scores[k]; !ok {
				keys = nil // not this prediction's labels
				break
			}
		}
		if len(keys) != len(p.Prediction.Scores) {
			keys = make([]string, 0, len(p.Prediction.Scores))
			for k := range p.Prediction.Scores {
				keys = append(keys, k)
			}
			sort.Strings(keys)
		}
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONFloat(b, p.Prediction.Scores[k])
		}
		b = append(b, '}')
		first = false
	}
	if p.Prediction.Value != nil {
		if !first {
			b = append(b, ',')
		}
		b = append(b, `"value":`...)
		b = appendJSONFloat(b, *p.Prediction.Value)
	}
	b = append(b, '}')
	if user != nil {
		b = append(b, `,"user":`...)
		b = append(b, user...)
	}
	b = append(b, `,"node":`...)
	b = appendJSONString(b, p.Node)
	b = append(b, `,"latency_us":`...)
	b = strconv.AppendInt(b, p.LatencyUS, 10)
	b = append(b, `,"ts":"`...)
	b = p.TS.AppendFormat(b, time.RFC3339Nano)
	return append(b, `"}`...)
}

func appendJSONFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(b, f, format, -1, 64)
}

const hexDigits = "0123456789abcdef"

func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
