package cluster

// SignalFence makes node n's membership report that the cluster declared
// it dead, as a peer's fence message would.
func SignalFence(n *Node, reason string) {
	if rt := n.rt.Load(); rt != nil {
		rt.provider.signalFence(reason)
	}
}

// PeerLoss is peerLoss, for tests.
var PeerLoss = peerLoss
