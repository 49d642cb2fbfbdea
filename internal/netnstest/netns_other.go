//go:build !linux

package netnstest

// Require skips t: network namespaces exist only on Linux.
func Require(t TB) {
	t.Helper()
	t.Skip("network namespaces need Linux")
}
