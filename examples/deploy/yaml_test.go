package deploy

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// parseYAML parses the subset of YAML the deployment files use, strictly:
// block mappings and sequences (including "- key: value" items and
// sequences at their key's indentation), plain, single- and double-quoted
// scalars, one-line flow sequences and mappings, literal (|) and folded (>)
// block scalars, comments and "---" document separators. Anything else is an
// error naming the line: tabs in indentation, anchors, aliases, tags, merge
// keys, duplicate keys, multi-line plain scalars, and plain scalars whose type
// YAML 1.1 and 1.2 readers disagree on (yes/no/on/off, 0755, 1:30, dates),
// which must be quoted. It returns one value per document: map[string]any,
// []any, string, int64, float64, bool or nil.
func parseYAML(src string) ([]any, error) {
	var docs []any
	var cur []string
	flush := func(first int) error {
		p := &yparser{lines: cur, first: first}
		v, err := p.document()
		if err != nil {
			return err
		}
		if v != nil || len(docs) == 0 {
			docs = append(docs, v)
		}
		return nil
	}
	all := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	start := 1
	for i, l := range all {
		if strings.TrimRight(l, " ") == "---" {
			if err := flush(start); err != nil {
				return nil, err
			}
			cur, start = nil, i+2
			continue
		}
		cur = append(cur, l)
	}
	if err := flush(start); err != nil {
		return nil, err
	}
	return docs, nil
}

type yparser struct {
	lines []string
	first int // line number of lines[0] in the file
	pos   int
	// override replaces lines[pos] after a "- " was consumed: the rest of
	// the item, at its own column.
	override *yline
}

type yline struct {
	indent int
	text   string // without indentation and comment
}

func (p *yparser) errf(format string, args ...any) error {
	return fmt.Errorf("line %d: %s", p.first+p.pos, fmt.Sprintf(format, args...))
}

// peek returns the next meaningful line, skipping blank and comment lines.
func (p *yparser) peek() (yline, bool, error) {
	if p.override != nil {
		return *p.override, true, nil
	}
	for p.pos < len(p.lines) {
		raw := p.lines[p.pos]
		body := strings.TrimLeft(raw, " ")
		if strings.HasPrefix(body, "\t") || (len(body) < len(raw) && strings.Contains(raw[:len(raw)-len(body)], "\t")) {
			return yline{}, false, p.errf("tab in indentation")
		}
		text, err := stripComment(body)
		if err != nil {
			return yline{}, false, p.errf("%v", err)
		}
		if text == "" {
			p.pos++
			continue
		}
		return yline{indent: len(raw) - len(body), text: text}, true, nil
	}
	return yline{}, false, nil
}

func (p *yparser) advance() {
	if p.override != nil {
		p.override = nil
	}
	p.pos++
}

func (p *yparser) document() (any, error) {
	l, ok, err := p.peek()
	if err != nil || !ok {
		return nil, err
	}
	v, err := p.node(l.indent)
	if err != nil {
		return nil, err
	}
	if l, ok, err := p.peek(); err != nil {
		return nil, err
	} else if ok {
		return nil, p.errf("unexpected %q at indentation %d", l.text, l.indent)
	}
	return v, nil
}

// node parses the block node whose first line is at indentation ind.
func (p *yparser) node(ind int) (any, error) {
	l, ok, err := p.peek()
	if err != nil {
		return nil, err
	}
	if !ok || l.indent != ind {
		return nil, p.errf("expected a node at indentation %d", ind)
	}
	if isItem(l.text) {
		return p.sequence(ind)
	}
	if _, _, isKey, err := splitKey(l.text); err != nil {
		return nil, p.errf("%v", err)
	} else if isKey {
		return p.mapping(ind)
	}
	p.advance()
	v, err := p.inline(l.text)
	if err != nil {
		return nil, err
	}
	if n, ok, _ := p.peek(); ok && n.indent > ind {
		return nil, p.errf("multi-line plain scalars are not supported: quote the value or use |")
	}
	return v, nil
}

func isItem(s string) bool { return s == "-" || strings.HasPrefix(s, "- ") }

