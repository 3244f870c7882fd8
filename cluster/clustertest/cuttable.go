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
// process would. One Cuttable serves every transport of its node: a fenced
// node starts a new memberlist, and Wrap wraps its transport too.
type Cuttable struct {
	cut atomic.Bool
}

var errCut = errors.New("clustertest: node is cut off")

// Wrap is a cluster.Config.WrapTransport function. Each call returns a new
// wrapper of its own transport, sharing the Cuttable's cut.
func (c *Cuttable) Wrap(t memberlist.NodeAwareTransport) memberlist.NodeAwareTransport {
	w := &cutTransport{
		cut:     &c.cut,
		inner:   t,
		packets: make(chan *memberlist.Packet),
		streams: make(chan net.Conn),
		stop:    make(chan struct{}),
	}
	go w.forward()
	return w
}

// Cut drops every gossip packet and stream in both directions.
func (c *Cuttable) Cut() { c.cut.Store(true) }

// Heal restores the network.
func (c *Cuttable) Heal() { c.cut.Store(false) }

// cutTransport is one wrapped transport.
type cutTransport struct {
	cut     *atomic.Bool
	once    sync.Once
	inner   memberlist.NodeAwareTransport
	packets chan *memberlist.Packet
	streams chan net.Conn
	stop    chan struct{}
}

func (c *cutTransport) forward() {
	for {
		select {
		case <-c.stop:
			return
		case p, ok := <-c.inner.PacketCh():
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
		case s, ok := <-c.inner.StreamCh():
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
}

func (c *cutTransport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	return c.inner.FinalAdvertiseAddr(ip, port)
}

func (c *cutTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	if c.cut.Load() {
		return time.Now(), nil
	}
	return c.inner.WriteTo(b, addr)
}

func (c *cutTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	if c.cut.Load() {
		return time.Now(), nil
	}
	return c.inner.WriteToAddress(b, a)
}

func (c *cutTransport) PacketCh() <-chan *memberlist.Packet { return c.packets }
func (c *cutTransport) StreamCh() <-chan net.Conn           { return c.streams }

func (c *cutTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	if c.cut.Load() {
		return nil, errCut
	}
	return c.inner.DialTimeout(addr, timeout)
}

func (c *cutTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if c.cut.Load() {
		return nil, errCut
	}
	return c.inner.DialAddressTimeout(a, timeout)
}

// Shutdown stops forwarding and shuts the inner transport down. Packets
// and streams that arrive meanwhile are drained and dropped: the inner
// transport's listeners block on their channels otherwise, and its
// Shutdown waits for them for ever (seen as a hung Kill in a test).
func (c *cutTransport) Shutdown() error {
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
