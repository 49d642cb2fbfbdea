package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// ErrStateCorrupt: the state file exists but cannot be used. fibd refuses
// to start rather than overwrite it; the admin repairs or moves it.
var ErrStateCorrupt = errors.New("state file is corrupt")

// stateFormat and stateVersion head every state file, so a file that is
// not ours, or from an incompatible fibd, is refused rather than misread.
const (
	stateFormat  = "fibd-state"
	stateVersion = 1
)

type stateFile struct {
	Format  string    `json:"format"`
	Version int       `json:"version"`
	Saved   time.Time `json:"saved"`
	Config
}

// LoadState reads a state file. A missing file gives (nil, nil): the first
// start. A file that cannot be parsed, or has an unknown format or
// version, gives an error wrapping ErrStateCorrupt that says where.
func LoadState(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	return decodeState(path, b)
}

func decodeState(path string, b []byte) (*Config, error) {
	var st stateFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrStateCorrupt, path, describeJSONError(b, err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: %s: data after the JSON object", ErrStateCorrupt, path)
	}
	if st.Format != stateFormat {
		return nil, fmt.Errorf("%w: %s: format %q, want %q", ErrStateCorrupt, path, st.Format, stateFormat)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("%w: %s: version %d, this fibd reads version %d", ErrStateCorrupt, path, st.Version, stateVersion)
	}
	return &st.Config, nil
}

func encodeState(c *Config) ([]byte, error) {
	b, err := json.MarshalIndent(stateFile{Format: stateFormat, Version: stateVersion, Saved: time.Now().UTC(), Config: *c}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// describeJSONError adds the line and column to a decoding error.
func describeJSONError(b []byte, err error) string {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 || off > int64(len(b)) {
		return err.Error()
	}
	line := 1 + bytes.Count(b[:off], []byte("\n"))
	col := off - int64(bytes.LastIndexByte(b[:off], '\n'))
	return fmt.Sprintf("line %d, column %d: %v", line, col, err)
}

// SaveState writes c to path atomically: a temporary file in the same
// directory, fsync, rename over path, fsync of the directory. A crash at
// any point leaves either the old file or the new one, never a mix.
func SaveState(path string, c *Config) error {
	b, err := encodeState(c)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("state file: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("state file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("state file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return fmt.Errorf("state file: sync %s: %w", dir, err)
		}
	}
	return nil
}

// stateHolder saves the state file after configuration changes with group
// commit: a change waits until a save that started after it has finished,
// and one save covers every change that arrived while the previous one
// was writing, so a burst of changes costs a few writes, not one each.
// The zero value saves nothing.
type stateHolder struct {
	mu struct {
		sync.Mutex
		path    string
		snap    func() *Config
		cond    *sync.Cond
		want    uint64 // changes requested
		done    uint64 // changes covered by a finished save
		saving  bool
		lastErr error
	}
}

// EnableState starts saving the configuration to path after every change,
// and saves it once now. Call it after restoring, so the restore itself
// does not write a half-restored file.
func (s *Server) EnableState(path string) error {
	h := &s.state
	h.mu.Lock()
	h.mu.path = path
	h.mu.snap = s.Snapshot
	h.mu.cond = sync.NewCond(&h.mu.Mutex)
	h.mu.Unlock()
	return s.saveState()
}

// saveState saves the configuration if a state file is enabled, waiting
// for a save that covers the caller's change. A failure is logged and
// returned; the change itself stays applied.
func (s *Server) saveState() error {
	h := &s.state
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.mu.path == "" {
		return nil
	}
	h.mu.want++
	mine := h.mu.want
	for h.mu.done < mine {
		if h.mu.saving {
			h.mu.cond.Wait()
			continue
		}
		h.mu.saving = true
		target := h.mu.want
		path, snap := h.mu.path, h.mu.snap
		h.mu.Unlock()
		err := SaveState(path, snap())
		h.mu.Lock()
		h.mu.saving = false
		h.mu.done = target
		h.mu.lastErr = err
		if err != nil {
			s.log.Error("saving state", "path", path, "err", err)
		}
		h.mu.cond.Broadcast()
	}
	if h.mu.lastErr != nil {
		return fmt.Errorf("%w: %w", ErrNotSaved, h.mu.lastErr)
	}
	return nil
}

// saveStateLocked is saveState for callers holding the Server's mutex; the
// snapshot it takes needs that mutex, so it releases it for the save.
func (s *Server) saveStateLocked() error {
	s.mu.Unlock()
	defer s.mu.Lock()
	return s.saveState()
}

// ErrNotSaved: a change was applied but the state file could not be
// written, so it would not survive a restart.
var ErrNotSaved = errors.New("applied, but saving the state file failed")

func (h *stateHolder) lastErr() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.mu.lastErr
}

// ParseConfigFile decodes a config file strictly: unknown fields, trailing
// data and the state file's own config_file section are refused, with the
// line and column.
func ParseConfigFile(path string, b []byte) (*Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("config file %s: %s", path, describeJSONError(b, err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("config file %s: data after the JSON object", path)
	}
	if c.ConfigFile != nil {
		return nil, fmt.Errorf("config file %s: config_file belongs to state files only", path)
	}
	return &c, nil
}
