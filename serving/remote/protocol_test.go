package remote

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/actorserve/actorserve/serving"
)

// The v2 client speaks more of the protocol: one tensor per feature with
// its own datatype (integers, booleans, floats at their precision), and
// request parameters; a value its datatype cannot hold fails its row
// alone, naming the feature.
func TestV2InputsPerFeature(t *testing.T) {
	var body atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Inputs []struct {
				Name     string            `json:"name"`
				Shape    []int             `json:"shape"`
				Datatype string            `json:"datatype"`
				Data     []json.RawMessage `json:"data"`
			} `json:"inputs"`
		}
		b := make([]byte, r.ContentLength)
		_, _ = r.Body.Read(b)
		body.Store(string(b))
		if err := json.Unmarshal(b, &req); err != nil || len(req.Inputs) == 0 {
			http.Error(w, "bad", 400)
			return
		}
		n := req.Inputs[0].Shape[0]
		vals := make([]float64, n)
		for i := range vals {
			vals[i] = float64(i)
		}
		out, _ := json.Marshal(map[string]any{"outputs": []any{map[string]any{"name": "y", "shape": []int{n}, "datatype": "FP64", "data": vals}}})
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	}))
	defer srv.Close()
	d := &serving.Descriptor{ID: "r", Format: Format, Features: []string{"age", "member", "score"},
		Data: json.RawMessage(fmt.Sprintf(`{"protocol":"v2","url":"%s","model":"m","outputs":{"value":"y"},"inputs_per_feature":true,
			"datatype":"FP64","datatypes":{"age":"INT32","member":"BOOL"},"parameters":{"tenant":"blue","top_k":3,"debug":false}}`, srv.URL))}
	m, err := Load(d)
	if err != nil {
		t.Fatal(err)
	}
	xs := [][]float64{{42, 1, 0.25}, {17.5, 0, 1}, {7, 2, 1}, {30, 0, -1.5}}
	out := make([]serving.Prediction, len(xs))
	errs := make([]error, len(xs))
	if err := m.PredictBatch(xs, out, errs); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(errs[1], serving.ErrSchemaMismatch) || !strings.Contains(errs[1].Error(), "feature age: 17.5 is not an INT32") {
		t.Errorf("row 1: %v", errs[1])
	}
	if errs[2] == nil || !strings.Contains(errs[2].Error(), "feature member: 2 is not a BOOL") {
		t.Errorf("row 2: %v", errs[2])
	}
	if errs[0] != nil || errs[3] != nil || *out[0].Value != 0 || *out[3].Value != 1 {
		t.Errorf("rows 0 and 3: %v %v %+v %+v", errs[0], errs[3], out[0], out[3])
	}
	want := `{"inputs":[{"name":"age","shape":[2],"datatype":"INT32","data":[42,30]},{"name":"member","shape":[2],"datatype":"BOOL","data":[true,false]},` +
		`{"name":"score","shape":[2],"datatype":"FP64","data":[0.25,-1.5]}],"parameters":{"debug":false,"tenant":"blue","top_k":3},"outputs":[{"name":"y"}]}`
	if got := body.Load(); got != want {
		t.Errorf("request\n%s\nwant\n%s", got, want)
	}
	for _, bad := range []string{`"datatypes":{"age":"INT32"}`, `"inputs_per_feature":true,"datatypes":{"nope":"INT8"}`,
		`"inputs_per_feature":true,"datatypes":{"age":"BYTES"}`, `"parameters":{"x":[1]}`} {
		d := &serving.Descriptor{ID: "r", Format: Format, Features: []string{"age"},
			Data: json.RawMessage(fmt.Sprintf(`{"protocol":"v2","url":"%s","model":"m",%s}`, srv.URL, bad))}
		if _, err := Load(d); !errors.Is(err, serving.ErrInvalidModel) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
