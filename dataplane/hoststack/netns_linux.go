package hoststack

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// RunDir holds the namespaces' bind mounts, where iproute2 keeps its own:
// `ip netns list` shows fibd's, and `ip netns exec fibd-fib10 CMD` works
// as well as `fibctl exec --fib 10 -- CMD`.
const RunDir = "/run/netns"

// Path returns where namespace ns is mounted.
func (ns Namespace) Path() string { return filepath.Join(RunDir, string(ns)) }

// Do runs fn on an OS thread that has entered the namespace, so that the
// sockets fn opens belong to it (a socket keeps the namespace it was made
// in, whichever thread uses it later). The thread goes back to its own
// namespace afterwards; if it cannot, it is never reused: it stays locked
// and ends with the goroutine.
func (ns Namespace) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open(ns.Path())
		if err != nil {
			errc <- fmt.Errorf("fib namespace %s: %w", ns, err)
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		err = fn()
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// exists reports whether ns is mounted (a network namespace, not a stale
// file that a crash between creating and mounting it left behind).
func (ns Namespace) exists() bool {
	var st unix.Statfs_t
	return unix.Statfs(ns.Path(), &st) == nil && st.Type == unix.NSFS_MAGIC
}

// ensure creates namespace ns unless it exists, and reports whether it
// did exist (a previous fibd's, reused).
func (ns Namespace) ensure() (reused bool, err error) {
	if ns.exists() {
		return true, nil
	}
	if err := prepareRunDir(); err != nil {
		return false, err
	}
	p := ns.Path()
	_ = os.Remove(p) // a stale file, not a mount
	errc := make(chan error, 1)
	go func() {
		// The thread enters the new namespace and never leaves it: it is
		// not unlocked, so it ends with this goroutine.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o444)
		if err != nil {
			errc <- err
			return
		}
		unix.Close(fd)
		if err := unix.Mount("/proc/thread-self/ns/net", p, "none", unix.MS_BIND, ""); err != nil {
			_ = os.Remove(p)
			errc <- fmt.Errorf("bind-mount %s: %w", p, err)
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		return false, fmt.Errorf("creating fib namespace %s: %w", ns, err)
	}
	return false, nil
}

// prepareRunDir makes RunDir a shared mount point, as iproute2 does, so a
// namespace created later appears in mount namespaces made before it.
func prepareRunDir() error {
	if err := os.MkdirAll(RunDir, 0o755); err != nil {
		return err
	}
	err := unix.Mount("", RunDir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if errors.Is(err, unix.EINVAL) { // not a mount point yet
		if err = unix.Mount(RunDir, RunDir, "none", unix.MS_BIND|unix.MS_REC, ""); err == nil {
			err = unix.Mount("", RunDir, "none", unix.MS_SHARED|unix.MS_REC, "")
		}
	}
	if err != nil {
		return fmt.Errorf("making %s a shared mount: %w", RunDir, err)
	}
	return nil
}

// Remove deletes namespace ns, as `ip netns del` does: its name goes, and
// the namespace itself ends with the last process inside it. Removing a
// namespace that does not exist is not an error.
func (ns Namespace) Remove() error {
	p := ns.Path()
	if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", p, err)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// List returns the namespaces whose names are prefix followed by a FIB ID:
// what a fibd with that prefix may have left.
func List(prefix string) ([]Namespace, error) {
	ents, err := os.ReadDir(RunDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Namespace
	for _, e := range ents {
		if rest, ok := strings.CutPrefix(e.Name(), prefix); ok && rest != "" && strings.Trim(rest, "0123456789") == "" {
			out = append(out, Namespace(e.Name()))
		}
	}
	slices.Sort(out)
	return out, nil
}
