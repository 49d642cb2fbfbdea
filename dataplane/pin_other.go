//go:build !linux

package dataplane

import "errors"

func pinThread(int) error { return errors.New("CPU pinning is supported on Linux only") }
