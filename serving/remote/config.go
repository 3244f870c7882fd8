package remote

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/actorserve/actorserve/serving"
)

// Protocols [Config.Protocol] accepts.
const (
	ProtocolV2        = "v2"        // Open Inference Protocol v2 (KServe, Triton, Seldon)
	ProtocolTFServing = "tfserving" // TensorFlow Serving REST predict API
)

// Defaults for zero [Config] fields, and limits.
const (
	DefaultTimeout          = time.Second
	DefaultMaxConcurrency   = 8
	DefaultRetries          = 2
	DefaultBackoff          = 20 * time.Millisecond
	DefaultMaxBackoff       = time.Second
	DefaultBreakerFailures  = 5
	DefaultBreakerCooldown  = 5 * time.Second
	DefaultMaxResponseBytes = 16 << 20

	MaxConfigBytes = 64 << 10 // size of the descriptor's data
	MaxRetries     = 10
	MaxFeatures    = 1 << 20
)

// Config is the descriptor's data for format "remote". Zero numeric fields take the defaults
// above; a negative retries or breaker_failures disables retries or the breaker.
type Config struct {
	Protocol string `json:"protocol"`          // "v2" or "tfserving"
	URL      string `json:"url"`               // server base URL, http or https, e.g. http://host:8000
	Model    string `json:"model"`             // model name on the server
	Version  string `json:"version,omitempty"` // model version on the server; empty for the server's default
	// Input is the v2 input tensor name (default "input-0"). For tfserving an empty Input sends
	// each row as a list ({"instances": [[...]]}); a set Input sends {"instances": [{Input: [...]}]}.
	Input    string `json:"input,omitempty"`
	Datatype string `json:"datatype,omitempty"` // v2 input datatype: "FP32" (default), FP16, FP64, INT8..INT64, UINT8..UINT64 or BOOL
	// InputsPerFeature (v2) sends one [batch] tensor per feature, named
	// after it, instead of one [batch, features] tensor; Datatypes then
	// gives a feature its own datatype (default Datatype).
	InputsPerFeature bool              `json:"inputs_per_feature,omitempty"`
	Datatypes        map[string]string `json:"datatypes,omitempty"`
	// Parameters (v2) are sent as the request's "parameters" (string,
	// number or boolean values, as the protocol allows).
	Parameters map[string]any `json:"parameters,omitempty"`
	Signature  string         `json:"signature,omitempty"` // tfserving signature_name
	Outputs    Outputs        `json:"outputs,omitzero"`
	// NumFeatures is the input width when the descriptor lists no features.
	NumFeatures int `json:"num_features,omitempty"`

	TimeoutMS         int               `json:"timeout_ms,omitempty"`          // per attempt; default 1000
	MaxConcurrency    int               `json:"max_concurrency,omitempty"`     // calls in flight; default 8
	Retries           int               `json:"retries,omitempty"`             // extra attempts; default 2, at most 10
	BackoffMS         int               `json:"backoff_ms,omitempty"`          // first backoff; default 20
	MaxBackoffMS      int               `json:"max_backoff_ms,omitempty"`      // backoff cap; default 1000
	BreakerFailures   int               `json:"breaker_failures,omitempty"`    // consecutive failures to open; default 5
	BreakerCooldownMS int               `json:"breaker_cooldown_ms,omitempty"` // open time before a probe; default 5000
	MaxResponseBytes  int64             `json:"max_response_bytes,omitempty"`  // default 16 MiB
	Headers           map[string]string `json:"headers,omitempty"`             // added to every request (e.g. Authorization)
}

// Outputs names the server outputs that become the prediction; see the package documentation.
type Outputs struct {
	Probabilities string `json:"probabilities,omitempty"`
	Label         string `json:"label,omitempty"`
	Value         string `json:"value,omitempty"`
}

func cfgErr(format string, args ...any) error {
	return fmt.Errorf("%w: remote: %s", serving.ErrInvalidModel, fmt.Sprintf(format, args...))
}

