package learning

import (
	"encoding"
	"fmt"

	"github.com/actorserve/actorserve/learning/arow"
	"github.com/actorserve/actorserve/learning/internal/wire"
	"github.com/actorserve/actorserve/learning/logreg"
	"github.com/actorserve/actorserve/learning/pa"
	"github.com/actorserve/actorserve/learning/scw"
)

// BinaryLearner is a linear classifier on labels ±1: what pa.Binary, scw.Binary, arow.Binary
// and logreg.Binary are. All methods are called from one goroutine at a time.
type BinaryLearner interface {
	// Margin returns the signed score; positive predicts +1.
	Margin(x []float64) float64
	// Learn takes one step on (x, y), y = −1 or +1, and reports whether the weights changed.
	Learn(x []float64, y float64) bool
	// Reset returns the learner to its initial state.
	Reset()
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}

// CovarianceResetter is a learner whose confidence shrinks as it learns (SCW and AROW's Σ,
// logistic regression's AdaGrad sums); ResetCovariance restores it and keeps the weights.
type CovarianceResetter interface {
	ResetCovariance()
}

// classifier is a K-class learner over class indexes, as Online drives it.
type classifier interface {
	numClasses() int
	addClass() error
	margins(x, out []float64) // out[:numClasses()]
	learn(x []float64, y int) bool
	reset()
	resetCovariance()
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}

// regressor is a real-valued learner.
type regressor interface {
	Predict(x []float64) float64
	Learn(x []float64, y float64) bool
	Reset()
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}

func newBinaryLearner(c *config) (BinaryLearner, error) {
	d := c.dim()
	switch c.algorithm {
	case AlgoPA, AlgoPA1, AlgoPA2:
		return pa.NewBinary(d, paConfig(c))
	case AlgoSCW1, AlgoSCW2:
		v := scw.SCW1
		if c.algorithm == AlgoSCW2 {
			v = scw.SCW2
		}
		return scw.New(d, scw.Config{Variant: v, C: c.c, Eta: c.eta, Full: c.covariance == CovarianceFull})
	case AlgoAROW:
		return arow.New(d, arow.Config{R: c.r, Full: c.covariance == CovarianceFull})
	case AlgoLogReg:
		return logreg.NewBinary(d, logregConfig(c))
	}
	return nil, configErrorf("learning.algorithm %q has no binary learner", c.algorithm)
}

func paConfig(c *config) pa.Config {
	v := pa.PA
	switch c.algorithm {
	case AlgoPA1:
		v = pa.PA1
	case AlgoPA2:
		v = pa.PA2
	}
	return pa.Config{Variant: v, C: c.c, Epsilon: c.epsilon, Intercept: c.bias == BiasIntercept}
}

func logregConfig(c *config) logreg.Config {
	return logreg.Config{LR: c.lr, AdaGrad: c.adagrad, L2: c.l2, Intercept: c.bias == BiasIntercept}
}

