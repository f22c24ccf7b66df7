package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/surgeload/surge/internal/capacity"
	"github.com/surgeload/surge/internal/exitcode"
	"github.com/surgeload/surge/internal/predict"
	"github.com/surgeload/surge/targets"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func usageError(err error) error  { return exitcode.New(exitcode.Invalid, err) }
func listenError(err error) error { return exitcode.New(exitcode.CannotRun, err) }

// run is the whole command: it parses args, serves until ctx is done and
// returns the exit code. Errors go to stderr as one "error: ..." line.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return exitcode.Execute(newCommand(ctx, stdout), args, stdout, stderr)
}

// options are the flags.
type options struct {
	topology  string
	listen    string
	delay     time.Duration
	status    int
	bodyBytes int
	list      bool
	config    string
	print     bool
}

func newCommand(ctx context.Context, stdout io.Writer) *cobra.Command {
	def := targets.DefaultEchoConfig()
	opts := options{}
	cmd := &cobra.Command{
		Use:   "target [flags]",
		Short: "Run a reference target server for load tests",
		Long: "target runs one of Surge's bundled reference topologies as an HTTP server,\n" +
			"so a load test has a system of known behaviour to run against.\n" +
			"It serves until SIGINT or SIGTERM, then shuts down gracefully.",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError(fmt.Errorf("unexpected argument %q (target takes only flags)", args[0]))
			}
			return nil
		},
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.list {
				return list(stdout)
			}
			echoFlags := cmd.Flags().Changed("delay") || cmd.Flags().Changed("status") || cmd.Flags().Changed("body-bytes")
			if opts.print {
				return printConfig(stdout, opts.topology)
			}
			return serve(ctx, stdout, opts, echoFlags, cmd.Flags().Changed("body-bytes"))
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	f := cmd.Flags()
	f.StringVar(&opts.topology, "topology", "echo", "bundled topology to serve (see --list)")
	f.StringVar(&opts.listen, "listen", "127.0.0.1:8080", "TCP address to listen on, host:port (port 0 picks a free one)")
	f.DurationVar(&opts.delay, "delay", def.Delay, "echo: service time of every request, e.g. 20ms")
	f.IntVar(&opts.status, "status", def.Status, "echo: HTTP status of every response, 200 to 599")
	f.IntVar(&opts.bodyBytes, "body-bytes", def.BodyBytes, "echo: size of every response body in bytes (0 for 204 and 304)")
	f.BoolVar(&opts.list, "list", false, "list the bundled topologies and exit")
	f.StringVar(&opts.config, "config", "", "JSON file of config overrides for the topology (see --print-config)")
	f.BoolVar(&opts.print, "print-config", false, "print the topology's default config as JSON and exit")
	return cmd
}

// list prints each topology and its description with its predicted
// ceiling (predict.Reference: the default config under the staircase mix,
// the figure `coordinator plan examples/staircase.yaml` and the README
// give), then a line on the shop flow they serve.
func list(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, name := range targets.Names() {
		desc, _ := targets.Describe(name)
		p, ok, err := predict.Reference(name)
		if err != nil {
			return fmt.Errorf("list %s: %w", name, err)
		}
		if ok {
			desc += fmt.Sprintf("; predicted %s req/s (%s)", capacity.FormatNumber(p.CeilingRPS), p.Bottleneck)
		}
		fmt.Fprintf(tw, "%s\t%s\n", name, desc)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "(all but echo also serve a shop flow for user journeys: POST /login, then with its token and cookie GET /shop/items/{id}, POST /cart, POST /checkout; counts at GET /shop/stats)")
	return err
}

// printConfig prints the default config of the named topology as
// indented JSON.
func printConfig(w io.Writer, name string) error {
	cfg, err := targets.DefaultConfig(name)
	if err != nil {
		return usageError(err)
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// serve starts the target, announces it and serves until ctx is done or
// the server fails.
func serve(ctx context.Context, stdout io.Writer, opts options, echoFlags, bodyBytesSet bool) error {
	var srv *targets.Server
	var err error
	if opts.topology == "echo" {
		if opts.config != "" {
			return usageError(errors.New("--config does not apply to the echo topology: use --delay, --status and --body-bytes"))
		}
		cfg := targets.EchoConfig{Delay: opts.delay, Status: opts.status, BodyBytes: opts.bodyBytes}
		if (cfg.Status == 204 || cfg.Status == 304) && !bodyBytesSet {
			cfg.BodyBytes = 0 // the default size does not apply to statuses without a body
		}
		// Check the configuration before listening, so a bad value is a
		// usage error and not a listen failure.
		h, herr := targets.NewEcho(cfg)
		if herr != nil {
			return usageError(herr)
		}
		srv, err = targets.NewServer(opts.listen, h)
	} else {
		if _, known := targets.Describe(opts.topology); known && echoFlags {
			return usageError(fmt.Errorf("--delay, --status and --body-bytes apply only to the echo topology"))
		}
		var cfg any
		if opts.config != "" {
			if _, known := targets.Describe(opts.topology); !known {
				return usageError(fmt.Errorf("%w %q (known: %s)", targets.ErrUnknownTopology, opts.topology, strings.Join(targets.Names(), ", ")))
			}
			f, ferr := os.Open(opts.config)
			if ferr != nil {
				return usageError(fmt.Errorf("--config: %w", ferr))
			}
			cfg, err = targets.DecodeConfig(opts.topology, f)
			_ = f.Close()
			if err != nil {
				return usageError(fmt.Errorf("--config %s: %w", opts.config, err))
			}
		}
		srv, err = targets.StartTopology(opts.topology, opts.listen, cfg)
		if errors.Is(err, targets.ErrUnknownTopology) || errors.Is(err, targets.ErrInvalidConfig) {
			return usageError(err)
		}
	}
	if err != nil {
		return listenError(err)
	}

	if _, werr := fmt.Fprintf(stdout, "target %s listening on %s\n", opts.topology, srv.URL); werr != nil {
		return errors.Join(fmt.Errorf("announce: %w", werr), srv.Close())
	}
	select {
	case <-ctx.Done():
	case <-srv.Done(): // the listener failed; Close says why
	}
	return srv.Close()
}
