package control

// SetBeforeApply installs a hook that runs before each ModifyRoutes batch,
// so tests can hold the applier and watch flow control.
func SetBeforeApply(g *GRPCService, fn func()) { g.beforeApply = fn }

// DecodeState exposes the state decoder to the fuzz test.
var DecodeState = decodeState

// EncodeState is what SaveState writes, without the file.
func EncodeState(c *Config) ([]byte, error) { return encodeState(c) }

// SetBeforeSweep installs a hook that runs in EndResync after the resync's
// bookkeeping and before its sweep.
func SetBeforeSweep(s *Server, fn func()) { s.beforeSweep = fn }
