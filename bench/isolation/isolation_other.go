//go:build !linux

package isolation

import (
	"context"
	"errors"
)

// Run needs Linux: network namespaces, veth and AF_PACKET.
func Run(context.Context, Config) (*Result, error) {
	return nil, errors.New("isolation: needs Linux")
}