// ParseConfig decodes and validates a remote model's data strictly: unknown fields, wrong
// types and out-of-range values are errors naming the field.
func ParseConfig(data []byte) (*Config, error) {
	if len(data) == 0 {
		return nil, cfgErr(`data is missing; want {"protocol": "v2", "url": "http://host:8000", "model": "name", ...}`)
	}
	if len(data) > MaxConfigBytes {
		return nil, cfgErr("data is %d bytes, over the limit of %d", len(data), MaxConfigBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, cfgErr("data.%s: got JSON %s, want %s", te.Field, te.Value, te.Type)
		}
		return nil, cfgErr("data: %s", err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, cfgErr("data: extra content after the object")
	}
	return &c, c.validate()
}

func (c *Config) validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, cfgErr(format, args...)) }
	switch c.Protocol {
	case ProtocolV2, ProtocolTFServing:
	case "":
		add("data.protocol is missing; want %q or %q", ProtocolV2, ProtocolTFServing)
	default:
		add("data.protocol %q is not %q or %q", c.Protocol, ProtocolV2, ProtocolTFServing)
	}
	if c.URL == "" {
		add("data.url is missing; want the server's base URL, like http://host:8000")
	} else if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("data.url %q is not an http or https URL with a host", c.URL)
	} else if u.RawQuery != "" || u.Fragment != "" {
		add("data.url %q: a base URL has no query or fragment", c.URL)
	}
	if c.Model == "" {
		add("data.model is missing; want the model's name on the server")
	} else if strings.ContainsAny(c.Model, "/?#") {
		add("data.model %q must not contain '/', '?' or '#'", c.Model)
	}
	if strings.ContainsAny(c.Version, "/?#:") {
		add("data.version %q must not contain '/', '?', '#' or ':'", c.Version)
	}
	if c.Datatype != "" && !v2Datatypes[c.Datatype] {
		add("data.datatype %q is not one of FP16, FP32, FP64, INT8..INT64, UINT8..UINT64, BOOL", c.Datatype)
	}
	for f, dt := range c.Datatypes {
		if !v2Datatypes[dt] {
			add("data.datatypes.%s: %q is not one of FP16, FP32, FP64, INT8..INT64, UINT8..UINT64, BOOL", f, dt)
		}
	}
	if len(c.Datatypes) > 0 && !c.InputsPerFeature {
		add("data.datatypes needs inputs_per_feature (one tensor per feature)")
	}
	for k, v := range c.Parameters {
		switch v.(type) {
		case string, float64, bool, json.Number:
		default:
			add("data.parameters.%s: want a string, a number or a boolean", k)
		}
	}
	if c.Protocol == ProtocolTFServing && (c.InputsPerFeature || len(c.Parameters) > 0) {
		add("data.inputs_per_feature and data.parameters apply to protocol v2 only")
	}
	if c.Protocol == ProtocolTFServing && c.Datatype != "" {
		add("data.datatype applies to protocol v2 only (TensorFlow Serving takes JSON numbers)")
	}
	if c.Protocol == ProtocolV2 && c.Signature != "" {
		add("data.signature applies to protocol tfserving only")
	}
	if c.Outputs.Value != "" && (c.Outputs.Probabilities != "" || c.Outputs.Label != "") {
		add("data.outputs: value (regression) cannot be combined with probabilities or label (classification)")
	}
	nonNeg := func(name string, v int) {
		if v < 0 {
			add("data.%s is %d; want >= 0", name, v)
		}
	}
	nonNeg("num_features", c.NumFeatures)
	nonNeg("timeout_ms", c.TimeoutMS)
	nonNeg("max_concurrency", c.MaxConcurrency)
	nonNeg("backoff_ms", c.BackoffMS)
	nonNeg("max_backoff_ms", c.MaxBackoffMS)
	nonNeg("breaker_cooldown_ms", c.BreakerCooldownMS)
	if c.NumFeatures > MaxFeatures {
		add("data.num_features %d is over the limit of %d", c.NumFeatures, MaxFeatures)
	}
	if c.Retries > MaxRetries {
		add("data.retries %d is over the limit of %d", c.Retries, MaxRetries)
	}
	if c.MaxResponseBytes < 0 {
		add("data.max_response_bytes is %d; want >= 0", c.MaxResponseBytes)
	}
	for k := range c.Headers {
		if k == "" || strings.ContainsAny(k, " \r\n:") {
			add("data.headers: %q is not a header name", k)
		}
	}
	return errors.Join(errs...)
}

