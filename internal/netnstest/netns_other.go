//go:build !linux

package netnstest

import "github.com/fibd/fibd/internal/testenv"

// Require skips t (fails it under CI): network namespaces exist only on
// Linux.
func Require(t TB) {
	t.Helper()
	testenv.Missing(t, "network namespaces need Linux")
}
