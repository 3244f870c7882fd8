package linear_test

import (
	"encoding/json"
	"fmt"

	"github.com/actorserve/actorserve/serving"
	"github.com/actorserve/actorserve/serving/linear"
)

func Example() {
	reg := serving.NewRegistry()
	linear.Register(reg)

	d, err := serving.DecodeDescriptor([]byte(`{
	  "id": "spam", "version": 1, "format": "linear",
	  "features": ["links", "caps"], "labels": ["ham", "spam"],
	  "data": {"coefficients": [[1.5, 0.8]], "intercepts": [-4], "link": "logistic"}
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := reg.Load(d)
	if err != nil {
		fmt.Println(err)
		return
	}
	schema := serving.NewSchema(d, m.NumFeatures())

	var f serving.Features
	if err := json.Unmarshal([]byte(`{"caps": 2, "links": 3}`), &f); err != nil {
		fmt.Println(err)
		return
	}
	x, err := schema.Vector(&f, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := m.Predict(x)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s %.3f\n", p.Label, p.Scores["spam"])
	// Output: spam 0.891
}
