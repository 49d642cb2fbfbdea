// Command fibbench runs fibd's benchmarks and prints their results as JSON:
//
//	fibbench fib       the fib package on the real tables (bench/fibbench)
//	fibbench install   the full IPv4 table streamed into a running fibd
//	                   through ModifyRoutes, against the kernel through
//	                   batched netlink (bench/installbench)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/fibd/fibd/bench/fibbench"
	"github.com/fibd/fibd/bench/installbench"
)

func usage() {
	fmt.Fprintln(os.Stderr, "usage: fibbench fib | install [--fibd PATH] [--batch N] [--in-flight N] [--seed N] [--no-kernel]")
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var res any
	var err error
	switch os.Args[1] {
	case "fib":
		res, err = fibbench.Run(fibbench.Config{Logf: logf})
	case "install":
		res, err = install(os.Args[2:])
	case "-h", "--help", "help":
		usage()
		return
	default:
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fibbench:", err)
		os.Exit(1)
	}
	e := json.NewEncoder(os.Stdout)
	e.SetIndent("", "  ")
	if err := e.Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, "fibbench:", err)
		os.Exit(1)
	}
}

func logf(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }

func install(args []string) (installbench.Result, error) {
	fs := flag.NewFlagSet("fibbench install", flag.ContinueOnError)
	cfg := installbench.Config{Logf: logf}
	fs.StringVar(&cfg.FibdPath, "fibd", "", "fibd binary (default: next to fibbench, then $PATH, else built with go build)")
	fs.IntVar(&cfg.Batch, "batch", 4096, "routes per batch")
	fs.IntVar(&cfg.InFlight, "in-flight", 8, "unacknowledged batches")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "shuffle seed")
	fs.BoolVar(&cfg.NoKernel, "no-kernel", false, "skip the kernel baseline (it needs root)")
	if err := fs.Parse(args); err != nil {
		return installbench.Result{}, err
	}
	if cfg.FibdPath == "" {
		p, cleanup, err := findFibd()
		if err != nil {
			return installbench.Result{}, err
		}
		defer cleanup()
		cfg.FibdPath = p
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return installbench.Run(ctx, cfg)
}

// findFibd looks for fibd next to this binary, then on $PATH, and builds
// it from the module as a last resort.
func findFibd() (string, func(), error) {
	nop := func() {}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "fibd")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nop, nil
		}
	}
	if p, err := exec.LookPath("fibd"); err == nil {
		return p, nop, nil
	}
	dir, err := os.MkdirTemp("", "fibbench-")
	if err != nil {
		return "", nop, err
	}
	p := filepath.Join(dir, "fibd")
	logf("building fibd into %s", p)
	cmd := exec.Command("go", "build", "-o", p, "github.com/fibd/fibd/cmd/fibd")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		os.RemoveAll(dir)
		return "", nop, errors.New("no fibd binary found and go build failed: pass --fibd")
	}
	return p, func() { os.RemoveAll(dir) }, nil
}