func (p *yparser) sequence(ind int) ([]any, error) {
	out := []any{}
	for {
		l, ok, err := p.peek()
		if err != nil {
			return nil, err
		}
		if !ok || l.indent < ind {
			return out, nil
		}
		if l.indent > ind || !isItem(l.text) {
			return nil, p.errf("expected \"- \" at indentation %d, got %q", ind, l.text)
		}
		rest := strings.TrimLeft(strings.TrimPrefix(l.text, "-"), " ")
		if rest == "" { // the item is the block below
			p.advance()
			n, ok, err := p.peek()
			if err != nil {
				return nil, err
			}
			if !ok || n.indent <= ind {
				out = append(out, nil)
				continue
			}
			v, err := p.node(n.indent)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			continue
		}
		if rest[0] == '|' || rest[0] == '>' { // "- |": a block scalar item
			p.advance()
			v, err := p.blockScalar(ind, rest)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			continue
		}
		// The item's content starts at its own column: parse it as a node there.
		col := ind + len(l.text) - len(rest)
		p.override = &yline{indent: col, text: rest}
		v, err := p.node(col)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
}

func (p *yparser) mapping(ind int) (map[string]any, error) {
	out := map[string]any{}
	for {
		l, ok, err := p.peek()
		if err != nil {
			return nil, err
		}
		if !ok || l.indent < ind {
			return out, nil
		}
		if l.indent > ind {
			return nil, p.errf("unexpected indentation %d (mapping at %d): %q", l.indent, ind, l.text)
		}
		key, rest, isKey, err := splitKey(l.text)
		if err != nil {
			return nil, p.errf("%v", err)
		}
		if !isKey {
			return nil, p.errf("expected \"key: value\" at indentation %d, got %q", ind, l.text)
		}
		if key == "<<" {
			return nil, p.errf("merge keys (<<) are not supported")
		}
		if _, dup := out[key]; dup {
			return nil, p.errf("duplicate key %q", key)
		}
		p.advance()
		var v any
		switch {
		case rest == "":
			n, ok, err := p.peek()
			if err != nil {
				return nil, err
			}
			switch {
			case ok && n.indent > ind:
				v, err = p.node(n.indent)
			case ok && n.indent == ind && isItem(n.text): // a sequence at its key's indentation
				v, err = p.sequence(ind)
			}
			if err != nil {
				return nil, err
			}
		case rest[0] == '|' || rest[0] == '>':
			v, err = p.blockScalar(ind, rest)
			if err != nil {
				return nil, err
			}
		default:
			v, err = p.inline(rest)
			if err != nil {
				return nil, err
			}
			if n, ok, _ := p.peek(); ok && n.indent > ind {
				return nil, p.errf("multi-line plain scalars are not supported (key %q): quote the value or use |", key)
			}
		}
		out[key] = v
	}
}

// blockScalar reads the lines of a | or > scalar below a key at indentation ind.
func (p *yparser) blockScalar(ind int, header string) (string, error) {
	chomp := "clip"
	switch header[1:] {
	case "":
	case "-":
		chomp = "strip"
	case "+":
		chomp = "keep"
	default:
		return "", p.errf("block scalar header %q is not supported", header)
	}
	var lines []string
	blockInd := -1
	for p.pos < len(p.lines) {
		raw := p.lines[p.pos]
		body := strings.TrimLeft(raw, " ")
		if body == "" {
			lines = append(lines, "")
			p.pos++
			continue
		}
		in := len(raw) - len(body)
		if in <= ind {
			break
		}
		if strings.HasPrefix(body, "\t") {
			return "", p.errf("tab in indentation")
		}
		if blockInd < 0 {
			blockInd = in
		}
		if in < blockInd {
			return "", p.errf("block scalar line less indented than its first line")
		}
		lines = append(lines, raw[blockInd:])
		p.pos++
	}
	// Trailing blank lines belong to chomping.
	n := len(lines)
	for n > 0 && lines[n-1] == "" {
		n--
	}
	trailing := len(lines) - n
	lines = lines[:n]
	var s string
	if header[0] == '|' {
		s = strings.Join(lines, "\n")
	} else {
		var b strings.Builder
		for i, l := range lines {
			if strings.HasPrefix(l, " ") {
				return "", p.errf("more-indented lines in a folded (>) scalar are not supported")
			}
			switch {
			case i == 0:
			case l == "" || lines[i-1] == "":
				b.WriteString("\n")
			default:
				b.WriteString(" ")
			}
			b.WriteString(l)
		}
		s = strings.ReplaceAll(b.String(), "\n\n", "\n")
	}
	switch {
	case len(lines) == 0:
		return "", nil
	case chomp == "clip":
		s += "\n"
	case chomp == "keep":
		s += strings.Repeat("\n", trailing+1)
	}
	return s, nil
}

// inline parses a value written on one line: a flow collection or a scalar.
func (p *yparser) inline(s string) (any, error) {
	v, rest, err := flowValue(s, false)
	if err != nil {
		return nil, p.errf("%v", err)
	}
	if strings.TrimSpace(rest) != "" {
		return nil, p.errf("unexpected %q after the value", rest)
	}
	return v, nil
}

// flowValue parses one value at the start of s; inFlow stops plain scalars at , ] }.
func flowValue(s string, inFlow bool) (any, string, error) {
	s = strings.TrimLeft(s, " ")
	if s == "" {
		return nil, "", nil
	}
	switch s[0] {
	case '[':
		out := []any{}
		s = strings.TrimLeft(s[1:], " ")
		if strings.HasPrefix(s, "]") {
			return out, s[1:], nil
		}
		for {
			v, rest, err := flowValue(s, true)
			if err != nil {
				return nil, "", err
			}
			out = append(out, v)
			rest = strings.TrimLeft(rest, " ")
			switch {
			case strings.HasPrefix(rest, ","):
				s = rest[1:]
			case strings.HasPrefix(rest, "]"):
				return out, rest[1:], nil
			default:
				return nil, "", fmt.Errorf("unterminated flow sequence")
			}
		}
	case '{':
		out := map[string]any{}
		s = strings.TrimLeft(s[1:], " ")
		if strings.HasPrefix(s, "}") {
			return out, s[1:], nil
		}
		for {
			k, rest, err := flowValue(s, true)
			if err != nil {
				return nil, "", err
			}
			ks, ok := k.(string)
			rest = strings.TrimLeft(rest, " ")
			if !ok || !strings.HasPrefix(rest, ":") {
				return nil, "", fmt.Errorf("flow mapping entry without a string key and ':'")
			}
			v, rest, err := flowValue(rest[1:], true)
			if err != nil {
				return nil, "", err
			}
			if _, dup := out[ks]; dup {
				return nil, "", fmt.Errorf("duplicate key %q", ks)
			}
			out[ks] = v
			rest = strings.TrimLeft(rest, " ")
			switch {
			case strings.HasPrefix(rest, ","):
				s = strings.TrimLeft(rest[1:], " ")
			case strings.HasPrefix(rest, "}"):
				return out, rest[1:], nil
			default:
				return nil, "", fmt.Errorf("unterminated flow mapping")
			}
		}
	case '"', '\'':
		return quoted(s)
	case '&', '*', '!', '@', '`', '%':
		return nil, "", fmt.Errorf("%q: anchors, aliases, tags and reserved indicators are not supported", s)
	case '|', '>':
		return nil, "", fmt.Errorf("block scalar indicator %q in a flow or after text", s[:1])
	}
	end := len(s)
	if inFlow {
		if i := strings.IndexAny(s, ",]}"); i >= 0 {
			end = i
		}
		if i := strings.Index(s, ": "); i >= 0 && i < end {
			end = i
		}
		if strings.HasSuffix(s[:end], ":") {
			end--
		}
	}
	v, err := plain(strings.TrimRight(s[:end], " "))
	return v, s[end:], err
}

// quoted reads a quoted scalar at the start of s and returns it and the rest.
func quoted(s string) (string, string, error) {
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case q == '\'' && c == '\'':
			if i+1 < len(s) && s[i+1] == '\'' {
				b.WriteByte('\'')
				i++
				continue
			}
			return b.String(), s[i+1:], nil
		case q == '"' && c == '"':
			return b.String(), s[i+1:], nil
		case q == '"' && c == '\\':
			if i+1 >= len(s) {
				return "", "", errors.New("unterminated escape")
			}
			i++
			switch s[i] {
			case '"', '\\', '/':
				b.WriteByte(s[i])
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				return "", "", fmt.Errorf("escape \\%c is not supported", s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", fmt.Errorf("unterminated quoted string %s", s)
}

var (
	intRe   = regexp.MustCompile(`^[-+]?(0|[1-9][0-9]*)$`)
	floatRe = regexp.MustCompile(`^[-+]?(0|[1-9][0-9]*)\.[0-9]+$`)
	// Plain scalars that YAML 1.1 (PyYAML) and 1.2 (Go's yaml.v3, Kubernetes) read differently.
	risky = []*regexp.Regexp{
		regexp.MustCompile(`^[-+]?0[0-9_]+$`),                                // octal in 1.1
		regexp.MustCompile(`^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$`), // base 60 in 1.1
		regexp.MustCompile(`^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}`),                // timestamps
		regexp.MustCompile(`^[-+]?[0-9][0-9_]*_[0-9_]*$`),                    // 1_000
		regexp.MustCompile(`^[-+]?([0-9][0-9_]*)?\.[0-9._]*([eE][-+]?[0-9]+)?$`),
		regexp.MustCompile(`^[-+]?[0-9][0-9_.]*[eE][-+]?[0-9]+$`),
		regexp.MustCompile(`^0[xob][0-9a-fA-F_]+$`),
		regexp.MustCompile(`^[-+]?\.(inf|Inf|INF|nan|NaN|NAN)$`),
	}
	boolish  = map[string]bool{"yes": true, "no": true, "on": true, "off": true, "y": true, "n": true, "Yes": true, "No": true, "On": true, "Off": true, "YES": true, "NO": true, "ON": true, "OFF": true, "Y": true, "N": true}
	boolVals = map[string]bool{"true": true, "True": true, "TRUE": true, "false": false, "False": false, "FALSE": false}
)

// plain types a plain scalar, refusing the ones YAML 1.1 and 1.2 read differently.
func plain(s string) (any, error) {
	switch {
	case s == "" || s == "~" || s == "null" || s == "Null" || s == "NULL":
		return nil, nil
	case boolish[s]:
		return nil, fmt.Errorf("%q is a boolean to YAML 1.1 and a string to YAML 1.2: quote it", s)
	case intRe.MatchString(s):
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err
	case floatRe.MatchString(s):
		return strconv.ParseFloat(s, 64)
	case strings.Contains(s, ": ") || strings.HasPrefix(s, "- ") || strings.Contains(s, " #"):
		return nil, fmt.Errorf("%q: ambiguous plain scalar: quote it", s)
	}
	for _, re := range risky {
		if re.MatchString(s) {
			return nil, fmt.Errorf("%q reads differently in YAML 1.1 and 1.2 (octal, base 60, date, float, ...): quote it", s)
		}
	}
	if b, ok := boolVals[s]; ok {
		return b, nil
	}
	return s, nil
}

// splitKey splits "key: rest" (the key plain or quoted); isKey is false for a
// line that is not a mapping entry.
func splitKey(s string) (key, rest string, isKey bool, err error) {
	if s[0] == '"' || s[0] == '\'' {
		k, after, err := quoted(s)
		if err != nil {
			return "", "", false, err
		}
		if after == ":" || strings.HasPrefix(after, ": ") {
			return k, strings.TrimSpace(after[1:]), true, nil
		}
		return "", "", false, nil
	}
	if s[0] == '[' || s[0] == '{' {
		return "", "", false, nil
	}
	if strings.HasPrefix(s, "? ") {
		return "", "", false, errors.New("complex keys (?) are not supported")
	}
	i := strings.Index(s, ": ")
	if i < 0 && strings.HasSuffix(s, ":") {
		i = len(s) - 1
	}
	if i <= 0 {
		return "", "", false, nil
	}
	return s[:i], strings.TrimSpace(s[i+1:]), true, nil
}

// stripComment removes a trailing comment (a # at the start or after a
// space, outside quotes) and trailing spaces.
func stripComment(s string) (string, error) {
	var q byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0:
			if c == '\\' && q == '"' {
				i++
			} else if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			// a quote opens a quoted scalar only where a scalar starts
			if i == 0 || strings.ContainsRune(" [{,:-", rune(s[i-1])) {
				q = c
			}
		case c == '#' && (i == 0 || s[i-1] == ' '):
			return strings.TrimRight(s[:i], " "), nil
		}
	}
	return strings.TrimRight(s, " "), nil
}
