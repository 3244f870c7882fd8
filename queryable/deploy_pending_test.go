package queryable

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actorserve/actorserve/serving"
	"github.com/actorserve/actorserve/serving/linear"
)

// readBackTable is a control table that applies what its publisher
// publishes, and whose read-back (Sync) after a publish can be stalled, as
// a broker busy compacting stalls it.
type readBackTable struct {
	mu      sync.Mutex
	rows    map[string]*serving.Descriptor
	pending map[string]*serving.Descriptor // published, applied once the stall ends
	stall   chan struct{}                  // closed: read-backs go through
	delay   time.Duration                  // every read-back after a publish takes this long
}

func (t *readBackTable) Get(id string) (*serving.Descriptor, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	d, ok := t.rows[id]
	return d, ok
}

func (t *readBackTable) List() []*serving.Descriptor { return nil }

func (t *readBackTable) WaitFor(context.Context, string, func(*serving.Descriptor, bool) bool) error {
	return errors.New("not used")
}

func (t *readBackTable) Sync(ctx context.Context) error {
	t.mu.Lock()
	behind, stall := len(t.pending) > 0, t.stall
	t.mu.Unlock()
	if !behind {
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-stall:
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(t.delay):
	}
	t.mu.Lock()
	for id, d := range t.pending {
		t.rows[id] = d
	}
	clear(t.pending)
	t.mu.Unlock()
	return nil
}

// Put is the Publisher: the broker acknowledges at once.
func (t *readBackTable) Put(_ context.Context, id string, value []byte) (int64, error) {
	d, err := serving.DecodeStoredDescriptor(value)
	if err != nil {
		return -1, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pending[id] = d
	return 41, nil
}

func (t *readBackTable) Delete(context.Context, string) error { return errors.New("not used") }

// TestDeployPendingWhenReadBackIsSlow: a deploy the broker acknowledged is
// not answered as failed when reading it back takes longer than the
// deploy's bound; it is answered 202, pending, with the revision, the
// offset and where to check, and a read-back within the bound confirms it
// as before.
func TestDeployPendingWhenReadBackIsSlow(t *testing.T) {
	const desc = `{"format":"linear","features":["x0","x1"],"data":{"coefficients":[[0.5,-1]],"intercepts":[1],"link":"identity"}}`
	for _, tc := range []struct {
		name        string
		stalled     bool
		delay       time.Duration
		wantPending bool
	}{
		{name: "read back within the bound", delay: 50 * time.Millisecond},
		{name: "read back stalled past the bound", stalled: true, wantPending: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tbl := &readBackTable{rows: map[string]*serving.Descriptor{}, pending: map[string]*serving.Descriptor{}, stall: make(chan struct{}), delay: tc.delay}
			if !tc.stalled {
				close(tbl.stall)
			}
			s := pendingServer(tbl)

			req := httptest.NewRequestWithContext(t.Context(), http.MethodPut, "/v1/models/m-1", strings.NewReader(desc))
			rec := httptest.NewRecorder()
			start := time.Now()
			s.Handler().ServeHTTP(rec, req)
			took := time.Since(start)
			if rec.Code != http.StatusAccepted {
				t.Fatalf("PUT /v1/models/m-1 after %s: %d %s; want 202", took, rec.Code, rec.Body)
			}
			var ans deployed
			if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil {
				t.Fatalf("answer %s: %v", rec.Body, err)
			}
			if ans.ID != "m-1" || ans.Version != 1 || ans.Revision != 1 || ans.Pending != tc.wantPending {
				t.Fatalf("answer %s; want model m-1 at version 1, revision 1, pending %v", rec.Body, tc.wantPending)
			}
			if !tc.wantPending {
				if ans.Offset != nil || ans.Status != "" || rec.Header().Get("Location") != "" {
					t.Fatalf("confirmed answer %s (Location %q) carries what only a pending one needs", rec.Body, rec.Header().Get("Location"))
				}
				return
			}
			if ans.Offset == nil || *ans.Offset != 41 || ans.Status != "/v1/models/m-1" || rec.Header().Get("Location") != ans.Status || !strings.Contains(ans.Detail, "not read back") {
				t.Fatalf("pending answer %s (Location %q); want offset 41, status and Location /v1/models/m-1, and a detail", rec.Body, rec.Header().Get("Location"))
			}
			// Once the broker answers again, the version is the one published.
			close(tbl.stall)
			if err := tbl.Sync(t.Context()); err != nil {
				t.Fatal(err)
			}
			if got, ok := tbl.Get("m-1"); !ok || got.Version != 1 || got.Rev() != ans.Revision {
				t.Fatalf("after the stall the table holds %+v (found %v); want version 1 at revision %d", got, ok, ans.Revision)
			}
		})
	}
}

// TestLifecyclePendingWhenReadBackIsSlow: a rollback the broker
// acknowledged is not answered as failed when reading it back takes longer
// than the bound either: 202 pending with the revision published.
func TestLifecyclePendingWhenReadBackIsSlow(t *testing.T) {
	tbl := &readBackTable{rows: map[string]*serving.Descriptor{}, pending: map[string]*serving.Descriptor{}, stall: make(chan struct{})}
	close(tbl.stall)
	s := pendingServer(tbl)
	serve := func(method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequestWithContext(t.Context(), method, path, strings.NewReader(body))
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		return rec
	}
	const desc = `{"format":"linear","features":["x0","x1"],"data":{"coefficients":[[0.5,-1]],"intercepts":[1],"link":"identity"}}`
	for v := 1; v <= 2; v++ {
		if rec := serve(http.MethodPut, "/v1/models/m-1", desc); rec.Code != http.StatusAccepted {
			t.Fatalf("deploy %d: %d %s", v, rec.Code, rec.Body)
		}
	}
	tbl.mu.Lock()
	tbl.stall = make(chan struct{}) // the broker stalls from here on
	tbl.mu.Unlock()
	start := time.Now()
	rec := serve(http.MethodPost, "/v1/models/m-1/rollback?to=1", "")
	if rec.Code != http.StatusAccepted {
		t.Fatalf("rollback after %s: %d %s; want 202", time.Since(start), rec.Code, rec.Body)
	}
	var ans deployed
	if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil {
		t.Fatal(err)
	}
	if !ans.Pending || ans.Version != 1 || ans.Revision != 3 || ans.Offset == nil || rec.Header().Get("Location") != "/v1/models/m-1" {
		t.Fatalf("rollback answered %s (Location %q); want pending, version 1 at revision 3, an offset and a Location", rec.Body, rec.Header().Get("Location"))
	}
}

// pendingServer is a server on tbl that confirms a publish within 500 ms.
func pendingServer(tbl *readBackTable) *Server {
	reg := serving.NewRegistry()
	linear.Register(reg)
	cfg := DefaultConfig()
	cfg.DeployConfirmTimeout = 500 * time.Millisecond
	return New(cfg, Deps{Table: tbl, Publisher: tbl, Registry: reg})
}
