package queryable

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/actorserve/actorserve/serving"
)

func oipReq(t *testing.T, body string) *oipRequest {
	t.Helper()
	var r oipRequest
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// Tensors become rows: every datatype of the protocol, flat or nested
// data, one [batch, features] tensor or one tensor per feature; anything
// else is an error naming the input and the problem.
func TestOIPInputs(t *testing.T) {
	d := &serving.Descriptor{ID: "m", Features: []string{"a", "b"}}
	for _, tc := range []struct {
		body string
		want [][]float64
	}{
		{`{"inputs":[{"name":"x","shape":[2,2],"datatype":"FP64","data":[1,2,3,4]}]}`, [][]float64{{1, 2}, {3, 4}}},
		{`{"inputs":[{"name":"x","shape":[2,2],"datatype":"INT32","data":[[1,2],[3,4]]}]}`, [][]float64{{1, 2}, {3, 4}}},
		{`{"inputs":[{"name":"x","shape":[2],"datatype":"UINT8","data":[7,9]}]}`, [][]float64{{7, 9}}},
		{`{"inputs":[{"name":"b","shape":[2],"datatype":"BOOL","data":[true,false]},{"name":"a","shape":[2,1],"datatype":"FP32","data":[0.1,2]}]}`,
			[][]float64{{float64(float32(0.1)), 1}, {2, 0}}},
		{`{"inputs":[{"name":"x","shape":[1,2],"datatype":"BYTES","data":["1.5"," 2"]}]}`, [][]float64{{1.5, 2}}},
		{`{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP16","data":[null,1]}]}`, [][]float64{{math.NaN(), 1}}},
		{`{"inputs":[{"name":"x","shape":[1,2],"datatype":"INT64","data":[-9007199254740991,0]}]}`, [][]float64{{-9007199254740991, 0}}},
	} {
		evs, err := oipEvents(oipReq(t, tc.body), d, 100)
		if err != nil {
			t.Errorf("%s: %v", tc.body, err)
			continue
		}
		var got [][]float64
		for _, e := range evs {
			got = append(got, e.Features.Values)
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: rows %v, want %v", tc.body, got, tc.want)
			continue
		}
		for i := range got {
			for j := range got[i] {
				if w := tc.want[i][j]; got[i][j] != w && !(math.IsNaN(w) && math.IsNaN(got[i][j])) {
					t.Errorf("%s: rows %v, want %v", tc.body, got, tc.want)
				}
			}
		}
	}
	for _, tc := range []struct{ body, want string }{
		{`{"inputs":[]}`, `"inputs" is empty`},
		{`{"inputs":[{"name":"x","shape":[2,2],"datatype":"FLOAT","data":[1,2,3,4]}]}`, `datatype "FLOAT"`},
		{`{"inputs":[{"name":"x","shape":[2,2],"datatype":"FP64","data":[1,2,3]}]}`, "holds 4 values, data has 3"},
		{`{"inputs":[{"name":"x","shape":[2,3],"datatype":"FP64","data":[1,2,3,4,5,6]}]}`, "3 values per row, the model takes 2"},
		{`{"inputs":[{"name":"x","shape":[1,2],"datatype":"UINT8","data":[1,300]}]}`, "300 is not a UINT8"},
		{`{"inputs":[{"name":"x","shape":[1,2],"datatype":"INT32","data":[1,2.5]}]}`, "2.5 is not a INT32"},
		{`{"inputs":[{"name":"x","shape":[1,2],"datatype":"BOOL","data":[1,0]}]}`, "BOOL data holds the number"},
		{`{"inputs":[{"name":"x","shape":[1,2],"datatype":"BYTES","data":["red","1"]}]}`, `"red" is not a number`},
		{`{"inputs":[{"name":"x","shape":[1,1,2],"datatype":"FP64","data":[1,2]}]}`, "want [batch, features]"},
		{`{"inputs":[{"name":"a","shape":[2],"datatype":"FP64","data":[1,2]},{"name":"c","shape":[2],"datatype":"FP64","data":[1,2]}]}`, `no input for feature "b"`},
		{`{"inputs":[{"name":"a","shape":[2],"datatype":"FP64","data":[1,2]},{"name":"b","shape":[3],"datatype":"FP64","data":[1,2,3]}]}`, "has 3 rows"},
		{`{"inputs":[{"name":"a","shape":[1],"datatype":"FP64","data":[1]},{"name":"b","shape":[1],"datatype":"FP64","data":[1]},{"name":"z","shape":[1],"datatype":"FP64","data":[1]}]}`, `"z" is not a feature`},
		{`{"inputs":[{"name":"x","shape":[-1,2],"datatype":"FP64","data":[1,2]}]}`, "negative dimension"},
		{`{"inputs":[{"name":"x","shape":[200,2],"datatype":"FP64","data":[` + strings.Repeat("1,", 399) + `1]}]}`, "200 rows is over the limit of 100"},
	} {
		if _, err := oipEvents(oipReq(t, tc.body), d, 100); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.80s: %v, want an error naming %q", tc.body, err, tc.want)
		}
	}
}
