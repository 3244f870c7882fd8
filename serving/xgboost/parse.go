package xgboost

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The subset of XGBoost's JSON model schema (doc/model.schema in XGBoost) that prediction
// needs. Unknown fields are ignored: XGBoost adds fields between versions.
type jsonModel struct {
	Learner *jsonLearner `json:"learner"`
	Version []int64      `json:"version"`
}

type jsonLearner struct {
	GradientBooster   json.RawMessage `json:"gradient_booster"`
	LearnerModelParam *struct {
		BaseScore  *string `json:"base_score"`
		NumClass   *string `json:"num_class"`
		NumFeature *string `json:"num_feature"`
		NumTarget  *string `json:"num_target"`
	} `json:"learner_model_param"`
	Objective *struct {
		Name string `json:"name"`
	} `json:"objective"`
}

type jsonBooster struct {
	Name       string       `json:"name"`
	Model      *jsonGBTree  `json:"model"`  // gbtree
	GBTree     *jsonBooster `json:"gbtree"` // dart wraps a gbtree
	WeightDrop floatArray   `json:"weight_drop"`
}

type jsonGBTree struct {
	Param *struct {
		NumTrees       *string `json:"num_trees"`
		SizeLeafVector *string `json:"size_leaf_vector"`
	} `json:"gbtree_model_param"`
	TreeInfo intArray   `json:"tree_info"`
	Trees    []jsonTree `json:"trees"`
}

type jsonTree struct {
	LeftChildren       intArray   `json:"left_children"`
	RightChildren      intArray   `json:"right_children"`
	SplitIndices       intArray   `json:"split_indices"`
	SplitConditions    floatArray `json:"split_conditions"`
	DefaultLeft        boolArray  `json:"default_left"`
	SplitType          intArray   `json:"split_type"`
	Categories         intArray   `json:"categories"`
	CategoriesNodes    intArray   `json:"categories_nodes"`
	CategoriesSegments intArray   `json:"categories_segments"`
	CategoriesSizes    intArray   `json:"categories_sizes"`
	TreeParam          *struct {
		NumNodes       *string `json:"num_nodes"`
		SizeLeafVector *string `json:"size_leaf_vector"`
	} `json:"tree_param"`
}

// floatArray is a JSON array of float32 that also accepts XGBoost's non-standard NaN and
// Infinity literals (which [quoteNonFinite] turns into strings before decoding).
type floatArray []float32

func (a *floatArray) UnmarshalJSON(b []byte) error {
	out, err := parseArray(b, func(tok []byte) (float32, error) {
		v, err := parseJSONNumber(tok, 32)
		return float32(v), err
	})
	*a = out
	return err
}

// intArray is a JSON array of integers.
type intArray []int64

func (a *intArray) UnmarshalJSON(b []byte) error {
	out, err := parseArray(b, func(tok []byte) (int64, error) {
		v, err := strconv.ParseInt(string(tok), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%.40s is not an integer", tok)
		}
		return v, nil
	})
	*a = out
	return err
}

// boolArray is a JSON array of 0/1 or booleans: XGBoost writes default_left as integers since
// 1.6 and as booleans before.
type boolArray []bool

func (a *boolArray) UnmarshalJSON(b []byte) error {
	out, err := parseArray(b, func(tok []byte) (bool, error) {
		switch string(tok) {
		case "true", "1":
			return true, nil
		case "false", "0":
			return false, nil
		}
		return false, fmt.Errorf("got %.20s, want 0, 1, true or false", tok)
	})
	*a = out
	return err
}

// parseArray parses a flat JSON array of scalars (no strings with commas: the input has passed
// encoding/json's validity check, and quoted tokens are only "NaN" and "Infinity"), element by
// element with parse. Doing this here rather than with an Unmarshaler per element makes
// loading several times faster.
func parseArray[T any](b []byte, parse func([]byte) (T, error)) ([]T, error) {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil, nil
	}
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return nil, fmt.Errorf("got %.20s, want an array", b)
	}
	body := bytes.TrimSpace(b[1 : len(b)-1])
	if len(body) == 0 {
		return []T{}, nil
	}
	out := make([]T, 0, bytes.Count(body, []byte{','})+1)
	for body != nil {
		var tok []byte
		if i := bytes.IndexByte(body, ','); i >= 0 {
			tok, body = body[:i], body[i+1:]
		} else {
			tok, body = body, nil
		}
		tok = bytes.TrimSpace(tok)
		if len(tok) > 0 && (tok[0] == '[' || tok[0] == '{' || (tok[0] == '"' && string(tok) != `"NaN"` && string(tok) != `"Infinity"` && string(tok) != `"-Infinity"`)) {
			return nil, fmt.Errorf("element %d: got %.20s, want a number", len(out), tok)
		}
		v, err := parse(tok)
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", len(out), err)
		}
		out = append(out, v)
	}
	return out, nil
}

