#!/usr/bin/env bash
# bench/memory.sh: memory (PSS from /proc/PID/smaps_rollup), start-up time
# and reload time of a pool running the demo Django app, with the app
# imported in the master (default) and in each worker (--lazy-apps).
# Prints a Markdown table (bench/pool_memory.py does the work).
#   usage: bench/memory.sh [BINARY] [SIZES]     e.g. bench/memory.sh
#          ./fcgi-wsgi 1,2,4,8       (env: ROUNDS, default 3)
# Needs: make (the binary) and python3-django.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
binary=${1:-$top/fcgi-wsgi}
sizes=${2:-1,2,4,8}
[ -x "$binary" ] || { echo "bench: $binary not built (make)" >&2; exit 1; }
exec /usr/bin/python3 "$here/pool_memory.py" "$binary" "$sizes"
