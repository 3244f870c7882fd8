package ingress

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/actorserve/actorserve/cluster"
)

// BalancerProtocol is the consumer-group protocol name of the rendezvous
// balancer. Every node of a group must use it.
const BalancerProtocol = "actorserve-rendezvous-v1"

// KeyPartition is the partition Kafka's default partitioner (murmur2, as in
// the Java client, franz-go and librdkafka's murmur2_random) gives key among
// n partitions.
func KeyPartition(key []byte, n int32) int32 {
	if n <= 0 {
		return 0
	}
	return int32(murmur2(key)&0x7fffffff) % n
}

// murmur2 is Kafka's 32-bit murmur2 hash (seed 0x9747b28c).
func murmur2(b []byte) uint32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	n := len(b)
	h := seed ^ uint32(n)
	for i := 0; i+4 <= n; i += 4 {
		k := uint32(b[i]) | uint32(b[i+1])<<8 | uint32(b[i+2])<<16 | uint32(b[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := n &^ 3
	switch n & 3 {
	case 3:
		h ^= uint32(b[tail+2]) << 16
		fallthrough
	case 2:
		h ^= uint32(b[tail+1]) << 8
		fallthrough
	case 1:
		h ^= uint32(b[tail])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}

// rendezvousBalancer assigns the partitions of each topic to the group
// members by their cluster addresses with cluster.AssignSlots (bounded-load
// rendezvous hashing): the function the cluster's identity lookup places
// model actors with. The
// Kafka partition and the actors keyed to it therefore land on the same
// node by construction, and when a node joins or leaves only the
// partitions whose winner changed move. It is cooperative: a moving
// partition is first revoked from its old owner (which drains and commits
// it), then assigned in the follow-up rebalance.
type rendezvousBalancer struct {
	addr func() string // this node's cluster (remote) address
}

func (*rendezvousBalancer) ProtocolName() string { return BalancerProtocol }
func (*rendezvousBalancer) IsCooperative() bool  { return true }

// JoinGroupMetadata carries the member's cluster address in UserData and,
// as the cooperative protocol requires, the partitions it owns.
func (b *rendezvousBalancer) JoinGroupMetadata(interests []string, current map[string][]int32, generation int32) []byte {
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Version = 3
	meta.Topics = interests
	meta.Generation = generation
	for t, ps := range current {
		op := kmsg.NewConsumerMemberMetadataOwnedPartition()
		op.Topic, op.Partitions = t, slices.Sorted(slices.Values(ps))
		meta.OwnedPartitions = append(meta.OwnedPartitions, op)
	}
	slices.SortFunc(meta.OwnedPartitions, func(a, b kmsg.ConsumerMemberMetadataOwnedPartition) int {
		switch {
		case a.Topic < b.Topic:
			return -1
		case a.Topic > b.Topic:
			return 1
		}
		return 0
	})
	meta.UserData = []byte(b.addr())
	return meta.AppendTo(nil)
}

func (*rendezvousBalancer) ParseSyncAssignment(assignment []byte) (map[string][]int32, error) {
	return kgo.ParseConsumerSyncAssignment(assignment)
}

func (b *rendezvousBalancer) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	cb, err := kgo.NewConsumerBalancer(b, members)
	if err != nil {
		return nil, nil, err
	}
	return cb, cb.MemberTopics(), nil
}

// Balance implements kgo.ConsumerBalancerBalance.
func (*rendezvousBalancer) Balance(cb *kgo.ConsumerBalancer, topics map[string]int32) kgo.IntoSyncAssignment {
	type candidate struct {
		addr   string
		member *kmsg.JoinGroupResponseMember
		topics map[string]bool
	}
	// One candidate per address: a node that restarted at the same address
	// may still have its previous member in the group until that member's
	// session times out; the lowest member id stands for the address, so
	// every leader decides alike.
	byAddr := map[string]*candidate{}
	cb.EachMember(func(m *kmsg.JoinGroupResponseMember, meta *kmsg.ConsumerMemberMetadata) {
		addr := string(meta.UserData)
		if addr == "" {
			addr = m.MemberID // not one of ours; still gets a fair share
		}
		c := byAddr[addr]
		if c != nil && c.member.MemberID < m.MemberID {
			return
		}
		ts := map[string]bool{}
		for _, t := range meta.Topics {
			ts[t] = true
		}
		byAddr[addr] = &candidate{addr: addr, member: m, topics: ts}
	})
	plan := cb.NewPlan()
	addrs := make([]string, 0, len(byAddr))
	for t, n := range topics {
		addrs = addrs[:0]
		for a, c := range byAddr {
			if c.topics[t] {
				addrs = append(addrs, a)
			}
		}
		if len(addrs) == 0 {
			continue
		}
		for p, owner := range cluster.AssignSlots(addrs, t, n) {
			plan.AddPartition(byAddr[owner].member, t, int32(p))
		}
	}
	plan.AdjustCooperative(cb)
	return plan
}
