package cluster

import (
	"cmp"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/hashicorp/memberlist"
	"github.com/vmihailenco/msgpack/v5"
)

// metaVersion is the version of nodeMeta's encoding.
const metaVersion = 1

// nodeMeta is what every node gossips about itself in memberlist's node
// metadata (at most memberlist.MetaMaxSize bytes).
type nodeMeta struct {
	V       int      `msgpack:"v"`
	Cluster string   `msgpack:"c"`
	ID      string   `msgpack:"i"`
	Name    string   `msgpack:"n"`
	Host    string   `msgpack:"h"`
	Port    int      `msgpack:"p"`
	HTTP    string   `msgpack:"w,omitempty"`
	Kinds   []string `msgpack:"k"`
	Client  bool     `msgpack:"x,omitempty"`
	Started int64    `msgpack:"s"`
}

// Member is one node as this node sees it.
type Member struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Remote  string    `json:"remote"`
	Gossip  string    `json:"gossip"`
	HTTP    string    `json:"http,omitempty"`
	Kinds   []string  `json:"kinds"`
	Self    bool      `json:"self"`
	Started time.Time `json:"started"`
}

type peer struct {
	meta nodeMeta
	node memberlist.Node // copy; Meta is not retained
}

// userMsg is sent between providers with memberlist's reliable messaging.
type userMsg struct {
	Kind string `msgpack:"k"` // "fence"
	ID   string `msgpack:"i"`
	From string `msgpack:"f"`
}

// pushState is exchanged on memberlist push/pull: the member ids this node
// has seen die or leave, so a node that was declared dead while it was cut
// off learns it and fences itself.
type pushState struct {
	Tombstones []string `msgpack:"t"`
}

const maxTombstones = 1024

// gossipKeyCheck is how often the gossip key file is checked for changes.
var gossipKeyCheck = 2 * time.Second

