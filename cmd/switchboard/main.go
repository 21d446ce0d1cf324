// Command switchboard runs the Switchboard LLM gateway. Its flags are LiteLLM
// Proxy's, so an existing deployment can swap the binary and keep its
// config.yaml and command line.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/switchboard-gw/switchboard/internal/app"
	"github.com/switchboard-gw/switchboard/internal/telemetry"
	"github.com/switchboard-gw/switchboard/internal/version"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `Switchboard — an OpenAI-compatible gateway in front of every model provider.

Usage:
  switchboard --config config.yaml [--port 4000] [--host 0.0.0.0] [--detailed_debug]
  switchboard --model openai/gpt-4o          serve one model (key from OPENAI_API_KEY)
  switchboard validate --config config.yaml  load and check a config, then exit
  switchboard migrate --config config.yaml   apply database migrations, then exit
  switchboard version

Flags:
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "version", "--version", "-version":
			fmt.Fprintln(stdout, "switchboard", version.Version)
			return 0
		case "validate":
			return validate(args[1:], stdout, stderr)
		case "migrate":
			return migrate(args[1:], stdout, stderr)
		case "serve":
			args = args[1:]
		}
	}
	fs, o, debug := flags(stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	level := slog.LevelInfo
	if *debug || o.DetailedDebug || strings.EqualFold(os.Getenv("LITELLM_LOG"), "DEBUG") {
		level = slog.LevelDebug
	}
	log := telemetry.NewLogger(stderr, level, o.JSONLogs || os.Getenv("JSON_LOGS") == "true")

	cfg, warnings, err := app.Load(*o)
	if err != nil {
		fmt.Fprintln(stderr, "switchboard: configuration problems:")
		fmt.Fprintln(stderr, err)
		return 1
	}
	for _, w := range warnings {
		log.Warn(w.String())
	}
	g, err := app.Build(cfg, *o, log)
	if err != nil {
		fmt.Fprintln(stderr, "switchboard:", err)
		return 1
	}
	if path := os.Getenv("SWITCHBOARD_CPUPROFILE"); path != "" {
		// For performance work: a CPU profile of the whole run, written at exit.
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(stderr, "switchboard:", err)
			return 1
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "switchboard:", err)
			return 1
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := g.Run(ctx, *o); err != nil {
		fmt.Fprintln(stderr, "switchboard:", err)
		return 1
	}
	return 0
}

func flags(stderr io.Writer) (*flag.FlagSet, *app.Options, *bool) {
	o := &app.Options{LookupEnv: os.LookupEnv}
	fs := flag.NewFlagSet("switchboard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.ConfigPath, "config", os.Getenv("CONFIG_FILE_PATH"), "path to the LiteLLM-compatible config.yaml")
	fs.StringVar(&o.ConfigPath, "c", os.Getenv("CONFIG_FILE_PATH"), "shorthand for --config")
	fs.StringVar(&o.Model, "model", "", "serve a single model, e.g. openai/gpt-4o")
	fs.StringVar(&o.Model, "m", "", "shorthand for --model")
	fs.StringVar(&o.Host, "host", "", "address to listen on (default 0.0.0.0, or $HOST)")
	fs.IntVar(&o.Port, "port", -1, "port to listen on (default 4000, or $PORT; 0 picks a free port)")
	fs.BoolVar(&o.DetailedDebug, "detailed_debug", false, "log every request at debug level")
	debug := fs.Bool("debug", false, "debug logging")
	fs.BoolVar(&o.JSONLogs, "json_logs", false, "log as JSON")
	fs.DurationVar(&o.DrainTimeout, "drain_timeout", app.DefaultDrainTimeout, "how long SIGTERM waits for in-flight requests")
	// Accepted for LiteLLM compatibility: one Go process already uses every core.
	fs.Int("num_workers", 0, "accepted for LiteLLM compatibility; one process uses all cores")
	return fs, o, debug
}

func validate(args []string, stdout, stderr io.Writer) int {
	fs, o, _ := flags(stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.ConfigPath == "" {
		fmt.Fprintln(stderr, "validate: pass --config FILE")
		return 2
	}
	cfg, warnings, err := app.Load(*o)
	for _, w := range warnings {
		fmt.Fprintln(stdout, "warning:", w.String())
	}
	if err == nil {
		// Building catches what only wiring can see (an api_base that is not
		// a URL, a weak master key); it starts nothing.
		_, err = app.Build(cfg, *o, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		var problems interface{ Unwrap() []error }
		if errors.As(err, &problems) {
			fmt.Fprintf(stderr, "%d problems\n", len(problems.Unwrap()))
		}
		return 1
	}
	fmt.Fprintf(stdout, "%s is valid: %d models\n", o.ConfigPath, len(cfg.ModelList))
	return 0
}

// migrate applies the store's migrations to general_settings.database_url
// (or DATABASE_URL, or the embedded SQLite file) and exits. The gateway also
// migrates at start; this is for deployments that migrate in a separate step.
func migrate(args []string, stdout, stderr io.Writer) int {
	fs, o, _ := flags(stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, _, err := app.Load(*o)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	applied, where, err := app.Migrate(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(stderr, "migrate:", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s database is up to date (applied now: %v)\n", where, applied)
	return 0
}
