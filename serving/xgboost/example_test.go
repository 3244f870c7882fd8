package xgboost_test

import (
	"encoding/base64"
	"fmt"
	"math"

	"github.com/actorserve/actorserve/serving"
	"github.com/actorserve/actorserve/serving/xgboost"
)

// A one-tree binary:logistic model as Booster.save_model("model.json") writes it (fields that
// prediction does not read left out): links < 2.5, or missing, gives margin -1.2, else 0.9.
const modelJSON = `{"learner":{"learner_model_param":{"base_score":"5E-1","num_class":"0","num_feature":"2"},
"objective":{"name":"binary:logistic"},"gradient_booster":{"name":"gbtree","model":{"tree_info":[0],
"trees":[{"left_children":[1,-1,-1],"right_children":[2,-1,-1],"split_indices":[0,0,0],
"split_conditions":[2.5,-1.2,0.9],"default_left":[1,0,0]}]}}},"version":[1,7,4]}`

func Example() {
	reg := serving.NewRegistry()
	xgboost.Register(reg)

	d, err := serving.DecodeDescriptor([]byte(`{"id": "spam", "version": 1, "format": "xgboost",
	  "features": ["links", "caps"], "labels": ["ham", "spam"],
	  "data": "` + base64.StdEncoding.EncodeToString([]byte(modelJSON)) + `"}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := reg.Load(d)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, x := range [][]float64{{4, 0}, {1, 0}, {math.NaN(), 0}} {
		p, err := m.Predict(x)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%v: %s %.3f\n", x, p.Label, p.Scores["spam"])
	}
	// Output:
	// [4 0]: spam 0.711
	// [1 0]: ham 0.231
	// [NaN 0]: ham 0.231
}
