#!/bin/sh
# Proto tooling for control/proto, all of it from pinned Go modules (no
# protoc or well-known-type headers from the OS: buf carries them).
#
#   gen.sh [gen]     regenerate control/fibdpb (make proto)
#   gen.sh check     fail if the committed control/fibdpb is stale (make protocheck)
#   gen.sh lint      buf lint, STANDARD rules (make buflint)
#   gen.sh breaking  buf breaking against the committed baseline image (make breaking)
#   gen.sh baseline  rewrite the baseline image from the current .proto: only
#                    with a deliberate break, named in the commit message
#
# The tools are built once per machine into
# ${XDG_CACHE_HOME:-~/.cache}/fibd/tools/<version>/ (buf takes about three
# minutes to build on a fresh machine; later runs reuse it).
set -eu
BUF=github.com/bufbuild/buf/cmd/buf@v1.75.0
PROTOC_GEN_GO=google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
PROTOC_GEN_GO_GRPC=google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2

root=$(cd "$(dirname "$0")/.." && pwd)
proto="$root/control/proto"
baseline="$proto/breaking/fibd.v1.txtpb"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/fibd/tools"

# tool PKG@VERSION: the path of the binary, built into the cache if absent.
tool() {
	pkg=${1%@*}
	ver=${1##*@}
	dir="$cache/$(basename "$pkg")-$ver"
	if [ ! -x "$dir/$(basename "$pkg")" ]; then
		echo "building $1 into $dir (once per machine)" >&2
		mkdir -p "$dir"
		GOBIN="$dir" go install "$1" >&2
	fi
	echo "$dir/$(basename "$pkg")"
}

buf=$(tool "$BUF")
plugins=$(dirname "$(tool "$PROTOC_GEN_GO")"):$(dirname "$(tool "$PROTOC_GEN_GO_GRPC")")

gen() {
	mkdir -p "$1"
	(cd "$proto" && PATH="$plugins:$PATH" "$buf" generate --template buf.gen.yaml -o "$1")
}

case "${1:-gen}" in
gen)
	gen "$root"
	;;
check)
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	gen "$tmp"
	if ! diff -r "$tmp/control/fibdpb" "$root/control/fibdpb"; then
		echo "control/fibdpb is stale: run make proto and commit" >&2
		exit 1
	fi
	echo "control/fibdpb is fresh"
	;;
lint)
	(cd "$proto" && "$buf" lint)
	echo "buf lint: clean"
	;;
breaking)
	(cd "$proto" && "$buf" breaking --against "$baseline")
	echo "buf breaking: no breaking change against control/proto/breaking/fibd.v1.txtpb"
	;;
baseline)
	mkdir -p "$(dirname "$baseline")"
	(cd "$proto" && "$buf" build --exclude-source-info -o "$baseline")
	echo "wrote $baseline: commit it with the change and name the break in the message"
	;;
*)
	echo "usage: $0 [gen|check|lint|breaking|baseline]" >&2
	exit 2
	;;
esac
