package remote

import (
	"sync"
	"time"
)

type breakerState uint8

const (
	closed breakerState = iota
	open
	halfOpen
)

func (s breakerState) String() string {
	switch s {
	case open:
		return "open"
	case halfOpen:
		return "half-open"
	}
	return "closed"
}

// breaker is a consecutive-failure circuit breaker. Closed: every attempt goes through and
// threshold consecutive failures open it. Open: attempts fail fast until cooldown has passed,
// then one attempt (the probe) goes through as half-open while the others keep failing fast;
// the probe's success closes the breaker, its failure opens it for another cooldown.
// threshold 0 disables it. Safe for concurrent use.
type breaker struct {
	threshold int
	cooldown  time.Duration
	now       func() time.Time

	mu       sync.Mutex
	state    breakerState
	failures int
	openedAt time.Time
	probing  bool
	opens    int // times it opened, for tests and String
}

// allow reports whether an attempt may go out; when it may not, it returns how long until
// the next probe may go (0 while a probe is in flight).
func (b *breaker) allow() (ok bool, wait time.Duration) {
	if b.threshold <= 0 {
		return true, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case closed:
		return true, 0
	case open:
		if since := b.now().Sub(b.openedAt); since < b.cooldown {
			return false, b.cooldown - since
		}
		b.state = halfOpen
		b.probing = true
		return true, 0
	}
	if b.probing {
		return false, 0
	}
	b.probing = true
	return true, 0
}

// record reports an attempt's outcome: ok false for failures that say the server is unhealthy.
func (b *breaker) record(ok bool) {
	if b.threshold <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if ok {
		b.state = closed
		b.failures = 0
		b.probing = false
		return
	}
	switch b.state {
	case halfOpen:
		b.trip()
	case closed:
		b.failures++
		if b.failures >= b.threshold {
			b.trip()
		}
	}
}

func (b *breaker) trip() {
	b.state = open
	b.openedAt = b.now()
	b.probing = false
	b.failures = 0
	b.opens++
}

func (b *breaker) snapshot() (breakerState, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state, b.opens
}
