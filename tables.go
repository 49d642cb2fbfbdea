// Package fibd holds module-wide assets. Tables embeds the real IPv4 and
// IPv6 route tables from testdata/tables (see its README.md for what they
// are, their format and their CC BY 4.0 attribution), so benchmarks, tests
// and binaries can load them from any working directory through
// github.com/fibd/fibd/bench/tables.
package fibd

import "embed"

// Tables holds testdata/tables/ipv4.txt.gz and testdata/tables/ipv6.txt.gz.
//
//go:embed testdata/tables/*.gz
var Tables embed.FS
