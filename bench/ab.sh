#!/usr/bin/env bash
# bench/ab.sh: two fcgi-wsgi binaries, A and B, measured in the same run in
# interleaved rounds (A B A B ...) with bench/hello.py.  Each round starts
# the server, warms up, measures every scenario, stops it.  Prints a
# Markdown table: requests/s (median, min-max), B/A, server CPU per request.
#   usage: bench/ab.sh OLD_BIN NEW_BIN [SECONDS]
#   env:   ROUNDS (5), PROCS (1), THREADS (1), CONNS (32), WARMUP (1 s)
# Scenarios: fcgi-load straight at the unix socket, keep-conn off and on;
# nginx + wrk -t2; a 64 KiB POST straight at the socket.  Server CPU is the
# utime+stime of the master and its workers (and of reaped children) from
# /proc over the measured window, divided by the requests answered.
# Needs bench/fcgi-load (make bench/fcgi-load), nginx and wrk.
set -euo pipefail
trap 'echo "bench/ab.sh: line $LINENO: a command failed" >&2' ERR
here=$(cd "$(dirname "$0")" && pwd)

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: bench/ab.sh OLD_BIN NEW_BIN [SECONDS]" >&2
    exit 2
fi
dur=${3:-5}
rounds=${ROUNDS:-5}
procs=${PROCS:-1}
threads=${THREADS:-1}
conns=${CONNS:-32}
warmup=${WARMUP:-1}
load=$here/fcgi-load
scenarios=(unix unix-keep nginx post-64k)
for n in "$dur" "$rounds" "$procs" "$threads" "$conns" "$warmup"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "bench/ab.sh: $n: want a whole number > 0" >&2; exit 2; }
done
for b in "$1" "$2"; do
    [ -x "$b" ] || { echo "bench/ab.sh: $b: not an executable" >&2; exit 2; }
done
[ -x "$load" ] || { echo "bench/ab.sh: $load missing: make bench/fcgi-load" >&2; exit 2; }
for t in nginx wrk; do
    command -v "$t" >/dev/null || { echo "bench/ab.sh: $t missing: make deps" >&2; exit 2; }
done

tmp=$(mktemp -d /tmp/fw-ab.XXXXXX)
sock=$tmp/fw.sock
nginx_pid=""
server_pid=""
tool_pid=""

# Every pid in the tree under $1 (itself included), or the sum of their
# utime+stime+cutime+cstime in clock ticks (-1 when $1 is gone).  One pass
# over /proc: `cat` skips (and fails on) processes that end while it reads.
proc_tree() { # ticks|pids ROOT
    { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v mode="$1" -v root="$2" '
        { rest = $0; sub(/^.*\) /, "", rest); split(rest, f, " ")
          ppid[$1] = f[2]; ticks[$1] = f[12] + f[13] + f[14] + f[15] }
        END {
            if (!(root in ppid)) { if (mode == "ticks") print -1; exit }
            tree[root] = 1
            do { grew = 0
                 for (p in ppid) if (!(p in tree) && (ppid[p] in tree)) { tree[p] = 1; grew = 1 }
            } while (grew)
            if (mode == "ticks") { t = 0; for (p in tree) t += ticks[p]; print t }
            else for (p in tree) print p
        }'
}

# Stops $1 (TERM, then KILL after $2 tenths of a second), then whatever
# of its tree outlived it.
stop_tree() { # PID TENTHS
    local pid=$1 tree p
    tree=$(proc_tree pids "$pid" || true)
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq "$2"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for p in $tree; do kill -KILL "$p" 2>/dev/null || true; done
}

