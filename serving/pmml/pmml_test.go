package pmml

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/actorserve/actorserve/serving"
)

// doc wraps a DataDictionary body and the rest of a PMML 4.4 document.
func doc(fields, rest string) string {
	return `<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4"><Header/><DataDictionary>` + fields + `</DataDictionary>` + rest + `</PMML>`
}

const xyFields = `<DataField name="x" optype="continuous" dataType="double"/><DataField name="y" optype="continuous" dataType="double"/>`

func compile(t *testing.T, src string, features ...string) *Model {
	t.Helper()
	m, err := Compile([]byte(src), Options{Features: features})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return m
}

func predict(t *testing.T, m *Model, x ...float64) serving.Prediction {
	t.Helper()
	p, err := m.Predict(x)
	if err != nil {
		t.Fatalf("Predict(%v): %v", x, err)
	}
	return p
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }

// regressionOf builds a regression model whose value is the derived field "d" (an
// expression over x and y), so each transformation can be checked through a prediction.
func regressionOf(extraFields, derived string) string {
	return doc(xyFields+extraFields, `<TransformationDictionary>`+derived+`</TransformationDictionary>
<RegressionModel functionName="regression"><MiningSchema><MiningField name="x"/><MiningField name="y"/></MiningSchema>
<RegressionTable intercept="0"><NumericPredictor name="d" coefficient="1"/></RegressionTable></RegressionModel>`)
}

