package main

import (
	"fmt"
	"syscall"
)

// raiseFileLimit lifts the soft limit on open files to the hard limit:
// every simulated client is a socket. It fails early, with the numbers,
// if even the hard limit is below what the run needs.
func raiseFileLimit(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("read open-file limit: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return fmt.Errorf("raise open-file limit to %d: %w", lim.Max, err)
		}
	}
	if lim.Cur < need {
		return fmt.Errorf("open-file limit %d is below the %d this run needs: raise the hard limit (ulimit -Hn)", lim.Cur, need)
	}
	return nil
}
