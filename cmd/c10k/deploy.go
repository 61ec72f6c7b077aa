package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/c10k/c10k/scenarios/deploy"
	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/engine"
)

func init() {
	commands["deploy"] = command{
		summary: "blue-green deploy: start the idle color, switch the upstream, reload, stop the old",
		run:     runDeploy,
	}
}

func runDeploy(ctx context.Context, args []string) int {
	var o deploy.Options
	fs := flag.NewFlagSet("c10k deploy", flag.ContinueOnError)
	fs.StringVar(&o.Config, "config", "", "the server's config `file` (required)")
	fs.StringVar(&o.Upstream, "upstream", "", "`name` of the upstream block to switch (required)")
	fs.StringVar(&o.PIDFile, "pid-file", "", "`file` with the pid of the server to reload (the config's pid directive)")
	fs.IntVar(&o.PID, "pid", 0, "pid of the server to reload, instead of --pid-file")
	fs.StringVar(&o.Blue, "blue", "", "blue's `host:port` (required)")
	fs.StringVar(&o.Green, "green", "", "green's `host:port` (required)")
	fs.StringVar(&o.Start, "start", "", "shell `command` that starts the new color; {addr} is its address, {color} blue or green (required)")
	fs.StringVar(&o.StartLog, "start-log", "", "`file` for the new color's output (default deploy-UPSTREAM-COLOR.log beside the config; - for stderr)")
	fs.StringVar(&o.Health, "health", deploy.DefaultHealth, "`path` of the new color's health check (GET, 2xx)")
	fs.DurationVar(&o.HealthTimeout, "health-timeout", deploy.DefaultHealthTimeout, "how long the health check, and the --check-url confirmation, may take")
	fs.DurationVar(&o.Drain, "drain", deploy.DefaultDrain, "wait after the reload for in-flight requests before the old color stops")
	fs.StringVar(&o.CheckURL, "check-url", "", "`URL` through the server that must answer 2xx (from the new color, by X-Backend) after the reload")
	fs.StringVar(&o.StopOld, "stop-old", "", "shell `command` that stops the old color; {addr} and {color} are the old one's")
	fs.IntVar(&o.OldPID, "old-pid", 0, "pid of the old color, stopped with SIGTERM (its process group when it leads one)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: c10k deploy --config FILE --upstream NAME --pid-file FILE|--pid N\n"+
			"                   --blue ADDR --green ADDR --start 'COMMAND {addr}' [flags]\n\n"+
			"Starts the color the upstream does not list, waits for its health check,\n"+
			"switches the upstream's server lines to it (FILE.bak keeps the previous\n"+
			"config), checks the config as serve -t, reloads the server with SIGHUP,\n"+
			"waits --drain and stops the old color. A failure after the switch puts\n"+
			"the previous config back and reloads again. Exit 0: done; 1: a step\n"+
			"failed; 2: bad flags.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "c10k deploy: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	o.Check = checkConfig
	o.Log = os.Stdout
	res, err := deploy.Run(ctx, o)
	if errors.Is(err, deploy.ErrUsage) {
		fmt.Fprintf(os.Stderr, "c10k deploy: %v\n", err)
		return 2
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "c10k deploy: %v\n", err)
		return 1
	}
	if res.PIDFile != "" {
		fmt.Fprintf(os.Stderr, "c10k deploy: %s runs as pid %d (%s); its output goes to %s\n", res.Next, res.PID, res.PIDFile, res.StartLog)
	}
	return 0
}

// checkConfig checks a config file exactly as c10k serve -t does.
func checkConfig(file string) error {
	cfg, err := config.Load(file)
	if err != nil {
		return err
	}
	e, err := newEngine(file, cfg, engine.Options{})
	if err != nil {
		return err
	}
	e.Close()
	return nil
}