func TestExpressions(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		expr string
		x, y float64
		want float64 // NaN: empty prediction (missing)
	}{
		{"plus", `<Apply function="+"><FieldRef field="x"/><FieldRef field="y"/></Apply>`, 2, 3, 5},
		{"minus times divide", `<Apply function="/"><Apply function="*"><Apply function="-"><FieldRef field="x"/><Constant>1</Constant></Apply><Constant>6</Constant></Apply><FieldRef field="y"/></Apply>`, 3, 4, 3},
		{"min max sum avg", `<Apply function="+"><Apply function="min"><FieldRef field="x"/><FieldRef field="y"/><Constant>0</Constant></Apply><Apply function="+"><Apply function="max"><FieldRef field="x"/><FieldRef field="y"/></Apply><Apply function="+"><Apply function="sum"><FieldRef field="x"/><FieldRef field="y"/></Apply><Apply function="avg"><FieldRef field="x"/><FieldRef field="y"/></Apply></Apply></Apply></Apply>`, 2, 4, 0 + 4 + 6 + 3},
		{"log10 ln exp sqrt abs", `<Apply function="+"><Apply function="log10"><Constant>1000</Constant></Apply><Apply function="+"><Apply function="ln"><Apply function="exp"><FieldRef field="x"/></Apply></Apply><Apply function="+"><Apply function="sqrt"><Constant>16</Constant></Apply><Apply function="abs"><FieldRef field="y"/></Apply></Apply></Apply></Apply>`, 1.5, -2, 3 + 1.5 + 4 + 2},
		{"pow threshold", `<Apply function="+"><Apply function="pow"><FieldRef field="x"/><Constant>3</Constant></Apply><Apply function="threshold"><FieldRef field="y"/><Constant>1</Constant></Apply></Apply>`, 2, 1.5, 9},
		{"floor ceil round", `<Apply function="+"><Apply function="floor"><FieldRef field="x"/></Apply><Apply function="+"><Apply function="ceil"><FieldRef field="x"/></Apply><Apply function="round"><FieldRef field="y"/></Apply></Apply></Apply>`, 1.5, 2.5, 1 + 2 + 3},
		{"round negative half", `<Apply function="round"><FieldRef field="x"/></Apply>`, -2.5, 0, -2},
		{"missing propagates", `<Apply function="+"><FieldRef field="x"/><FieldRef field="y"/></Apply>`, nan, 1, nan},
		{"mapMissingTo", `<Apply function="+" mapMissingTo="-1"><FieldRef field="x"/><FieldRef field="y"/></Apply>`, nan, 1, -1},
		{"FieldRef mapMissingTo", `<Apply function="+"><FieldRef field="x" mapMissingTo="10"/><FieldRef field="y"/></Apply>`, nan, 1, 11},
		{"isMissing if", `<Apply function="if"><Apply function="isMissing"><FieldRef field="x"/></Apply><Constant>7</Constant><FieldRef field="x"/></Apply>`, nan, 0, 7},
		{"isNotMissing if else", `<Apply function="if"><Apply function="isNotMissing"><FieldRef field="x"/></Apply><FieldRef field="x"/><Constant>7</Constant></Apply>`, 4, 0, 4},
		{"if without else", `<Apply function="if"><Apply function="greaterThan"><FieldRef field="x"/><Constant>0</Constant></Apply><Constant>1</Constant></Apply>`, -1, 0, nan},
		{"comparisons and or not", `<Apply function="if"><Apply function="and"><Apply function="lessThan"><FieldRef field="x"/><FieldRef field="y"/></Apply><Apply function="or"><Apply function="equal"><FieldRef field="x"/><Constant>1</Constant></Apply><Apply function="not"><Apply function="greaterOrEqual"><FieldRef field="y"/><Constant>0</Constant></Apply></Apply></Apply><Apply function="notEqual"><FieldRef field="x"/><Constant>2</Constant></Apply><Apply function="lessOrEqual"><FieldRef field="x"/><FieldRef field="y"/></Apply></Apply><Constant>1</Constant><Constant>0</Constant></Apply>`, 1, 5, 1},
		{"isIn", `<Apply function="if"><Apply function="isIn"><FieldRef field="x"/><Constant>1</Constant><Constant>3</Constant></Apply><Constant>1</Constant><Constant>0</Constant></Apply>`, 3, 0, 1},
		{"string functions", `<Apply function="stringLength"><Apply function="concat"><Apply function="uppercase"><Constant dataType="string">ab</Constant></Apply><Apply function="substring"><Constant dataType="string">hello</Constant><Constant>2</Constant><Constant>3</Constant></Apply><Apply function="lowercase"><Constant dataType="string">Q</Constant></Apply></Apply></Apply>`, 0, 0, 6},
		{"string equality", `<Apply function="if"><Apply function="equal"><Apply function="concat"><Apply function="uppercase"><Constant dataType="string">a</Constant></Apply><Apply function="substring"><Constant dataType="string">xbz</Constant><Constant>2</Constant><Constant>1</Constant></Apply></Apply><Constant dataType="string">Ab</Constant></Apply><Constant>1</Constant><Constant>0</Constant></Apply>`, 0, 0, 1},
		{"invalid asMissing", `<Apply function="ln" invalidValueTreatment="asMissing"><FieldRef field="x"/></Apply>`, -1, 0, nan},
		{"defaultValue", `<Apply function="ln" invalidValueTreatment="asMissing" defaultValue="5"><FieldRef field="x"/></Apply>`, -1, 0, 5},
		{"NormContinuous inside", `<NormContinuous field="x"><LinearNorm orig="0" norm="0"/><LinearNorm orig="10" norm="1"/><LinearNorm orig="20" norm="3"/></NormContinuous>`, 15, 0, 2},
		{"NormContinuous extrapolates", `<NormContinuous field="x"><LinearNorm orig="0" norm="0"/><LinearNorm orig="10" norm="1"/></NormContinuous>`, 30, 0, 3},
		{"NormContinuous extreme", `<NormContinuous field="x" outliers="asExtremeValues"><LinearNorm orig="0" norm="0"/><LinearNorm orig="10" norm="1"/></NormContinuous>`, -5, 0, 0},
		{"NormContinuous missing outlier", `<NormContinuous field="x" outliers="asMissingValues"><LinearNorm orig="0" norm="0"/><LinearNorm orig="10" norm="1"/></NormContinuous>`, 11, 0, nan},
		{"NormContinuous mapMissingTo", `<NormContinuous field="x" mapMissingTo="0.5"><LinearNorm orig="0" norm="0"/><LinearNorm orig="10" norm="1"/></NormContinuous>`, nan, 0, 0.5},
		{"NormDiscrete", `<NormDiscrete field="x" value="3"/>`, 3, 0, 1},
		{"NormDiscrete other", `<NormDiscrete field="x" value="3"/>`, 4, 0, 0},
		{"Discretize", `<Discretize field="x" dataType="double"><DiscretizeBin binValue="1"><Interval closure="openClosed" rightMargin="0"/></DiscretizeBin><DiscretizeBin binValue="2"><Interval closure="openOpen" leftMargin="0" rightMargin="10"/></DiscretizeBin></Discretize>`, 0, 0, 1},
		{"Discretize open bound", `<Discretize field="x" dataType="double" defaultValue="9"><DiscretizeBin binValue="1"><Interval closure="openClosed" rightMargin="0"/></DiscretizeBin><DiscretizeBin binValue="2"><Interval closure="openOpen" leftMargin="0" rightMargin="10"/></DiscretizeBin></Discretize>`, 10, 0, 9},
		{"MapValues", `<MapValues outputColumn="out" dataType="double"><FieldColumnPair field="x" column="in"/><InlineTable><row><in>1</in><out>10</out></row><row><in>2</in><out>20</out></row></InlineTable></MapValues>`, 2, 0, 20},
		{"MapValues default", `<MapValues outputColumn="out" dataType="double" defaultValue="-1" mapMissingTo="-2"><FieldColumnPair field="x" column="in"/><InlineTable><row><in>1</in><out>10</out></row></InlineTable></MapValues>`, 5, 0, -1},
		{"MapValues missing", `<MapValues outputColumn="out" dataType="double" defaultValue="-1" mapMissingTo="-2"><FieldColumnPair field="x" column="in"/><InlineTable><row><in>1</in><out>10</out></row></InlineTable></MapValues>`, nan, 0, -2},
		{"user function", `<Apply function="sq_plus"><FieldRef field="x"/><Constant>1</Constant></Apply>`, 3, 0, 10},
		{"derived chain", `<Apply function="*"><FieldRef field="e"/><Constant>2</Constant></Apply>`, 3, 0, 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			derived := `<DefineFunction name="sq_plus" optype="continuous" dataType="double"><ParameterField name="a"/><ParameterField name="b"/>
<Apply function="+"><Apply function="*"><FieldRef field="a"/><FieldRef field="a"/></Apply><FieldRef field="b"/></Apply></DefineFunction>
<DerivedField name="d" optype="continuous" dataType="double">` + tc.expr + `</DerivedField>
<DerivedField name="e" optype="continuous" dataType="double"><Apply function="+"><FieldRef field="x"/><Constant>1</Constant></Apply></DerivedField>`
			m := compile(t, regressionOf("", derived))
			p := predict(t, m, tc.x, tc.y)
			if math.IsNaN(tc.want) {
				if !p.Empty() {
					t.Fatalf("got %+v, want an empty (missing) prediction", p)
				}
				return
			}
			if p.Value == nil || !near(*p.Value, tc.want) {
				t.Fatalf("got %+v, want %v", p, tc.want)
			}
		})
	}
}

