package pmml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// elem is one element of a parsed document: its local name, attributes, children and text.
// Namespaces are dropped after the root has been checked: PMML 3.x and 4.x differ in them,
// not in element names.
type elem struct {
	name  string
	attrs []xml.Attr
	kids  []*elem
	text  string
	line  int
}

func (e *elem) attr(name string) (string, bool) {
	for _, a := range e.attrs {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

func (e *elem) get(name string) string {
	v, _ := e.attr(name)
	return v
}

func (e *elem) child(name string) *elem {
	for _, k := range e.kids {
		if k.name == name {
			return k
		}
	}
	return nil
}

func (e *elem) children(name string) []*elem {
	var out []*elem
	for _, k := range e.kids {
		if k.name == name {
			out = append(out, k)
		}
	}
	return out
}

// where names the element for error messages.
func (e *elem) where() string {
	if e == nil {
		return "document"
	}
	return fmt.Sprintf("line %d: %s", e.line, e.name)
}

// parseDocument reads a PMML document into an element tree, enforcing [Limits]: total size,
// nesting depth and element count are checked while reading, so a hostile document fails
// before it costs more than the limits. encoding/xml does not expand DTD entities; a
// document that uses an undeclared entity fails to parse.
func parseDocument(b []byte, lim Limits) (*elem, error) {
	if len(b) > lim.MaxBytes {
		return nil, fmt.Errorf("document is %d bytes, over the limit of %d", len(b), lim.MaxBytes)
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.Strict = true
	dec.CharsetReader = charsetReader
	var (
		root  *elem
		stack []*elem
		count int
		skip  int // depth inside an Extension element, whose content is ignored
		text  strings.Builder
	)
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("malformed XML: %s", err.Error())
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) >= lim.MaxDepth {
				return nil, fmt.Errorf("elements nest deeper than the limit of %d", lim.MaxDepth)
			}
			count++
			if count > lim.MaxElements {
				return nil, fmt.Errorf("more than the limit of %d elements", lim.MaxElements)
			}
			line, _ := dec.InputPos()
			e := &elem{name: t.Name.Local, line: line}
			if skip > 0 || (t.Name.Local == "Extension" && len(stack) > 0) {
				skip++
				stack = append(stack, e)
				continue
			}
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || a.Name.Local == "xmlns" {
					continue
				}
				e.attrs = append(e.attrs, a)
			}
			if root == nil {
				if t.Name.Local != "PMML" {
					return nil, fmt.Errorf("root element is <%s>, want <PMML>", t.Name.Local)
				}
				if ns := t.Name.Space; ns != "" && !strings.HasPrefix(ns, "http://www.dmg.org/PMML-") {
					return nil, fmt.Errorf("root namespace %q is not a PMML namespace (http://www.dmg.org/PMML-3_0 ... PMML-4_4)", ns)
				}
				root = e
			} else if len(stack) == 0 {
				return nil, errors.New("more than one root element")
			} else {
				p := stack[len(stack)-1]
				p.kids = append(p.kids, e)
			}
			stack = append(stack, e)
			text.Reset()
		case xml.EndElement:
			if len(stack) == 0 {
				return nil, errors.New("malformed XML: unbalanced end tag")
			}
			e := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if skip > 0 {
				skip--
				continue
			}
			if len(e.kids) == 0 {
				e.text = text.String()
			}
			text.Reset()
		case xml.CharData:
			if skip == 0 && len(stack) > 0 {
				text.Write(t)
			}
		case xml.Directive:
			if bytes.Contains(t, []byte("ENTITY")) {
				return nil, errors.New("DTD entity declarations are not accepted")
			}
		}
	}
	if root == nil {
		return nil, errors.New("no <PMML> element")
	}
	return root, nil
}

// charsetReader accepts UTF-8, US-ASCII and Latin-1 declarations.
func charsetReader(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return in, nil
	case "iso-8859-1", "latin1", "latin-1", "iso_8859-1", "windows-1252", "cp1252":
		b, err := io.ReadAll(in)
		if err != nil {
			return nil, err
		}
		var out bytes.Buffer
		for _, c := range b {
			out.WriteRune(rune(c))
		}
		return &out, nil
	}
	return nil, fmt.Errorf("encoding %q is not supported; use UTF-8", label)
}

// parseArray splits the content of a PMML Array: whitespace-separated tokens, where a token
// in double quotes may contain spaces and \" escapes.
func parseArray(s string) ([]string, error) {
	var out []string
	i := 0
	for i < len(s) {
		c := s[i]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			i++
			continue
		}
		if c == '"' {
			var b strings.Builder
			i++
			closed := false
			for i < len(s) {
				if s[i] == '\\' && i+1 < len(s) && s[i+1] == '"' {
					b.WriteByte('"')
					i += 2
					continue
				}
				if s[i] == '"' {
					closed = true
					i++
					break
				}
				b.WriteByte(s[i])
				i++
			}
			if !closed {
				return nil, errors.New("unterminated quoted string in Array")
			}
			out = append(out, b.String())
			continue
		}
		j := i
		for j < len(s) && s[j] != ' ' && s[j] != '\t' && s[j] != '\n' && s[j] != '\r' {
			j++
		}
		if !utf8.ValidString(s[i:j]) {
			return nil, errors.New("Array token is not UTF-8")
		}
		out = append(out, s[i:j])
		i = j
	}
	return out, nil
}
