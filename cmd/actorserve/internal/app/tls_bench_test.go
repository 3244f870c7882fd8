package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkKafkaTLSCost streams the same 200,000 events through one node
// four times, side by side: Kafka in plaintext, over TLS, over TLS with
// SCRAM-SHA-256, and in plaintext again (the plaintext figure is the mean
// of the first and last run, so warm-up favours neither side) (the producer and the reader of predictions use the
// same settings). It reports events/s of each and the ratios to plaintext.
//
// go test ./cmd/actorserve/internal/app -run '^$' -bench KafkaTLSCost -benchtime 1x
func BenchmarkKafkaTLSCost(b *testing.B) {
	const events = 200000
	run := func(b *testing.B, brokers []string, kc KafkaConfig) float64 {
		n := ingStartNode(b, brokers, "bench-tls", nil, func(c *NodeConfig) { c.Kafka = kc })
		ingDeploy(b, n, "m", ingLinear([]string{"a"}, nil, [][]float64{{2}}, []float64{1}, "identity"))
		opts, err := kc.opts()
		if err != nil {
			b.Fatal(err)
		}
		prod, err := kgo.NewClient(append(opts, kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("actorserve.events"), kgo.ProducerLinger(5*time.Millisecond))...)
		if err != nil {
			b.Fatal(err)
		}
		defer prod.Close()
		cons, err := kgo.NewClient(append(opts, kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("actorserve.predictions"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
		if err != nil {
			b.Fatal(err)
		}
		defer cons.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		start := time.Now()
		for i := range events {
			prod.Produce(ctx, &kgo.Record{Key: []byte("m"), Value: []byte(fmt.Sprintf(`{"id":"e-%d","features":{"a":%d}}`, i, i%100))}, nil)
		}
		got := 0
		for got < events && ctx.Err() == nil {
			got += cons.PollFetches(ctx).NumRecords()
		}
		if got < events {
			b.Fatalf("%d of %d predictions", got, events)
		}
		rate := events / time.Since(start).Seconds()
		n.Close()
		return rate
	}
	for b.Loop() {
		plainCluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(6))
		if err != nil {
			b.Fatal(err)
		}
		plain1 := run(b, plainCluster.ListenAddrs(), KafkaConfig{})
		plainCluster.Close()

		brokers, secure, _, caFile, pair, _ := secureKafka(b)
		tlsCluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(&tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: pair.GetCertificate}),
			kfake.DefaultNumPartitions(6))
		if err != nil {
			b.Fatal(err)
		}
		withTLS := run(b, tlsCluster.ListenAddrs(), KafkaConfig{TLS: true, CAFile: caFile})
		tlsCluster.Close()
		withSCRAM := run(b, brokers, secure)
		plainCluster2, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(6))
		if err != nil {
			b.Fatal(err)
		}
		plain2 := run(b, plainCluster2.ListenAddrs(), KafkaConfig{})
		plainCluster2.Close()
		plain := (plain1 + plain2) / 2
		b.Logf("plaintext %.0f and %.0f events/s, TLS %.0f, TLS+SCRAM %.0f", plain1, plain2, withTLS, withSCRAM)

		b.ReportMetric(plain, "plain_events/s")
		b.ReportMetric(withTLS, "tls_events/s")
		b.ReportMetric(withSCRAM, "tls_scram_events/s")
		b.ReportMetric(withTLS/plain, "tls_of_plain")
		b.ReportMetric(withSCRAM/plain, "tls_scram_of_plain")
	}
}
