//go:build !unix

package app

import "time"

// processCPU is not measured on this platform; the bench leaves the CPU
// column empty.
func processCPU() (time.Duration, bool) { return 0, false }