func TestMiningSchemaTreatments(t *testing.T) {
	fields := `<DataField name="x" optype="continuous" dataType="double"><Interval closure="closedClosed" leftMargin="0" rightMargin="100"/></DataField>
<DataField name="c" optype="categorical" dataType="string"><Value value="1"/><Value value="2"/><Value value="-999" property="missing"/></DataField>`
	model := func(xAttrs, cAttrs string) string {
		return doc(fields, `<RegressionModel functionName="regression"><MiningSchema><MiningField name="x" `+xAttrs+`/><MiningField name="c" `+cAttrs+`/></MiningSchema>
<RegressionTable intercept="0"><NumericPredictor name="x" coefficient="1"/><CategoricalPredictor name="c" value="2" coefficient="1000"/></RegressionTable></RegressionModel>`)
	}
	nan := math.NaN()
	tests := []struct {
		name         string
		xAttrs, cAtt string
		x, c         float64
		want         float64
		wantErr      error
	}{
		{name: "plain", x: 5, c: 2, want: 1005},
		{name: "replacement", xAttrs: `missingValueReplacement="7"`, x: nan, c: 1, want: 7},
		{name: "missing numeric is null", x: nan, c: 1, want: nan},
		{name: "missing Value marker", xAttrs: `missingValueReplacement="1"`, cAtt: `missingValueReplacement="2"`, x: 3, c: -999, want: 1003},
		{name: "invalid returnInvalid", x: 200, c: 1, wantErr: serving.ErrInvalidEvent},
		{name: "invalid category", x: 1, c: 3, wantErr: serving.ErrInvalidEvent},
		{name: "invalid asMissing", xAttrs: `invalidValueTreatment="asMissing" missingValueReplacement="50"`, x: 200, c: 1, want: 50},
		{name: "invalid asIs", xAttrs: `invalidValueTreatment="asIs"`, x: 200, c: 1, want: 200},
		{name: "invalid asValue", cAtt: `invalidValueTreatment="asValue" invalidValueReplacement="2"`, x: 1, c: 7, want: 1001},
		{name: "outliers extreme", xAttrs: `outliers="asExtremeValues" lowValue="10" highValue="20"`, x: 50, c: 1, want: 20},
		{name: "outliers missing", xAttrs: `outliers="asMissingValues" lowValue="10" highValue="20" `, x: 5, c: 1, want: nan},
		{name: "missing returnInvalid", xAttrs: `missingValueTreatment="returnInvalid"`, x: nan, c: 1, wantErr: serving.ErrInvalidEvent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := compile(t, model(tc.xAttrs, tc.cAtt))
			p, err := m.Predict([]float64{tc.x, tc.c})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got %+v, %v; want %v", p, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if math.IsNaN(tc.want) {
				if !p.Empty() {
					t.Fatalf("got %+v, want missing", p)
				}
				return
			}
			if p.Value == nil || !near(*p.Value, tc.want) {
				t.Fatalf("got %+v, want %v", p, tc.want)
			}
		})
	}
}

