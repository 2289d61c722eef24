//go:build !unix

package sim

import "time"

// ownCPU is not measured off Unix.
func ownCPU() time.Duration { return 0 }
