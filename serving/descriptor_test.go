package serving_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/actorserve/actorserve/serving"
)

const fullDescriptor = `{
  "id": "iris", "version": 3, "description": "Iris flowers", "format": "fake",
  "data": {"coefficients": [[1, 2]], "link": "identity"},
  "data_types": ["iris"], "features": ["a", "b"], "labels": ["x", "y"], "topics": ["iris-events"],
  "output": {"alert": "prediction.scores.y > 0.9"},
  "options": {"on_empty": "skip", "on_nan": "mean"},
  "learning": {"algorithm": "pa", "task": "binary", "params": {"C": 1.5, "scale": false}, "drift": "adwin"},
  "created_at": "2025-01-02T03:04:05Z"
}`

// fakeModel is a Model of fixed width that predicts the sum of its input.
type fakeModel struct{ width int }

func (m fakeModel) NumFeatures() int { return m.width }
func (m fakeModel) Predict(x []float64) (serving.Prediction, error) {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return serving.Prediction{Value: &s}, nil
}
func (m fakeModel) PredictBatch(xs [][]float64, out []serving.Prediction, errs []error) error {
	for i, x := range xs {
		out[i], errs[i] = m.Predict(x)
	}
	return nil
}

func fakeRegistry() *serving.Registry {
	r := serving.NewRegistry()
	r.Register("fake", func(d *serving.Descriptor) (serving.Model, error) { return fakeModel{len(d.Features)}, nil })
	r.Register("other", func(d *serving.Descriptor) (serving.Model, error) { return fakeModel{2}, nil })
	return r
}