// tree is a small classification tree over x (double), s (string) and f (float).
func tree(strategy, noTrue string) string {
	return doc(`<DataField name="x" optype="continuous" dataType="double"/><DataField name="s" optype="categorical" dataType="string"/>
<DataField name="f" optype="continuous" dataType="float"/>
<DataField name="t" optype="categorical" dataType="string"><Value value="a"/><Value value="b"/></DataField>`,
		`<TreeModel functionName="classification" missingValueStrategy="`+strategy+`" noTrueChildStrategy="`+noTrue+`">
<MiningSchema><MiningField name="x"/><MiningField name="s"/><MiningField name="f"/><MiningField name="t" usageType="target"/></MiningSchema>
<Node id="root" score="a" recordCount="10" defaultChild="L"><True/>
 <ScoreDistribution value="a" recordCount="6"/><ScoreDistribution value="b" recordCount="4"/>
 <Node id="L" score="a" recordCount="6"><SimplePredicate field="x" operator="lessThan" value="5"/>
  <ScoreDistribution value="a" recordCount="5"/><ScoreDistribution value="b" recordCount="1"/>
  <Node id="LL" score="b" recordCount="2"><SimpleSetPredicate field="s" booleanOperator="isIn"><Array type="string" n="2">"u v" w</Array></SimpleSetPredicate>
   <ScoreDistribution value="a" recordCount="0"/><ScoreDistribution value="b" recordCount="2"/></Node>
 </Node>
 <Node id="R" score="b" recordCount="4"><CompoundPredicate booleanOperator="surrogate"><SimplePredicate field="x" operator="greaterOrEqual" value="5"/><SimplePredicate field="f" operator="greaterThan" value="0.1"/></CompoundPredicate>
  <ScoreDistribution value="a" recordCount="1"/><ScoreDistribution value="b" recordCount="3"/></Node>
</Node></TreeModel>`)
}

