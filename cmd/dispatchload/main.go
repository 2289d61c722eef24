// Command dispatchload measures a running dispatch server end to end, the
// way its clients use it: it connects simulated workers and coordinators
// over websockets, logs incidents at a fixed rate, and prints latency
// percentiles (intake → offer at the worker, acceptance → every
// coordinator), the server's memory per idle connection and any lost or
// duplicated events. It only targets loopback addresses and stops by
// itself.
//
//	dispatchload -data-dir data -workers 10000 -coordinators 1000 -rate 200 -duration 60s
//
// Credentials are issued into the server's data dir, as `dispatchd token
// issue` does; an administrator token may come from DISPATCH_ADMIN_TOKEN
// instead of being issued for the run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "dispatchload:", err)
		os.Exit(1)
	}
}
