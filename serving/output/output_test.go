package output

import (
	"errors"
	"strings"
	"testing"
)

func TestCompileAndEval(t *testing.T) {
	p, err := Compile(map[string]string{
		"alert": "prediction.scores.fraud > 0.9",
		"card":  "event.card_id",
		"label": "prediction.label + '!'",
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Eval(
		map[string]any{"card_id": "c-7", "amount": 12.5},
		map[string]any{"label": "fraud", "scores": map[string]any{"fraud": 0.95, "ok": 0.05}},
	)
	if err != nil {
		t.Fatal(err)
	}
	if out["alert"] != true || out["card"] != "c-7" || out["label"] != "fraud!" {
		t.Fatalf("got %v", out)
	}
}

func TestCompileErrorNamesOutput(t *testing.T) {
	_, err := Compile(map[string]string{"bad": "prediction.scores.x >"})
	if !errors.Is(err, ErrCompile) || !strings.Contains(err.Error(), "output.bad") {
		t.Fatalf("err = %v", err)
	}
}

func TestEvalErrorNamesOutput(t *testing.T) {
	p, err := Compile(map[string]string{"ratio": "event.a / event.b > 1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Eval(map[string]any{"a": "text", "b": 2}, map[string]any{})
	if !errors.Is(err, ErrEval) || !strings.Contains(err.Error(), "output.ratio") {
		t.Fatalf("err = %v", err)
	}
}

func TestEmptyBlock(t *testing.T) {
	p, err := Compile(nil)
	if err != nil || p != nil {
		t.Fatalf("got %v %v", p, err)
	}
	out, err := p.Eval(nil, nil)
	if out != nil || err != nil {
		t.Fatalf("nil program evaluated to %v %v", out, err)
	}
}
