package control

import (
	"cmp"
	"fmt"
)

// PortSettings are a port's edge filters, as the dataplane applies them
// (dataplane.PortSettings): the reverse-path check and whether IPv4
// source-routed packets are forwarded. The zero value is the default.
type PortSettings struct {
	// RPF is "" or "off", "loose" or "strict" (RFC 3704).
	RPF              string `json:"rpf,omitempty"`
	AllowSourceRoute bool   `json:"allow_source_route,omitempty"`
}

// RPF modes.
const (
	RPFOff    = "off"
	RPFLoose  = "loose"
	RPFStrict = "strict"
)

// CheckRPF validates a reverse-path mode; "" is off.
func CheckRPF(field, mode string) error {
	switch mode {
	case "", RPFOff, RPFLoose, RPFStrict:
		return nil
	}
	return fieldErr(field, mode, "want off, loose or strict")
}

// normal is s with the default spelled one way (RPF "" for off), so
// settings compare and save the same however they were given.
func (s PortSettings) normal() PortSettings {
	if s.RPF == RPFOff {
		s.RPF = ""
	}
	return s
}

// PortSettingsChange says what SetPortSettings changes; nil fields stay.
type PortSettingsChange struct {
	RPF              *string
	AllowSourceRoute *bool
}

// SetPortSettings changes a port's edge filters and returns the port. The
// settings stay with the port when it moves to another FIB, and are saved.
func (s *Server) SetPortSettings(name string, c PortSettingsChange) (PortInfo, error) {
	if c.RPF != nil {
		if err := CheckRPF("rpf", *c.RPF); err != nil {
			return PortInfo{}, err
		}
	}
	s.mu.Lock()
	id, ok := s.mu.byName[name]
	if !ok {
		s.mu.Unlock()
		return PortInfo{}, fmt.Errorf("%w: %q", ErrPortNotFound, name)
	}
	rec := s.mu.byID[id]
	next := rec.settings
	if c.RPF != nil {
		next.RPF = *c.RPF
	}
	if c.AllowSourceRoute != nil {
		next.AllowSourceRoute = *c.AllowSourceRoute
	}
	next = next.normal()
	if err := s.dp.SetPortSettings(id, next); err != nil {
		s.mu.Unlock()
		return PortInfo{}, fmt.Errorf("port %s: %w", name, err)
	}
	rec.settings = next
	s.mu.byID[id] = rec
	s.mu.Unlock()
	s.log.Info("port settings", "port", name, "rpf", cmp.Or(next.RPF, RPFOff), "allow_source_route", next.AllowSourceRoute)
	var info PortInfo
	for _, p := range s.dp.Ports() {
		if p.ID == id {
			info = p
			info.Name = name
		}
	}
	return info, s.saveState()
}
