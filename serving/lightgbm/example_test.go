package lightgbm_test

import (
	"encoding/base64"
	"fmt"
	"math"

	"github.com/actorserve/actorserve/serving"
	"github.com/actorserve/actorserve/serving/lightgbm"
)

// A one-tree regression model as save_model writes it (statistics that prediction does not
// read left out): x0 <= 1.5 gives 10, else 20; decision_type 10 = missing type NaN (8) with
// the default-left bit (2), so a missing x0 also gives 10.
const modelTxt = `tree
version=v4
num_class=1
num_tree_per_iteration=1
label_index=0
max_feature_idx=1
objective=regression
feature_names=rooms age

Tree=0
num_leaves=2
num_cat=0
split_feature=0
threshold=1.5
decision_type=10
left_child=-1
right_child=-2
leaf_value=10 20
shrinkage=1


end of trees
`

func Example() {
	reg := serving.NewRegistry()
	lightgbm.Register(reg)

	d, err := serving.DecodeDescriptor([]byte(`{"id": "price", "version": 1, "format": "lightgbm",
	  "features": ["rooms", "age"],
	  "data": "` + base64.StdEncoding.EncodeToString([]byte(modelTxt)) + `"}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := reg.Load(d)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, x := range [][]float64{{1, 30}, {3, 30}, {math.NaN(), 30}} {
		p, err := m.Predict(x)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%v: %g\n", x, *p.Value)
	}
	// Output:
	// [1 30]: 10
	// [3 30]: 20
	// [NaN 30]: 10
}
