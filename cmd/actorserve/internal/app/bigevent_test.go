package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/actorserve/actorserve/actors/broker/brokertest"
	"github.com/actorserve/actorserve/cluster/clustertest"
)

// TestOversizedEventDoesNotStallItsPartition: an event over the size limit
// becomes a dead letter (its value truncated so that Kafka takes it), and
// the events after it on the same partition are predicted and committed.
func TestOversizedEventDoesNotStallItsPartition(t *testing.T) {
	b := brokertest.New(t)
	n := startTestNode(t, b.Addrs(), "big")
	putModel(t, n.HTTPAddr(), "m01", regressionModel(1))
	prod, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.DefaultProduceTopic("actorserve.events"),
		kgo.ProducerBatchMaxBytes(8<<20), kgo.ProducerBatchCompression(kgo.GzipCompression()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	big := `{"id":"big","features":{"x0":1,"x1":1},"pad":"` + strings.Repeat("x", 2<<20) + `"}`
	recs := []*kgo.Record{{Key: []byte("m01"), Value: []byte(big)}}
	for i := 0; i < 5; i++ {
		recs = append(recs, &kgo.Record{Key: []byte("m01"), Value: []byte(fmt.Sprintf(`{"id":"after-%d","features":{"x0":%d,"x1":0}}`, i, i))})
	}
	if err := prod.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var dl *kgo.Record
	consumeAll(t, b.Addrs(), "actorserve.deadletter", 30*time.Second, func(r *kgo.Record) bool {
		dl = r
		return true
	})
	headers := map[string]string{}
	for _, h := range dl.Headers {
		headers[h.Key] = string(h.Value)
	}
	if headers["reason"] != "decode_error" || headers["value-truncated"] == "" || len(dl.Value) >= len(big) || !bytes.HasPrefix([]byte(big), dl.Value) {
		t.Fatalf("dead letter headers %v, value %d bytes", headers, len(dl.Value))
	}
	got := 0
	consumeAll(t, b.Addrs(), "actorserve.predictions", 30*time.Second, func(r *kgo.Record) bool {
		var p predRecord
		_ = json.Unmarshal(r.Value, &p)
		if strings.HasPrefix(p.ID, "after-") {
			got++
		}
		return got == 5
	})
	clustertest.Eventually(t, 10*time.Second, func() error {
		for _, p := range n.Ingress.Stats().Partitions {
			if p.InFlight != 0 {
				return fmt.Errorf("partition %d has %d in flight", p.Partition, p.InFlight)
			}
		}
		return nil
	})
}