func TestDecodeDescriptorFull(t *testing.T) {
	d, err := serving.DecodeDescriptor([]byte(fullDescriptor))
	if err != nil {
		t.Fatal(err)
	}
	want := &serving.Descriptor{
		ID: "iris", Version: 3, Description: "Iris flowers", Format: "fake",
		Data:      json.RawMessage(`{"coefficients": [[1, 2]], "link": "identity"}`),
		DataTypes: []string{"iris"}, Features: []string{"a", "b"}, Labels: []string{"x", "y"},
		Topics:  []string{"iris-events"},
		Output:  map[string]string{"alert": "prediction.scores.y > 0.9"},
		Options: serving.Options{OnEmpty: "skip", OnNaN: "mean"},
		Learning: &serving.Learning{Algorithm: "pa", Task: "binary", Drift: "adwin",
			Params: map[string]any{"C": 1.5, "scale": false}},
		CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	if !reflect.DeepEqual(d, want) {
		t.Fatalf("decoded\n%#v\nwant\n%#v", d, want)
	}
	if err := d.Validate(fakeRegistry()); err != nil {
		t.Fatalf("Validate: %v", err)
	}

	// Encode and decode again: the same descriptor.
	b, err := d.Encode()
	if err != nil {
		t.Fatal(err)
	}
	d2, err := serving.DecodeDescriptor(b)
	if err != nil {
		t.Fatalf("decode of %s: %v", b, err)
	}
	d2.Data = want.Data // compacted by Encode
	if !reflect.DeepEqual(d2, want) {
		t.Fatalf("round trip\n%#v\nwant\n%#v", d2, want)
	}

	c, err := d.Learning.Float("C", 0)
	if err != nil || c != 1.5 {
		t.Errorf("Float(C) = %v, %v", c, err)
	}
	if v, err := d.Learning.Float("absent", 7); err != nil || v != 7 {
		t.Errorf("Float(absent) = %v, %v", v, err)
	}
	if s, err := d.Learning.Bool("scale", true); err != nil || s {
		t.Errorf("Bool(scale) = %v, %v", s, err)
	}
	if _, err := d.Learning.Float("scale", 0); err == nil || err.Error() != "invalid descriptor: learning.params.scale: got a boolean, want a number" {
		t.Errorf("Float(scale) error = %v", err)
	}
	if _, err := d.Learning.Bool("C", false); err == nil || err.Error() != "invalid descriptor: learning.params.C: got a number, want true or false" {
		t.Errorf("Bool(C) error = %v", err)
	}
}

func TestEncodeOmitsZero(t *testing.T) {
	b, err := (&serving.Descriptor{ID: "m", Format: "linear"}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"id":"m","version":0,"format":"linear"}`; got != want {
		t.Errorf("Encode = %s, want %s", got, want)
	}
}

func TestDecodeDescriptorErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty input", ``, `invalid descriptor: malformed JSON: unexpected end of input`},
		{"null", `null`, `invalid descriptor: got null, want a JSON object`},
		{"array", `[1]`, `invalid descriptor: got an array, want a JSON object`},
		{"string", `"iris"`, `invalid descriptor: got a string, want a JSON object`},
		{"truncated", `{"id":"a"`, `invalid descriptor: malformed JSON: unexpected end of input`},
		{"trailing comma", `{"id":"a",}`, `invalid descriptor: malformed JSON at byte 10: invalid character '}' looking for beginning of object key string`},
		{"trailing data", `{"id":"a"} {}`, `invalid descriptor: data after the descriptor object at byte 11`},
		{"unknown field", `{"id":"a","colour":"red"}`, `invalid descriptor: unknown field "colour"`},
		{"wrong case", `{"ID":"a"}`, `invalid descriptor: unknown field "ID"`},
		{"duplicate", `{"id":"a","id":"b"}`, `invalid descriptor: field "id" appears twice`},
		{"id type", `{"id":5}`, `invalid descriptor: id: got number, want a string`},
		{"version string", `{"version":"3"}`, `invalid descriptor: version: got string, want an integer`},
		{"version fraction", `{"version":3.5}`, `invalid descriptor: version: got number 3.5, want an integer`},
		{"version overflow", `{"version":1e30}`, `invalid descriptor: version: got number 1e30, want an integer`},
		{"description type", `{"description":[]}`, `invalid descriptor: description: got array, want a string`},
		{"format type", `{"format":true}`, `invalid descriptor: format: got bool, want a string`},
		{"location type", `{"location":{}}`, `invalid descriptor: location: got object, want a string`},
		{"sha256 type", `{"sha256":1}`, `invalid descriptor: sha256: got number, want a string`},
		{"features not array", `{"features":"a,b"}`, `invalid descriptor: features: got string, want an array`},
		{"features element", `{"features":["a",1]}`, `invalid descriptor: features[1]: got number, want a string`},
		{"labels element", `{"labels":[["x"]]}`, `invalid descriptor: labels[0]: got array, want a string`},
		{"topics element", `{"topics":[{}]}`, `invalid descriptor: topics[0]: got object, want a string`},
		{"data_types element", `{"data_types":[false]}`, `invalid descriptor: data_types[0]: got bool, want a string`},
		{"output not object", `{"output":["x"]}`, `invalid descriptor: output: got array, want an object`},
		{"output member", `{"output":{"alert":1}}`, `invalid descriptor: output.alert: got number, want a string`},
		{"options not object", `{"options":"mean"}`, `invalid descriptor: options: got a string, want an object`},
		{"options unknown", `{"options":{"on_nil":"zero"}}`, `invalid descriptor: unknown field "options.on_nil"`},
		{"options duplicate", `{"options":{"on_nan":"zero","on_nan":"mean"}}`, `invalid descriptor: field "options.on_nan" appears twice`},
		{"on_nan type", `{"options":{"on_nan":0}}`, `invalid descriptor: options.on_nan: got number, want a string`},
		{"on_empty type", `{"options":{"on_empty":null, "on_empty":1}}`, `invalid descriptor: field "options.on_empty" appears twice`},
		{"learning not object", `{"learning":[]}`, `invalid descriptor: learning: got an array, want an object`},
		{"learning unknown", `{"learning":{"algo":"pa"}}`, `invalid descriptor: unknown field "learning.algo"`},
		{"learning params", `{"learning":{"params":[1]}}`, `invalid descriptor: learning.params: got array, want an object`},
		{"learning task", `{"learning":{"task":2}}`, `invalid descriptor: learning.task: got number, want a string`},
		{"created_at", `{"created_at":"yesterday"}`, `invalid descriptor: created_at: want an RFC 3339 time string like "2006-01-02T15:04:05Z": parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"`},
		{"created_at number", `{"created_at":1700000000}`, `invalid descriptor: created_at: want an RFC 3339 time string like "2006-01-02T15:04:05Z": Time.UnmarshalJSON: input is not a JSON string`},
		{"too big", `{"description":"` + strings.Repeat("x", serving.MaxDescriptorBytes) + `"}`,
			`invalid descriptor: 67108882 bytes is over the limit of 67108864 bytes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := serving.DecodeDescriptor([]byte(tt.in))
			if err == nil {
				t.Fatalf("DecodeDescriptor(%.60s) = %+v, want error %q", tt.in, d, tt.want)
			}
			if d != nil {
				t.Errorf("DecodeDescriptor returned a descriptor with its error")
			}
			if !errors.Is(err, serving.ErrInvalidDescriptor) {
				t.Errorf("error %v does not wrap ErrInvalidDescriptor", err)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

func TestDecodeDescriptorNulls(t *testing.T) {
	d, err := serving.DecodeDescriptor([]byte(`{"id":"a","data":null,"options":null,"learning":null,"features":null,"output":null}`))
	if err != nil {
		t.Fatal(err)
	}
	if d.Data != nil || d.Learning != nil || d.Features != nil || d.Output != nil || d.Options != (serving.Options{}) {
		t.Errorf("null fields decoded to %+v, want zero values", d)
	}
}

func validDescriptor(t *testing.T) *serving.Descriptor {
	t.Helper()
	d, err := serving.DecodeDescriptor([]byte(fullDescriptor))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(d *serving.Descriptor)
		want   string
	}{
		{"empty id", func(d *serving.Descriptor) { d.ID = "" }, `invalid descriptor: id: must not be empty`},
		{"long id", func(d *serving.Descriptor) { d.ID = strings.Repeat("a", 257) }, `invalid descriptor: id: 257 bytes is longer than the limit of 256`},
		{"id space", func(d *serving.Descriptor) { d.ID = "my model" }, `invalid descriptor: id: "my model" has ' ' at byte 2; use only letters, digits, '.', '_' and '-'`},
		{"id slash", func(d *serving.Descriptor) { d.ID = "a/b" }, `invalid descriptor: id: "a/b" has '/' at byte 1; use only letters, digits, '.', '_' and '-'`},
		{"id unicode", func(d *serving.Descriptor) { d.ID = "café" }, `invalid descriptor: id: "café" has 'é' at byte 3; use only letters, digits, '.', '_' and '-'`},
		{"negative version", func(d *serving.Descriptor) { d.Version = -1 }, `invalid descriptor: version: -1 is negative`},
		{"empty format", func(d *serving.Descriptor) { d.Format = "" }, `invalid descriptor: format: must not be empty; registered formats: fake, other`},
		{"unknown format", func(d *serving.Descriptor) { d.Format = "pmml" }, `invalid descriptor: format: unknown model format "pmml" (registered: fake, other)`},
		{"data and location", func(d *serving.Descriptor) { d.Location = "file:///m.json" }, `invalid descriptor: data: set data or location, not both`},
		{"data not JSON", func(d *serving.Descriptor) { d.Data = json.RawMessage(`{`) }, `invalid descriptor: data: not a valid JSON value`},
		{"location scheme", func(d *serving.Descriptor) { d.Data, d.Location = nil, "s3://bucket/m" }, `invalid descriptor: location: "s3://bucket/m": scheme must be file, http or https`},
		{"location relative", func(d *serving.Descriptor) { d.Data, d.Location = nil, "models/m.onnx" }, `invalid descriptor: location: "models/m.onnx": scheme must be file, http or https`},
		{"sha256 short", func(d *serving.Descriptor) { d.SHA256 = "abc" }, `invalid descriptor: sha256: "abc" is not 64 hex digits`},
		{"sha256 not hex", func(d *serving.Descriptor) { d.SHA256 = strings.Repeat("g", 64) }, `invalid descriptor: sha256: "` + strings.Repeat("g", 64) + `" is not 64 hex digits`},
		{"empty feature", func(d *serving.Descriptor) { d.Features = []string{"a", ""} }, `invalid descriptor: features[1]: must not be empty`},
		{"duplicate feature", func(d *serving.Descriptor) { d.Features = []string{"a", "b", "a"} }, `invalid descriptor: features[2]: "a" repeats features[0]`},
		{"duplicate label", func(d *serving.Descriptor) { d.Labels = []string{"x", "x"} }, `invalid descriptor: labels[1]: "x" repeats labels[0]`},
		{"empty label", func(d *serving.Descriptor) { d.Labels = []string{"", "x"} }, `invalid descriptor: labels[0]: must not be empty`},
		{"duplicate data type", func(d *serving.Descriptor) { d.DataTypes = []string{"t", "t"} }, `invalid descriptor: data_types[1]: "t" repeats data_types[0]`},
		{"bad topic", func(d *serving.Descriptor) { d.Topics = []string{"iris events"} }, `invalid descriptor: topics[0]: "iris events" is not a Kafka topic name (at most 249 of [A-Za-z0-9._-], not "." or "..")`},
		{"dot topic", func(d *serving.Descriptor) { d.Topics = []string{".."} }, `invalid descriptor: topics[0]: ".." is not a Kafka topic name (at most 249 of [A-Za-z0-9._-], not "." or "..")`},
		{"empty output", func(d *serving.Descriptor) { d.Output["alert"] = " " }, `invalid descriptor: output.alert: expression is empty`},
		{"empty output name", func(d *serving.Descriptor) { d.Output = map[string]string{"": "1"} }, `invalid descriptor: output: a field name is empty`},
		{"on_nan", func(d *serving.Descriptor) { d.Options.OnNaN = "foo" }, `invalid descriptor: options.on_nan: "foo" is not one of reject, zero, mean, keep`},
		{"on_empty", func(d *serving.Descriptor) { d.Options.OnEmpty = "drop" }, `invalid descriptor: options.on_empty: "drop" is not one of emit, skip, deadletter`},
		{"algorithm missing", func(d *serving.Descriptor) { d.Learning.Algorithm = "" }, `invalid descriptor: learning.algorithm: must be set to one of pa, pa1, pa2, scw1, scw2, arow, logreg`},
		{"algorithm", func(d *serving.Descriptor) { d.Learning.Algorithm = "sgd" }, `invalid descriptor: learning.algorithm: "sgd" is not one of pa, pa1, pa2, scw1, scw2, arow, logreg`},
		{"task", func(d *serving.Descriptor) { d.Learning.Task = "ranking" }, `invalid descriptor: learning.task: "ranking" is not one of binary, multiclass, regression`},
		{"drift", func(d *serving.Descriptor) { d.Learning.Drift = "kswin" }, `invalid descriptor: learning.drift: "kswin" is not one of none, ddm, adwin, ph`},
		{"param type", func(d *serving.Descriptor) { d.Learning.Params["C"] = []any{1.0} }, `invalid descriptor: learning.params.C: got an array, want a number, boolean or string`},
		{"param name", func(d *serving.Descriptor) { d.Learning.Params[""] = 1.0 }, `invalid descriptor: learning.params: a parameter name is empty`},
		{"two problems", func(d *serving.Descriptor) { d.ID, d.Options.OnNaN = "", "foo" },
			"invalid descriptor: id: must not be empty\ninvalid descriptor: options.on_nan: \"foo\" is not one of reject, zero, mean, keep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := validDescriptor(t)
			tt.mutate(d)
			err := d.Validate(fakeRegistry())
			if err == nil {
				t.Fatalf("Validate = nil, want %q", tt.want)
			}
			if !errors.Is(err, serving.ErrInvalidDescriptor) {
				t.Errorf("error %v does not wrap ErrInvalidDescriptor", err)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(d *serving.Descriptor)
	}{
		{"minimal", func(d *serving.Descriptor) { *d = serving.Descriptor{ID: "m", Format: "fake"} }},
		{"max id", func(d *serving.Descriptor) { d.ID = strings.Repeat("A.z_9-", 42) + "abcd" }},
		{"https location", func(d *serving.Descriptor) { d.Data, d.Location = nil, "https://models.example/iris.onnx" }},
		{"file location", func(d *serving.Descriptor) { d.Data, d.Location = nil, "file:///var/models/iris.onnx" }},
		{"sha256", func(d *serving.Descriptor) { d.SHA256 = strings.Repeat("aB", 32) }},
		{"default options", func(d *serving.Descriptor) { d.Options = serving.Options{} }},
		{"no drift", func(d *serving.Descriptor) { d.Learning.Drift = "" }},
		{"no learning", func(d *serving.Descriptor) { d.Learning = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := validDescriptor(t)
			tt.mutate(d)
			if err := d.Validate(fakeRegistry()); err != nil {
				t.Errorf("Validate = %v", err)
			}
		})
	}
}

func TestValidateUnknownFormat(t *testing.T) {
	d := validDescriptor(t)
	d.Format = "onnx"
	err := d.Validate(serving.NewRegistry())
	if !errors.Is(err, serving.ErrUnknownFormat) || !errors.Is(err, serving.ErrInvalidDescriptor) {
		t.Fatalf("Validate = %v, want ErrUnknownFormat and ErrInvalidDescriptor", err)
	}
	if err := d.Validate(nil); err != nil {
		t.Errorf("Validate(nil registry) = %v, want the format lookup skipped", err)
	}
}

func TestDataBytes(t *testing.T) {
	model := []byte("\x00binary model\xff")
	sum := sha256.Sum256(model)
	enc, _ := json.Marshal(base64.StdEncoding.EncodeToString(model))
	tests := []struct {
		name string
		data string
		sha  string
		want string // error text; empty for success
	}{
		{"ok", string(enc), "", ""},
		{"ok with sha", string(enc), hex.EncodeToString(sum[:]), ""},
		{"sha mismatch", string(enc), strings.Repeat("0", 64), `invalid descriptor: model "m": sha256 of the model bytes is ` + hex.EncodeToString(sum[:]) + `, descriptor says ` + strings.Repeat("0", 64)},
		{"not a string", `{"a":1}`, "", `invalid descriptor: model "m": data: want a base64 string for format "onnx"`},
		{"bad base64", `"@@"`, "", `invalid descriptor: model "m": data: not standard base64: illegal base64 data at input byte 0`},
		{"empty", ``, "", `invalid descriptor: model "m": data is empty`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &serving.Descriptor{ID: "m", Format: "onnx", Data: json.RawMessage(tt.data), SHA256: tt.sha}
			b, err := d.DataBytes()
			if tt.want == "" {
				if err != nil || string(b) != string(model) {
					t.Fatalf("DataBytes = %q, %v", b, err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("DataBytes error\n got %v\nwant %s", err, tt.want)
			}
		})
	}
}