func TestTreeStrategies(t *testing.T) {
	nan := math.NaN()
	// Inputs: x, s (a number: s is a string field, so 7 is "7"), f.
	tests := []struct {
		strategy, noTrue string
		x, s, f          float64
		label            string // "" = null prediction
		pb               float64
		entity           string
	}{
		{"none", "", 1, 7, 0, "", 0, ""}, // LL is false and returnNullPrediction is the default
		{"none", "returnLastPrediction", 1, 7, 0, "a", 1.0 / 6, "L"},
		{"none", "", 9, 7, 0, "b", 0.75, "R"},
		{"none", "", nan, 7, 0.5, "b", 0.75, "R"}, // surrogate falls through to f
		{"none", "", nan, 7, nan, "", 0, ""},      // unknown counts as false: no child
		{"none", "returnLastPrediction", nan, 7, nan, "a", 0.4, "root"},
		{"lastPrediction", "", nan, 7, nan, "a", 0.4, "root"},
		{"nullPrediction", "", nan, 7, nan, "", 0, ""},
		{"defaultChild", "returnLastPrediction", nan, 7, nan, "a", 1.0 / 6, "L"},
		{"weightedConfidence", "returnLastPrediction", nan, 7, nan, "a", 0.6*(1.0/6) + 0.4*0.75, ""},
		{"aggregateNodes", "returnLastPrediction", nan, 7, nan, "a", 4.0 / 10, ""},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%s/%v", tc.strategy, tc.noTrue, []float64{tc.x, tc.s, tc.f}), func(t *testing.T) {
			m := compile(t, tree(tc.strategy, tc.noTrue))
			p := predict(t, m, tc.x, tc.s, tc.f)
			if p.Label != tc.label {
				t.Fatalf("label %q, want %q (%+v)", p.Label, tc.label, p)
			}
			if tc.label != "" && !near(p.Scores["b"], tc.pb) {
				t.Fatalf("P(b) = %v, want %v", p.Scores["b"], tc.pb)
			}
		})
	}
	// A string set with a quoted space, and string comparison of a number.
	m := compile(t, tree("none", "returnLastPrediction"))
	if p := predict(t, m, 1, 7, 0); p.Label != "a" {
		t.Fatalf("s=7 is not in the set: %+v", p)
	}
	mq, err := Compile([]byte(strings.Replace(tree("none", "returnLastPrediction"), `"u v" w`, `"u v" 7`, 1)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p := predict(t, mq, 1, 7, 0); p.Label != "b" {
		t.Fatalf("s=7 is in the set: %+v", p)
	}
}

func TestFloatFieldsCompareInFloat32(t *testing.T) {
	// 0.1 as float32 is 0.100000001490116...: a float field rounds both input and value.
	src := doc(`<DataField name="f" optype="continuous" dataType="float"/><DataField name="y" optype="continuous" dataType="double"/>`,
		`<TreeModel functionName="regression"><MiningSchema><MiningField name="f"/></MiningSchema>
<Node score="0"><True/><Node score="1"><SimplePredicate field="f" operator="lessOrEqual" value="0.1"/></Node><Node score="2"><True/></Node></Node></TreeModel>`)
	m := compile(t, src)
	if p := predict(t, m, 0.1000000001); *p.Value != 1 {
		t.Fatalf("float32(0.1000000001) <= float32(0.1): got %v", *p.Value)
	}
	if p := predict(t, m, 0.10000001); *p.Value != 2 {
		t.Fatalf("0.10000001 rounds above float32(0.1): got %v", *p.Value)
	}
}

func segmented(method, fn string, weights []float64, segs ...string) string {
	var b strings.Builder
	for i, s := range segs {
		fmt.Fprintf(&b, `<Segment id="s%d" weight="%v"><True/>%s</Segment>`, i, weights[i], s)
	}
	target := `<DataField name="t" optype="categorical" dataType="string"><Value value="a"/><Value value="b"/></DataField>`
	if fn == "regression" {
		target = `<DataField name="t" optype="continuous" dataType="double"/>`
	}
	return doc(`<DataField name="x" optype="continuous" dataType="double"/>`+target,
		`<MiningModel functionName="`+fn+`"><MiningSchema><MiningField name="x"/><MiningField name="t" usageType="target"/></MiningSchema>
<Segmentation multipleModelMethod="`+method+`">`+b.String()+`</Segmentation></MiningModel>`)
}

// leafTree is a one-node classification tree with P(b) = pb; value is the regression score.
func leafTree(pb float64) string {
	return fmt.Sprintf(`<TreeModel functionName="classification"><MiningSchema><MiningField name="x"/></MiningSchema>
<Node score="%s"><True/><ScoreDistribution value="a" recordCount="%v"/><ScoreDistribution value="b" recordCount="%v"/></Node></TreeModel>`,
		map[bool]string{true: "b", false: "a"}[pb > 0.5], 1-pb, pb)
}

func constRegression(v float64) string {
	return fmt.Sprintf(`<RegressionModel functionName="regression"><MiningSchema><MiningField name="x"/></MiningSchema><RegressionTable intercept="%v"/></RegressionModel>`, v)
}

func TestSegmentation(t *testing.T) {
	w := []float64{1, 2, 3}
	cls := []string{leafTree(0.2), leafTree(0.9), leafTree(0.6)}
	tests := []struct {
		method string
		label  string
		pb     float64
	}{
		{"majorityVote", "b", 2.0 / 3},
		{"weightedMajorityVote", "b", 5.0 / 6},
		{"average", "b", (0.2 + 0.9 + 0.6) / 3},
		{"weightedAverage", "b", (0.2 + 1.8 + 1.8) / 6},
		{"median", "b", 0.6},
		{"max", "b", 0.9},
		{"selectFirst", "a", 0.2},
		{"modelChain", "b", 0.6},
	}
	for _, tc := range tests {
		t.Run(tc.method, func(t *testing.T) {
			m := compile(t, segmented(tc.method, "classification", w, cls...))
			p := predict(t, m, 0)
			if p.Label != tc.label || !near(p.Scores["b"], tc.pb) {
				t.Fatalf("got %+v, want %q with P(b)=%v", p, tc.label, tc.pb)
			}
		})
	}
	reg := []string{constRegression(1), constRegression(10), constRegression(4)}
	for method, want := range map[string]float64{"average": 5, "weightedAverage": (1 + 20 + 12) / 6.0, "median": 4, "max": 10,
		"sum": 15, "weightedSum": 33, "selectFirst": 1, "modelChain": 4} {
		t.Run("regression "+method, func(t *testing.T) {
			m := compile(t, segmented(method, "regression", w, reg...))
			if p := predict(t, m, 0); p.Value == nil || !near(*p.Value, want) {
				t.Fatalf("got %+v, want %v", p, want)
			}
		})
	}
	_, err := Compile([]byte(segmented("selectAll", "regression", w, reg...)), Options{})
	if !errors.Is(err, serving.ErrInvalidModel) || !strings.Contains(err.Error(), "selectAll") {
		t.Fatalf("selectAll: %v", err)
	}
	_, err = Compile([]byte(segmented("majorityVote", "regression", w, reg...)), Options{})
	if err == nil || !strings.Contains(err.Error(), "classification") {
		t.Fatalf("majorityVote of a regression: %v", err)
	}
}

func TestSegmentPredicatesAndOutputs(t *testing.T) {
	// Segment 1 applies when x < 0; the chain passes an output on and the final Output reads it.
	src := doc(`<DataField name="x" optype="continuous" dataType="double"/><DataField name="t" optype="continuous" dataType="double"/>`,
		`<MiningModel functionName="regression"><MiningSchema><MiningField name="x"/><MiningField name="t" usageType="target"/></MiningSchema>
<Segmentation multipleModelMethod="modelChain">
<Segment id="1"><SimplePredicate field="x" operator="lessThan" value="0"/><RegressionModel functionName="regression"><MiningSchema><MiningField name="x"/></MiningSchema>
 <Output><OutputField name="first" feature="predictedValue"/><OutputField name="twice" feature="transformedValue"><Apply function="*"><FieldRef field="first"/><Constant>2</Constant></Apply></OutputField></Output>
 <RegressionTable intercept="1"><NumericPredictor name="x" coefficient="-1"/></RegressionTable></RegressionModel></Segment>
<Segment id="2"><True/><RegressionModel functionName="regression"><MiningSchema><MiningField name="twice" missingValueReplacement="100"/></MiningSchema>
 <Targets><Target castInteger="floor" min="-1000" max="150"/></Targets>
 <RegressionTable intercept="0.5"><NumericPredictor name="twice" coefficient="1"/></RegressionTable></RegressionModel></Segment>
</Segmentation></MiningModel>`)
	m := compile(t, src)
	if p := predict(t, m, -2); *p.Value != 6 { // first = 3, twice = 6, 6.5 floored
		t.Fatalf("x=-2: %v", *p.Value)
	}
	if p := predict(t, m, 2); *p.Value != 100 { // segment 1 skipped: twice missing → 100, 100.5 floored
		t.Fatalf("x=2: %v", *p.Value)
	}
}

func TestRegressionNormalizations(t *testing.T) {
	two := func(norm string, ordinal bool) string {
		opt := "categorical"
		if ordinal {
			opt = "ordinal"
		}
		return doc(`<DataField name="x" optype="continuous" dataType="double"/><DataField name="t" optype="`+opt+`" dataType="string"><Value value="a"/><Value value="b"/><Value value="c"/></DataField>`,
			`<RegressionModel functionName="classification" normalizationMethod="`+norm+`"><MiningSchema><MiningField name="x"/><MiningField name="t" usageType="target"/></MiningSchema>
<RegressionTable targetCategory="a" intercept="0.2"><NumericPredictor name="x" coefficient="1"/></RegressionTable>
<RegressionTable targetCategory="b" intercept="0.5"><NumericPredictor name="x" coefficient="1"/></RegressionTable>
<RegressionTable targetCategory="c" intercept="0"/></RegressionModel>`)
	}
	x := 0.1
	ya, yb := 0.3, 0.6
	tests := []struct {
		norm    string
		ordinal bool
		want    [3]float64
	}{
		{"simplemax", false, [3]float64{ya / (ya + yb), yb / (ya + yb), 0}},
		{"none", false, [3]float64{ya, yb, 1 - ya - yb}},
		{"logit", true, [3]float64{logistic(ya), logistic(yb) - logistic(ya), 1 - logistic(yb)}},
		{"probit", true, [3]float64{probit(ya), probit(yb) - probit(ya), 1 - probit(yb)}},
		{"cloglog", true, [3]float64{cloglog(ya), cloglog(yb) - cloglog(ya), 1 - cloglog(yb)}},
		{"loglog", true, [3]float64{loglog(ya), loglog(yb) - loglog(ya), 1 - loglog(yb)}},
		{"cauchit", true, [3]float64{cauchit(ya), cauchit(yb) - cauchit(ya), 1 - cauchit(yb)}},
	}
	for _, tc := range tests {
		t.Run(tc.norm, func(t *testing.T) {
			p := predict(t, compile(t, two(tc.norm, tc.ordinal)), x)
			for i, c := range []string{"a", "b", "c"} {
				if !near(p.Scores[c], tc.want[i]) {
					t.Fatalf("%s: P(%s) = %v, want %v", tc.norm, c, p.Scores[c], tc.want[i])
				}
			}
		})
	}
	reg := func(norm string) float64 {
		src := doc(xyFields, `<RegressionModel functionName="regression" normalizationMethod="`+norm+`"><MiningSchema><MiningField name="x"/></MiningSchema>
<RegressionTable intercept="0.5"><NumericPredictor name="x" coefficient="2" exponent="2"/></RegressionTable></RegressionModel>`)
		return *predict(t, compile(t, src), 0.5).Value
	}
	for norm, want := range map[string]float64{"none": 1, "exp": math.E, "logit": logistic(1), "softmax": logistic(1),
		"probit": probit(1), "cloglog": cloglog(1), "loglog": loglog(1), "cauchit": cauchit(1)} {
		if got := reg(norm); !near(got, want) {
			t.Errorf("regression %s: %v, want %v", norm, got, want)
		}
	}
}

func TestOrdinalGeneralRegression(t *testing.T) {
	src := doc(`<DataField name="x" optype="continuous" dataType="double"/><DataField name="t" optype="ordinal" dataType="string"><Value value="lo"/><Value value="mid"/><Value value="hi"/></DataField>`,
		`<GeneralRegressionModel functionName="classification" modelType="ordinalMultinomial" cumulativeLink="logit">
<MiningSchema><MiningField name="x"/><MiningField name="t" usageType="target"/></MiningSchema>
<ParameterList><Parameter name="p0"/><Parameter name="p1"/></ParameterList><CovariateList><Predictor name="x"/></CovariateList>
<PPMatrix><PPCell value="1" predictorName="x" parameterName="p1"/></PPMatrix>
<ParamMatrix><PCell targetCategory="lo" parameterName="p0" beta="-1"/><PCell targetCategory="mid" parameterName="p0" beta="1"/><PCell parameterName="p1" beta="0.5"/></ParamMatrix>
</GeneralRegressionModel>`)
	p := predict(t, compile(t, src), 2)
	f1, f2 := logistic(-1+1), logistic(1+1)
	if !near(p.Scores["lo"], f1) || !near(p.Scores["mid"], f2-f1) || !near(p.Scores["hi"], 1-f2) || p.Label != "lo" {
		t.Fatalf("%+v", p)
	}
}

func TestNaiveBayesCounts(t *testing.T) {
	src := doc(`<DataField name="c" optype="categorical" dataType="string"/><DataField name="t" optype="categorical" dataType="string"><Value value="y"/><Value value="n"/></DataField>`,
		`<NaiveBayesModel functionName="classification" threshold="0.01"><MiningSchema><MiningField name="c"/><MiningField name="t" usageType="target"/></MiningSchema>
<BayesInputs><BayesInput fieldName="c">
<PairCounts value="1"><TargetValueCounts><TargetValueCount value="y" count="3"/><TargetValueCount value="n" count="0"/></TargetValueCounts></PairCounts>
<PairCounts value="2"><TargetValueCounts><TargetValueCount value="y" count="1"/><TargetValueCount value="n" count="4"/></TargetValueCounts></PairCounts>
</BayesInput></BayesInputs>
<BayesOutput fieldName="t"><TargetValueCounts><TargetValueCount value="y" count="4"/><TargetValueCount value="n" count="4"/></TargetValueCounts></BayesOutput></NaiveBayesModel>`)
	m := compile(t, src)
	p := predict(t, m, 1)
	py, pn := 4*0.75, 4*0.01 // a zero count becomes the threshold
	if !near(p.Scores["y"], py/(py+pn)) || p.Label != "y" {
		t.Fatalf("%+v", p)
	}
	if p := predict(t, m, math.NaN()); !near(p.Scores["y"], 0.5) { // missing input ignored
		t.Fatalf("missing: %+v", p)
	}
}

func TestNeuralActivations(t *testing.T) {
	net := func(act string) string {
		return doc(xyFields, `<NeuralNetwork functionName="regression" activationFunction="`+act+`" width="2" altitude="1.5" threshold="0.25">
<MiningSchema><MiningField name="x"/><MiningField name="y" usageType="target"/></MiningSchema>
<NeuralInputs><NeuralInput id="i"><DerivedField optype="continuous" dataType="double"><FieldRef field="x"/></DerivedField></NeuralInput></NeuralInputs>
<NeuralLayer><Neuron id="h" bias="0.1"><Con from="i" weight="0.5"/></Neuron></NeuralLayer>
<NeuralLayer activationFunction="identity"><Neuron id="o" bias="0"><Con from="h" weight="1"/></Neuron></NeuralLayer>
<NeuralOutputs><NeuralOutput outputNeuron="o"><DerivedField optype="continuous" dataType="double"><FieldRef field="y"/></DerivedField></NeuralOutput></NeuralOutputs></NeuralNetwork>`)
	}
	z := 0.1 + 0.5*0.8
	want := map[string]float64{"logistic": logistic(z), "tanh": math.Tanh(z), "identity": z, "exponential": math.Exp(z),
		"reciprocal": 1 / z, "square": z * z, "Gauss": math.Exp(-z * z), "sine": math.Sin(z), "cosine": math.Cos(z),
		"Elliott": z / (1 + z), "arctan": 2 * math.Atan(z) / math.Pi, "rectifier": z, "threshold": 1,
		"radialBasis": math.Exp(math.Log(1.5) - (0.8-0.5)*(0.8-0.5)/(2*2*2))}
	for act, w := range want {
		if p := predict(t, compile(t, net(act)), 0.8); !near(*p.Value, w) {
			t.Errorf("%s: %v, want %v", act, *p.Value, w)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	deep := strings.Repeat("<Extension>", 2000) + strings.Repeat("</Extension>", 2000)
	bomb := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><PMML version="4.4"><Header>&lol2;</Header></PMML>`
	tests := []struct {
		name, src, text string
	}{
		{"not xml", "hello", "no <PMML> element"},
		{"truncated", "<PMML><Header>", "malformed XML"},
		{"root", `<Foo/>`, "root element"},
		{"namespace", `<PMML xmlns="http://example.com/x"/>`, "not a PMML namespace"},
		{"entity bomb", bomb, "entity"},
		{"undeclared entity", `<PMML version="4.4"><Header>&lol;</Header></PMML>`, "malformed XML"},
		{"too deep", `<PMML>` + deep + `</PMML>`, "nest deeper"},
		{"no model", doc(xyFields, ""), "no model element"},
		{"unsupported model", doc(xyFields, `<ClusteringModel functionName="clustering"/>`), "ClusteringModel is not supported"},
		{"unknown field", doc(xyFields, `<RegressionModel functionName="regression"><MiningSchema><MiningField name="z"/></MiningSchema><RegressionTable intercept="0"/></RegressionModel>`), `"z" is not defined`},
		{"unknown function", regressionOf("", `<DerivedField name="d" optype="continuous" dataType="double"><Apply function="nope"><FieldRef field="x"/></Apply></DerivedField>`), `function "nope"`},
		{"arity", regressionOf("", `<DerivedField name="d" optype="continuous" dataType="double"><Apply function="+"><FieldRef field="x"/></Apply></DerivedField>`), "takes 2 arguments"},
		{"bad number", doc(xyFields, `<RegressionModel functionName="regression"><MiningSchema><MiningField name="x"/></MiningSchema><RegressionTable intercept="abc"/></RegressionModel>`), "line 1: RegressionTable: attribute intercept"},
		{"clustering function", doc(xyFields, `<RegressionModel functionName="clustering"><MiningSchema/></RegressionModel>`), "functionName"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile([]byte(tc.src), Options{})
			if !errors.Is(err, serving.ErrInvalidModel) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("got %v, want ErrInvalidModel mentioning %q", err, tc.text)
			}
		})
	}
	lim := DefaultLimits
	lim.MaxElements = 10
	if _, err := Compile([]byte(regressionOf("", `<DerivedField name="d" optype="continuous" dataType="double"><FieldRef field="x"/></DerivedField>`)), Options{Limits: &lim}); err == nil || !strings.Contains(err.Error(), "limit of 10 elements") {
		t.Fatalf("element limit: %v", err)
	}
	lim = DefaultLimits
	lim.MaxBytes = 100
	if _, err := Compile([]byte(tree("none", "")), Options{Limits: &lim}); err == nil || !strings.Contains(err.Error(), "over the limit") {
		t.Fatalf("size limit: %v", err)
	}
}

func TestEvaluationBudget(t *testing.T) {
	// Each function calls the previous one twice: 2^40 calls unless the budget stops it.
	var fns strings.Builder
	fns.WriteString(`<DefineFunction name="f0" optype="continuous"><ParameterField name="a"/><FieldRef field="a"/></DefineFunction>`)
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&fns, `<DefineFunction name="f%d" optype="continuous"><ParameterField name="a"/><Apply function="+"><Apply function="f%d"><FieldRef field="a"/></Apply><Apply function="f%d"><FieldRef field="a"/></Apply></Apply></DefineFunction>`, i, i-1, i-1)
	}
	src := regressionOf("", fns.String()+`<DerivedField name="d" optype="continuous" dataType="double"><Apply function="f40"><FieldRef field="x"/></Apply></DerivedField>`)
	m := compile(t, src)
	if _, err := m.Predict([]float64{1, 1}); !errors.Is(err, serving.ErrModel) || !strings.Contains(err.Error(), "budget") {
		t.Fatalf("got %v, want the step budget error", err)
	}
	cyc := regressionOf("", `<DerivedField name="d" optype="continuous" dataType="double"><FieldRef field="e"/></DerivedField><DerivedField name="e" optype="continuous" dataType="double"><FieldRef field="d"/></DerivedField>`)
	if _, err := compile(t, cyc).Predict([]float64{1, 1}); err == nil || !strings.Contains(err.Error(), "depends on itself") {
		t.Fatalf("cycle: %v", err)
	}
}

func TestDescriptor(t *testing.T) {
	src := tree("none", "returnLastPrediction")
	reg := serving.NewRegistry()
	Register(reg)
	data, _ := json.Marshal(src) // XML text directly in data
	d := &serving.Descriptor{ID: "t", Format: Format, Data: data}
	m, err := reg.Load(d)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.(*Model).Inputs(); strings.Join(got, ",") != "x,s,f" {
		t.Fatalf("inputs from the MiningSchema: %v", got)
	}
	d.Labels = []string{"b", "a"}
	if _, err := reg.Load(d); err != nil {
		t.Fatalf("labels in another order: %v", err)
	}
	d.Labels = []string{"a", "c"}
	if _, err := reg.Load(d); err == nil || !strings.Contains(err.Error(), "differ") {
		t.Fatalf("wrong labels: %v", err)
	}
	d.Labels = nil
	d.Features = []string{"x", "s"}
	if _, err := reg.Load(d); err == nil || !strings.Contains(err.Error(), `active field "f"`) {
		t.Fatalf("missing active field: %v", err)
	}
	d.Features = []string{"x", "s", "f", "nope"}
	if _, err := reg.Load(d); err == nil || !strings.Contains(err.Error(), `"nope" is not a DataField`) {
		t.Fatalf("unknown feature: %v", err)
	}
	d.Features = nil
	d.SHA256 = strings.Repeat("0", 64)
	if _, err := reg.Load(d); !errors.Is(err, serving.ErrInvalidModel) || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("sha256: %v", err)
	}
	if _, err := m.Predict([]float64{1}); !errors.Is(err, serving.ErrSchemaMismatch) {
		t.Fatalf("short input: %v", err)
	}
	out, errs := make([]serving.Prediction, 2), make([]error, 2)
	if err := m.PredictBatch([][]float64{{1, 7, 0}, {9, 7, 0}}, out, errs); err != nil || out[0].Label != "a" || out[1].Label != "b" {
		t.Fatalf("batch: %v %+v %v", err, out, errs)
	}
}
