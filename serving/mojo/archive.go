package mojo

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// archive is an opened MOJO zip: its entries by name and a budget of uncompressed bytes
// that every read draws from, so a zip bomb fails the load instead of filling memory.
type archive struct {
	files  map[string]*zip.File
	budget int64 // uncompressed bytes still allowed
}

func openArchive(b []byte) (*archive, error) {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, loadErr("not a zip archive (a MOJO is the zip that download_mojo writes): %v", err)
	}
	if len(zr.File) > MaxEntries {
		return nil, loadErr("zip has %d entries, over the limit of %d", len(zr.File), MaxEntries)
	}
	a := &archive{files: make(map[string]*zip.File, len(zr.File)), budget: MaxUncompressedBytes}
	for _, f := range zr.File {
		if _, dup := a.files[f.Name]; !dup {
			a.files[f.Name] = f
		}
	}
	return a, nil
}

func (a *archive) exists(name string) bool {
	_, ok := a.files[name]
	return ok
}

// read returns the uncompressed content of entry name.
func (a *archive) read(name string) ([]byte, error) {
	f, ok := a.files[name]
	if !ok {
		return nil, loadErr("zip has no %s", name)
	}
	if f.UncompressedSize64 > uint64(a.budget) {
		return nil, loadErr("%s: %d uncompressed bytes would exceed the limit of %d for the whole MOJO", name, f.UncompressedSize64, int64(MaxUncompressedBytes))
	}
	rc, err := f.Open()
	if err != nil {
		return nil, loadErr("%s: %v", name, err)
	}
	defer rc.Close()
	var buf bytes.Buffer
	buf.Grow(int(min(f.UncompressedSize64, 1<<20)))
	n, err := buf.ReadFrom(io.LimitReader(rc, a.budget+1))
	if err != nil {
		return nil, loadErr("%s: %v", name, err)
	}
	if n > a.budget {
		return nil, loadErr("%s: more than the limit of %d uncompressed bytes for the whole MOJO", name, int64(MaxUncompressedBytes))
	}
	a.budget -= n
	return buf.Bytes(), nil
}

// lines splits text the way Java's BufferedReader.readLine does: on "\n", "\r" or "\r\n",
// with no empty last line after a final terminator.
func lines(b []byte) []string {
	var out []string
	for len(b) > 0 {
		i := bytes.IndexAny(b, "\r\n")
		if i < 0 {
			out = append(out, string(b))
			break
		}
		out = append(out, string(b[:i]))
		if b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n' {
			i++
		}
		b = b[i+1:]
	}
	return out
}

// javaTrim trims what Java's String.trim does: every char <= ' ' at either end.
func javaTrim(s string) string {
	i, j := 0, len(s)
	for i < j && s[i] <= ' ' {
		i++
	}
	for j > i && s[j-1] <= ' ' {
		j--
	}
	return s[i:j]
}

