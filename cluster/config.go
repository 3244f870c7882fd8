package cluster

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"
	"google.golang.org/grpc/credentials"

	"github.com/actorserve/actorserve/cluster/tlsfiles"
)

// Config is one node's cluster configuration.
type Config struct {
	// Name is the human-readable node name (n1, node-a). It need not be
	// unique across restarts; the member id (a fresh uuid per start) is.
	Name string
	// ClusterName keeps separate clusters on one network apart.
	ClusterName string
	// Gossip is the memberlist bind address host:port (port 0 = random).
	Gossip string
	// Remote is the protoactor gRPC address host:port (port 0 = random).
	Remote string
	// HTTP is the node's HTTP address, advertised to peers for the
	// cluster view. Optional.
	HTTP string
	// Advertise is the host peers reach this node at, when it binds a
	// wildcard address (0.0.0.0) or sits behind NAT: a pod IP or a DNS
	// name. Empty advertises the bind hosts.
	Advertise string
	// Join lists seed gossip addresses. Empty starts a new cluster.
	Join []string
	// JoinTimeout bounds the seed-join retries at start.
	JoinTimeout time.Duration

	// ProbeInterval, ProbeTimeout and SuspicionMult tune memberlist's
	// failure detector. The defaults (750 ms, 500 ms, 3) declare a dead
	// peer in about 3-4.5 s: the suspicion window is 3 x 750 ms. The probe
	// timeout stays at 500 ms because a 200 ms timeout produced false
	// deaths and split brain on a loaded 2-core machine in our
	// measurements; a node that is declared dead anyway fences itself.
	ProbeInterval time.Duration
	ProbeTimeout  time.Duration
	SuspicionMult int
	// PushPullInterval is memberlist's full-state sync period. It also
	// carries the tombstones that let a node learn it was declared dead.
	PushPullInterval time.Duration

	// RequestTimeout is the default deadline of a grain call whose context
	// has none.
	RequestTimeout time.Duration
	// ActivationTimeout bounds one activation round trip to an owner.
	ActivationTimeout time.Duration
	// MaxMessageBytes is the gRPC message limit between nodes. The remote
	// endpoint writer batches up to WriterBatch messages into one gRPC
	// message, so MaxMessageBytes/WriterBatch is the safe size of one.
	MaxMessageBytes int
	WriterBatch     int

	// GossipKeyFile holds the keys that encrypt and authenticate gossip
	// (see readGossipKeys); empty gossips in plaintext. It is read again
	// when it changes, for key rotation on a running cluster.
	// GossipVerifyIncoming and GossipVerifyOutgoing (both true by default)
	// may be switched off while encryption is being enabled on a running
	// cluster: then a node also accepts, or also sends, plaintext.
	GossipKeyFile        string
	GossipVerifyIncoming bool
	GossipVerifyOutgoing bool
	// RemoteTLSCert, RemoteTLSKey and RemoteTLSCA make actor remoting mutual
	// TLS: a node presents its certificate and accepts only peers whose
	// certificate chains to the CA (files reloaded when they change).
	// Empty: plaintext gRPC.
	RemoteTLSCert, RemoteTLSKey, RemoteTLSCA string
	// InsecureCluster allows plaintext gossip and remoting on addresses
	// other machines reach. Without it such a node needs a gossip key and
	// remoting certificates: nothing joins it or sends it actor messages
	// unless its operator allowed it.
	InsecureCluster bool

	// WrapTransport, when set, wraps memberlist's network transport
	// (tests use it to cut a node off the network).
	WrapTransport func(memberlist.NodeAwareTransport) memberlist.NodeAwareTransport
}

// DefaultConfig returns a configuration for a single node on 127.0.0.1
// with random ports.
func DefaultConfig() Config {
	return Config{
		Name:              "n1",
		ClusterName:       "actorserve",
		Gossip:            "127.0.0.1:0",
		Remote:            "127.0.0.1:0",
		JoinTimeout:       30 * time.Second,
		ProbeInterval:     750 * time.Millisecond,
		ProbeTimeout:      500 * time.Millisecond,
		SuspicionMult:     3,
		PushPullInterval:  10 * time.Second,
		RequestTimeout:    10 * time.Second,
		ActivationTimeout: time.Second,
		MaxMessageBytes:   128 << 20,
		WriterBatch:       32,

		GossipVerifyIncoming: true,
		GossipVerifyOutgoing: true,
	}
}

