// Command demo runs the forwarding benchmark harness once and prints its
// JSON result: the kernel baseline and the bare AF_PACKET loop, with one
// and two generator threads. It needs root and iproute2.
//
//	go run ./bench/fwdbench/demo -d 3s
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/fibd/fibd/bench/fwdbench"
)

func main() {
	d := flag.Duration("d", 3*time.Second, "duration of each phase")
	dests := flag.Int("dests", 65536, "destinations spread over 198.18.0.0/15 (≥ 65536)")
	quiet := flag.Bool("q", false, "no progress lines on stderr")
	blackhole := flag.Bool("blackhole", false, "sink drops at a blackhole route instead of a discarding UDP socket")
	flag.Parse()
	opt := fwdbench.Options{Duration: *d, Destinations: *dests}
	if *blackhole {
		opt.Sink = fwdbench.SinkBlackhole
	}
	if !*quiet {
		opt.Log = func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }
	}
	// Interrupting cancels the run; Run still removes its namespaces.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	res, err := fwdbench.Run(ctx, opt)
	if err != nil {
		log.Fatal(err)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(res)
}
