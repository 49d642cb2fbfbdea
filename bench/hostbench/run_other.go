//go:build !linux

package hostbench

import (
	"context"
	"errors"
)

// Run needs Linux.
func Run(context.Context, Config) (*Result, error) {
	return nil, errors.New("hostbench: needs Linux network namespaces")
}
