package app

import (
	"sort"
	"sync"
	"time"
)

// cpuSample is the process's CPU time (user + system, all threads) read
// at a wall-clock instant.
type cpuSample struct {
	at  time.Time
	cpu time.Duration
}

// cpuSampler reads the process's CPU time every few milliseconds, so that
// the CPU spent over a window known only afterwards (the first and the
// last output record's timestamps) can be looked up.
type cpuSampler struct {
	mu      sync.Mutex
	samples []cpuSample
	stop    chan struct{}
	done    chan struct{}
}

// startCPUSampler starts reading every interval. It returns nil where the
// platform cannot read process CPU time.
func startCPUSampler(every time.Duration) *cpuSampler {
	if _, ok := processCPU(); !ok {
		return nil
	}
	s := &cpuSampler{stop: make(chan struct{}), done: make(chan struct{})}
	s.sample()
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				s.sample()
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *cpuSampler) sample() {
	cpu, _ := processCPU()
	now := time.Now()
	s.mu.Lock()
	s.samples = append(s.samples, cpuSample{at: now, cpu: cpu})
	s.mu.Unlock()
}

// Stop takes a last sample and stops; it returns every sample taken.
func (s *cpuSampler) Stop() []cpuSample {
	if s == nil {
		return nil
	}
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.samples
}

// cpuBetween is the CPU time spent between from and to, interpolated
// linearly between the samples around each end (on a busy machine the
// sampler's ticks come late, and taking the outer samples as they are
// would widen the window by that delay). ok is false when the samples do
// not cover the window. samples are in time order.
func cpuBetween(samples []cpuSample, from, to time.Time) (cpu time.Duration, ok bool) {
	if to.Before(from) {
		return 0, false
	}
	a, okA := cpuAt(samples, from)
	b, okB := cpuAt(samples, to)
	if !okA || !okB {
		return 0, false
	}
	return b - a, true
}

// cpuAt is the process CPU time at t, interpolated between the last
// sample at or before t and the first one after it.
func cpuAt(samples []cpuSample, t time.Time) (time.Duration, bool) {
	i := sort.Search(len(samples), func(k int) bool { return samples[k].at.After(t) })
	switch {
	case i == 0:
		return 0, false
	case samples[i-1].at.Equal(t):
		return samples[i-1].cpu, true
	case i == len(samples):
		return 0, false
	}
	lo, hi := samples[i-1], samples[i]
	frac := float64(t.Sub(lo.at)) / float64(hi.at.Sub(lo.at))
	return lo.cpu + time.Duration(frac*float64(hi.cpu-lo.cpu)), true
}
