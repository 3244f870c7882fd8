package ingress

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/actorserve/actorserve/actors/msg"
)

// primary is the first input topic: learning models' home partitions are
// its partitions.
func (in *Ingress) primary() string {
	if len(in.cfg.Topics) == 0 {
		return ""
	}
	return in.cfg.Topics[0]
}

// partitionCount is the partition count of the first input topic (0 while
// unknown), looked up at most every 10 seconds.
func (in *Ingress) partitionCount() int32 {
	n := in.nparts.Load()
	if n > 0 && time.Since(time.Unix(0, in.npartsAt.Load())) < 10*time.Second {
		return n
	}
	ctx, cancel := context.WithTimeout(in.base, 5*time.Second)
	defer cancel()
	if m, err := in.partitions(ctx); err == nil {
		n = m
	}
	return n
}

func (in *Ingress) partitions(ctx context.Context) (int32, error) {
	topic := in.primary()
	tds, err := kadm.NewClient(in.producer).ListTopics(ctx, topic)
	if err != nil {
		return 0, err
	}
	td, ok := tds[topic]
	if !ok || td.Err != nil || len(td.Partitions) == 0 {
		return 0, fmt.Errorf("input topic %q: not found", topic)
	}
	n := int32(len(td.Partitions))
	in.nparts.Store(n)
	in.npartsAt.Store(time.Now().UnixNano())
	return n, nil
}

// Home returns the input topic and the partition model id's events are
// keyed to (its home), and the offset from which the consumer group will
// read that partition (its committed offset, else the partition's start):
// a learning model that has no learned state yet learns from there.
func (in *Ingress) Home(ctx context.Context, id string) (topic string, part int32, start int64, err error) {
	topic = in.primary()
	n, err := in.partitions(ctx)
	if err != nil {
		return "", 0, 0, fmt.Errorf("home partition of model %q: %w", id, err)
	}
	part = KeyPartition([]byte(id), n)
	adm := kadm.NewClient(in.producer)
	committed, err := adm.FetchOffsets(ctx, in.cfg.Group)
	if err != nil {
		return "", 0, 0, fmt.Errorf("home partition of model %q: committed offsets: %w", id, err)
	}
	if o, ok := committed.Lookup(topic, part); ok && o.Err == nil && o.At >= 0 {
		return topic, part, o.At, nil
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return "", 0, 0, fmt.Errorf("home partition of model %q: start offsets: %w", id, err)
	}
	if o, ok := starts.Lookup(topic, part); ok && o.Err == nil {
		return topic, part, o.Offset, nil
	}
	return topic, part, 0, nil
}

// Replay reads partition part of the first input topic from offset from
// up to its end as it is now, and calls fn, in order, with every labelled
// event (features and label) addressed to model id: what the model learns
// from. It returns the offset after the last record read. A learning
// model's new activation calls it to catch up from its checkpoint before
// it serves.
func (in *Ingress) Replay(ctx context.Context, id string, part int32, from int64, fn func(ev *msg.Event) error) (int64, error) {
	topic := in.primary()
	ends, err := kadm.NewClient(in.producer).ListEndOffsets(ctx, topic)
	if err != nil {
		return from, fmt.Errorf("replay model %q: end offsets: %w", id, err)
	}
	end, ok := ends.Lookup(topic, part)
	if !ok || end.Err != nil {
		return from, fmt.Errorf("replay model %q: end offset of %s/%d unknown", id, topic, part)
	}
	if end.Offset <= from {
		return from, nil
	}
	cl, err := kgo.NewClient(append(slices.Clone(in.cfg.ClientOpts),
		kgo.SeedBrokers(in.cfg.Brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {part: kgo.NewOffset().At(from)}}),
		kgo.FetchMaxWait(50*time.Millisecond),
		kgo.FetchMaxPartitionBytes(4<<20),
		kgo.ClientID("actorserve-replay-"+in.node),
	)...)
	if err != nil {
		return from, fmt.Errorf("replay model %q: %w", id, err)
	}
	defer cl.Close()
	next := from
	for next < end.Offset {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return next, fmt.Errorf("replay model %q at %s/%d offset %d of %d: %w", id, topic, part, next, end.Offset, err)
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.Canceled) {
				ferr = err
			}
		})
		if ferr != nil {
			in.logger.Warn("replay fetch failed; retrying", "model", id, "partition", part, "err", ferr)
		}
		var cbErr error
		fs.EachRecord(func(r *kgo.Record) {
			if cbErr != nil || r.Offset >= end.Offset {
				return
			}
			next = r.Offset + 1
			ev, _, err := decodeEvent(r)
			if err != nil || ev.Label == nil {
				return
			}
			if ids, _ := in.router.targets(r.Topic, r.Key, &ev); !slices.Contains(ids, id) {
				return
			}
			out, ok := toEvent(&ev)
			if !ok || out.NoFeatures {
				return // a label-only event teaches only by joining a prediction
			}
			out.Part, out.Off = r.Partition, r.Offset+1
			cbErr = fn(&out)
		})
		if cbErr != nil {
			return next, cbErr
		}
	}
	return next, nil
}
