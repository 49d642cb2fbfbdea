package main

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/fibd/fibd/control/client"
	"github.com/fibd/fibd/control/fibdpb"
)

func newRouteLoadCmd(a *app) *cobra.Command {
	var rf routeFlags
	var vias []string
	var dev string
	var batch int
	var quiet, resync, flush bool
	var format string
	var election uint64
	load := &cobra.Command{
		Use:   "load FILE --fib ID [--via GATEWAY...]",
		Short: "Stream a route table file (fibd's format, MRT, ip route) into a FIB through ModifyRoutes",
		Long: "Stream a route table file, plain or gzip, into a FIB. --format (default: found from the file):\n" +
			"  native   \"prefix nexthop-index\" per line (testdata/tables); index i takes the i-th --via gateway\n" +
			"           of the route's family, modulo their number.\n" +
			"  mrt      an MRT TABLE_DUMP_V2 RIB dump (RFC 6396: RouteViews, RIPE RIS; also bzip2); each prefix\n" +
			"           takes its first RIB entry, and the dump's distinct next hops are numbered in order of\n" +
			"           appearance and mapped onto --via as native indexes are.\n" +
			"  iproute  `ip route show` / `ip -6 route show` output, with its own gateways, devices (--dev\n" +
			"           overrides them), weights and blackhole/unreachable/prohibit routes; kernel routes and\n" +
			"           local, broadcast and multicast ones are skipped.\n" +
			"Routes get --source (default \"load\"), which is not saved in fibd's state file; give --source\n" +
			"static to make them configuration. The load is one ModifyRoutes session: with --resync, the\n" +
			"source's routes the file does not have are removed at the end; with --flush they all go if the\n" +
			"load is cut off while it owns the source.",
		Example: "  fibctl route load testdata/tables/ipv4.txt.gz --fib 10 --via 192.0.2.2 --via 192.0.2.3\n" +
			"  fibctl route load rib.20260601.0000.bz2 --fib 10 --via 192.0.2.2\n" +
			"  ip route show table 100 > t100.txt && fibctl route load t100.txt --fib 100",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format == "auto" {
				var err error
				if format, err = detectFormat(args[0]); err != nil {
					return err
				}
			}
			var sets []*fibdpb.PathSet
			var routes []client.Route
			var err error
			switch format {
			case "native":
				sets, routes, err = loadNative(args[0], vias, dev)
			case "mrt":
				sets, routes, err = loadMRT(args[0], vias, dev)
			case "iproute":
				var skipped int
				sets, routes, skipped, err = loadIPRoute(args[0], dev)
				if skipped > 0 {
					fmt.Fprintf(a.errOut, "skipped %d kernel, local, broadcast or multicast routes\n", skipped)
				}
			default:
				return fmt.Errorf("--format %q: want auto, native, mrt or iproute", format)
			}
			if err != nil {
				return err
			}
			fibID, err := a.fibID(&rf.fib)
			if err != nil {
				return err
			}
			cl, err := a.client()
			if err != nil {
				return err
			}
			bar := newProgress(a.errOut, len(routes), quiet)
			res, err := client.Load(cmd.Context(), cl, sets, routes, client.LoadOptions{
				FIB: fibID, Source: rf.source, Preference: rf.pref, Batch: batch, Progress: bar.set,
				Resync: resync, ElectionID: election, OnDisconnect: policy(flush)})
			bar.done()
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "loaded %d routes into fib %d in %.3fs: %.0f routes/s (%d added, %d updated",
				res.Routes, fibID, res.Duration.Seconds(), float64(res.Routes)/res.Duration.Seconds(), res.Added, res.Updated)
			if resync {
				fmt.Fprintf(a.out, ", %d removed by the resync", res.Removed)
			}
			fmt.Fprintln(a.out, ")")
			return nil
		},
	}
	rf.register(load, "load")
	load.Flags().Uint32Var(&rf.pref, "pref", 0, "preference 1-255 (default: 1 for static, 20 otherwise)")
	load.Flags().StringArrayVar(&vias, "via", nil, "gateway for the next-hop indexes of native and MRT files (repeat; IPv4 and IPv6 each in order)")
	load.Flags().StringVar(&dev, "dev", "", "port of the gateways (default: found through connected routes; for iproute, the file's)")
	load.Flags().IntVar(&batch, "batch", 4096, "routes per batch")
	load.Flags().StringVar(&format, "format", "auto", "auto, native, mrt or iproute")
	load.Flags().BoolVar(&quiet, "quiet", false, "no progress bar")
	load.Flags().BoolVar(&resync, "resync", false, "remove the source's routes in the FIB that the file does not have")
	load.Flags().BoolVar(&flush, "flush", false, "DISCONNECT_POLICY_FLUSH: if the load is cut off, the source's routes go")
	load.Flags().Uint64Var(&election, "election-id", 0, "the session's election ID (0: the newest session owns the source)")
	return load
}

type famBase struct{ first, n int }

// loadPathSets makes one path set per gateway, IPv4 ones first.
func loadPathSets(vias []string, dev string) ([]*fibdpb.PathSet, [2]famBase, error) {
	var v4, v6 []*fibdpb.PathSet
	for _, v := range vias {
		a, err := netip.ParseAddr(v)
		if err != nil {
			return nil, [2]famBase{}, fmt.Errorf("--via %q: %v", v, err)
		}
		ps := &fibdpb.PathSet{Paths: []*fibdpb.Path{{Kind: fibdpb.PathKind_PATH_KIND_GATEWAY, Gateway: a.String(), Port: dev}}}
		if a.Unmap().Is4() {
			v4 = append(v4, ps)
		} else {
			v6 = append(v6, ps)
		}
	}
	if len(vias) == 0 {
		return nil, [2]famBase{}, fmt.Errorf("give the gateways with --via (one per next-hop index, or fewer to share)")
	}
	return append(v4, v6...), [2]famBase{{0, len(v4)}, {len(v4), len(v6)}}, nil
}

// progress is route load's progress bar: schollz/progressbar on a
// terminal (it handles width, redraws and the rate), nothing otherwise —
// a log file or a pipe gets only the summary line.
type progress struct {
	bar *progressbar.ProgressBar
}

func newProgress(w io.Writer, total int, quiet bool) *progress {
	f, ok := w.(*os.File)
	if quiet || !ok || !term.IsTerminal(int(f.Fd())) {
		return &progress{}
	}
	return &progress{bar: progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("routes"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("routes"),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionFullWidth(),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)}
}

func (p *progress) set(n int) {
	if p.bar != nil {
		_ = p.bar.Set(n)
	}
}

func (p *progress) done() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

func policy(flush bool) fibdpb.DisconnectPolicy {
	if flush {
		return fibdpb.DisconnectPolicy_DISCONNECT_POLICY_FLUSH
	}
	return fibdpb.DisconnectPolicy_DISCONNECT_POLICY_PRESERVE
}