cleanup() {
    [ -z "$tool_pid" ] || stop_tree "$tool_pid" 10
    [ -z "$server_pid" ] || stop_tree "$server_pid" 100
    [ -z "$nginx_pid" ] || stop_tree "$nginx_pid" 50
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The binaries are copied: others may rebuild ./fcgi-wsgi during the run.
declare -A bin path extra
path[A]=$1; path[B]=$2
for x in A B; do
    cp "${path[$x]}" "$tmp/$x.bin"
    bin[$x]=$tmp/$x.bin
    extra[$x]=""
    help=$("${bin[$x]}" --help 2>&1 || true) # (grep -q would close the pipe)
    if [ "$(id -u)" = 0 ] && grep -q allow-root <<<"$help"; then
        extra[$x]=--allow-root
    fi
done

# nginx runs for the whole run; each round's server binds the same socket.
port=$(free_port)
mkdir -p "$tmp"/{body,fastcgi,uwsgi,proxy,scgi}
{
    [ "$(id -u)" != 0 ] || echo "user root;"
    cat <<EOF
worker_processes 1;
daemon off;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $tmp/body;
    fastcgi_temp_path $tmp/fastcgi;
    uwsgi_temp_path $tmp/uwsgi;
    proxy_temp_path $tmp/proxy;
    scgi_temp_path $tmp/scgi;
    server {
        listen 127.0.0.1:$port;
        location / {
            include /etc/nginx/fastcgi_params;
            fastcgi_pass unix:$sock;
        }
    }
}
EOF
} >"$tmp/nginx.conf"
nginx -c "$tmp/nginx.conf" -e "$tmp/nginx-error.log" &
nginx_pid=$!
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$nginx_pid" 2>/dev/null || { cat "$tmp/nginx-error.log" >&2; exit 1; }
    sleep 0.1
done

start_server() { # A|B ROUND
    local log=$tmp/$1.$2.log
    rm -f "$sock"
    # shellcheck disable=SC2086 # extra is empty or one word
    "${bin[$1]}" --socket "$sock" --chdir "$here" --module hello \
        --processes "$procs" --threads "$threads" --logto "$log" ${extra[$1]} &
    server_pid=$!
    for _ in $(seq 200); do
        [ -S "$sock" ] && "$load" -n 1 -t 10 "unix:$sock" >/dev/null 2>&1 && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "bench/ab.sh: $1 (${path[$1]}) did not start; its log:" >&2
    cat "$log" >&2 || true
    exit 1
}

stop_server() {
    stop_tree "$server_pid" 100
    server_pid=""
}

# Runs one scenario's load for $2 seconds; its output goes to
# $tmp/load.out.  The tool runs in the background (and this in the main
# shell, not in a $(...)) so that a signal reaches the trap at once.
run_load() { # SCENARIO SECONDS
    local cmd
    case $1 in
    unix) cmd=("$load" -c "$conns" -d "$2" "unix:$sock") ;;
    unix-keep) cmd=("$load" -c "$conns" -d "$2" -k "unix:$sock") ;;
    post-64k) cmd=("$load" -c "$conns" -d "$2" -b 65536 "unix:$sock") ;;
    nginx) cmd=(wrk -t2 -c"$conns" -d"$2"s "http://127.0.0.1:$port/hello") ;;
    esac
    "${cmd[@]}" >"$tmp/load.out" 2>&1 &
    tool_pid=$!
    wait "$tool_pid" || true
    tool_pid=""
}

# "REQUESTS RPS FAILED" from fcgi-load's line (failed: errors and answers
# other than 200) or from wrk's report (non-2xx/3xx and socket errors).
parse_load() { # SCENARIO < OUTPUT
    if [ "$1" = nginx ]; then
        awk '/ requests in / { n = $1 }
             /^Requests\/sec:/ { r = $2 }
             /Non-2xx or 3xx responses:/ { bad += $5 }
             /Socket errors:/ { gsub(",", ""); bad += $4 + $6 + $8 + $10 }
             END { print n + 0, r + 0, bad + 0 }'
    else
        awk '/^rps=/ {
                for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
                bad = v["errors"]; ns = split(v["status"], st, ",")
                for (i = 1; i <= ns; i++) { split(st[i], sc, ":"); if (sc[1] != 200) bad += sc[2] }
                print v["requests"], v["rps"], bad; found = 1 }
             END { if (!found) print 0, 0, -1 }'
    fi
}

