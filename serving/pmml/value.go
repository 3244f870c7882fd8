package pmml

import (
	"math"
	"strconv"
	"strings"
)

type kind uint8

const (
	kMissing kind = iota
	kNum
	kStr
	kBool
)

// value is a field value during evaluation: missing, a number, a string or a boolean.
type value struct {
	k kind
	n float64
	s string
}

var missing = value{}

func num(f float64) value  { return value{k: kNum, n: f} }
func str(s string) value   { return value{k: kStr, s: s} }
func boolean(b bool) value { return value{k: kBool, n: b2f(b)} }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (v value) isMissing() bool { return v.k == kMissing }

// number returns v as a number: numbers and booleans directly, strings parsed.
func (v value) number() (float64, bool) {
	switch v.k {
	case kNum, kBool:
		return v.n, true
	case kStr:
		f, err := strconv.ParseFloat(strings.TrimSpace(v.s), 64)
		if err != nil {
			switch strings.TrimSpace(v.s) {
			case "true":
				return 1, true
			case "false":
				return 0, true
			}
			return 0, false
		}
		return f, true
	}
	return 0, false
}

// String formats v as PMML writes values: integral numbers without a fraction.
func (v value) String() string {
	switch v.k {
	case kNum:
		return formatNum(v.n)
	case kStr:
		return v.s
	case kBool:
		if v.n != 0 {
			return "true"
		}
		return "false"
	}
	return ""
}

func formatNum(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// dataType is a PMML dataType, reduced to what evaluation distinguishes.
type dataType uint8

const (
	dtUnknown dataType = iota
	dtString
	dtInteger
	dtFloat // float32: values are rounded to float32
	dtDouble
	dtBoolean
)

func parseDataType(s string) (dataType, bool) {
	switch s {
	case "":
		return dtUnknown, true
	case "string":
		return dtString, true
	case "integer":
		return dtInteger, true
	case "float":
		return dtFloat, true
	case "double", "date", "time", "dateTime", "dateDaysSince[0]", "dateDaysSince[1960]", "dateDaysSince[1970]",
		"dateDaysSince[1980]", "timeSeconds", "dateTimeSecondsSince[0]", "dateTimeSecondsSince[1960]",
		"dateTimeSecondsSince[1970]", "dateTimeSecondsSince[1980]":
		return dtDouble, true
	case "boolean":
		return dtBoolean, true
	}
	return dtUnknown, false
}

func (t dataType) numeric() bool { return t == dtInteger || t == dtFloat || t == dtDouble }

// cast converts v to dataType t; ok is false when it cannot (a non-numeric string for a
// numeric type).
func cast(v value, t dataType) (value, bool) {
	if v.k == kMissing {
		return v, true
	}
	switch t {
	case dtString:
		if v.k != kStr {
			return str(v.String()), true
		}
	case dtInteger, dtDouble:
		if v.k != kNum {
			f, ok := v.number()
			if !ok {
				return v, false
			}
			return num(f), true
		}
	case dtFloat:
		f, ok := v.number()
		if !ok {
			return v, false
		}
		return num(float64(float32(f))), true
	case dtBoolean:
		switch v.k {
		case kNum:
			return boolean(v.n != 0), true
		case kStr:
			switch strings.TrimSpace(v.s) {
			case "true", "1":
				return boolean(true), true
			case "false", "0":
				return boolean(false), true
			}
			return v, false
		}
	}
	return v, true
}

// parseLiteral reads a value written in the document (an attribute or text) as dataType t;
// with t unknown, numbers become numbers and anything else a string.
func parseLiteral(s string, t dataType) (value, bool) {
	switch t {
	case dtString:
		return str(s), true
	case dtUnknown:
		if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
			return num(f), true
		}
		return str(s), true
	}
	return cast(str(s), t)
}

// equalValues compares a and b as PMML does: numerically when both are numbers (or one is a
// number and the other parses as one), otherwise as strings.
func equalValues(a, b value) bool {
	if a.k == kStr && b.k == kStr {
		return a.s == b.s
	}
	if a.k != kStr || b.k != kStr {
		x, okx := a.number()
		y, oky := b.number()
		if okx && oky {
			return x == y
		}
	}
	return a.String() == b.String()
}

// compareValues orders a and b: numerically when both are numeric, else by string.
func compareValues(a, b value) int {
	x, okx := a.number()
	y, oky := b.number()
	if okx && oky && (a.k != kStr || b.k != kStr) {
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	return strings.Compare(a.String(), b.String())
}

func parseFloatAttr(e *elem, name string, def float64) (float64, error) {
	s, ok := e.attr(name)
	if !ok || strings.TrimSpace(s) == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, errf(e, "attribute %s=%q is not a number", name, s)
	}
	return f, nil
}

func requireFloatAttr(e *elem, name string) (float64, error) {
	if _, ok := e.attr(name); !ok {
		return 0, errf(e, "attribute %s is missing", name)
	}
	return parseFloatAttr(e, name, 0)
}

func finiteAttr(e *elem, name string, def float64) (float64, error) {
	if _, ok := e.attr(name); !ok && math.IsNaN(def) {
		return 0, errf(e, "attribute %s is missing", name)
	}
	f, err := parseFloatAttr(e, name, def)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, errf(e, "attribute %s is %v; want a finite number", name, f)
	}
	return f, nil
}
