package tables_test

import (
	"fmt"
	"strings"

	"github.com/fibd/fibd/bench/tables"
)

func ExampleParse() {
	table := `# two routes
10.0.0.0/8 3
10.1.0.0/16 4
`
	err := tables.Parse(strings.NewReader(table), func(r tables.Route) error {
		fmt.Println(r.Prefix, r.NextHop)
		return nil
	})
	fmt.Println(err)

	err = tables.Parse(strings.NewReader("10.0.0.1/8 3\n"), func(tables.Route) error { return nil })
	fmt.Println(err)
	// Output:
	// 10.0.0.0/8 3
	// 10.1.0.0/16 4
	// <nil>
	// tables: line 1: host bits set in 10.0.0.1/8 (the network is 10.0.0.0/8)
}

func ExampleProbes() {
	v4, err := tables.LoadV4()
	if err != nil {
		panic(err)
	}
	probes := tables.Probes(v4, 1000, 1)
	fmt.Println(len(v4), len(probes))
	// Output: 615151 1000
}
