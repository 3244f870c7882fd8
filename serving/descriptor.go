package serving

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxDescriptorBytes is the largest input [DecodeDescriptor] accepts. Models bigger than this
// belong at a location, not inline in data.
const MaxDescriptorBytes = 64 << 20

// MaxIDBytes is the longest model id [Descriptor.Validate] accepts.
const MaxIDBytes = 256

// Values of [Options.OnEmpty]: what to do with an event whose prediction is empty.
const (
	OnEmptyEmit       = "emit"       // publish the empty prediction (the default)
	OnEmptySkip       = "skip"       // publish nothing for the event
	OnEmptyDeadLetter = "deadletter" // send the event to the dead-letter topic
)

// Values of [Options.OnNaN]: what [Schema.Vector] does with a missing (NaN or null) feature.
const (
	OnNaNReject = "reject" // fail with ErrNaNRejected (the default)
	OnNaNZero   = "zero"   // use 0
	OnNaNMean   = "mean"   // use the running mean of that feature
	OnNaNKeep   = "keep"   // pass NaN to the model (tree formats route missing values themselves)
)

// Values of [Learning.Task], [Learning.Algorithm] and [Learning.Drift] that
// [Descriptor.Validate] accepts.
var (
	LearningTasks      = []string{"binary", "multiclass", "regression"}
	LearningAlgorithms = []string{"pa", "pa1", "pa2", "scw1", "scw2", "arow", "logreg"}
	DriftDetectors     = []string{"none", "ddm", "adwin", "ph"}
)

var (
	onEmptyValues = []string{OnEmptyEmit, OnEmptySkip, OnEmptyDeadLetter}
	onNaNValues   = []string{OnNaNReject, OnNaNZero, OnNaNMean, OnNaNKeep}
)

// Options are a descriptor's per-model policies. Empty strings mean the defaults.
type Options struct {
	OnEmpty string `json:"on_empty,omitempty" msgpack:"on_empty,omitempty"` // "emit" (default) | "skip" | "deadletter"
	OnNaN   string `json:"on_nan,omitempty" msgpack:"on_nan,omitempty"`     // "reject" (default) | "zero" | "mean" | "keep"
}

// EmptyPolicy returns OnEmpty, or [OnEmptyEmit] when it is unset.
func (o Options) EmptyPolicy() string {
	if o.OnEmpty == "" {
		return OnEmptyEmit
	}
	return o.OnEmpty
}

// NaNPolicy returns OnNaN, or [OnNaNReject] when it is unset.
func (o Options) NaNPolicy() string {
	if o.OnNaN == "" {
		return OnNaNReject
	}
	return o.OnNaN
}

// Learning configures an online model: which learner, for which task, with which
// hyper-parameters and drift detector.
type Learning struct {
	Algorithm string `json:"algorithm"` // one of LearningAlgorithms
	Task      string `json:"task"`      // one of LearningTasks
	// Params holds hyper-parameters as decoded from JSON: float64 for numbers, bool, string
	// (for example {"C": 1.0, "scale": false}). Read them with [Learning.Float] and [Learning.Bool].
	Params map[string]any `json:"params,omitempty"`
	Drift  string         `json:"drift,omitempty"` // one of DriftDetectors; empty means "none"
}

// Float returns the numeric parameter name, or def when it is absent.
// A present parameter that is not a number is an error naming it.
func (l *Learning) Float(name string, def float64) (float64, error) {
	if l == nil {
		return def, nil
	}
	v, ok := l.Params[name]
	if !ok {
		return def, nil
	}
	switch x := v.(type) {
	case float64:
		return x, nil
	case int:
		return float64(x), nil
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return 0, fmt.Errorf("%w: learning.params.%s: %q is not a number", ErrInvalidDescriptor, name, string(x))
		}
		return f, nil
	}
	return 0, fmt.Errorf("%w: learning.params.%s: got %s, want a number", ErrInvalidDescriptor, name, jsonKindOf(v))
}

// Bool returns the boolean parameter name, or def when it is absent.
// A present parameter that is not a boolean is an error naming it.
func (l *Learning) Bool(name string, def bool) (bool, error) {
	if l == nil {
		return def, nil
	}
	v, ok := l.Params[name]
	if !ok {
		return def, nil
	}
	if b, ok := v.(bool); ok {
		return b, nil
	}
	return false, fmt.Errorf("%w: learning.params.%s: got %s, want true or false", ErrInvalidDescriptor, name, jsonKindOf(v))
}

