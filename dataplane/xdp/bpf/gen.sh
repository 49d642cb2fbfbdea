#!/bin/sh
# gen.sh builds the fast-path XDP program (fastpath.c) into the committed
# object and Go bindings with clang through cilium/ebpf's bpf2go (pinned
# as a tool in go.mod).
#
#   gen.sh gen     regenerate dataplane/xdp/fastpath_bpfel.{o,go} (make bpf)
#   gen.sh check   fail if the committed ones are not what the source
#                  compiles to (make bpfcheck, part of make test)
#
# clang comes from Debian (make deps); the output is byte-reproducible for
# one clang version, and the check names the version when it differs.
set -eu
cd "$(dirname "$0")/.."
types="-type port_key -type port_val -type egress_val -type fib_val -type own_key -type neigh_key -type root_val -type next_val -type adj_val -type fp_config -type counters"
run() {
	# shellcheck disable=SC2086
	go tool bpf2go -go-package xdp -output-dir "$1" -tags linux -target bpfel $types \
		fastpath bpf/fastpath.c -- -I./bpf -O2 -Wall -Werror -mcpu=v3
}
case "${1:-gen}" in
gen)
	run .
	;;
check)
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	run "$tmp" >/dev/null
	for f in fastpath_bpfel.o fastpath_bpfel.go; do
		if ! cmp -s "$f" "$tmp/$f"; then
			echo "bpfcheck: dataplane/xdp/$f is stale: run make bpf and commit it ($(clang --version | head -1))" >&2
			exit 1
		fi
	done
	echo "bpfcheck: fast-path object and bindings are current"
	;;
*)
	echo "usage: $0 [gen|check]" >&2
	exit 2
	;;
esac