// RegisterFlags binds the node's cluster flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Name, "name", c.Name, "node name")
	fs.StringVar(&c.ClusterName, "cluster-name", c.ClusterName, "cluster name; nodes of other clusters are ignored")
	fs.StringVar(&c.Gossip, "gossip", c.Gossip, "memberlist gossip address host:port")
	fs.StringVar(&c.Remote, "remote", c.Remote, "actor remoting (gRPC) address host:port")
	fs.StringVar(&c.Advertise, "advertise", c.Advertise, "host that peers and clients reach this node at (needed when binding 0.0.0.0)")
	fs.Func("join", "comma-separated gossip addresses of seed nodes", func(s string) error {
		c.Join = splitList(s)
		return nil
	})
	fs.DurationVar(&c.JoinTimeout, "join-timeout", c.JoinTimeout, "how long to retry joining the seeds")
	fs.DurationVar(&c.ProbeInterval, "probe-interval", c.ProbeInterval, "failure-detector probe interval")
	fs.DurationVar(&c.ProbeTimeout, "probe-timeout", c.ProbeTimeout, "failure-detector probe timeout")
	fs.IntVar(&c.SuspicionMult, "suspicion-mult", c.SuspicionMult, "failure-detector suspicion multiplier")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", c.RequestTimeout, "default deadline of a call to a model actor")
	fs.IntVar(&c.MaxMessageBytes, "max-message-bytes", c.MaxMessageBytes, "largest message between nodes")
	fs.StringVar(&c.GossipKeyFile, "gossip-key-file", c.GossipKeyFile, "file of base64 gossip encryption keys, one per line, the first used to send (reloaded when it changes)")
	fs.BoolVar(&c.GossipVerifyIncoming, "gossip-verify-incoming", c.GossipVerifyIncoming, "with a gossip key, refuse plaintext gossip (false only while enabling encryption on a running cluster)")
	fs.StringVar(&c.RemoteTLSCert, "remote-tls-cert", c.RemoteTLSCert, "PEM certificate this node presents to its peers (mutual TLS on actor remoting)")
	fs.StringVar(&c.RemoteTLSKey, "remote-tls-key", c.RemoteTLSKey, "PEM private key of --remote-tls-cert")
	fs.StringVar(&c.RemoteTLSCA, "remote-tls-ca", c.RemoteTLSCA, "PEM CA certificates peers' certificates must chain to")
	fs.BoolVar(&c.InsecureCluster, "insecure-cluster", c.InsecureCluster, "allow plaintext gossip and actor remoting on addresses other machines reach")
	fs.BoolVar(&c.GossipVerifyOutgoing, "gossip-verify-outgoing", c.GossipVerifyOutgoing, "with a gossip key, send encrypted gossip (false only while enabling encryption on a running cluster)")
}