// Descriptor describes one version of a deployed model. It is published (key = ID) to the
// control topic and read into every node's descriptor table; the JSON form is the wire form.
type Descriptor struct {
	ID          string `json:"id"`
	Version     int64  `json:"version"`
	Description string `json:"description,omitempty"`
	Format      string `json:"format"`
	// Data is the model inline, as a JSON value: an object for "linear", a base64 string for
	// binary formats (see [Descriptor.DataBytes]). At most one of Data and Location is set.
	Data      json.RawMessage   `json:"data,omitempty"`
	Location  string            `json:"location,omitempty"` // file://, http:// or https:// URL of the model
	SHA256    string            `json:"sha256,omitempty"`   // hex digest of the model bytes
	DataTypes []string          `json:"data_types,omitempty"`
	Features  []string          `json:"features,omitempty"` // input names, in model order
	Labels    []string          `json:"labels,omitempty"`   // class labels, in model order
	Topics    []string          `json:"topics,omitempty"`
	Output    map[string]string `json:"output,omitempty"` // user field name -> expression
	Options   Options           `json:"options,omitzero"`
	Learning  *Learning         `json:"learning,omitempty"`
	CreatedAt time.Time         `json:"created_at,omitzero"` // set by the publisher
	// Invalid is set, with the reason, on the placeholder a node keeps for a
	// stored descriptor it could not decode (written by a newer build, or
	// damaged): the model then shows that reason instead of silently
	// serving an older version. Such a descriptor never validates.
	Invalid string `json:"invalid,omitempty"`
	// Rollout, in a deploy, makes this version a shadow or canary of the
	// model's current version instead of replacing it (see [Rollout]).
	Rollout *Rollout `json:"rollout,omitempty"`

	// Set by the cluster, never by a deploy (see lifecycle.go): Revision
	// counts the model's control records (versions can go back, the
	// revision never does); Variant is the shadow or canary version beside
	// this one; History the earlier versions kept loadable for rollback,
	// most recently current first; Decisions the latest lifecycle
	// decisions, newest last.
	Revision  int64         `json:"revision,omitempty"`
	Variant   *Descriptor   `json:"variant,omitempty"`
	History   []*Descriptor `json:"history,omitempty"`
	Decisions []Decision    `json:"decisions,omitempty"`

	// Unknown lists fields of a stored descriptor this build does not know
	// (written by a newer build); they are ignored. Never encoded.
	Unknown []string `json:"-"`
}

// MaxVersion is the highest version a descriptor may have: the largest
// integer JSON clients (JavaScript's numbers) represent exactly, which
// also leaves room to count up from any version.
const MaxVersion = 1<<53 - 1

// Learns says whether the model learns from labels as it serves (format
// "online"): such a model has exactly one activation in the cluster and
// its learned state is fenced and checkpointed; any other model is frozen
// and may be scored by a replica on every node.
func (d *Descriptor) Learns() bool { return d.Learning != nil || d.Format == "online" }

// DecodeDescriptor parses a JSON descriptor strictly: the input must be one JSON object of at
// most [MaxDescriptorBytes]; unknown fields (matched case-sensitively), duplicate fields and
// mistyped values are errors that wrap [ErrInvalidDescriptor] and name the field. JSON null
// stands for an absent field. It never panics, and it does not check semantics: call
// [Descriptor.Validate] for that.
func DecodeDescriptor(b []byte) (*Descriptor, error) {
	return decodeDescriptor(b, nil)
}

// DecodeStoredDescriptor parses a descriptor read back from the control
// topic. Unlike [DecodeDescriptor] it is forward-compatible: fields it does
// not know (a newer build wrote them) are skipped and listed in Unknown,
// so a rolling upgrade does not leave older nodes on an older version.
// Everything else is checked as strictly.
func DecodeStoredDescriptor(b []byte) (*Descriptor, error) {
	var unknown []string
	d, err := decodeDescriptor(b, func(path string) error {
		unknown = append(unknown, path)
		return nil
	})
	if err != nil {
		return nil, err
	}
	d.Unknown = unknown
	return d, nil
}

