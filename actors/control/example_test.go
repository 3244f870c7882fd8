package control_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/actorserve/actorserve/actors/broker"
	"github.com/actorserve/actorserve/actors/control"
)

func Example() {
	b, err := broker.New(broker.Config{}, nil) // in memory, random port
	if err != nil {
		panic(err)
	}
	defer b.Close()

	type descriptor struct {
		ID      string `json:"id"`
		Version int64  `json:"version"`
	}
	decode := func(_ string, v []byte) (descriptor, error) {
		var d descriptor
		err := json.Unmarshal(v, &d)
		return d, err
	}
	table, err := control.NewTable(control.Config{Brokers: b.Addrs()}, decode, nil, nil)
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- table.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if err := table.WaitReady(ctx); err != nil {
		panic(err)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...))
	if err != nil {
		panic(err)
	}
	defer cl.Close()
	pub := control.NewPublisher(cl, control.DefaultTopic)
	if _, err := pub.Put(ctx, "iris", []byte(`{"id":"iris","version":3}`)); err != nil {
		panic(err)
	}
	// Read your write.
	if err := table.WaitFor(ctx, "iris", func(d descriptor, ok bool) bool { return ok && d.Version == 3 }); err != nil {
		panic(err)
	}
	d, _ := table.Get("iris")
	fmt.Println(d.ID, d.Version, table.Len())
	// Output: iris 3 1
}
