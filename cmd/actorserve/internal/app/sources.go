package app

import (
	"flag"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/actorserve/actorserve/serving/source"
)

// SourcesConfig says where a node may read models from. By default it
// reads none: a descriptor's file:// location, http(s):// location or
// remote model server is refused unless its operator named the directory
// or host (`dev` allows the directory it runs in and this machine).
type SourcesConfig struct {
	// Dirs are the directories file:// locations must resolve inside.
	Dirs []string
	// Hosts are the hosts (name or address, any port; or host:port) that
	// http(s):// locations and remote model servers may be on; "*" is any.
	Hosts []string
}

func (c *SourcesConfig) registerFlags(fs *flag.FlagSet) {
	fs.Func("model-dirs", "comma-separated directories file:// model locations may be read from (default: none)", func(s string) error {
		c.Dirs = splitList(s)
		return nil
	})
	fs.Func("model-hosts", "comma-separated hosts (host or host:port; * = any) http(s):// model locations and remote model servers may be on (default: none)", func(s string) error {
		c.Hosts = splitList(s)
		return nil
	})
}

func (c *SourcesConfig) validate() error {
	for i, d := range c.Dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return fmt.Errorf("model-dirs: %q: %w", d, err)
		}
		c.Dirs[i] = abs
	}
	return nil
}

// apply makes the configuration the process's policy for model sources.
func (c *SourcesConfig) apply() {
	source.SetPolicy(source.Policy{FileRoots: c.Dirs, Hosts: c.Hosts})
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
