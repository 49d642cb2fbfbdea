//go:build !linux

package installbench

import (
	"errors"

	"github.com/fibd/fibd/bench/tables"
)

// KernelTable is the Linux routing table the baseline installs into.
const KernelTable = 10

func kernelInstall([]tables.Route, int) (float64, error) {
	return 0, errors.New("the kernel baseline needs Linux (pass --no-kernel)")
}
