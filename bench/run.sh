#!/usr/bin/env bash
# Benchmarks. Usage: bench/run.sh [failover] [ROUNDS]
# Results go to bench/results/. Benchmarks measure; they are not tests.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-failover}
rounds=${2:-20}
case "$what" in
  failover) cargo bench --bench failover -- "$rounds" ;;
  *) echo "bench/run.sh: unknown benchmark '$what' (expected: failover)" >&2; exit 2 ;;
esac
