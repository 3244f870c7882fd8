package app

import (
	"testing"
	"time"
)

func TestCPUBetween(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	samples := []cpuSample{
		{at(0), 0}, {at(10), 5 * time.Millisecond}, {at(20), 15 * time.Millisecond}, {at(30), 30 * time.Millisecond},
	}
	cases := []struct {
		name     string
		from, to time.Time
		want     time.Duration
		ok       bool
	}{
		{"on samples", at(10), at(20), 10 * time.Millisecond, true},
		{"between samples interpolates", at(15), at(25), 12500 * time.Microsecond, true},
		{"whole", at(0), at(30), 30 * time.Millisecond, true},
		{"before the first sample", at(-1), at(20), 0, false},
		{"after the last sample", at(10), at(31), 0, false},
		{"reversed", at(20), at(10), 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := cpuBetween(samples, c.from, c.to)
			if got != c.want || ok != c.ok {
				t.Fatalf("cpuBetween(%v, %v) = %v, %v; want %v, %v", c.from.Sub(t0), c.to.Sub(t0), got, ok, c.want, c.ok)
			}
		})
	}
	if _, ok := cpuBetween(nil, at(0), at(1)); ok {
		t.Fatal("no samples: ok")
	}
}

func TestCPUSamplerCoversWindow(t *testing.T) {
	s := startCPUSampler(time.Millisecond)
	if s == nil {
		t.Skip("process CPU time is not available on this platform")
	}
	from := time.Now()
	for x := 0; time.Since(from) < 20*time.Millisecond; x++ {
		_ = x * x // burn some CPU
	}
	to := time.Now()
	samples := s.Stop()
	cpu, ok := cpuBetween(samples, from, to)
	if !ok || cpu <= 0 {
		t.Fatalf("cpuBetween over a busy 20 ms = %v, %v from %d samples", cpu, ok, len(samples))
	}
}
