package main

import (
	"bufio"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/fibd/fibd/bench/tables"
)

// mrtCmd is `fibbench mrt FILE`: testdata/tables as an MRT TABLE_DUMP_V2
// RIB dump (tables.WriteMRT), the file `fibbench converge` injects into its
// speaker, for replaying the tables with other tools (gobgp mrt inject,
// bgpdump, BIRD's MRT readers). The bytes depend only on the tables; a
// FILE ending in .gz is gzip-compressed.
func mrtCmd(args []string) error {
	fs := flag.NewFlagSet("fibbench mrt", flag.ContinueOnError)
	v4only := fs.Bool("ipv4-only", false, "only the IPv4 table")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		if err == nil {
			fmt.Fprintln(os.Stderr, "fibbench mrt: give the output FILE")
		}
		return errUsage
	}
	routes, err := tables.LoadV4()
	if err != nil {
		return err
	}
	if !*v4only {
		v6, err := tables.LoadV6()
		if err != nil {
			return err
		}
		routes = append(routes, v6...)
	}
	f, err := os.Create(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	var w io.Writer = f
	var zw *gzip.Writer
	if strings.HasSuffix(fs.Arg(0), ".gz") {
		zw, _ = gzip.NewWriterLevel(f, gzip.BestCompression)
		w = zw
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	if err := tables.WriteMRT(bw, routes); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	logf("wrote %d routes to %s", len(routes), fs.Arg(0))
	return nil
}