// decodeDescriptor parses b; unknown handles a field it does not know
// (nil: an error).
func decodeDescriptor(b []byte, unknown func(path string) error) (*Descriptor, error) {
	if unknown == nil {
		unknown = unknownField
	}
	if len(b) > MaxDescriptorBytes {
		return nil, fmt.Errorf("%w: %d bytes is over the limit of %d bytes", ErrInvalidDescriptor, len(b), MaxDescriptorBytes)
	}
	d := &Descriptor{}
	err := decodeObject(b, "", true, func(key string, val json.RawMessage) error {
		switch key {
		case "id":
			return decodeField(val, key, &d.ID)
		case "version":
			return decodeField(val, key, &d.Version)
		case "description":
			return decodeField(val, key, &d.Description)
		case "format":
			return decodeField(val, key, &d.Format)
		case "data":
			if !isNull(val) {
				d.Data = val
			}
			return nil
		case "location":
			return decodeField(val, key, &d.Location)
		case "sha256":
			return decodeField(val, key, &d.SHA256)
		case "data_types":
			return decodeStrings(val, key, &d.DataTypes)
		case "features":
			return decodeStrings(val, key, &d.Features)
		case "labels":
			return decodeStrings(val, key, &d.Labels)
		case "topics":
			return decodeStrings(val, key, &d.Topics)
		case "output":
			return decodeStringMap(val, key, &d.Output)
		case "created_at":
			if err := decodeField(val, key, &d.CreatedAt); err != nil {
				return err
			}
			// time.Time parses offsets it cannot write back (+24:00); such a
			// descriptor could never be published again.
			if _, err := d.CreatedAt.MarshalJSON(); err != nil {
				return fmt.Errorf("%w: created_at: %v", ErrInvalidDescriptor, err)
			}
			return nil
		case "options":
			if isNull(val) {
				return nil
			}
			return decodeObject(val, "options.", false, func(k string, v json.RawMessage) error {
				switch k {
				case "on_empty":
					return decodeField(v, "options."+k, &d.Options.OnEmpty)
				case "on_nan":
					return decodeField(v, "options."+k, &d.Options.OnNaN)
				}
				return unknown("options." + k)
			})
		case "rollout":
			if isNull(val) {
				return nil
			}
			d.Rollout = &Rollout{}
			return decodeStrict(val, key, d.Rollout)
		case "revision":
			return decodeField(val, key, &d.Revision)
		case "variant":
			if isNull(val) {
				return nil
			}
			v, err := decodeDescriptor(val, prefixed("variant.", unknown))
			if err != nil {
				return fmt.Errorf("variant: %w", err)
			}
			d.Variant = v
			return nil
		case "history":
			var raws []json.RawMessage
			if err := decodeField(val, key, &raws); err != nil {
				return err
			}
			if raws != nil {
				d.History = []*Descriptor{} // present, even when empty
			}
			for i, raw := range raws {
				h, err := decodeDescriptor(raw, prefixed(fmt.Sprintf("history[%d].", i), unknown))
				if err != nil {
					return fmt.Errorf("history[%d]: %w", i, err)
				}
				d.History = append(d.History, h)
			}
			return nil
		case "decisions":
			// Lenient: a record of what happened, written by this or a newer build.
			if err := json.Unmarshal(val, &d.Decisions); err != nil {
				return fmt.Errorf("%w: decisions: %v", ErrInvalidDescriptor, err)
			}
			return nil
		case "learning":
			if isNull(val) {
				return nil
			}
			l := &Learning{}
			err := decodeObject(val, "learning.", false, func(k string, v json.RawMessage) error {
				switch k {
				case "algorithm":
					return decodeField(v, "learning."+k, &l.Algorithm)
				case "task":
					return decodeField(v, "learning."+k, &l.Task)
				case "params":
					return decodeField(v, "learning."+k, &l.Params)
				case "drift":
					return decodeField(v, "learning."+k, &l.Drift)
				}
				return unknown("learning." + k)
			})
			d.Learning = l
			return err
		}
		return unknown(key)
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// prefixed reports unknown fields of a nested descriptor with its path.
func prefixed(prefix string, unknown func(string) error) func(string) error {
	return func(path string) error { return unknown(prefix + path) }
}

// decodeStrict decodes one JSON value into ptr, refusing unknown fields.
func decodeStrict(val json.RawMessage, path string, ptr any) error {
	dec := json.NewDecoder(bytes.NewReader(val))
	dec.DisallowUnknownFields()
	if err := dec.Decode(ptr); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalidDescriptor, path, err)
	}
	return nil
}

func unknownField(path string) error {
	return fmt.Errorf("%w: unknown field %q", ErrInvalidDescriptor, path)
}

func isNull(v json.RawMessage) bool { return string(v) == "null" }

// decodeObject walks one JSON object, calling fn for each member in document order with the
// member's raw value. path prefixes field names in errors; top says whether b is the whole
// input (then trailing data is an error and syntax errors carry offsets).
func decodeObject(b []byte, path string, top bool, fn func(key string, val json.RawMessage) error) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return syntaxErr(err)
	}
	if tok != json.Delim('{') {
		if path == "" {
			return fmt.Errorf("%w: got %s, want a JSON object", ErrInvalidDescriptor, tokenKind(tok))
		}
		return fmt.Errorf("%w: %s: got %s, want an object", ErrInvalidDescriptor, strings.TrimSuffix(path, "."), tokenKind(tok))
	}
	seen := make(map[string]struct{})
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return syntaxErr(err)
		}
		key, ok := tok.(string)
		if !ok { // unreachable: the decoder only yields string keys inside an object
			return fmt.Errorf("%w: malformed JSON object", ErrInvalidDescriptor)
		}
		if _, dup := seen[key]; dup {
			return fmt.Errorf("%w: field %q appears twice", ErrInvalidDescriptor, path+key)
		}
		seen[key] = struct{}{}
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return syntaxErr(err)
		}
		if err := fn(key, val); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return syntaxErr(err)
	}
	if top {
		end := int(dec.InputOffset())
		if rest := bytes.TrimLeft(b[end:], " \t\r\n"); len(rest) > 0 {
			return fmt.Errorf("%w: data after the descriptor object at byte %d", ErrInvalidDescriptor, len(b)-len(rest))
		}
	}
	return nil
}

