package source

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/actorserve/actorserve/serving"
)

// Policy says which model locations this process may read. The zero
// Policy allows none: a node reads a file or calls a URL for a model only
// where its operator allowed it (--model-dirs, --model-hosts), so a
// descriptor cannot make it read /etc/passwd or call a cloud metadata
// address.
type Policy struct {
	// FileRoots are the directories file:// locations must resolve inside
	// (after symbolic links). None: file locations are refused.
	FileRoots []string
	// Hosts are the hosts http(s):// locations and remote model servers
	// may be reached at: a name or address (any port), or name:port. "*"
	// allows any host. None: http(s) locations are refused.
	Hosts []string
}

var policy atomic.Pointer[Policy]

// SetPolicy sets the process's policy for model locations and returns a
// function that restores the previous one (for tests).
func SetPolicy(p Policy) (restore func()) {
	p.FileRoots = slices.Clone(p.FileRoots)
	p.Hosts = slices.Clone(p.Hosts)
	old := policy.Swap(&p)
	return func() { policy.Store(old) }
}

// CurrentPolicy returns the process's policy (the zero Policy if none was set).
func CurrentPolicy() Policy {
	if p := policy.Load(); p != nil {
		return *p
	}
	return Policy{}
}

// AllowHost reports an error (wrapping serving.ErrInvalidDescriptor) unless
// the policy allows u's host. what names the caller in the message.
func (p Policy) AllowHost(u *url.URL, what string) error {
	host, hostPort := strings.ToLower(u.Hostname()), strings.ToLower(u.Host)
	for _, h := range p.Hosts {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "*" || h == host || h == hostPort {
			return nil
		}
	}
	if len(p.Hosts) == 0 {
		return fmt.Errorf("%w: %s %s: this node may not call any host for models; its operator allows hosts with --model-hosts",
			serving.ErrInvalidDescriptor, what, u.Redacted())
	}
	return fmt.Errorf("%w: %s %s: host %q is not one this node may call for models (--model-hosts)",
		serving.ErrInvalidDescriptor, what, u.Redacted(), u.Host)
}

// root returns the allowed directory path p lies in, checked on the path's
// text alone (nothing is read): "" when none.
func (p Policy) root(path string) string {
	for _, r := range p.FileRoots {
		if r == "" {
			continue
		}
		r = filepath.Clean(r)
		if rel, err := filepath.Rel(r, path); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return r
		}
	}
	return ""
}

// NoRedirectElsewhere is an http.Client CheckRedirect that follows a
// redirect only to the host of the original request (at most 5 times): a
// model server must not bounce the node to another host.
func NoRedirectElsewhere(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return fmt.Errorf("stopped after %d redirects", len(via))
	}
	if orig := via[0].URL; !strings.EqualFold(req.URL.Host, orig.Host) {
		return fmt.Errorf("redirect from %s to another host (%s) refused", orig.Redacted(), req.URL.Host)
	}
	return nil
}
