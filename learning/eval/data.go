package eval

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Header says whether a CSV file starts with a header row.
type Header int

// Header modes.
const (
	HeaderAuto Header = iota // a header when some field of the first row is not a number
	HeaderYes
	HeaderNo
)

// MaxRows bounds the rows a dataset may have.
const MaxRows = 10_000_000

// ErrInvalidData marks a CSV file the harness cannot use.
var ErrInvalidData = errors.New("invalid evaluation data")

// Dataset is a CSV file read for evaluation: numeric feature columns and one target column.
type Dataset struct {
	Features []string    // names of the feature columns, in file order (c0, c1, ... without a header)
	Target   string      // name of the target column
	Skipped  []string    // non-numeric columns left out
	X        [][]float64 // one row per example
	Y        []string    // targets as written
}

// Load reads a CSV file. label names the target column, by header name or by index (negative
// counts from the end; "" is the last column). The features are the other columns whose every
// value is a number.
func Load(path string, header Header, label string) (*Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidData, err)
	}
	defer f.Close()
	d, err := Read(f, header, label)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// Read is Load from a reader.
func Read(r io.Reader, header Header, label string) (*Dataset, error) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = false
	rows, err := readAll(cr)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidData, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%w: no rows", ErrInvalidData)
	}
	width := len(rows[0])
	if width < 2 {
		return nil, fmt.Errorf("%w: %d column, want a target and at least one feature", ErrInvalidData, width)
	}
	hasHeader := header == HeaderYes
	if header == HeaderAuto {
		for _, s := range rows[0] {
			if _, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil {
				hasHeader = true
				break
			}
		}
	}
	names := make([]string, width)
	for i := range names {
		names[i] = "c" + strconv.Itoa(i)
	}
	if hasHeader {
		for i, s := range rows[0] {
			if s = strings.TrimSpace(s); s != "" {
				names[i] = s
			}
		}
		rows = rows[1:]
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%w: a header and no data rows", ErrInvalidData)
	}
	target, err := column(names, label)
	if err != nil {
		return nil, err
	}
	d := &Dataset{Target: names[target]}
	var cols []int
	for j := 0; j < width; j++ {
		if j == target {
			continue
		}
		numeric := true
		for _, row := range rows {
			v, err := strconv.ParseFloat(strings.TrimSpace(row[j]), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				numeric = false
				break
			}
		}
		if numeric {
			cols = append(cols, j)
			d.Features = append(d.Features, names[j])
		} else {
			d.Skipped = append(d.Skipped, names[j])
		}
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("%w: no numeric feature column besides the target %q", ErrInvalidData, names[target])
	}
	if dup := firstDuplicate(d.Features); dup != "" {
		return nil, fmt.Errorf("%w: feature column name %q repeats", ErrInvalidData, dup)
	}
	d.X = make([][]float64, len(rows))
	d.Y = make([]string, len(rows))
	flat := make([]float64, len(rows)*len(cols))
	for i, row := range rows {
		x := flat[i*len(cols) : (i+1)*len(cols) : (i+1)*len(cols)]
		for k, j := range cols {
			x[k], _ = strconv.ParseFloat(strings.TrimSpace(row[j]), 64)
		}
		d.X[i] = x
		d.Y[i] = strings.TrimSpace(row[target])
		if d.Y[i] == "" {
			return nil, fmt.Errorf("%w: row %d has an empty target", ErrInvalidData, i+1)
		}
	}
	return d, nil
}

func readAll(cr *csv.Reader) ([][]string, error) {
	var rows [][]string
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, err
		}
		if len(rows) > MaxRows {
			return nil, fmt.Errorf("more than %d rows", MaxRows)
		}
		rows = append(rows, rec)
	}
}

func column(names []string, label string) (int, error) {
	if label == "" {
		return len(names) - 1, nil
	}
	if i := slices.Index(names, label); i >= 0 {
		return i, nil
	}
	if i, err := strconv.Atoi(label); err == nil {
		if i < 0 {
			i += len(names)
		}
		if i >= 0 && i < len(names) {
			return i, nil
		}
		return 0, fmt.Errorf("%w: label column %s is out of range for %d columns", ErrInvalidData, label, len(names))
	}
	return 0, fmt.Errorf("%w: no column named %q (columns: %s)", ErrInvalidData, label, strings.Join(names, ", "))
}

func firstDuplicate(s []string) string {
	seen := map[string]bool{}
	for _, v := range s {
		if seen[v] {
			return v
		}
		seen[v] = true
	}
	return ""
}

// Classes returns the distinct targets, sorted numerically when they all are numbers, else
// lexically.
func (d *Dataset) Classes() []string {
	seen := map[string]bool{}
	var out []string
	for _, y := range d.Y {
		if !seen[y] {
			seen[y] = true
			out = append(out, y)
		}
	}
	numeric := true
	vals := map[string]float64{}
	for _, s := range out {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			numeric = false
			break
		}
		vals[s] = v
	}
	slices.SortFunc(out, func(a, b string) int {
		if numeric && vals[a] != vals[b] {
			if vals[a] < vals[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	return out
}
