//go:build !linux

package vlanswitch

import "errors"

// Switch is a running switch.
type Switch struct{}

// Start is only implemented on Linux.
func Start(trunk string, access map[uint16]string) (*Switch, error) {
	return nil, errors.New("vlanswitch: needs Linux packet sockets")
}

// StartTagged is only implemented on Linux.
func StartTagged(trunk string, access map[Tags]string) (*Switch, error) {
	return nil, errors.New("vlanswitch: needs Linux packet sockets")
}

// Stop does nothing.
func (s *Switch) Stop() {}