func syntaxErr(err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("%w: malformed JSON at byte %d: %s", ErrInvalidDescriptor, se.Offset, se.Error())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: malformed JSON: unexpected end of input", ErrInvalidDescriptor)
	}
	return fmt.Errorf("%w: malformed JSON: %s", ErrInvalidDescriptor, err.Error())
}

// decodeStrings decodes an array of strings, naming the element in errors.
func decodeStrings(val json.RawMessage, path string, dst *[]string) error {
	var elems []json.RawMessage
	if err := decodeField(val, path, &elems); err != nil || elems == nil {
		return err
	}
	out := make([]string, len(elems))
	for i, e := range elems {
		if err := decodeField(e, fmt.Sprintf("%s[%d]", path, i), &out[i]); err != nil {
			return err
		}
	}
	*dst = out
	return nil
}

// decodeStringMap decodes an object of strings, naming the member in errors.
func decodeStringMap(val json.RawMessage, path string, dst *map[string]string) error {
	var members map[string]json.RawMessage
	if err := decodeField(val, path, &members); err != nil || members == nil {
		return err
	}
	keys := make([]string, 0, len(members))
	for k := range members {
		keys = append(keys, k)
	}
	slices.Sort(keys) // report the first bad member deterministically
	out := make(map[string]string, len(members))
	for _, k := range keys {
		var s string
		if err := decodeField(members[k], path+"."+k, &s); err != nil {
			return err
		}
		out[k] = s
	}
	*dst = out
	return nil
}

// decodeField unmarshals one member value into ptr, naming the field in errors.
func decodeField(val json.RawMessage, path string, ptr any) error {
	err := json.Unmarshal(val, ptr)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := path
		if te.Field != "" {
			field = path + "." + te.Field
		}
		return fmt.Errorf("%w: %s: got %s, want %s", ErrInvalidDescriptor, field, te.Value, wantKind(te.Type))
	}
	if _, ok := ptr.(*time.Time); ok {
		return fmt.Errorf("%w: %s: want an RFC 3339 time string like \"2006-01-02T15:04:05Z\": %s", ErrInvalidDescriptor, path, err.Error())
	}
	return fmt.Errorf("%w: %s: %s", ErrInvalidDescriptor, path, err.Error())
}

func wantKind(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}

