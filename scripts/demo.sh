#!/usr/bin/env bash
# make demo: build, then run the multi-FIB demo (see cmd/fibdemo).
set -euo pipefail
cd "$(dirname "$0")/.."
exec ./bin/fibdemo --bin ./bin --table testdata/tables/ipv4.txt.gz "$@"