func parseJSONNumber(b []byte, bits int) (float64, error) {
	switch string(b) {
	case `"NaN"`:
		return math.NaN(), nil
	case `"Infinity"`:
		return math.Inf(1), nil
	case `"-Infinity"`:
		return math.Inf(-1), nil
	case "null":
		return 0, errors.New("got null, want a number")
	}
	if len(b) == 0 || b[0] == '"' || b[0] == '{' || b[0] == '[' || b[0] == 't' || b[0] == 'f' {
		return 0, fmt.Errorf("got %.20s, want a number", b)
	}
	v, err := strconv.ParseFloat(string(b), bits)
	if err != nil && !errors.Is(err, strconv.ErrRange) { // out of range rounds to ±Inf or 0, as in XGBoost
		return 0, fmt.Errorf("%.40s is not a number", b)
	}
	return v, nil
}

// quoteNonFinite returns b with the bare NaN, Infinity and -Infinity tokens that XGBoost writes
// for non-finite floats (categorical nodes carry NaN split conditions) turned into JSON strings,
// so encoding/json accepts the document. Text inside strings is left alone. b is returned as is
// when it has no such token.
func quoteNonFinite(b []byte) []byte {
	var out []byte // nil until the first token that needs quoting
	last := 0
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		var tok string
		switch c {
		case '"':
			inString = true
			continue
		case 'N':
			tok = "NaN"
		case 'I':
			tok = "Infinity"
		case '-':
			tok = "-Infinity"
		default:
			continue
		}
		if !bytes.HasPrefix(b[i:], []byte(tok)) {
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(b)+64)
		}
		out = append(out, b[last:i]...)
		out = append(out, '"')
		out = append(out, tok...)
		out = append(out, '"')
		i += len(tok) - 1
		last = i + 1
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

// checkFormat rejects inputs that are not a JSON object, naming what they look like.
func checkFormat(b []byte) error {
	t := bytes.TrimLeft(b, " \t\r\n")
	switch {
	case len(t) == 0:
		return loadErr("model data is empty")
	case bytes.HasPrefix(t, []byte("binf")):
		return loadErr("model data is XGBoost's old binary format; load it in XGBoost and save_model(\"model.json\")")
	case t[0] != '{':
		return loadErr("model data does not start with a JSON object (byte %#02x); want the file of save_model(\"model.json\")", t[0])
	}
	r := bytes.TrimLeft(t[1:], " \t\r\n")
	if len(r) > 0 && r[0] != '"' && r[0] != '}' {
		return loadErr("model data looks like UBJSON (save_model(\"model.ubj\")); save the model as JSON with save_model(\"model.json\")")
	}
	return nil
}

func jsonErr(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return loadErr("malformed JSON at byte %d: %s", se.Offset, se.Error())
	case errors.As(err, &te):
		if te.Field != "" {
			return loadErr("field %s: got JSON %s, want %s", te.Field, te.Value, te.Type)
		}
		return loadErr("got JSON %s where %s belongs", te.Value, te.Type)
	}
	return loadErr("%s", strings.TrimPrefix(err.Error(), "json: "))
}

// param parses one of XGBoost's string-valued parameters as an integer in [lo, hi].
func param(s *string, name string, def, lo, hi int64) (int64, error) {
	if s == nil {
		return def, nil
	}
	v, err := strconv.ParseInt(strings.TrimSpace(*s), 10, 64)
	if err != nil {
		// XGBoost writes some integer parameters as floats ("3E0") in a few versions.
		f, ferr := strconv.ParseFloat(strings.TrimSpace(*s), 64)
		if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return 0, loadErr("%s: %q is not an integer", name, *s)
		}
		v = int64(f)
	}
	if v < lo || v > hi {
		return 0, loadErr("%s: %d is out of range [%d, %d]", name, v, lo, hi)
	}
	return v, nil
}
