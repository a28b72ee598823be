#!/usr/bin/env bash
# bench/run.sh: fcgi-wsgi against uWSGI and gunicorn, behind the same nginx,
# on this machine, in the same run.  Prints a Markdown table of requests per
# second and each server's ratio to fcgi-wsgi.
#   usage: bench/run.sh [SECONDS] [CONNECTIONS]    (env: PROCS, THREADS)
# Needs: make (the binary), and the Debian packages nginx wrk uwsgi-core
# uwsgi-plugin-python3 gunicorn (`make bench` installs them).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
dur=${1:-10}
conns=${2:-32}
procs=${PROCS:-1}
threads=${THREADS:-1}
tmp=$(mktemp -d /tmp/fw-bench.XXXXXX)
pids=()

cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for() { # path-or-port
    for _ in $(seq 100); do
        if [[ $1 == /* ]]; then [ -S "$1" ] && return 0
        else (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; fi
        sleep 0.1
    done
    echo "bench: $1 never became ready" >&2; return 1
}

port_fw=$(free_port); port_uw=$(free_port); port_gu=$(free_port)
mkdir -p "$tmp"/{body,fastcgi,uwsgi,proxy,scgi}
sed -e "s|@TMP@|$tmp|g" -e "s|@PORT_FW@|$port_fw|" -e "s|@PORT_UW@|$port_uw|" \
    -e "s|@PORT_GU@|$port_gu|" "$here/nginx.conf.in" > "$tmp/nginx.conf"
# As root, nginx's workers would run as nobody and could not reach the
# sockets in our private temp dir.
[ "$(id -u)" != 0 ] || sed -i '1i user root;' "$tmp/nginx.conf"

# As root, fcgi-wsgi serves only when told to (uWSGI and gunicorn do anyway).
allow_root=()
[ "$(id -u)" != 0 ] || allow_root=(--allow-root)
"$top/fcgi-wsgi" "${allow_root[@]}" --socket "$tmp/fw.sock" --chdir "$here" \
    --module hello --processes "$procs" --threads "$threads" \
    --logto "$tmp/fw.log" &
pids+=($!)
uwsgi --plugin python3 --socket "$tmp/uwsgi.sock" --chdir "$here" \
    --module hello --master --processes "$procs" --threads "$threads" \
    --disable-logging --die-on-term --logto "$tmp/uwsgi.log" &
pids+=($!)
gunicorn --bind "unix:$tmp/gunicorn.sock" --workers "$procs" \
    --threads "$threads" --chdir "$here" --log-file "$tmp/gunicorn.log" \
    hello:application &
pids+=($!)
nginx -c "$tmp/nginx.conf" -e "$tmp/nginx-error.log" &
pids+=($!)

wait_for "$tmp/fw.sock"; wait_for "$tmp/uwsgi.sock"; wait_for "$tmp/gunicorn.sock"
wait_for "$port_fw"; wait_for "$port_uw"; wait_for "$port_gu"

run_wrk() { # port -> "rps latency errors"
    local out
    out=$(wrk -t2 -c"$conns" -d"${dur}s" --latency "http://127.0.0.1:$1/")
    local rps lat bad
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    lat=$(awk '/^    Latency/ {print $2}' <<<"$out")
    bad=$(awk '/Non-2xx or 3xx responses:/ {n += $5} /Socket errors:/ {n += $4 + $6 + $8 + $10} END {print n + 0}' <<<"$out" | tr -d ',')
    echo "$rps $lat $bad"
}

declare -A rps lat bad
for name in fcgi-wsgi uWSGI gunicorn; do
    case $name in fcgi-wsgi) p=$port_fw ;; uWSGI) p=$port_uw ;; gunicorn) p=$port_gu ;; esac
    wrk -t1 -c4 -d1s "http://127.0.0.1:$p/" >/dev/null # warm up
    read -r r l b <<<"$(run_wrk "$p")"
    rps[$name]=$r; lat[$name]=$l; bad[$name]=$b
done

echo
echo "hello-world WSGI app, nginx in front, wrk -t2 -c$conns -d${dur}s; processes=$procs threads=$threads; $(nproc) cores"
echo
echo "| server | requests/s | fcgi-wsgi / server | mean latency | failed |"
echo "|---|---:|---:|---:|---:|"
for name in fcgi-wsgi uWSGI gunicorn; do
    ratio=$(awk -v a="${rps[fcgi-wsgi]}" -v b="${rps[$name]}" 'BEGIN { printf "%.2f", a / b }')
    printf '| %s | %s | %s | %s | %s |\n' "$name" "${rps[$name]}" "$ratio" "${lat[$name]}" "${bad[$name]}"
done