// checkSecrets refuses credentials given in clear in a descriptor: a
// sensitive header's value must be a reference. The error never echoes
// the value.
func (c *Config) checkSecrets() error {
	var errs []error
	for k, v := range c.Headers {
		if _, ref := strings.CutPrefix(v, EnvPrefix); !ref && SensitiveHeader(k) {
			errs = append(errs, cfgErr("data.headers.%s holds a secret in clear, which would be stored in the control topic for any reader; give it as \"%sNAME\" (read from the NAME environment variable on each node)", k, EnvPrefix))
		}
	}
	return errors.Join(errs...)
}

// v2Datatypes are the numeric tensor datatypes a remote v2 server can be
// sent (features are numbers; BYTES is not offered).
var v2Datatypes = map[string]bool{"FP16": true, "FP32": true, "FP64": true, "BOOL": true,
	"INT8": true, "INT16": true, "INT32": true, "INT64": true, "UINT8": true, "UINT16": true, "UINT32": true, "UINT64": true}

// v2Value checks that v fits datatype dt and formats it as JSON.
func v2Value(dt string, v float64) (string, error) {
	switch dt {
	case "", "FP32", "FP16":
		return strconv.FormatFloat(float64(float32(v)), 'g', -1, 32), nil
	case "FP64":
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	case "BOOL":
		switch v {
		case 0:
			return "false", nil
		case 1:
			return "true", nil
		}
		return "", fmt.Errorf("%v is not a BOOL (0 or 1)", v)
	}
	lo, hi := intRange(dt)
	if v != math.Trunc(v) || v < lo || v > hi {
		return "", fmt.Errorf("%v is not an %s", v, dt)
	}
	return strconv.FormatFloat(v, 'f', -1, 64), nil
}

func intRange(dt string) (lo, hi float64) {
	switch dt {
	case "INT8":
		return math.MinInt8, math.MaxInt8
	case "INT16":
		return math.MinInt16, math.MaxInt16
	case "INT32":
		return math.MinInt32, math.MaxInt32
	case "INT64":
		return math.MinInt64, math.MaxInt64
	case "UINT8":
		return 0, math.MaxUint8
	case "UINT16":
		return 0, math.MaxUint16
	case "UINT32":
		return 0, math.MaxUint32
	}
	return 0, math.MaxUint64
}

// EnvPrefix marks a header value that is a reference to an environment
// variable of each node ("env:NAME"), so the secret itself is never in a
// descriptor, the control topic, an API answer or a log.
const EnvPrefix = "env:"

// SensitiveHeader says whether a header carries credentials, so that its
// value must be a reference and never a literal.
func SensitiveHeader(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "authorization", "proxy-authorization", "cookie":
		return true
	}
	for _, w := range []string{"token", "secret", "password", "key", "auth", "credential", "signature"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// resolveHeaders returns the headers with their references read from the
// environment; a missing variable is an error naming it (never a value).
func resolveHeaders(h map[string]string, lookup func(string) (string, bool)) (map[string]string, error) {
	if len(h) == 0 {
		return h, nil
	}
	out := make(map[string]string, len(h))
	for k, v := range h {
		name, ref := strings.CutPrefix(v, EnvPrefix)
		if !ref {
			out[k] = v
			continue
		}
		val, ok := lookup(name)
		if !ok || val == "" {
			return nil, cfgErr("data.headers.%s: environment variable %q is not set on this node", k, name)
		}
		if strings.ContainsAny(val, "\r\n") {
			return nil, cfgErr("data.headers.%s: environment variable %q holds a line break", k, name)
		}
		out[k] = val
	}
	return out, nil
}

func ms(v int, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return time.Duration(v) * time.Millisecond
}

func orDefault(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}
