package tables

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/fibd/fibd"
)

// Paths of the shipped tables inside fibd.Tables.
const (
	V4File = "testdata/tables/ipv4.txt.gz"
	V6File = "testdata/tables/ipv6.txt.gz"
)

// The embedded tables are parsed once per process; callers get copies, so
// one benchmark that sorts or shuffles its slice cannot disturb another.
var (
	v4Once = sync.OnceValues(func() ([]Route, error) { return loadEmbedded(V4File) })
	v6Once = sync.OnceValues(func() ([]Route, error) { return loadEmbedded(V6File) })
)

// LoadV4 returns the shipped IPv4 table in file order (sorted by
// Prefix.Compare). The first call parses it (about 0.1 s of CPU); later calls
// return a fresh copy of the cached result (about 25 MB), which the caller
// owns and may modify.
func LoadV4() ([]Route, error) { return cloned(v4Once()) }

// LoadV6 is LoadV4 for the IPv6 table.
func LoadV6() ([]Route, error) { return cloned(v6Once()) }

func cloned(rs []Route, err error) ([]Route, error) {
	if err != nil {
		return nil, err
	}
	return slices.Clone(rs), nil
}

func loadEmbedded(name string) ([]Route, error) {
	f, err := fibd.Tables.Open(name)
	if err != nil {
		return nil, fmt.Errorf("tables: %w", err)
	}
	defer f.Close()
	var rs []Route
	err = Parse(f, func(r Route) error {
		rs = append(rs, r)
		return nil
	})
	if pe, ok := errors.AsType[*ParseError](err); ok {
		pe.Path = name
	}
	if err != nil {
		return nil, err
	}
	return slices.Clip(rs), nil
}