// Validate reports the first configuration error.
func (c Config) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("cluster: name is empty"))
	}
	if c.ClusterName == "" {
		errs = append(errs, errors.New("cluster: cluster-name is empty"))
	}
	if _, _, err := SplitHostPort(c.Gossip); err != nil {
		errs = append(errs, fmt.Errorf("cluster: gossip: %w", err))
	}
	if _, _, err := SplitHostPort(c.Remote); err != nil {
		errs = append(errs, fmt.Errorf("cluster: remote: %w", err))
	}
	rh, rp, _ := SplitHostPort(c.Remote)
	wildcard := func(h string) bool { return h == "0.0.0.0" || h == "::" || h == "[::]" }
	// memberlist picks an interface address for a wildcard gossip bind by
	// itself; actor remoting would advertise the wildcard.
	if c.Advertise == "" && wildcard(rh) {
		errs = append(errs, errors.New("cluster: a wildcard --remote address (0.0.0.0) needs --advertise HOST, the address peers reach this node at"))
	}
	if c.Advertise != "" && rp == 0 {
		errs = append(errs, errors.New("cluster: --advertise needs a fixed --remote port"))
	}
	for _, j := range c.Join {
		if _, _, err := SplitHostPort(j); err != nil {
			errs = append(errs, fmt.Errorf("cluster: join %q: %w", j, err))
		}
	}
	if c.ProbeInterval < 100*time.Millisecond || c.ProbeTimeout <= 0 || c.ProbeTimeout >= c.ProbeInterval {
		errs = append(errs, fmt.Errorf("cluster: probe-timeout (%s) must be positive and below probe-interval (%s), which must be at least 100ms", c.ProbeTimeout, c.ProbeInterval))
	}
	if c.SuspicionMult < 1 {
		errs = append(errs, errors.New("cluster: suspicion-mult must be at least 1"))
	}
	if c.RequestTimeout <= 0 || c.ActivationTimeout <= 0 {
		errs = append(errs, errors.New("cluster: request and activation timeouts must be positive"))
	}
	if c.MaxMessageBytes < 1<<20 {
		errs = append(errs, errors.New("cluster: max-message-bytes must be at least 1 MiB"))
	}
	if set := btoi(c.RemoteTLSCert != "") + btoi(c.RemoteTLSKey != "") + btoi(c.RemoteTLSCA != ""); set != 0 && set != 3 {
		errs = append(errs, errors.New("cluster: give all of remote-tls-cert, remote-tls-key and remote-tls-ca, or none"))
	} else if set == 3 {
		if _, err := c.remoteTLS(); err != nil {
			errs = append(errs, err)
		}
	}
	if !c.InsecureCluster {
		gh, _, _ := SplitHostPort(c.Gossip)
		if c.GossipKeyFile == "" && (!loopbackHost(gh) || (c.Advertise != "" && !loopbackHost(c.Advertise))) {
			errs = append(errs, fmt.Errorf("cluster: gossip on %s is reachable from other machines and not encrypted: give --gossip-key-file, or --insecure-cluster to run it in plaintext", c.Gossip))
		}
		if c.RemoteTLSCert == "" && (!loopbackHost(rh) || (c.Advertise != "" && !loopbackHost(c.Advertise))) {
			errs = append(errs, fmt.Errorf("cluster: actor remoting on %s is reachable from other machines and accepts any peer: give --remote-tls-cert, --remote-tls-key and --remote-tls-ca, or --insecure-cluster to run it in plaintext", c.Remote))
		}
	}
	if c.GossipKeyFile != "" {
		if _, err := readGossipKeys(c.GossipKeyFile); err != nil {
			errs = append(errs, err)
		}
	}
	if c.WriterBatch < 1 {
		errs = append(errs, errors.New("cluster: writer batch must be at least 1"))
	}
	return errors.Join(errs...)
}

// SplitHostPort parses host:port with a numeric port.
func SplitHostPort(addr string) (string, int, error) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port in %q", addr)
	}
	if host == "" {
		return "", 0, fmt.Errorf("missing host in %q", addr)
	}
	return host, port, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// remoteTLS returns the gRPC transport credentials of actor remoting:
// mutual TLS when certificates are configured, else plaintext.
func (c Config) remoteTLS() (*remoteCreds, error) {
	if c.RemoteTLSCert == "" {
		return nil, nil
	}
	pair, err := tlsfiles.LoadPair(c.RemoteTLSCert, c.RemoteTLSKey)
	if err != nil {
		return nil, fmt.Errorf("cluster: remote-tls: %w", err)
	}
	pool, err := tlsfiles.Pool(c.RemoteTLSCA)
	if err != nil {
		return nil, fmt.Errorf("cluster: remote-tls-ca: %w", err)
	}
	srv, cli := tlsfiles.Mutual(pair, pool)
	return &remoteCreds{server: credentials.NewTLS(srv), client: credentials.NewTLS(cli)}, nil
}

type remoteCreds struct {
	server, client credentials.TransportCredentials
}

// loopbackHost says whether host names this machine only.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
