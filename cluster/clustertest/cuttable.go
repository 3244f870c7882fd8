package clustertest

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Cuttable wraps a memberlist transport so a test can cut the node off the
// gossip network and heal it again, as a network partition or a stalled
// process would.
type Cuttable struct {
	cut atomic.Bool

	once    sync.Once
	inner   memberlist.NodeAwareTransport
	packets chan *memberlist.Packet
	streams chan net.Conn
	stop    chan struct{}
}

var errCut = errors.New("clustertest: node is cut off")

// Wrap is a cluster.Config.WrapTransport function.
func (c *Cuttable) Wrap(t memberlist.NodeAwareTransport) memberlist.NodeAwareTransport {
	c.inner = t
	c.packets = make(chan *memberlist.Packet)
	c.streams = make(chan net.Conn)
	c.stop = make(chan struct{})
	go func() {
		for {
			select {
			case <-c.stop:
				return
			case p, ok := <-t.PacketCh():
				if !ok {
					return
				}
				if c.cut.Load() {
					continue
				}
				select {
				case c.packets <- p:
				case <-c.stop:
					return
				}
			case s, ok := <-t.StreamCh():
				if !ok {
					return
				}
				if c.cut.Load() {
					_ = s.Close()
					continue
				}
				select {
				case c.streams <- s:
				case <-c.stop:
					return
				}
			}
		}
	}()
	return c
}

// Cut drops every gossip packet and stream in both directions.
func (c *Cuttable) Cut() { c.cut.Store(true) }

// Heal restores the network.
func (c *Cuttable) Heal() { c.cut.Store(false) }

func (c *Cuttable) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	return c.inner.FinalAdvertiseAddr(ip, port)
}

func (c *Cuttable) WriteTo(b []byte, addr string) (time.Time, error) {
	if c.cut.Load() {
		return time.Now(), nil
	}
	return c.inner.WriteTo(b, addr)
}

func (c *Cuttable) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	if c.cut.Load() {
		return time.Now(), nil
	}
	return c.inner.WriteToAddress(b, a)
}

func (c *Cuttable) PacketCh() <-chan *memberlist.Packet { return c.packets }
func (c *Cuttable) StreamCh() <-chan net.Conn           { return c.streams }

func (c *Cuttable) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	if c.cut.Load() {
		return nil, errCut
	}
	return c.inner.DialTimeout(addr, timeout)
}

func (c *Cuttable) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if c.cut.Load() {
		return nil, errCut
	}
	return c.inner.DialAddressTimeout(a, timeout)
}

// Shutdown stops forwarding and shuts the inner transport down. Packets
// and streams that arrive meanwhile are drained and dropped: the inner
// transport's listeners block on their channels otherwise, and its
// Shutdown waits for them for ever (seen as a hung Kill in a test).
func (c *Cuttable) Shutdown() error {
	c.once.Do(func() { close(c.stop) })
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case _, ok := <-c.inner.PacketCh():
				if !ok {
					return
				}
			case s, ok := <-c.inner.StreamCh():
				if !ok {
					return
				}
				_ = s.Close()
			}
		}
	}()
	err := c.inner.Shutdown()
	close(done)
	return err
}
