// Command fibbench runs fibd's benchmarks and prints their results as JSON:
//
//	fibbench fib       the fib package on the real tables (bench/fibbench)
//	fibbench install   the full IPv4 table streamed into a running fibd
//	                   through ModifyRoutes, against the kernel through
//	                   batched netlink (bench/installbench)
//	fibbench forward   60-byte UDP frames forwarded by fibd's dataplane on a
//	                   src → router → dst namespace topology, against Linux
//	                   forwarding and a bare loop (bench/fwdbench; root)
//	fibbench isolation FIB 10 attacks FIB 20 (bench/isolation; root): live
//	                   flows of both counted at their sinks while FIB 10
//	                   churns, scans or floods
//	fibbench hoststack TCP and HTTP from a customer to a server inside a FIB
//	                   through fibd's host stack, against a kernel-routed
//	                   veth (bench/hostbench; root)
//	fibbench converge  the full IPv4 table from a real BGP speaker (gobgpd,
//	                   loaded from MRT) through FRR and FPM into fibd, against
//	                   the same FRR into the kernel, and through gobgpd and
//	                   its feed, against gobgpd's own RIB (bench/converge; root;
//	                   not part of make test or the report)
//	fibbench mrt       testdata/tables as an MRT RIB dump (tables.WriteMRT)
//	fibbench report    all of the above but converge and mrt into bench/results/<date>/: report.md,
//	                   report.json and plots, with every target evaluated
//	                   (bench/report)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/fibd/fibd/bench/fibbench"
)

const usageText = `usage:
  fibbench fib     [--rounds N] [--probes N]
  fibbench install [--fibd PATH] [--batch N] [--in-flight N] [--seed N] [--no-kernel] [--rounds N]
  fibbench forward [--io afpacket|xdp] [--duration 3s] [--sink xdp|discard|blackhole] [--dests N] [--rounds N]
  fibbench isolation [--io auto|afpacket|xdp] [--scenarios churn,scan,flood,icmp] [--routes N] [--scan-for 30s] [--fibd PATH] …
  fibbench hoststack [--io afpacket|xdp] [--rounds N] [--tcp-for 10s] [--http-for 5s] [--http-conns N] [--fibd PATH]
  fibbench converge [--paths frr-fpm,frr-kernel,gobgp] [--rounds N] [--routes N] [--timeout 10m] [--fibd PATH] [--fibctl PATH]
  fibbench mrt [--ipv4-only] FILE[.gz]
  fibbench report  [--out bench/results] [--quick] [--skip forward|install|isolation|hoststack]... [--fibd PATH]`

func usage() { fmt.Fprintln(os.Stderr, usageText) }

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	// Interrupting cancels a run; the harnesses still remove their
	// namespaces and stop the fibd they started.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var res any
	var err error
	switch os.Args[1] {
	case "fib":
		res, err = fib(os.Args[2:])
	case "install":
		res, err = install(ctx, os.Args[2:])
	case "forward":
		res, err = forward(ctx, os.Args[2:])
	case "isolation":
		res, err = isolationCmd(ctx, os.Args[2:])
	case "hoststack":
		res, err = hoststack(ctx, os.Args[2:])
	case "converge":
		res, err = convergeCmd(ctx, os.Args[2:])
	case "mrt":
		err = mrtCmd(os.Args[2:])
	case "report":
		err = runReport(ctx, os.Args[2:])
	case "-h", "--help", "help":
		usage()
		return
	default:
		usage()
		os.Exit(2)
	}
	if errors.Is(err, errUsage) {
		os.Exit(2) // the flag package has printed why
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fibbench:", err)
		os.Exit(1)
	}
	if res == nil {
		return
	}
	e := json.NewEncoder(os.Stdout)
	e.SetIndent("", "  ")
	if err := e.Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, "fibbench:", err)
		os.Exit(1)
	}
}

func fib(args []string) (fibbench.Result, error) {
	fs := flag.NewFlagSet("fibbench fib", flag.ContinueOnError)
	cfg := fibbench.Config{Logf: logf}
	fs.IntVar(&cfg.Rounds, "rounds", 7, "interleaved rounds of the lookup timings (at least 5)")
	fs.IntVar(&cfg.Probes, "probes", 1<<20, "probe addresses per lookup timing")
	if err := fs.Parse(args); err != nil {
		return fibbench.Result{}, errUsage
	}
	return fibbench.Run(cfg)
}

func logf(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }

// warnLogger passes the dataplane's warnings (an XDP attach falling back
// to generic mode, say) to stderr, where the progress lines go.
func warnLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// errUsage marks a bad command line: the flag package has already said why.
var errUsage = errors.New("bad arguments")
