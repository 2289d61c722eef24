//go:build unix

package sim

import (
	"syscall"
	"time"
)

// ownCPU is the CPU time (user and system) this process has used: a load
// run shares the machine with the server, so its own share is reported.
func ownCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
