package control

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Publisher writes model descriptors and tombstones to the control topic. It borrows a
// franz-go client (typically the node's shared producer) and owns no consumer; closing the
// client is the caller's business. It is safe for concurrent use.
type Publisher struct {
	client *kgo.Client
	topic  string
}

// NewPublisher returns a publisher that produces to topic ("" means DefaultTopic) through
// client.
func NewPublisher(client *kgo.Client, topic string) *Publisher {
	if topic == "" {
		topic = DefaultTopic
	}
	return &Publisher{client: client, topic: topic}
}

// Put writes value under key id and waits for the broker's acknowledgement. It returns the
// record's offset, which a Table applies in order after every earlier record of the partition.
func (p *Publisher) Put(ctx context.Context, id string, value []byte) (offset int64, err error) {
	if id == "" {
		return -1, fmt.Errorf("publish to control topic %q: %w", p.topic, ErrEmptyID)
	}
	if len(value) == 0 {
		return -1, fmt.Errorf("publish model %q to control topic %q: %w", id, p.topic, ErrEmptyValue)
	}
	r := &kgo.Record{Topic: p.topic, Key: []byte(id), Value: value}
	if err := p.client.ProduceSync(ctx, r).FirstErr(); err != nil {
		return -1, fmt.Errorf("publish model %q to control topic %q: %w", id, p.topic, err)
	}
	return r.Offset, nil
}

// Delete writes a tombstone (a nil value) for id, which removes it from every Table, and waits
// for the broker's acknowledgement.
func (p *Publisher) Delete(ctx context.Context, id string) error {
	if id == "" {
		return fmt.Errorf("delete from control topic %q: %w", p.topic, ErrEmptyID)
	}
	r := &kgo.Record{Topic: p.topic, Key: []byte(id)}
	if err := p.client.ProduceSync(ctx, r).FirstErr(); err != nil {
		return fmt.Errorf("delete model %q from control topic %q: %w", id, p.topic, err)
	}
	return nil
}
