package remote

import (
	"testing"

	"github.com/actorserve/actorserve/serving"
)

// FuzzDecode feeds arbitrary answers to both protocol decoders and the output mapping. They
// must never panic. Run: go test -fuzz=FuzzDecode -fuzztime=30s ./serving/remote
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"outputs":[{"name":"probs","shape":[2,2],"datatype":"FP32","data":[0.1,0.9,0.5,0.5]}]}`), uint8(2))
	f.Add([]byte(`{"outputs":[{"name":"label","shape":[1],"datatype":"BYTES","data":["a"]}]}`), uint8(1))
	f.Add([]byte(`{"predictions":[[0.2,0.8],[1,0]]}`), uint8(2))
	f.Add([]byte(`{"predictions":[{"probabilities":[0.2,0.8],"value":3}]}`), uint8(1))
	f.Add([]byte(`{"predictions":[1.5]}`), uint8(1))
	f.Add([]byte(`{"outputs":[{"name":"x","shape":[-1,99999999999],"data":[[[[1]]]]}]}`), uint8(1))
	mappings := []*model{
		{id: "f", classify: true, useFirst: true, labels: []string{"a", "b"}},
		{id: "f", classify: true, probsOut: "probs", labelOut: "label"},
		{id: "f", valueOut: "value"},
		{id: "f", useFirst: true},
	}
	f.Fuzz(func(t *testing.T, b []byte, n uint8) {
		rows := int(n%8) + 1
		for _, dec := range []func([]byte, int) (*columns, error){decodeV2, decodeTF} {
			cols, err := dec(b, rows)
			if err != nil {
				continue
			}
			for _, m := range mappings {
				for k := range rows {
					p, err := m.prediction(cols, k)
					if err == nil && p.Empty() && m.classify {
						t.Fatalf("classification row %d: empty prediction without error", k)
					}
					_ = serving.Prediction(p)
				}
			}
		}
	})
}
