package control

// SetBeforeApply installs a hook that runs before each ModifyRoutes batch,
// so tests can hold the applier and watch flow control.
func SetBeforeApply(g *GRPCService, fn func()) { g.beforeApply = fn }
