//go:build !linux

package ethtool

// Features is unavailable off Linux.
func Features(ifname string) (map[string]bool, error) { return nil, ErrNotSupported }

// Set is unavailable off Linux.
func Set(ifname string, want map[string]bool) ([]Change, error) { return nil, ErrNotSupported }
