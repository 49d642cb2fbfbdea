//go:build !linux

package netnstest

import "testing"

// Require skips t: network namespaces exist only on Linux.
func Require(t testing.TB) {
	t.Helper()
	t.Skip("network namespaces need Linux")
}