// provider is a protoactor ClusterProvider on hashicorp/memberlist.
//
// memberlist calls its delegates while holding its own node lock, so the
// delegates only update p.peers under p.mu and kick the topology loop; one
// goroutine (loop) is the only caller of UpdateClusterTopology.
type provider struct {
	cfg    Config
	logger *slog.Logger

	cluster *pcluster.Cluster
	ml      *memberlist.Memberlist
	self    nodeMeta
	tags    []string // gossiped with the kinds (Options.Tags)
	metaB   []byte

	mu         sync.Mutex
	peers      map[string]peer      // by member id (= memberlist node name)
	tombstones map[string]time.Time // member ids that died or left
	fenceSent  map[string]time.Time
	gossipOf   map[string]string // member id → gossip address of every peer seen (bounded), the seeds of a rejoin
	snapshot   []Member
	rejoin     []string // extra seeds tried after a fence; failing to reach them is not fatal
	left       bool

	kick    chan struct{}
	fenced  chan string
	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

func newProvider(cfg Config, logger *slog.Logger, httpAddr string) *provider {
	return &provider{
		cfg:        cfg,
		logger:     logger,
		peers:      map[string]peer{},
		tombstones: map[string]time.Time{},
		fenceSent:  map[string]time.Time{},
		gossipOf:   map[string]string{},
		kick:       make(chan struct{}, 1),
		fenced:     make(chan string, 1),
		stop:       make(chan struct{}),
		stopped:    make(chan struct{}),
		self:       nodeMeta{HTTP: httpAddr},
	}
}

// StartMember implements pcluster.ClusterProvider.
func (p *provider) StartMember(c *pcluster.Cluster) error {
	p.cluster = c
	host, port, err := c.ActorSystem.GetHostPort()
	if err != nil {
		return fmt.Errorf("cluster: remote address: %w", err)
	}
	p.self = nodeMeta{
		V: metaVersion, Cluster: p.cfg.ClusterName, ID: c.ActorSystem.ID, Name: p.cfg.Name,
		Host: host, Port: port, HTTP: p.self.HTTP, Kinds: append(c.GetClusterKinds(), p.tags...), Started: time.Now().UnixMilli(),
	}
	slices.Sort(p.self.Kinds)
	p.metaB, err = msgpack.Marshal(&p.self)
	if err != nil {
		return err
	}
	if len(p.metaB) > memberlist.MetaMaxSize {
		return fmt.Errorf("cluster: node metadata is %d bytes, memberlist allows %d", len(p.metaB), memberlist.MetaMaxSize)
	}

	gHost, gPort, err := SplitHostPort(p.cfg.Gossip)
	if err != nil {
		return fmt.Errorf("cluster: gossip: %w", err)
	}
	mc := memberlist.DefaultLANConfig()
	mc.Name = c.ActorSystem.ID
	mc.BindAddr = gHost
	mc.BindPort = gPort
	mc.AdvertisePort = gPort
	if adv := p.cfg.Advertise; adv != "" {
		ip := net.ParseIP(adv)
		if ip == nil {
			ips, err := net.LookupIP(adv)
			if err != nil || len(ips) == 0 {
				return fmt.Errorf("cluster: advertise %q: %v", adv, err)
			}
			ip = ips[0]
		}
		mc.AdvertiseAddr = ip.String()
	}
	mc.ProbeInterval = p.cfg.ProbeInterval
	mc.ProbeTimeout = p.cfg.ProbeTimeout
	mc.SuspicionMult = p.cfg.SuspicionMult
	mc.PushPullInterval = p.cfg.PushPullInterval
	mc.Delegate = p
	mc.Events = p
	kr, err := p.cfg.gossipKeyring()
	if err != nil {
		return err
	}
	if kr != nil {
		mc.Keyring = kr
		mc.GossipVerifyIncoming = p.cfg.GossipVerifyIncoming
		mc.GossipVerifyOutgoing = p.cfg.GossipVerifyOutgoing
	}
	mc.LogOutput = logWriter{p.logger.With("component", "memberlist")}
	if p.cfg.WrapTransport != nil {
		nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
			BindAddrs: []string{gHost}, BindPort: gPort,
			// The transport's own errors go through the same bridge (a nil
			// logger would panic on the first one).
			Logger: log.New(mc.LogOutput, "", log.LstdFlags),
		})
		if err != nil {
			return fmt.Errorf("cluster: gossip listen on %s: %w", p.cfg.Gossip, err)
		}
		mc.Transport = p.cfg.WrapTransport(nt)
	}

	// The loop must run before Create: NotifyJoin(self) fires inside it.
	go p.loop()
	ml, err := memberlist.Create(mc)
	if err != nil {
		p.close()
		return fmt.Errorf("cluster: gossip listen on %s: %w", p.cfg.Gossip, err)
	}
	p.mu.Lock()
	p.ml = ml
	p.mu.Unlock()
	if kr != nil {
		go p.watchGossipKeys(kr, gossipKeyCheck)
	}

	if len(p.cfg.Join) > 0 {
		if err := p.join(); err != nil {
			_ = ml.Shutdown()
			p.close()
			return err
		}
	}
	if len(p.rejoin) > 0 {
		p.joinPeers()
	}
	p.kickLoop()
	return nil
}

func (p *provider) join() error {
	deadline := time.Now().Add(p.cfg.JoinTimeout)
	backoff := 100 * time.Millisecond
	for {
		n, err := p.ml.Join(p.cfg.Join)
		if n > 0 {
			p.logger.Info("joined cluster", "seeds", p.cfg.Join, "reached", n)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster: join %v: no seed answered within %s: %w", p.cfg.Join, p.cfg.JoinTimeout, err)
		}
		p.logger.Warn("join failed, retrying", "seeds", p.cfg.Join, "err", err)
		time.Sleep(backoff)
		backoff = min(backoff*2, 2*time.Second)
	}
}

