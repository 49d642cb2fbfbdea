//go:build !linux

package converge

import (
	"context"
	"errors"
)

// Run needs Linux (network namespaces).
func Run(context.Context, Config) (*Result, error) {
	return nil, errors.New("fibbench converge needs Linux")
}
