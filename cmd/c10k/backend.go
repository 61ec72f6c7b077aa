package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"

	"github.com/c10k/c10k/servers/backend"
)

func init() {
	commands["backend"] = command{
		summary: "run the reference application server (the WAS behind the proxy)",
		run:     runBackend,
	}
}

// backendFlags names the flag behind each backend.Options field, so that
// a rejected value is reported by the flag the user typed.
var backendFlags = map[string]string{
	"Listen": "listen", "Name": "name", "Latency": "latency", "Jitter": "jitter",
	"CPU": "cpu", "Size": "size", "ErrorRate": "error-rate", "Model": "model",
	"Workers": "workers", "Seed": "seed", "ShutdownTimeout": "shutdown-timeout",
}

func runBackend(ctx context.Context, args []string) int {
	var o backend.Options
	fs := flag.NewFlagSet("c10k backend", flag.ContinueOnError)
	fs.StringVar(&o.Listen, "listen", backend.DefaultListen, "`address` to listen on")
	fs.StringVar(&o.Name, "name", "", "`name` sent in X-Backend (default: the listen address)")
	fs.DurationVar(&o.Latency, "latency", 0, "time each request waits before its answer")
	fs.DurationVar(&o.Jitter, "jitter", 0, "uniform ± spread around -latency")
	fs.DurationVar(&o.CPU, "cpu", 0, "CPU time each request spends hashing")
	fs.Int64Var(&o.Size, "size", 0, "response body `bytes`; 0 answers a JSON echo of the request")
	fs.Float64Var(&o.ErrorRate, "error-rate", 0, "`fraction` of requests answered 500, in [0, 1]")
	fs.StringVar(&o.Model, "model", backend.ModelAsync, "worker `model`: sync (N workers, FIFO queue) or async")
	fs.IntVar(&o.Workers, "workers", 1, "requests processed at once with -model sync")
	fs.Uint64Var(&o.Seed, "seed", 0, "seed for -error-rate and -jitter (0: random)")
	fs.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", backend.DefaultShutdownTimeout, "how long to wait for in-flight requests on SIGINT/SIGTERM")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: c10k backend [flags]\n\n"+
			"Query overrides per request: latency=50ms cpu=2ms size=1024 status=503\n"+
			"close=1 (drop the connection) partial=1 (half a body) stall=1 (never answer).\n"+
			"/health answers ok, /stats the counters.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "c10k backend: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	// Zero means "the default" to backend.Options; on the command line the
	// defaults are shown, so an explicit 0 is a mistake.
	for name, zero := range map[string]bool{"workers": o.Workers == 0, "shutdown-timeout": o.ShutdownTimeout == 0} {
		if zero {
			fmt.Fprintf(os.Stderr, "c10k backend: invalid value 0 for flag -%s: must be positive\n", name)
			return 2
		}
	}

	// An explicit empty -name would silently mean "the listen address".
	bad := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "name" && o.Name == "" {
			fmt.Fprintf(os.Stderr, "c10k backend: invalid value \"\" for flag -name: must not be empty (omit it to use the listen address)\n")
			bad = true
		}
	})
	if bad {
		return 2
	}

	err := backend.Run(ctx, o, func(addr net.Addr) {
		fmt.Fprintf(os.Stderr, "c10k backend: listening on %s (model %s)\n", addr, o.Model)
	})
	var oe *backend.OptionError
	switch {
	case errors.As(err, &oe):
		fmt.Fprintf(os.Stderr, "c10k backend: invalid value %s for flag -%s: %s\n", oe.Value, backendFlags[oe.Option], oe.Reason)
		return 2
	case err != nil:
		fmt.Fprintf(os.Stderr, "c10k backend: %v\n", err)
		return 1
	}
	return 0
}
