#!/usr/bin/env bash
# bench/run.sh: the benchmark, as `make bench` runs it once its peers are
# installed and its binaries built (make bench-bins): bench/bench.py, every
# peer, every scenario.  Arguments and BENCH_* variables go to it
# (bench/run.sh --quick is `make bench-quick`).
exec /usr/bin/python3 "$(dirname "$0")/bench.py" "$@"
