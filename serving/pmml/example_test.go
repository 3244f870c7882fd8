package pmml_test

import (
	"fmt"

	"github.com/actorserve/actorserve/serving/pmml"
)

func ExampleCompile() {
	doc := `<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4"><Header/>
<DataDictionary><DataField name="x" optype="continuous" dataType="double"/>
<DataField name="t" optype="categorical" dataType="string"><Value value="no"/><Value value="yes"/></DataField></DataDictionary>
<RegressionModel functionName="classification" normalizationMethod="logit">
<MiningSchema><MiningField name="x"/><MiningField name="t" usageType="target"/></MiningSchema>
<RegressionTable targetCategory="yes" intercept="-1"><NumericPredictor name="x" coefficient="2"/></RegressionTable>
<RegressionTable targetCategory="no" intercept="0"/></RegressionModel></PMML>`
	m, err := pmml.Compile([]byte(doc), pmml.Options{})
	if err != nil {
		panic(err)
	}
	p, _ := m.Predict([]float64{1.5})
	fmt.Printf("%s %.4f\n", p.Label, p.Scores["yes"])
	// Output: yes 0.8808
}
