// Command dispatchd runs the dispatch server. It only wires: it reads the
// config, builds the logger, opens the store, creates the engine and the
// web server, and runs them until a signal arrives.
//
//	dispatchd [serve] [-config FILE] [-listen ADDR] [-data-dir DIR] [-demo=false] ...
//	dispatchd token issue --role coordinator --regions HE --name "Hebei desk" --ttl 720h
//	dispatchd token issue --role worker --worker W123
//	dispatchd token revoke ID
//	dispatchd token list
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile := startProfile(os.Getenv("DISPATCH_CPUPROFILE"))
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stopProfile()
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "dispatchd:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "serve":
			return runServe(ctx, args[1:], stdout, stderr)
		case "token":
			return runToken(args[1:], stdout)
		case "help", "-h", "-help", "--help":
			fmt.Fprintln(stdout, "usage: dispatchd [serve] [flags] | dispatchd token issue|revoke|list [flags]")
			return nil
		}
	}
	return runServe(ctx, args, stdout, stderr)
}
