package onnx_test

import (
	"encoding/base64"
	"fmt"
	"os"

	"github.com/actorserve/actorserve/serving"
	"github.com/actorserve/actorserve/serving/onnx"
)

// A multinomial logistic regression on iris (LinearClassifier + ZipMap, as scikit-learn
// exports write it), deployed from a descriptor with the model inline as base64.
func Example() {
	model, err := os.ReadFile("testdata/linear_multiclass.onnx")
	if err != nil {
		fmt.Println(err)
		return
	}
	reg := serving.NewRegistry()
	onnx.Register(reg)

	d, err := serving.DecodeDescriptor([]byte(`{"id": "iris", "version": 1, "format": "onnx",
	  "features": ["sepal_length", "sepal_width", "petal_length", "petal_width"],
	  "labels": ["setosa", "versicolor", "virginica"],
	  "data": "` + base64.StdEncoding.EncodeToString(model) + `"}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := reg.Load(d)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, x := range [][]float64{{5.1, 3.5, 1.4, 0.2}, {6.7, 3.0, 5.2, 2.3}} {
		p, err := m.Predict(x)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%v: %s (%.3f)\n", x, p.Label, p.Scores[p.Label])
	}
	// Output:
	// [5.1 3.5 1.4 0.2]: setosa (0.982)
	// [6.7 3 5.2 2.3]: virginica (0.920)
}
