// Package output evaluates a descriptor's user-defined output block: named
// expressions over the event and the prediction, such as
//
//	"alert": "prediction.scores.fraud > 0.9"
//	"card":  "event.card_id"
//
// compiled once per descriptor version with expr-lang/expr and evaluated
// per event. The results travel in the prediction record as "user".
package output

import (
	"errors"
	"fmt"
	"sort"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// ErrCompile marks an output expression that does not compile.
var ErrCompile = errors.New("output expression does not compile")

// ErrEval marks an output expression that failed on an event.
var ErrEval = errors.New("output expression failed")

// MaxExpressions bounds the number of named outputs, MaxLength one
// expression's source.
const (
	MaxExpressions = 64
	MaxLength      = 4096
)

// Program is a compiled output block. It is safe for concurrent use.
type Program struct {
	names []string
	progs []*vm.Program
}

// Compile compiles every expression. It returns nil for an empty block.
// Errors name the output and wrap ErrCompile.
func Compile(exprs map[string]string) (*Program, error) {
	if len(exprs) == 0 {
		return nil, nil
	}
	if len(exprs) > MaxExpressions {
		return nil, fmt.Errorf("%w: %d outputs, at most %d", ErrCompile, len(exprs), MaxExpressions)
	}
	p := &Program{}
	for name := range exprs {
		p.names = append(p.names, name)
	}
	sort.Strings(p.names)
	env := map[string]any{"event": map[string]any{}, "prediction": map[string]any{}}
	for _, name := range p.names {
		src := exprs[name]
		if len(src) > MaxLength {
			return nil, fmt.Errorf("%w: output.%s: %d characters, at most %d", ErrCompile, name, len(src), MaxLength)
		}
		prog, err := compile(src, env)
		if err != nil {
			return nil, fmt.Errorf("%w: output.%s: %v", ErrCompile, name, err)
		}
		p.progs = append(p.progs, prog)
	}
	return p, nil
}

func compile(src string, env map[string]any) (prog *vm.Program, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return expr.Compile(src, expr.Env(env))
}

// Names returns the output names, sorted.
func (p *Program) Names() []string { return p.names }

// Eval evaluates every expression with "event" bound to the event's fields
// and "prediction" to {label, scores, value}. The first failure is returned
// wrapped in ErrEval with the output's name.
func (p *Program) Eval(event, prediction map[string]any) (map[string]any, error) {
	if p == nil {
		return nil, nil
	}
	env := map[string]any{"event": event, "prediction": prediction}
	out := make(map[string]any, len(p.names))
	for i, prog := range p.progs {
		v, err := run(prog, env)
		if err != nil {
			return nil, fmt.Errorf("%w: output.%s: %v", ErrEval, p.names[i], err)
		}
		out[p.names[i]] = v
	}
	return out, nil
}

func run(prog *vm.Program, env map[string]any) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return expr.Run(prog, env)
}
