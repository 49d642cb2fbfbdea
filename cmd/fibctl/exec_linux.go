package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/fibd/fibd/dataplane/hoststack"
)

// execIn replaces fibctl with args[0] running in namespace ns, as `ip
// netns exec` does: a mount namespace of its own (changes there stay
// there), /sys remounted so it shows the namespace's interfaces, each
// /etc/netns/NAME/FILE bound over /etc/FILE, then the network namespace
// entered and the program executed. Namespaces are per thread, so all of
// it happens on one locked thread, the one that calls execve. It returns
// only on failure, with the exit status a shell would give (127: not
// found, 126: not executable, 1: anything else).
func execIn(ns hoststack.Namespace, args []string) (int, error) {
	path, err := exec.LookPath(args[0])
	if err != nil {
		return 127, err
	}
	runtime.LockOSThread()
	target, err := os.Open(ns.Path())
	if err != nil {
		return 1, fmt.Errorf("fib namespace: %w", err)
	}
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return 1, fmt.Errorf("new mount namespace: %w", err)
	}
	// Mounts made below must not leak back into the host's namespace.
	if err := unix.Mount("", "/", "none", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return 1, fmt.Errorf("making / a slave mount: %w", err)
	}
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return 1, fmt.Errorf("entering %s: %w", ns, err)
	}
	target.Close()
	// /sys shows the network namespace of whoever mounted it: remount it
	// so `ip link` and /sys/class/net agree. Read-only where the host's
	// was, and not fatal (a container without the right to mount sysfs).
	var st unix.Statfs_t
	flags := uintptr(0)
	if unix.Statfs("/sys", &st) == nil && st.Flags&unix.ST_RDONLY != 0 {
		flags = unix.MS_RDONLY
	}
	if unix.Unmount("/sys", unix.MNT_DETACH) == nil {
		_ = unix.Mount(string(ns), "/sys", "sysfs", flags, "")
	}
	if err := bindEtc(string(ns)); err != nil {
		return 1, err
	}
	err = syscall.Exec(path, args, os.Environ())
	if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.ENOEXEC) {
		return 126, err
	}
	return 1, err
}

// bindEtc binds each file of /etc/netns/NAME over its namesake in /etc; one
// without a namesake is skipped with a warning, as `ip netns exec` does.
func bindEtc(name string) error {
	dir := filepath.Join("/etc/netns", name)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range ents {
		src, dst := filepath.Join(dir, e.Name()), filepath.Join("/etc", e.Name())
		if _, err := os.Stat(dst); err != nil {
			fmt.Fprintf(os.Stderr, "fibctl exec: %s: no %s to bind it over\n", src, dst)
			continue
		}
		if err := unix.Mount(src, dst, "none", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("binding %s over %s: %w", src, dst, err)
		}
	}
	return nil
}
