#!/bin/sh
# Regenerates control/fibdpb from control/proto. The lead's `make proto`
# calls it; `control/gen.sh check` fails when the committed code is stale.
#
# Needs: protoc (Debian protobuf-compiler; it ships the well-known types
# under /usr/include) and the Go plugins at the pinned versions below.
set -eu
PROTOC_GEN_GO=google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
PROTOC_GEN_GO_GRPC=google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin="${XDG_CACHE_HOME:-$HOME/.cache}/fibd/protoc-bin"
mkdir -p "$bin"
GOBIN="$bin" go install "$PROTOC_GEN_GO"
GOBIN="$bin" go install "$PROTOC_GEN_GO_GRPC"

gen() {
	out=$1
	mkdir -p "$out"
	PATH="$bin:$PATH" protoc -I control/proto -I /usr/include \
		--go_out="$out" --go_opt=module=github.com/fibd/fibd \
		--go-grpc_out="$out" --go-grpc_opt=module=github.com/fibd/fibd \
		control/proto/fibd/v1/fibd.proto
}

case "${1:-gen}" in
gen)
	gen .
	;;
check)
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	gen "$tmp"
	if ! diff -r "$tmp/control/fibdpb" control/fibdpb; then
		echo "control/fibdpb is stale: run control/gen.sh (make proto) and commit" >&2
		exit 1
	fi
	echo "control/fibdpb is fresh"
	;;
*)
	echo "usage: $0 [gen|check]" >&2
	exit 2
	;;
esac
