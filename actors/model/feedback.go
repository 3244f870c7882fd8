package model

import (
	"container/list"
	"time"

	"github.com/actorserve/actorserve/actors/msg"
	"github.com/actorserve/actorserve/learning/metrics"
	"github.com/actorserve/actorserve/serving"
)

// pending is a prediction waiting for its label.
type pending struct {
	id   string
	x    []float64 // kept only for online models, which learn from it
	pred serving.Prediction
	at   time.Time
	// variant: a variant's prediction, with the primary's (variant.go)
	variant *variantPending
}

// feedbackStore keeps recent unlabelled predictions by event id until
// their labels arrive, bounded by count (oldest evicted first) and by age.
type feedbackStore struct {
	max     int
	ttl     time.Duration
	byID    map[string]*list.Element
	order   *list.List // oldest first
	expired int64
	evicted int64
}

// newFeedbackStore returns an empty store; its map and list are made by
// the first prediction it keeps (a model whose events carry no ids keeps
// none).
func newFeedbackStore(max int, ttl time.Duration) *feedbackStore {
	return &feedbackStore{max: max, ttl: ttl}
}

func (f *feedbackStore) put(p *pending) {
	if f.max <= 0 {
		return
	}
	if f.order == nil {
		f.byID, f.order = map[string]*list.Element{}, list.New()
	}
	if el, ok := f.byID[p.id]; ok {
		f.order.Remove(el)
	}
	f.byID[p.id] = f.order.PushBack(p)
	for f.order.Len() > f.max {
		old := f.order.Front()
		f.order.Remove(old)
		delete(f.byID, old.Value.(*pending).id)
		f.evicted++
	}
}

func (f *feedbackStore) take(id string) (*pending, bool) {
	el, ok := f.byID[id]
	if !ok {
		return nil, false
	}
	f.order.Remove(el)
	delete(f.byID, id)
	return el.Value.(*pending), true
}

// expire drops predictions older than the time-to-live.
func (f *feedbackStore) expire(now time.Time) {
	if f.order == nil {
		return
	}
	for el := f.order.Front(); el != nil; el = f.order.Front() {
		p := el.Value.(*pending)
		if now.Sub(p.at) < f.ttl {
			return
		}
		f.order.Remove(el)
		delete(f.byID, p.id)
		f.expired++
	}
}

func (f *feedbackStore) len() int {
	if f.order == nil {
		return 0
	}
	return f.order.Len()
}

// labelTracker measures a model that does not learn against the labels
// it receives: prequential accuracy and kappa, or MAE for regression.
// Its scores and class index are made by the first label: a model that
// never receives one holds none.
type labelTracker struct {
	n          int64 // labels scored
	regression bool
	labels     []string // the descriptor's, indexed first
	index      map[string]int
	cls        *metrics.Classification
	reg        *metrics.Regression
}

func newLabelTracker(d *serving.Descriptor) *labelTracker {
	return &labelTracker{regression: len(d.Labels) == 0, labels: d.Labels}
}

const maxTrackedClasses = 4096

func (t *labelTracker) class(s string) (int, bool) {
	if t.index == nil {
		t.index = make(map[string]int, len(t.labels))
		for i, l := range t.labels {
			t.index[l] = i
		}
	}
	if i, ok := t.index[s]; ok {
		return i, true
	}
	if len(t.index) >= maxTrackedClasses {
		return 0, false
	}
	i := len(t.index)
	t.index[s] = i
	return i, true
}

// add records one labelled prediction.
func (t *labelTracker) add(l *msg.Label, p serving.Prediction) {
	t.n++
	if t.regression {
		if t.reg == nil {
			t.reg = metrics.NewRegression(1000)
		}
		if v, err := l.Float(); err == nil && p.Value != nil {
			t.reg.Add(v, *p.Value)
		}
		return
	}
	if t.cls == nil {
		t.cls = metrics.NewClassification(1000)
	}
	truth, ok1 := t.class(l.String())
	pred, ok2 := t.class(p.Label)
	if ok1 && ok2 {
		t.cls.Add(truth, pred)
	}
}

func (t *labelTracker) fill(ls *msg.LearningStats) {
	if t.regression {
		ls.Task = "regression"
		if t.reg != nil {
			ls.MAE, ls.MAERecent = t.reg.MAE(), t.reg.RecentMAE()
		}
		return
	}
	ls.Task = "classification"
	if t.cls == nil {
		return
	}
	ls.Accuracy, ls.AccuracyRecent = t.cls.Accuracy(), t.cls.RecentAccuracy()
	ls.Kappa, ls.KappaT = t.cls.Kappa(), t.cls.KappaTemporal()
}
