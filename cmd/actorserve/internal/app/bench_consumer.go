package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/actorserve/actorserve/serving"
)

// benchEvent is the input event as a user would declare it for
// encoding/json; features decode through serving.Features (the library's
// own JSON decoder for a feature object) so that Schema.Vector can lay
// them out in descriptor order.
type benchEvent struct {
	Model    string           `json:"model"`
	ID       string           `json:"id"`
	Features serving.Features `json:"features"`
}

// benchPrediction has the fields of actorserve's prediction records.
type benchPrediction struct {
	Model      string             `json:"model"`
	Version    int64              `json:"version"`
	ID         string             `json:"id,omitempty"`
	Prediction serving.Prediction `json:"prediction"`
	Node       string             `json:"node"`
	LatencyUS  int64              `json:"latency_us"`
	TS         time.Time          `json:"ts"`
}

// benchModel is one loaded model with its feature layout.
type benchModel struct {
	desc   *serving.Descriptor
	model  serving.Model
	schema *serving.Schema
}

// errBenchStopped marks the processor's own failure, which ends the run.
var errBenchStopped = errors.New("processor failed")

// startConsumer is (a'): what a user would write instead of actorserve.
// It reads the model descriptors from the control topic once, builds the
// models with serving's registry, then runs one group consumer loop that
// decodes each event with encoding/json, scores it, encodes the
// prediction with json.Marshal and produces it. Each poll's predictions
// are flushed before its offsets are committed, so that nothing is lost
// (at-least-once, as actorserve). One goroutine: no per-model or
// per-partition parallelism, no batching across a model's events, no
// reloading when a descriptor changes.
func (r *benchRun) startConsumer(ctx context.Context) error {
	models, err := r.readModels(ctx)
	if err != nil {
		return err
	}
	cons, err := kgo.NewClient(r.kopts(kgo.SeedBrokers(r.brokers...), kgo.ConsumerGroup(r.group), kgo.ConsumeTopics(r.in),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(500*time.Millisecond),
		kgo.DisableAutoCommit())...)
	if err != nil {
		return err
	}
	prod, err := kgo.NewClient(r.kopts(kgo.SeedBrokers(r.brokers...), kgo.ProducerLinger(0))...)
	if err != nil {
		cons.Close()
		return err
	}
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var row []float64
		for pctx.Err() == nil {
			fs := cons.PollRecords(pctx, 4096)
			fs.EachRecord(func(rec *kgo.Record) {
				polled := time.Now()
				var ev benchEvent
				if err := json.Unmarshal(rec.Value, &ev); err != nil {
					r.fail(fmt.Errorf("%w: event at %s/%d@%d: %v", errBenchStopped, rec.Topic, rec.Partition, rec.Offset, err))
					return
				}
				id := ev.Model
				if id == "" {
					id = string(rec.Key)
				}
				m, ok := models[id]
				if !ok {
					r.fail(fmt.Errorf("%w: event %q: model %q is not deployed", errBenchStopped, ev.ID, id))
					return
				}
				x, err := m.schema.Vector(&ev.Features, row)
				row = x
				if err != nil {
					r.fail(fmt.Errorf("%w: event %q: %v", errBenchStopped, ev.ID, err))
					return
				}
				pred, err := m.model.Predict(x)
				if err != nil {
					r.fail(fmt.Errorf("%w: event %q: model %q: %v", errBenchStopped, ev.ID, id, err))
					return
				}
				now := time.Now()
				out, err := json.Marshal(&benchPrediction{Model: id, Version: m.desc.Version, ID: ev.ID, Prediction: pred,
					Node: "franz-go", LatencyUS: now.Sub(polled).Microseconds(), TS: now.UTC()})
				if err != nil {
					r.fail(fmt.Errorf("%w: event %q: %v", errBenchStopped, ev.ID, err))
					return
				}
				prod.Produce(pctx, &kgo.Record{Topic: r.out, Key: rec.Key, Value: out}, func(_ *kgo.Record, err error) {
					if err != nil && pctx.Err() == nil {
						r.fail(fmt.Errorf("%w: produce: %v", errBenchStopped, err))
					}
				})
			})
			if err := prod.Flush(pctx); err != nil {
				return
			}
			cons.CommitUncommittedOffsets(pctx)
		}
	}()
	r.stop = func() {
		cancel()
		<-done
		prod.Close()
		cons.Close()
	}
	return nil
}

// readModels reads the control topic up to its end and loads each
// model it holds (the latest descriptor of each id).
func (r *benchRun) readModels(ctx context.Context) (map[string]benchModel, error) {
	ends, err := r.adm.ListEndOffsets(ctx, r.modelsTopic)
	if err != nil {
		return nil, fmt.Errorf("list end offsets of %q: %w", r.modelsTopic, err)
	}
	if err := ends.Error(); err != nil {
		return nil, fmt.Errorf("list end offsets of %q: %w", r.modelsTopic, err)
	}
	want := map[int32]int64{} // partition → end offset, while not yet reached
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	cl, err := kgo.NewClient(r.kopts(kgo.SeedBrokers(r.brokers...), kgo.ConsumeTopics(r.modelsTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	descs := map[string]*serving.Descriptor{}
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("read control topic %q: %w", r.modelsTopic, err)
		}
		if err := fs.Err(); err != nil {
			return nil, fmt.Errorf("read control topic %q: %w", r.modelsTopic, err)
		}
		var decErr error
		fs.EachRecord(func(rec *kgo.Record) {
			if rec.Offset+1 >= want[rec.Partition] {
				delete(want, rec.Partition)
			}
			if rec.Value == nil {
				delete(descs, string(rec.Key)) // tombstone: undeployed
				return
			}
			d, err := serving.DecodeDescriptor(rec.Value)
			if err != nil {
				decErr = cmpErr(decErr, fmt.Errorf("descriptor %q: %w", rec.Key, err))
				return
			}
			descs[d.ID] = d
		})
		if decErr != nil {
			return nil, decErr
		}
	}
	reg := NewRegistry()
	models := make(map[string]benchModel, len(descs))
	for id, d := range descs {
		m, err := reg.Load(d)
		if err != nil {
			return nil, err
		}
		models[id] = benchModel{desc: d, model: m, schema: serving.NewSchema(d, m.NumFeatures())}
	}
	return models, nil
}
