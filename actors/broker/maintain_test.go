package broker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestMaintainCompactsWhenHalfDirty: the compacted topics, seeded or not,
// are compacted once they hold twice the bytes of the last compaction, not
// at every pass (a pass stops the broker answering while it rewrites every
// record), and retention still bounds the other topics at every pass.
func TestMaintainCompactsWhenHalfDirty(t *testing.T) {
	b, err := New(Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	// One record per batch, as deploys of different models come.
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.ProducerLinger(0), kgo.ProducerBatchMaxBytes(512), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	// A node's control topic under another name than the seeded one.
	adm := kadm.NewClient(cl)
	const models = "bench-models-1"
	if _, err := adm.CreateTopic(t.Context(), 1, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact"), "retention.ms": kadm.StringPtr("-1")}, models); err != nil {
		t.Fatal(err)
	}
	size := func() int64 {
		t.Helper()
		_, n, err := b.compactedBytes()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	produce := func(topic string, from, to int) {
		t.Helper()
		var rs []*kgo.Record
		for i := from; i < to; i++ {
			rs = append(rs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "model-%04d", i), Value: make([]byte, 200)})
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatalf("produce to %s: %v", topic, err)
		}
	}
	count := func() int {
		t.Helper()
		c, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.ConsumeTopics(models),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		end := b.cluster.PartitionInfo(models, 0).HighWatermark
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		n := 0
		for last := int64(-1); last < end-1; {
			fs := c.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("read %s: at offset %d of %d when the time ran out", models, last, end)
			}
			fs.EachRecord(func(r *kgo.Record) { n++; last = r.Offset })
		}
		return n
	}

	produce(models, 0, 1000)
	b.maintain()
	if b.compactions != 1 {
		t.Fatalf("after the first 1,000 records: %d compactions, want 1 (the log was never compacted)", b.compactions)
	}
	clean := b.cleanBytes
	produce(models, 1000, 1400)
	b.maintain()
	b.maintain()
	if b.compactions != 1 {
		t.Fatalf("400 new records on 1,000 compacted (%d bytes, clean %d): %d compactions, want still 1", size(), clean, b.compactions)
	}
	if n := count(); n != 1400 {
		t.Fatalf("%s holds %d records, want 1,400", models, n)
	}
	produce(models, 0, 1000) // supersedes the first 1,000
	b.maintain()
	if b.compactions != 2 {
		t.Fatalf("1,000 superseded records (%d bytes, clean %d): %d compactions, want 2", size(), clean, b.compactions)
	}
	// The last batch is never compacted, nor do its keys remove older
	// records (it is the active segment): a few keys may be there twice.
	if n := count(); n < 1400 || n > 1410 {
		t.Fatalf("after compaction %s holds %d records, want 1,400 (one per key, a few more for the last batch)", models, n)
	}

	// Retention of a data topic applies at every pass.
	const bounded = "user.bounded"
	if _, err := adm.CreateTopic(t.Context(), 1, 1, map[string]*string{"retention.bytes": kadm.StringPtr("10000")}, bounded); err != nil {
		t.Fatal(err)
	}
	produce(bounded, 0, 500)
	b.maintain()
	p := b.cluster.PartitionInfo(bounded, 0)
	if p.LogStartOffset == 0 || p.NumBytes > 10000 {
		t.Fatalf("%s after a pass: log start %d, %d bytes; want records dropped to at most 10,000 bytes", bounded, p.LogStartOffset, p.NumBytes)
	}
	if b.compactions != 2 {
		t.Fatalf("%d compactions, want still 2", b.compactions)
	}
}
