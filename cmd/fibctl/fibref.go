package main

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/fibd/fibd/control/fibdpb"
)

// fibRef is a FIB as the command line names it: by ID ("10") or by name
// ("customer-a", see fibctl fib set --name). It is a pflag.Value.
type fibRef struct {
	raw string
	set bool
}

func (f *fibRef) String() string { return f.raw }
func (f *fibRef) Type() string   { return "FIB" }

func (f *fibRef) Set(s string) error {
	if s == "" {
		return errors.New("a FIB is an ID or a name")
	}
	f.raw, f.set = s, true
	return nil
}

// register adds --fib to c.
func (f *fibRef) register(c *cobra.Command, usage string) {
	c.Flags().Var(f, "fib", usage+" (an ID or a FIB name)")
}

// require makes --fib mandatory on c: commands that move or remove state
// never fall back to FIB 0.
func (f *fibRef) require(c *cobra.Command) {
	_ = c.MarkFlagRequired("fib")
}

// fibID resolves the reference (0 when it was not given).
func (a *app) fibID(f *fibRef) (uint32, error) {
	if !f.set {
		return 0, nil
	}
	return a.resolveFIB(f.raw)
}

// fibPtr resolves the reference, nil when it was not given (a filter).
func (a *app) fibPtr(f *fibRef) (*uint32, error) {
	if !f.set {
		return nil, nil
	}
	id, err := a.resolveFIB(f.raw)
	if err != nil {
		return nil, err
	}
	return &id, nil
}

// resolveFIB turns an ID or a name into an ID; a name is looked up in
// fibd.
func (a *app) resolveFIB(s string) (uint32, error) {
	if v, err := strconv.ParseUint(s, 10, 32); err == nil {
		return uint32(v), nil
	}
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return 0, fmt.Errorf("FIB %q: want an ID in 0-4294967295 or a FIB name", s)
	}
	ctx, cancel := a.ctx()
	defer cancel()
	cl, err := a.client()
	if err != nil {
		return 0, err
	}
	stream, err := cl.ListFibs(ctx, &fibdpb.ListFibsRequest{})
	if err != nil {
		return 0, err
	}
	var found *fibdpb.Fib
	err = recvAll(stream.Recv, func(r *fibdpb.ListFibsResponse) {
		for _, f := range r.GetFibs() {
			if f.GetName() == s {
				found = f
			}
		}
	})
	if err != nil {
		return 0, err
	}
	if found == nil {
		return 0, fmt.Errorf("no FIB is named %q (a FIB is an ID, 0-4294967295, or a name given with fib set --name)", s)
	}
	return found.GetFibId(), nil
}

// completeFIBs offers FIB IDs and names for shell completion.
func (a *app) completeFIBs(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	ctx, cancel := a.ctx()
	defer cancel()
	cl, err := a.client()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	stream, err := cl.ListFibs(ctx, &fibdpb.ListFibsRequest{})
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	_ = recvAll(stream.Recv, func(r *fibdpb.ListFibsResponse) {
		for _, f := range r.GetFibs() {
			desc := fmt.Sprintf("%d routes", f.GetRoutesV4()+f.GetRoutesV6())
			out = append(out, u(f.GetFibId())+"\t"+desc)
			if f.GetName() != "" {
				out = append(out, f.GetName()+"\tfib "+u(f.GetFibId()))
			}
		}
	})
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completePorts offers port names.
func (a *app) completePorts(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	ctx, cancel := a.ctx()
	defer cancel()
	cl, err := a.client()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	stream, err := cl.ListPorts(ctx, &fibdpb.ListPortsRequest{})
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	_ = recvAll(stream.Recv, func(r *fibdpb.ListPortsResponse) {
		for _, p := range r.GetPorts() {
			out = append(out, p.GetName()+"\tfib "+u(p.GetFibId()))
		}
	})
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeSources offers the route sources fibd has.
func (a *app) completeSources(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	ctx, cancel := a.ctx()
	defer cancel()
	cl, err := a.client()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	stream, err := cl.ListFibs(ctx, &fibdpb.ListFibsRequest{})
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	seen := map[string]bool{}
	var out []string
	_ = recvAll(stream.Recv, func(r *fibdpb.ListFibsResponse) {
		for _, f := range r.GetFibs() {
			for _, s := range f.GetSources() {
				if !seen[s.GetSource()] {
					seen[s.GetSource()] = true
					out = append(out, s.GetSource())
				}
			}
		}
	})
	return out, cobra.ShellCompDirectiveNoFileComp
}

// withCompletion registers the dynamic completions of the flags c has.
func (a *app) withCompletion(c *cobra.Command) *cobra.Command {
	if c.Flags().Lookup("fib") != nil {
		_ = c.RegisterFlagCompletionFunc("fib", a.completeFIBs)
	}
	if c.Flags().Lookup("source") != nil {
		_ = c.RegisterFlagCompletionFunc("source", a.completeSources)
	}
	return c
}
