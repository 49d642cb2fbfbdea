//go:build !linux

package main

import (
	"errors"

	"github.com/fibd/fibd/dataplane/hoststack"
)

func execIn(hoststack.Namespace, []string) (int, error) {
	return 1, errors.New("fibctl exec needs Linux network namespaces")
}