hz=$(getconf CLK_TCK)
results=$tmp/results
: >"$results"
echo "bench/ab.sh: A=${path[A]} B=${path[B]}; $rounds rounds of ${#scenarios[@]} scenarios, ${dur}s each (+${warmup}s warm-up)" >&2
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq "$rounds"); do
    for x in A B; do
        start_server "$x" "$round"
        for sc in "${scenarios[@]}"; do
            run_load "$sc" "$warmup"
            t0=$(proc_tree ticks "$server_pid")
            run_load "$sc" "$dur"
            t1=$(proc_tree ticks "$server_pid")
            out=$(cat "$tmp/load.out")
            read -r n rps bad <<<"$(parse_load "$sc" <<<"$out")"
            cpu=$(awk -v a="$t0" -v b="$t1" -v n="$n" -v hz="$hz" \
                'BEGIN { if (a < 0 || b < 0 || n <= 0) print "nan"; else printf "%.1f", (b - a) * 1e6 / hz / n }')
            echo "$sc $x $rps $cpu $bad" >>"$results"
            printf 'round %d/%d %s %-9s %9.1f req/s %7s CPU us/req  failed %s\n' \
                "$round" "$rounds" "$x" "$sc" "$rps" "$cpu" "$bad" >&2
            if [ "$bad" != 0 ]; then
                { echo "round $round $x $sc:"; grep -E '^rps=|Non-2xx|Socket errors|requests in' <<<"$out" || echo "$out"; } >>"$tmp/notes"
            fi
        done
        kill -0 "$server_pid" 2>/dev/null || echo "round $round $x: the server had died" >>"$tmp/notes"
        stop_server
    done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# "median (min-max)" or a bare median of column $2 of the rows for
# scenario $1 and binary $3 of the results.
summary() { # SCENARIO COLUMN A|B FULL
    awk -v sc="$1" -v col="$2" -v x="$3" '$1 == sc && $2 == x && $col != "nan" { print $col }' "$results" |
        sort -g | awk -v full="$4" '
            { v[NR] = $1 }
            END {
                if (NR == 0) { print "-"; exit }
                m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
                if (full) printf "%.0f (%.0f-%.0f)\n", m, v[1], v[NR]
                else printf "%.1f\n", m
            }'
}

failed() { # SCENARIO A|B
    awk -v sc="$1" -v x="$2" '$1 == sc && $2 == x { n += ($5 < 0 ? 0 : $5); if ($5 < 0) u = 1 } END { printf "%d%s\n", n, (u ? "+unparsed" : "") }' "$results"
}

echo
echo "A = ${path[A]}, B = ${path[B]}: hello.py, processes=$procs threads=$threads;"
echo "$rounds rounds A B A B ..., ${dur}s per scenario after ${warmup}s warm-up; $(nproc) cores, load average $load_before -> $load_after"
echo
echo "| scenario | A req/s median (min-max) | B req/s median (min-max) | B/A | A CPU µs/req | B CPU µs/req | failed A / B |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for sc in "${scenarios[@]}"; do
    case $sc in
    unix) label="unix socket, fcgi-load -c$conns, new conn per request" ;;
    unix-keep) label="unix socket, fcgi-load -c$conns -k (FCGI_KEEP_CONN)" ;;
    nginx) label="nginx, wrk -t2 -c$conns" ;;
    post-64k) label="unix socket, 64 KiB POST, fcgi-load -c$conns -b 65536" ;;
    esac
    a_med=$(summary "$sc" 3 A 0)
    b_med=$(summary "$sc" 3 B 0)
    ratio=$(awk -v a="$a_med" -v b="$b_med" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "-" }')
    printf '| %s | %s | %s | %s | %s | %s | %s / %s |\n' "$label" \
        "$(summary "$sc" 3 A 1)" "$(summary "$sc" 3 B 1)" "$ratio" \
        "$(summary "$sc" 4 A 0)" "$(summary "$sc" 4 B 0)" \
        "$(failed "$sc" A)" "$(failed "$sc" B)"
done
if [ -s "$tmp/notes" ]; then
    echo
    echo "Failures (errors, answers other than 200, dead servers):"
    sed 's/^/    /' "$tmp/notes"
fi
for x in A B; do
    cat "$tmp/$x".*.log 2>/dev/null | grep -v ' INFO ' | head -5 >"$tmp/$x.warn" || true
    if [ -s "$tmp/$x.warn" ]; then
        echo
        echo "$x's log, lines other than INFO (first 5):"
        sed 's/^/    /' "$tmp/$x.warn"
    fi
done
if grep -qE '\[(error|crit|alert|emerg)\]' "$tmp/nginx-error.log" 2>/dev/null; then
    echo
    echo "nginx error log, errors (first 5):"
    grep -E '\[(error|crit|alert|emerg)\]' "$tmp/nginx-error.log" | head -5 | sed 's/^/    /'
fi
