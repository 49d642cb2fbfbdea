package xdp

// The fast-path program is C (bpf/fastpath.c) compiled by clang through
// bpf2go; the object and its Go bindings are committed, so building fibd
// needs no clang. `make bpf` regenerates them and `make bpfcheck` (part of
// `make test`) fails when the committed ones are not what the source
// compiles to.
//go:generate sh bpf/gen.sh gen