// joinPeers contacts the peers this node knew before it fenced itself. A
// seed node (started without --join) has no other way back into the
// cluster: the members that declared it dead do not call it again, so
// without this it would stay a cluster of one beside the real one.
// Reaching none of them is not fatal (they may all be gone); the node
// then runs alone, as a seed does at start.
func (p *provider) joinPeers() {
	deadline := time.Now().Add(min(p.cfg.JoinTimeout, 10*time.Second))
	backoff := 100 * time.Millisecond
	for {
		n, err := p.ml.Join(p.rejoin)
		if n > 0 {
			p.logger.Info("rejoined cluster through known peers", "peers", p.rejoin, "reached", n)
			return
		}
		if time.Now().After(deadline) {
			p.logger.Warn("rejoin: no known peer answered; running alone until a member joins", "peers", p.rejoin, "err", err)
			return
		}
		time.Sleep(backoff)
		backoff = min(backoff*2, 2*time.Second)
	}
}

// knownPeers is the gossip addresses of every peer seen, for a rejoin.
func (p *provider) knownPeers() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.gossipOf))
	for _, a := range p.gossipOf {
		out = append(out, a)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// StartClient implements pcluster.ClusterProvider. Client nodes are not
// supported yet: every actorserve node hosts models.
func (p *provider) StartClient(*pcluster.Cluster) error {
	return errors.New("cluster: client members are not supported")
}

// Shutdown implements pcluster.ClusterProvider.
func (p *provider) Shutdown(graceful bool) error {
	if graceful {
		p.leave(5 * time.Second)
	}
	return p.close()
}

func (p *provider) leave(timeout time.Duration) {
	p.mu.Lock()
	ml, left := p.ml, p.left
	p.left = true
	p.mu.Unlock()
	if ml == nil || left {
		return
	}
	if err := ml.Leave(timeout); err != nil {
		p.logger.Warn("memberlist leave", "err", err)
	}
	p.kickLoop()
}

func (p *provider) close() error {
	var err error
	p.once.Do(func() {
		close(p.stop)
		<-p.stopped
		p.mu.Lock()
		ml := p.ml
		p.mu.Unlock()
		if ml != nil {
			err = ml.Shutdown()
		}
	})
	return err
}

func (p *provider) kickLoop() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// loop is the only caller of UpdateClusterTopology.
func (p *provider) loop() {
	defer close(p.stopped)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-p.kick:
		case <-t.C:
		}
		p.publish()
	}
}

func (p *provider) publish() {
	if p.cluster == nil {
		return
	}
	now := time.Now()
	var fence []memberlist.Node
	p.mu.Lock()
	members := make([]*pcluster.Member, 0, len(p.peers))
	snap := make([]Member, 0, len(p.peers))
	for id, pr := range p.peers {
		if _, dead := p.tombstones[id]; dead {
			// A member we saw die is alive again: it was cut off, not dead.
			// protoactor blocks its id forever, so tell it to fence itself.
			if now.Sub(p.fenceSent[id]) > 2*time.Second {
				p.fenceSent[id] = now
				fence = append(fence, pr.node)
			}
			continue
		}
		if pr.meta.Client || (p.left && id == p.self.ID) {
			continue
		}
		members = append(members, &pcluster.Member{Id: id, Host: pr.meta.Host, Port: int32(pr.meta.Port), Kinds: pr.meta.Kinds})
		snap = append(snap, Member{
			ID: id, Name: pr.meta.Name, Remote: net.JoinHostPort(pr.meta.Host, strconv.Itoa(pr.meta.Port)),
			Gossip: pr.node.Address(), HTTP: pr.meta.HTTP, Kinds: pr.meta.Kinds, Self: id == p.self.ID,
			Started: time.UnixMilli(pr.meta.Started),
		})
	}
	slices.SortFunc(snap, func(a, b Member) int { return cmp.Compare(a.Name+a.ID, b.Name+b.ID) })
	p.snapshot = snap
	ml := p.ml
	p.mu.Unlock()

	p.cluster.MemberList.UpdateClusterTopology(members)

	if ml != nil {
		for i := range fence {
			b, _ := msgpack.Marshal(&userMsg{Kind: "fence", ID: fence[i].Name, From: p.self.ID})
			if err := ml.SendReliable(&fence[i], b); err != nil {
				p.logger.Debug("send fence notice", "to", fence[i].Name, "err", err)
			} else {
				p.logger.Warn("told a member declared dead to fence itself", "member", fence[i].Name)
			}
		}
	}
}

