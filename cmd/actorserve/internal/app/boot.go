package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// boot answers HTTP from the moment a node's port is bound until its API
// takes over: /livez 200, /readyz 503 with what the node is waiting for
// (so a probe gets an answer, never a timeout), every other path 503.
type boot struct {
	api   atomic.Pointer[http.Handler] // the API, once the node started
	phase atomic.Pointer[string]

	mu         sync.Mutex
	brokersErr string // why no broker answers ("" when one does)
	reachable  chan struct{}
	once       sync.Once
}

func newBoot() *boot {
	b := &boot{reachable: make(chan struct{})}
	b.setPhase("starting")
	return b
}

// setPhase says what the node is doing now (shown by /readyz).
func (b *boot) setPhase(p string) { b.phase.Store(&p) }

// serve hands every request to the node's API from now on.
func (b *boot) serve(h http.Handler) { b.api.Store(&h) }

// reason is why the node is not ready yet.
func (b *boot) reason() string {
	r := "node is starting: " + *b.phase.Load()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.brokersErr != "" {
		r += "; " + b.brokersErr
	}
	return r
}

func (b *boot) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := b.api.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/livez" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		w.WriteHeader(http.StatusOK)
		fmt.Fprintln(w, `{"status":"ok"}`)
		return
	}
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(http.StatusServiceUnavailable)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": b.reason(), "code": "not_ready"})
}

// brokerCheckEvery is how often a starting node dials its brokers, and
// brokerWarnEvery how often it says so in the log while none answers.
var (
	brokerCheckEvery = 2 * time.Second
	brokerWarnEvery  = 30 * time.Second
)

// watchBrokers dials the brokers until ctx ends: while none answers,
// /readyz says which and why, and a WARN (at most every brokerWarnEvery)
// names them and the flag to fix.
func (b *boot) watchBrokers(ctx context.Context, brokers []string, logger *slog.Logger) {
	var lastWarn time.Time
	t := time.NewTicker(brokerCheckEvery)
	defer t.Stop()
	for {
		errs := dialBrokers(ctx, brokers)
		logger.Debug("dialled the Kafka brokers", "brokers", len(brokers), "unreachable", len(errs))
		b.mu.Lock()
		if len(errs) < len(brokers) {
			b.brokersErr = ""
			b.once.Do(func() { close(b.reachable) })
		} else {
			b.brokersErr = fmt.Sprintf("no Kafka broker answers (%s); check --brokers (ACTORSERVE_BROKERS)", strings.Join(errs, "; "))
		}
		b.mu.Unlock()
		if len(errs) == len(brokers) && ctx.Err() == nil && time.Since(lastWarn) >= brokerWarnEvery {
			lastWarn = time.Now()
			logger.Warn("no Kafka broker answers; the node waits for one (set --brokers or ACTORSERVE_BROKERS to the right host:port list)",
				"brokers", strings.Join(brokers, ","), "errors", errs)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// awaitBrokers returns once a broker answered (see watchBrokers).
func (b *boot) awaitBrokers(ctx context.Context) error {
	select {
	case <-b.reachable:
		return nil
	case <-ctx.Done():
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.brokersErr != "" {
			return fmt.Errorf("%w: %s", ctx.Err(), b.brokersErr)
		}
		return ctx.Err()
	}
}

// dialBrokers opens a TCP connection to each broker and returns the
// failures ("dial tcp host:port: reason").
func dialBrokers(ctx context.Context, brokers []string) []string {
	var errs []string
	d := net.Dialer{Timeout: brokerCheckEvery}
	for _, addr := range brokers {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		c.Close()
	}
	return errs
}
