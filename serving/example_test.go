package serving_test

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/actorserve/actorserve/serving"
)

func ExampleDescriptor_Validate() {
	reg := serving.NewRegistry()
	reg.Register("linear", func(d *serving.Descriptor) (serving.Model, error) { return nil, errors.New("unused") })

	d, err := serving.DecodeDescriptor([]byte(`{"id": "iris", "version": 3, "format": "linear",
	  "features": ["sepal_length", "sepal_width"], "options": {"on_nan": "foo"}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	err = d.Validate(reg)
	fmt.Println(err)
	fmt.Println(errors.Is(err, serving.ErrInvalidDescriptor))
	// Output:
	// invalid descriptor: options.on_nan: "foo" is not one of reject, zero, mean, keep
	// true
}

func ExampleSchema_Vector() {
	d := &serving.Descriptor{ID: "iris", Features: []string{"sepal_length", "sepal_width"},
		Options: serving.Options{OnNaN: serving.OnNaNMean}}
	s := serving.NewSchema(d, 2)
	for _, event := range []string{`{"sepal_width": 3.0, "sepal_length": 5.0}`, `[7.0, null]`, `{"sepal_length": 1}`} {
		var f serving.Features
		if err := json.Unmarshal([]byte(event), &f); err != nil {
			fmt.Println(err)
			continue
		}
		x, err := s.Vector(&f, nil)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(x)
	}
	// Output:
	// [5 3]
	// [7 3]
	// schema mismatch: model "iris": missing feature "sepal_width"
}