// members returns the current snapshot (safe for health endpoints, unlike
// protoactor's unsynchronised MemberList readers).
func (p *provider) members() []Member {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.snapshot)
}

func (p *provider) signalFence(reason string) {
	select {
	case p.fenced <- reason:
	default:
	}
}

// --- memberlist.Delegate (called under memberlist's lock: never re-enter) ---

func (p *provider) NodeMeta(limit int) []byte {
	if len(p.metaB) > limit {
		return nil
	}
	return p.metaB
}

func (p *provider) NotifyMsg(b []byte) {
	var m userMsg
	if err := msgpack.Unmarshal(b, &m); err != nil {
		return
	}
	if m.Kind == "fence" && m.ID == p.self.ID {
		p.signalFence("member " + m.From + " declared this node dead")
	}
}

func (p *provider) GetBroadcasts(overhead, limit int) [][]byte { return nil }

func (p *provider) LocalState(join bool) []byte {
	p.mu.Lock()
	ids := make([]string, 0, len(p.tombstones))
	for id := range p.tombstones {
		ids = append(ids, id)
	}
	p.mu.Unlock()
	b, _ := msgpack.Marshal(&pushState{Tombstones: ids})
	return b
}

func (p *provider) MergeRemoteState(buf []byte, join bool) {
	var s pushState
	if err := msgpack.Unmarshal(buf, &s); err != nil {
		return
	}
	if slices.Contains(s.Tombstones, p.self.ID) {
		p.signalFence("a peer lists this node as dead")
	}
}

// --- memberlist.EventDelegate ---

func (p *provider) NotifyJoin(n *memberlist.Node)   { p.upsert(n) }
func (p *provider) NotifyUpdate(n *memberlist.Node) { p.upsert(n) }

func (p *provider) NotifyLeave(n *memberlist.Node) {
	p.mu.Lock()
	delete(p.peers, n.Name)
	if n.Name != p.self.ID {
		p.tombstones[n.Name] = time.Now()
		p.trimTombstonesLocked()
	}
	p.mu.Unlock()
	p.kickLoop()
}

func (p *provider) upsert(n *memberlist.Node) {
	var m nodeMeta
	if err := msgpack.Unmarshal(n.Meta, &m); err != nil || m.V != metaVersion || m.Cluster != p.cfg.ClusterName || m.ID != n.Name {
		return // another cluster, another version, or not ours
	}
	cp := *n
	cp.Meta = nil
	p.mu.Lock()
	p.peers[n.Name] = peer{meta: m, node: cp}
	if n.Name != p.self.ID {
		if _, ok := p.gossipOf[n.Name]; !ok && len(p.gossipOf) >= maxTombstones {
			for id := range p.gossipOf { // forget one at random: any live peer will do as a seed
				delete(p.gossipOf, id)
				break
			}
		}
		p.gossipOf[n.Name] = n.Address()
	}
	p.mu.Unlock()
	p.kickLoop()
}

func (p *provider) trimTombstonesLocked() {
	if len(p.tombstones) <= maxTombstones {
		return
	}
	var oldest string
	var at time.Time
	for id, t := range p.tombstones {
		if oldest == "" || t.Before(at) {
			oldest, at = id, t
		}
	}
	delete(p.tombstones, oldest)
	delete(p.fenceSent, oldest)
}