// unescapeNewlines undoes H2O's escaping of domain values (escape_domain_values = true):
// "\n", "\r" and "\\"; a backslash before any other character is dropped.
func unescapeNewlines(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var sb strings.Builder
	slash := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if slash {
			switch c {
			case 'n':
				sb.WriteByte('\n')
			case 'r':
				sb.WriteByte('\r')
			default:
				sb.WriteByte(c)
			}
			slash = false
			continue
		}
		if c == '\\' {
			slash = true
			continue
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

// ini is a parsed model.ini: the [info] key/value pairs (raw strings), the [columns] names
// and the [domains] references by column index.
type ini struct {
	kv      map[string]string
	columns []string
	domains map[int]string // column index -> "nlevels dNNN.txt"
}

func parseINI(b []byte) (*ini, error) {
	p := &ini{kv: make(map[string]string), domains: make(map[int]string)}
	section := 0
	haveColumns := false
	for n, raw := range lines(b) {
		line := javaTrim(raw)
		if line == "" || line[0] == '#' {
			continue
		}
		switch line {
		case "[info]":
			section = 1
			continue
		case "[columns]":
			section = 2
			if haveColumns {
				return nil, loadErr("model.ini line %d: a second [columns] section", n+1)
			}
			haveColumns = true
			nc, err := p.intKey("n_columns")
			if err != nil {
				return nil, err
			}
			if nc < 1 || nc > MaxColumns {
				return nil, loadErr("model.ini: n_columns %d is not in [1, %d]", nc, MaxColumns)
			}
			p.columns = make([]string, 0, nc)
			continue
		case "[domains]":
			section = 3
			continue
		}
		switch section {
		case 1:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				return nil, loadErr("model.ini line %d: %q in [info] is not key = value", n+1, clip(line))
			}
			k, v = javaTrim(k), javaTrim(v)
			if _, dup := p.kv[k]; !dup {
				p.kv[k] = v
			}
		case 2:
			if len(p.columns) == cap(p.columns) {
				return nil, loadErr("model.ini line %d: more column names than n_columns = %d", n+1, cap(p.columns))
			}
			p.columns = append(p.columns, line)
		case 3:
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				return nil, loadErr("model.ini line %d: %q in [domains] is not \"index: nlevels file\"", n+1, clip(line))
			}
			i, err := strconv.Atoi(javaTrim(k))
			if err != nil || i < 0 {
				return nil, loadErr("model.ini line %d: domain column index %q is not a non-negative integer", n+1, clip(k))
			}
			p.domains[i] = javaTrim(v)
		default:
			return nil, loadErr("model.ini line %d: %q comes before any [info] section", n+1, clip(line))
		}
	}
	if !haveColumns {
		return nil, loadErr("model.ini has no [columns] section")
	}
	if len(p.columns) != cap(p.columns) {
		return nil, loadErr("model.ini lists %d column names, n_columns says %d", len(p.columns), cap(p.columns))
	}
	return p, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// get returns the raw value of key; a missing key and the value "null" both report false.
func (p *ini) get(key string) (string, bool) {
	v, ok := p.kv[key]
	if !ok || v == "null" {
		return "", false
	}
	return v, true
}

func (p *ini) str(key string) (string, error) {
	v, ok := p.get(key)
	if !ok {
		return "", loadErr("model.ini has no %s", key)
	}
	return v, nil
}

func (p *ini) intKey(key string) (int, error) {
	v, ok := p.get(key)
	if !ok {
		return 0, loadErr("model.ini has no %s", key)
	}
	return parseInt(key, v)
}

func (p *ini) intOr(key string, def int) (int, error) {
	v, ok := p.get(key)
	if !ok {
		return def, nil
	}
	return parseInt(key, v)
}

func parseInt(key, v string) (int, error) {
	i, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, loadErr("model.ini: %s = %q is not an integer", key, clip(v))
	}
	return int(i), nil
}

func (p *ini) float(key string) (float64, error) {
	v, ok := p.get(key)
	if !ok {
		return 0, loadErr("model.ini has no %s", key)
	}
	return parseFloat(key, v)
}

func (p *ini) floatOr(key string, def float64) (float64, error) {
	v, ok := p.get(key)
	if !ok {
		return def, nil
	}
	return parseFloat(key, v)
}

// parseFloat parses a Java double: Go's syntax plus Java's "Infinity" and a d/D/f/F suffix.
func parseFloat(key, v string) (float64, error) {
	s := v
	if n := len(s); n > 1 && strings.ContainsRune("dDfF", rune(s[n-1])) && !strings.HasSuffix(strings.ToLower(s), "inf") {
		s = s[:n-1]
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, loadErr("model.ini: %s = %q is not a number", key, clip(v))
	}
	return f, nil
}

func (p *ini) boolOr(key string, def bool) (bool, error) {
	v, ok := p.get(key)
	if !ok {
		return def, nil
	}
	switch v {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, loadErr("model.ini: %s = %q is not true or false", key, clip(v))
}

// arrayItems splits "[a, b, c]" into its trimmed items; "[]" has none.
func arrayItems(key, v string) ([]string, error) {
	if len(v) < 2 || v[0] != '[' || v[len(v)-1] != ']' {
		return nil, loadErr("model.ini: %s = %q is not an array in [brackets]", key, clip(v))
	}
	body := v[1 : len(v)-1]
	if javaTrim(body) == "" {
		return nil, nil
	}
	items := strings.Split(body, ",")
	for i := range items {
		items[i] = javaTrim(items[i])
	}
	return items, nil
}

// floats returns the double array under key; ok is false when the key is missing or null.
func (p *ini) floats(key string) (out []float64, ok bool, err error) {
	v, ok := p.get(key)
	if !ok {
		return nil, false, nil
	}
	items, err := arrayItems(key, v)
	if err != nil {
		return nil, true, err
	}
	out = make([]float64, len(items))
	for i, s := range items {
		if out[i], err = parseFloat(fmt.Sprintf("%s[%d]", key, i), s); err != nil {
			return nil, true, err
		}
	}
	return out, true, nil
}

func (p *ini) ints(key string) (out []int, ok bool, err error) {
	v, ok := p.get(key)
	if !ok {
		return nil, false, nil
	}
	items, err := arrayItems(key, v)
	if err != nil {
		return nil, true, err
	}
	out = make([]int, len(items))
	for i, s := range items {
		if out[i], err = parseInt(fmt.Sprintf("%s[%d]", key, i), s); err != nil {
			return nil, true, err
		}
	}
	return out, true, nil
}

// allFinite reports whether every value in xs is a finite number.
func allFinite(xs []float64) bool {
	for _, x := range xs {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}
