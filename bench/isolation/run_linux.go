package isolation

import (
	"context"
	"fmt"
	"time"

	"github.com/fibd/fibd/internal/netnstest"
)

// Run builds the topology, runs the scenarios one after another and tears
// everything down. It needs root and iproute2.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg.defaults()
	if cfg.FibdPath == "" {
		return nil, fmt.Errorf("isolation: Config.FibdPath is required")
	}
	s := netnstest.NewScope()
	defer s.Close()
	var res *Result
	var runErr error
	if err := s.Run(func() { res, runErr = run(ctx, s, &cfg) }); err != nil {
		return nil, err
	}
	return res, runErr
}

func run(ctx context.Context, tb netnstest.TB, cfg *Config) (*Result, error) {
	t0 := time.Now()
	tp, err := build(ctx, tb, cfg)
	if tp != nil {
		defer tp.close()
	}
	if err != nil {
		return nil, err
	}
	res := &Result{IO: cfg.IO, FlowPPS: cfg.FlowPPS}
	for _, sc := range cfg.Scenarios {
		cfg.Log("scenario %s", sc)
		switch sc {
		case ScenarioChurn:
			err = churn(ctx, tp, cfg, res)
		case ScenarioScan:
			err = scan(ctx, tp, cfg, res)
		case ScenarioFlood:
			err = flood(ctx, tp, cfg, res)
		case ScenarioICMP:
			err = icmp(ctx, tp, cfg, res)
		case ScenarioStorm:
			err = storm(ctx, tp, cfg, res)
		default:
			err = fmt.Errorf("isolation: unknown scenario %q", sc)
		}
		if err != nil {
			return res, fmt.Errorf("%s: %w", sc, err)
		}
		if exited, werr := tp.fibd.Exited(); exited {
			return res, fmt.Errorf("%s: fibd exited: %v", sc, werr)
		}
	}
	res.MisdeliveredFrames, _ = tp.misdelivered()
	res.Seconds = time.Since(t0).Seconds()
	return res, nil
}