// newClassifier builds the classifier for c with k classes.
func newClassifier(c *config, k int) (classifier, error) {
	if c.binaryModel() {
		b, err := newBinaryLearner(c)
		if err != nil {
			return nil, err
		}
		return &binaryClassifier{b: b, k: k}, nil
	}
	switch c.algorithm {
	case AlgoPA, AlgoPA1, AlgoPA2:
		m, err := pa.NewMulticlass(c.dim(), k, paConfig(c))
		if err != nil {
			return nil, err
		}
		return &paMulticlass{m}, nil
	case AlgoLogReg:
		m, err := logreg.NewSoftmax(c.dim(), k, logregConfig(c))
		if err != nil {
			return nil, err
		}
		return &softmax{m}, nil
	}
	o := &oneVsRest{cfg: c}
	for range k {
		if err := o.addClass(); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// binaryClassifier is one binary learner over two classes: class 1 is y = +1, class 0 is
// y = −1. Its margins are (0, f), so the softmax of them is (1 − σ(f), σ(f)).
type binaryClassifier struct {
	b BinaryLearner
	k int // classes known so far, 0 to 2
}

func (c *binaryClassifier) numClasses() int { return c.k }

func (c *binaryClassifier) addClass() error {
	if c.k >= 2 {
		return fmt.Errorf("%w: a binary model has two classes", ErrTooManyClasses)
	}
	c.k++
	return nil
}

func (c *binaryClassifier) margins(x, out []float64) {
	switch c.k {
	case 2:
		out[1] = c.b.Margin(x)
		fallthrough
	case 1:
		out[0] = 0
	}
}

func (c *binaryClassifier) learn(x []float64, y int) bool {
	if y == 1 {
		return c.b.Learn(x, 1)
	}
	return c.b.Learn(x, -1)
}

func (c *binaryClassifier) reset() { c.b.Reset() }

func (c *binaryClassifier) resetCovariance() {
	if r, ok := c.b.(CovarianceResetter); ok {
		r.ResetCovariance()
	}
}

func (c *binaryClassifier) MarshalBinary() ([]byte, error) { return c.b.MarshalBinary() }

func (c *binaryClassifier) UnmarshalBinary(p []byte) error { return c.b.UnmarshalBinary(p) }

// oneVsRest holds one binary learner per class; class r's margin is learner r's.
type oneVsRest struct {
	cfg *config
	bs  []BinaryLearner
}

func (o *oneVsRest) numClasses() int { return len(o.bs) }

func (o *oneVsRest) addClass() error {
	b, err := newBinaryLearner(o.cfg)
	if err != nil {
		return err
	}
	o.bs = append(o.bs, b)
	return nil
}

func (o *oneVsRest) margins(x, out []float64) {
	for r, b := range o.bs {
		out[r] = b.Margin(x)
	}
}

func (o *oneVsRest) learn(x []float64, y int) bool {
	changed := false
	for r, b := range o.bs {
		t := -1.0
		if r == y {
			t = 1
		}
		if b.Learn(x, t) {
			changed = true
		}
	}
	return changed
}

func (o *oneVsRest) reset() {
	for _, b := range o.bs {
		b.Reset()
	}
}

func (o *oneVsRest) resetCovariance() {
	for _, b := range o.bs {
		if r, ok := b.(CovarianceResetter); ok {
			r.ResetCovariance()
		}
	}
}

const ovrVersion = 1

func (o *oneVsRest) MarshalBinary() ([]byte, error) {
	w := wire.NewWriter(64)
	w.Byte(ovrVersion)
	w.Uint(uint64(len(o.bs)))
	for _, b := range o.bs {
		p, err := b.MarshalBinary()
		if err != nil {
			return nil, err
		}
		w.Blob(p)
	}
	return w.Bytes(), nil
}

func (o *oneVsRest) UnmarshalBinary(p []byte) error {
	r := wire.NewReader(p)
	r.Version("one-vs-rest", ovrVersion)
	k := r.Count("one-vs-rest classes", MaxClassesLimit)
	bs := make([]BinaryLearner, 0, min(k, 64))
	for i := 0; i < k && r.Err() == nil; i++ {
		blob := r.Blob("one-vs-rest learner")
		if r.Err() != nil {
			break
		}
		b, err := newBinaryLearner(o.cfg)
		if err != nil {
			return err
		}
		if err := b.UnmarshalBinary(blob); err != nil {
			return fmt.Errorf("class %d: %w", i, err)
		}
		bs = append(bs, b)
	}
	if err := r.Done(); err != nil {
		return err
	}
	o.bs = bs
	return nil
}

type paMulticlass struct{ m *pa.Multiclass }

func (c *paMulticlass) numClasses() int                { return c.m.NumClasses() }
func (c *paMulticlass) addClass() error                { c.m.AddClass(); return nil }
func (c *paMulticlass) margins(x, out []float64)       { c.m.Margins(x, out) }
func (c *paMulticlass) learn(x []float64, y int) bool  { return c.m.Learn(x, y) }
func (c *paMulticlass) reset()                         { c.m.Reset() }
func (c *paMulticlass) resetCovariance()               {}
func (c *paMulticlass) MarshalBinary() ([]byte, error) { return c.m.MarshalBinary() }
func (c *paMulticlass) UnmarshalBinary(p []byte) error { return c.m.UnmarshalBinary(p) }

type softmax struct{ m *logreg.Softmax }

func (c *softmax) numClasses() int                { return c.m.NumClasses() }
func (c *softmax) addClass() error                { c.m.AddClass(); return nil }
func (c *softmax) margins(x, out []float64)       { c.m.Margins(x, out) }
func (c *softmax) learn(x []float64, y int) bool  { return c.m.Learn(x, y) }
func (c *softmax) reset()                         { c.m.Reset() }
func (c *softmax) resetCovariance()               { c.m.ResetCovariance() }
func (c *softmax) MarshalBinary() ([]byte, error) { return c.m.MarshalBinary() }
func (c *softmax) UnmarshalBinary(p []byte) error { return c.m.UnmarshalBinary(p) }
