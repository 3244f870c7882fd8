package ingress

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKeyPartitionMatchesKafka checks our murmur2 partitioner against
// franz-go's default (Kafka-compatible) key partitioner.
func TestKeyPartitionMatchesKafka(t *testing.T) {
	part := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	for _, n := range []int{1, 3, 6, 10, 64} {
		for i := range 2000 {
			key := fmt.Sprintf("model-%d", i)
			if i%7 == 0 {
				key = key[:i%len(key)] // short keys, the empty key too
			}
			if key == "" {
				continue // kgo does not hash nil keys
			}
			want := int32(part.Partition(&kgo.Record{Key: []byte(key)}, n))
			if got := KeyPartition([]byte(key), int32(n)); got != want {
				t.Fatalf("KeyPartition(%q, %d) = %d, Kafka's partitioner says %d", key, n, got, want)
			}
		}
	}
}