func tokenKind(tok json.Token) string {
	switch tok.(type) {
	case nil:
		return "null"
	case json.Delim:
		if tok == json.Delim('[') {
			return "an array"
		}
		return "an object"
	}
	return jsonKindOf(tok)
}

// jsonKindOf names the JSON kind of a value decoded into an any.
func jsonKindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64, json.Number, int:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// Encode returns the descriptor's JSON form, which [DecodeDescriptor] reads back.
func (d *Descriptor) Encode() ([]byte, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode descriptor %q: %w", d.ID, err)
	}
	return b, nil
}

// DataBytes returns the model bytes of a binary format: Data must be a JSON string holding
// standard base64. When SHA256 is set the bytes must match it.
func (d *Descriptor) DataBytes() ([]byte, error) {
	if len(d.Data) == 0 {
		return nil, fmt.Errorf("%w: model %q: data is empty", ErrInvalidDescriptor, d.ID)
	}
	var s string
	if err := json.Unmarshal(d.Data, &s); err != nil {
		return nil, fmt.Errorf("%w: model %q: data: want a base64 string for format %q", ErrInvalidDescriptor, d.ID, d.Format)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: model %q: data: not standard base64: %s", ErrInvalidDescriptor, d.ID, err.Error())
	}
	if err := d.CheckSHA256(b); err != nil {
		return nil, err
	}
	return b, nil
}

// CheckSHA256 reports whether model bytes b match the descriptor's sha256 (nil when unset).
func (d *Descriptor) CheckSHA256(b []byte) error {
	if d.SHA256 == "" {
		return nil
	}
	want, err := hex.DecodeString(d.SHA256)
	if err != nil {
		return fmt.Errorf("%w: model %q: sha256: %q is not hex", ErrInvalidDescriptor, d.ID, d.SHA256)
	}
	sum := sha256.Sum256(b)
	if !bytes.Equal(sum[:], want) {
		return fmt.Errorf("%w: model %q: sha256 of the model bytes is %x, descriptor says %s", ErrInvalidDescriptor, d.ID, sum, d.SHA256)
	}
	return nil
}

// validator collects validation problems, each naming its field.
type validator struct{ errs []error }

func (v *validator) addf(field, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%w: %s: %s", ErrInvalidDescriptor, field, fmt.Sprintf(format, args...)))
}

func (v *validator) oneOf(field, val string, allowed []string, emptyOK bool) {
	if val == "" && emptyOK {
		return
	}
	if val == "" {
		v.addf(field, "must be set to one of %s", strings.Join(allowed, ", "))
		return
	}
	if !slices.Contains(allowed, val) {
		v.addf(field, "%q is not one of %s", val, strings.Join(allowed, ", "))
	}
}

// names checks a list of names: each non-empty and unique.
func (v *validator) names(field string, list []string) {
	first := make(map[string]int, len(list))
	for i, s := range list {
		f := fmt.Sprintf("%s[%d]", field, i)
		if s == "" {
			v.addf(f, "must not be empty")
			continue
		}
		if j, dup := first[s]; dup {
			v.addf(f, "%q repeats %s[%d]", s, field, j)
			continue
		}
		first[s] = i
	}
}

