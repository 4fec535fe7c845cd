// Package process is how every wardsync binary runs its main: the context
// it gets ends on SIGINT or SIGTERM, so that a stopped server or station
// closes its connections and databases, and $WARDSYNC_CPUPROFILE, when it
// names a file, gets a CPU profile of the whole run (the benchmarks run the
// binaries as child processes and profile them this way, docs/bench.md).
// It uses the standard library only, so that every binary may use it.
package process

import (
	"context"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

// Run runs main and exits the process with the code it returns. The
// profile is written out before the exit, which skips deferred calls.
func Run(main func(ctx context.Context) int) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := profiled(ctx, main)
	stop()
	os.Exit(code)
}

func profiled(ctx context.Context, main func(ctx context.Context) int) int {
	path := os.Getenv("WARDSYNC_CPUPROFILE")
	if path == "" {
		return main(ctx)
	}
	f, err := os.Create(path)
	if err != nil {
		return main(ctx)
	}
	defer f.Close()
	if pprof.StartCPUProfile(f) != nil {
		return main(ctx)
	}
	defer pprof.StopCPUProfile()
	return main(ctx)
}
