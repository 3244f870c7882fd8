package remote

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// column is one output of an answer: per values for each of the batch's rows, numbers or
// strings.
type column struct {
	name string
	per  int
	f    []float64 // numbers (booleans as 0/1), or nil
	s    []string  // strings, or nil
}

func (c *column) kind() string {
	if c.s != nil {
		return "strings"
	}
	return "numbers"
}

func (c *column) num(k int) (float64, bool) {
	if c.f == nil || c.per < 1 {
		return 0, false
	}
	return c.f[k*c.per], true
}

func (c *column) nums(k int) ([]float64, bool) {
	if c.f == nil {
		return nil, false
	}
	return c.f[k*c.per : (k+1)*c.per], true
}

func (c *column) str(k int) (string, bool) {
	if c.s == nil || c.per < 1 {
		return "", false
	}
	return c.s[k*c.per], true
}

type columns struct {
	first *column
	named map[string]*column
}

func (c *columns) names() string {
	var out []string
	for n := range c.named {
		out = append(out, fmt.Sprintf("%q", n))
	}
	if len(out) == 0 {
		return "none"
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// flatten appends the leaves of a JSON value (a scalar or nested arrays) to f or s. Mixing
// numbers and strings is an error.
func flatten(raw json.RawMessage, f *[]float64, s *[]string) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	depth := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '[':
				depth++
				if depth > 32 {
					return errors.New("arrays nested more than 32 deep")
				}
			case ']':
				depth--
			default:
				return errors.New("an object where numbers or strings belong")
			}
		case json.Number:
			x, err := v.Float64()
			if err != nil {
				return fmt.Errorf("number %s: %w", v, err)
			}
			*f = append(*f, x)
		case bool:
			x := 0.0
			if v {
				x = 1
			}
			*f = append(*f, x)
		case string:
			*s = append(*s, v)
		case nil:
			return errors.New("null where a value belongs")
		}
		if len(*f) > 0 && len(*s) > 0 {
			return errors.New("numbers mixed with strings")
		}
	}
}

func newColumn(name string, raw json.RawMessage, rows int) (*column, error) {
	c := &column{name: name}
	var f []float64
	var s []string
	if err := flatten(raw, &f, &s); err != nil {
		return nil, fmt.Errorf("output %q: %w", name, err)
	}
	n := len(f) + len(s)
	if n == 0 || n%rows != 0 {
		return nil, fmt.Errorf("output %q has %d values for %d rows", name, n, rows)
	}
	c.per = n / rows
	if s != nil {
		c.s = s
	} else {
		c.f = f
	}
	return c, nil
}

type v2Tensor struct {
	Name     string          `json:"name"`
	Shape    []int64         `json:"shape"`
	Datatype string          `json:"datatype"`
	Data     json.RawMessage `json:"data"`
}

// decodeV2 reads an Open Inference Protocol v2 answer for rows rows.
func decodeV2(b []byte, rows int) (*columns, error) {
	var r struct {
		Outputs []v2Tensor `json:"outputs"`
		Error   string     `json:"error"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("not a v2 inference response: %s", err.Error())
	}
	if r.Error != "" {
		return nil, fmt.Errorf("server error: %q", r.Error)
	}
	if len(r.Outputs) == 0 {
		return nil, errors.New(`no "outputs" in the v2 inference response`)
	}
	cols := &columns{named: make(map[string]*column, len(r.Outputs))}
	for i, t := range r.Outputs {
		if len(t.Data) == 0 {
			return nil, fmt.Errorf("output %q (#%d) has no data", t.Name, i)
		}
		c, err := newColumn(t.Name, t.Data, rows)
		if err != nil {
			return nil, err
		}
		if len(t.Shape) > 0 {
			total := int64(1)
			for _, d := range t.Shape {
				if d < 0 || (d > 0 && total > (1<<40)/d) {
					return nil, fmt.Errorf("output %q: shape %v is not a tensor shape", t.Name, t.Shape)
				}
				total *= d
			}
			if total != int64(rows*c.per) {
				return nil, fmt.Errorf("output %q: shape %v holds %d values but data has %d", t.Name, t.Shape, total, rows*c.per)
			}
			if t.Shape[0] != int64(rows) {
				return nil, fmt.Errorf("output %q: shape %v has batch size %d, the request had %d rows", t.Name, t.Shape, t.Shape[0], rows)
			}
		}
		if cols.first == nil {
			cols.first = c
		}
		cols.named[t.Name] = c
	}
	return cols, nil
}

// decodeTF reads a TensorFlow Serving predict answer ({"predictions": [...]}) for rows rows.
// Each prediction is a number, an array, or an object of named outputs.
func decodeTF(b []byte, rows int) (*columns, error) {
	var r struct {
		Predictions []json.RawMessage `json:"predictions"`
		Error       string            `json:"error"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("not a TensorFlow Serving predict response: %s", err.Error())
	}
	if r.Error != "" {
		return nil, fmt.Errorf("server error: %q", r.Error)
	}
	if len(r.Predictions) != rows {
		return nil, fmt.Errorf("%d predictions for %d instances", len(r.Predictions), rows)
	}
	cols := &columns{named: map[string]*column{}}
	if first := bytes.TrimSpace(r.Predictions[0]); len(first) > 0 && first[0] == '{' {
		objs := make([]map[string]json.RawMessage, rows)
		for i, p := range r.Predictions {
			if err := json.Unmarshal(p, &objs[i]); err != nil || objs[i] == nil {
				return nil, fmt.Errorf("prediction %d is not an object of named outputs like prediction 0", i)
			}
		}
		for name := range objs[0] {
			var buf bytes.Buffer
			buf.WriteByte('[')
			per := -1
			for i, o := range objs {
				v, ok := o[name]
				if !ok {
					return nil, fmt.Errorf("prediction %d has no output %q", i, name)
				}
				if i > 0 {
					buf.WriteByte(',')
				}
				buf.Write(v)
				var f []float64
				var s []string
				if err := flatten(v, &f, &s); err != nil {
					return nil, fmt.Errorf("prediction %d output %q: %w", i, name, err)
				}
				if n := len(f) + len(s); per >= 0 && n != per {
					return nil, fmt.Errorf("output %q has %d values in prediction %d and %d in prediction 0", name, n, i, per)
				} else {
					per = n
				}
			}
			buf.WriteByte(']')
			c, err := newColumn(name, buf.Bytes(), rows)
			if err != nil {
				return nil, err
			}
			cols.named[name] = c
		}
		if len(cols.named) == 1 {
			for _, c := range cols.named {
				cols.first = c
			}
		}
		return cols, nil
	}
	var buf bytes.Buffer
	buf.WriteByte('[')
	per := -1
	for i, p := range r.Predictions {
		var f []float64
		var s []string
		if err := flatten(p, &f, &s); err != nil {
			return nil, fmt.Errorf("prediction %d: %w", i, err)
		}
		if n := len(f) + len(s); per >= 0 && n != per {
			return nil, fmt.Errorf("prediction %d has %d values, prediction 0 has %d", i, n, per)
		} else {
			per = n
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(p)
	}
	buf.WriteByte(']')
	c, err := newColumn("predictions", buf.Bytes(), rows)
	if err != nil {
		return nil, err
	}
	cols.first = c
	return cols, nil
}