// Validate checks everything that can be checked without loading the model: the id (non-empty,
// at most [MaxIDBytes] bytes of [A-Za-z0-9._-]), version >= 0, a format registered in reg (reg
// nil skips that lookup), at most one of data and location, location an absolute file, http or
// https URL, sha256 64 hex digits, option and learning values in their sets, features, labels,
// data types and topics non-empty and unique, topics legal Kafka names, and output names and
// expressions non-empty.
//
// Every problem is reported, joined with [errors.Join]; each wraps [ErrInvalidDescriptor] (an
// unregistered format also wraps [ErrUnknownFormat]) and names its field, for example
//
//	invalid descriptor: options.on_nan: "foo" is not one of reject, zero, mean, keep
func (d *Descriptor) Validate(reg *Registry) error {
	if d == nil {
		return fmt.Errorf("%w: descriptor is nil", ErrInvalidDescriptor)
	}
	if d.Invalid != "" {
		return fmt.Errorf("%w: the stored descriptor could not be decoded by this node: %s", ErrInvalidDescriptor, d.Invalid)
	}
	v := &validator{}

	switch {
	case d.ID == "":
		v.addf("id", "must not be empty")
	case len(d.ID) > MaxIDBytes:
		v.addf("id", "%d bytes is longer than the limit of %d", len(d.ID), MaxIDBytes)
	default:
		for i := 0; i < len(d.ID); i++ {
			if !isIDByte(d.ID[i]) {
				r, _ := utf8.DecodeRuneInString(d.ID[i:])
				v.addf("id", "%q has %q at byte %d; use only letters, digits, '.', '_' and '-'", d.ID, r, i)
				break
			}
		}
	}
	if d.Version < 0 {
		v.addf("version", "%d is negative", d.Version)
	} else if d.Version > MaxVersion {
		v.addf("version", "%d is over the highest version %d", d.Version, int64(MaxVersion))
	}
	switch {
	case d.Format == "":
		if reg != nil {
			v.addf("format", "must not be empty; registered formats: %s", strings.Join(reg.Formats(), ", "))
		} else {
			v.addf("format", "must not be empty")
		}
	case reg != nil && !reg.Has(d.Format):
		v.errs = append(v.errs, fmt.Errorf("%w: format: %w %q (registered: %s)",
			ErrInvalidDescriptor, ErrUnknownFormat, d.Format, strings.Join(reg.Formats(), ", ")))
	}

	if len(d.Data) > 0 && d.Location != "" {
		v.addf("data", "set data or location, not both")
	}
	if len(d.Data) > 0 && !json.Valid(d.Data) {
		v.addf("data", "not a valid JSON value")
	}
	if d.Location != "" {
		u, err := url.Parse(d.Location)
		switch {
		case err != nil:
			v.addf("location", "%q is not a URL: %s", d.Location, err.Error())
		case u.Scheme != "file" && u.Scheme != "http" && u.Scheme != "https":
			v.addf("location", "%q: scheme must be file, http or https", d.Location)
		}
	}
	if d.SHA256 != "" {
		if _, err := hex.DecodeString(d.SHA256); err != nil || len(d.SHA256) != 64 {
			v.addf("sha256", "%q is not 64 hex digits", d.SHA256)
		}
	}

	v.names("data_types", d.DataTypes)
	v.names("features", d.Features)
	v.names("labels", d.Labels)
	v.names("topics", d.Topics)
	for i, t := range d.Topics {
		if t != "" && !isTopic(t) {
			v.addf(fmt.Sprintf("topics[%d]", i), "%q is not a Kafka topic name (at most 249 of [A-Za-z0-9._-], not \".\" or \"..\")", t)
		}
	}

	keys := make([]string, 0, len(d.Output))
	for k := range d.Output {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch {
		case k == "":
			v.addf("output", "a field name is empty")
		case strings.TrimSpace(d.Output[k]) == "":
			v.addf("output."+k, "expression is empty")
		}
	}

	v.oneOf("options.on_empty", d.Options.OnEmpty, onEmptyValues, true)
	v.oneOf("options.on_nan", d.Options.OnNaN, onNaNValues, true)

	if l := d.Learning; l != nil {
		v.oneOf("learning.algorithm", l.Algorithm, LearningAlgorithms, false)
		v.oneOf("learning.task", l.Task, LearningTasks, false)
		v.oneOf("learning.drift", l.Drift, DriftDetectors, true)
		keys := make([]string, 0, len(l.Params))
		for k := range l.Params {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if k == "" {
				v.addf("learning.params", "a parameter name is empty")
				continue
			}
			switch x := l.Params[k].(type) {
			case bool, string:
			case float64:
				if math.IsNaN(x) || math.IsInf(x, 0) {
					v.addf("learning.params."+k, "%v is not finite", x)
				}
			case int:
			case json.Number:
				if _, err := x.Float64(); err != nil {
					v.addf("learning.params."+k, "%q is not a number", string(x))
				}
			default:
				v.addf("learning.params."+k, "got %s, want a number, boolean or string", jsonKindOf(x))
			}
		}
	}

	switch len(v.errs) {
	case 0:
		return nil
	case 1:
		return v.errs[0]
	}
	return errors.Join(v.errs...)
}

func isIDByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}

func isTopic(t string) bool {
	if len(t) > 249 || t == "." || t == ".." {
		return false
	}
	for i := 0; i < len(t); i++ {
		if !isIDByte(t[i]) {
			return false
		}
	}
	return true
}
