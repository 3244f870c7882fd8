package cluster

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/hashicorp/memberlist"
)

// readGossipKeys reads a gossip key file: one base64 key per line (16, 24
// or 32 bytes: AES-128, -192 or -256), blank lines and # comments skipped.
// The first key encrypts what this node sends; every key decrypts what it
// receives, so a key is rotated by adding the new one on every node,
// moving it first, then removing the old one. Errors name the line, never
// a key.
func readGossipKeys(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cluster: gossip-key-file: %w", err)
	}
	var keys [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 || text[0] == '#' {
			continue
		}
		k, err := base64.StdEncoding.DecodeString(string(text))
		if err != nil {
			return nil, fmt.Errorf("cluster: gossip-key-file %s line %d: not base64", path, line)
		}
		if n := len(k); n != 16 && n != 24 && n != 32 {
			return nil, fmt.Errorf("cluster: gossip-key-file %s line %d: a key is 16, 24 or 32 bytes, this one %d", path, line, n)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("cluster: gossip-key-file %s holds no key", path)
	}
	return keys, nil
}

// gossipKeyring returns the memberlist keyring of the configured key file
// (nil without one).
func (c Config) gossipKeyring() (*memberlist.Keyring, error) {
	if c.GossipKeyFile == "" {
		return nil, nil
	}
	keys, err := readGossipKeys(c.GossipKeyFile)
	if err != nil {
		return nil, err
	}
	kr, err := memberlist.NewKeyring(keys, keys[0])
	if err != nil {
		return nil, fmt.Errorf("cluster: gossip keyring: %w", err)
	}
	return kr, nil
}

// watchGossipKeys applies changes of the key file to the running keyring
// every interval until stop: new keys are installed, the first becomes
// the one used to encrypt, and keys no longer listed are removed. A file
// that does not read keeps the keyring as it is (logged).
func (p *provider) watchGossipKeys(kr *memberlist.Keyring, interval time.Duration) {
	path := p.cfg.GossipKeyFile
	var mod time.Time
	if st, err := os.Stat(path); err == nil {
		mod = st.ModTime()
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		st, err := os.Stat(path)
		if err != nil || st.ModTime().Equal(mod) {
			continue
		}
		mod = st.ModTime()
		keys, err := readGossipKeys(path)
		if err != nil {
			p.logger.Warn("gossip key file changed but does not read; the keys in use stay", "err", err)
			continue
		}
		for _, k := range keys {
			if err := kr.AddKey(k); err != nil {
				p.logger.Warn("gossip key not installed", "err", err)
			}
		}
		if err := kr.UseKey(keys[0]); err != nil {
			p.logger.Warn("gossip primary key not switched", "err", err)
		}
		for _, k := range kr.GetKeys() {
			if !slices.ContainsFunc(keys, func(x []byte) bool { return bytes.Equal(x, k) }) {
				if err := kr.RemoveKey(k); err != nil {
					p.logger.Warn("gossip key not removed", "err", err)
				}
			}
		}
		p.logger.Info("gossip keys reloaded", "keys", len(keys))
	}
}
