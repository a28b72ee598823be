#!/usr/bin/env bash
# The demo (`make run`): the Django project of examples/django served by
# ./fcgi-wsgi on a unix socket, nginx in front on http://127.0.0.1:8080/.
#
#   PORT=8081 examples/run-demo.sh       another port
#   DEMO_DB=/path/db.sqlite3 ...         another database (default: kept in
#                                        examples/django/db.sqlite3)
#   FCGI_WSGI="cmd ..." ...              another server command
#
# Everything else (socket, static files, nginx's config, logs and temp
# files) lives in a temp dir removed at exit.  Ctrl-C (or SIGTERM, to the
# script or to its whole process group, once or more) stops both servers.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

PYTHON=/usr/bin/python3
PORT=${PORT:-8080}
READY_TIMEOUT=15
read -r -a server_cmd <<< "${FCGI_WSGI:-$repo/fcgi-wsgi}"
# fcgi-wsgi refuses to serve as root without a uid (php-fpm's rule); the
# demo runs it as whoever runs this script, root included (make run on a
# fresh machine), so as root it says so.
[ "$(id -u)" != 0 ] || server_cmd+=(--allow-root)

die() {
    echo "run-demo: $*" >&2
    exit 1
}

[ -x "${server_cmd[0]}" ] || die "${server_cmd[0]} not found: run make first"
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx_bin" ] || die "nginx is not installed (make deps)"
$PYTHON -c 'import django' 2>/dev/null ||
    die "$PYTHON cannot import django (make deps installs python3-django)"
case $PORT in
    '' | *[!0-9]*) die "PORT must be a number, not '$PORT'" ;;
esac
if ! $PYTHON - "$PORT" <<'EOF'
import socket, sys
s = socket.socket()
try:
    s.bind(('127.0.0.1', int(sys.argv[1])))
except OSError as e:
    sys.exit(1)
EOF
then
    die "port $PORT is busy (something listens on it): stop it, or run" \
        "PORT=8081 $0"
fi

tmp=$(mktemp -d /tmp/fcgi-wsgi-demo.XXXXXX)
server_pid=
nginx_pid=

# Stops one process by pid: SIGTERM, up to 10 s, then SIGKILL.
stop_pid() {
    local pid=$1 i
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "run-demo: pid $pid ignored SIGTERM: killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

# Runs once, at exit.  A terminal, systemd or docker stopping `make run`
# signals the whole process group, and make then sends its own SIGTERM to
# this script: further signals are ignored from here on, so that a second
# one cannot end the script half way and leave the servers running.
cleanup() {
    trap '' INT TERM HUP
    trap - EXIT
    stop_pid "$nginx_pid"
    stop_pid "$server_pid"
    rm -rf "$tmp"
}
# A stop signal: once taken, further ones are ignored.  Between starting
# a server and noting its pid (`launching`), it is only noted, and acted
# on once the pid is known (launched), so that cleanup never misses one.
stop_asked=
launching=
on_stop() {
    trap '' INT TERM HUP
    stop_asked=1
    [ -z "$launching" ] || return 0
    echo
    echo "run-demo: stopping"
    exit 0
}
launched() {
    launching=
    [ -z "$stop_asked" ] || on_stop
}
trap cleanup EXIT
trap on_stop INT TERM HUP

export DEMO_DB=${DEMO_DB:-$repo/examples/django/db.sqlite3}
export DEMO_STATIC_ROOT=$tmp/static
export DEMO_UPLOAD_TMP=$tmp/upload
mkdir -p "$DEMO_UPLOAD_TMP"

manage() {
    (cd examples/django && $PYTHON manage.py "$@")
}
echo "run-demo: preparing the Django project (database: $DEMO_DB)"
manage migrate --noinput -v 0
manage collectstatic --noinput -v 0
if manage shell -c 'import sys
from django.contrib.auth import get_user_model
sys.exit(0 if get_user_model().objects.filter(username="admin").exists()
         else 1)'; then
    echo "run-demo: admin user exists"
else
    DJANGO_SUPERUSER_PASSWORD=admin manage createsuperuser --noinput \
        --username admin --email admin@example.com >/dev/null
    echo "run-demo: created the admin user"
fi

# Each server in its own session: Ctrl-C reaches only this script, whose
# trap stops them in order (nginx first).
socket=$tmp/app.sock
launching=1
setsid "${server_cmd[@]}" --socket "unix:$socket" --chdir examples/django \
    --module config.wsgi --processes 2 &
server_pid=$!
launched

for i in $(seq $((READY_TIMEOUT * 10))); do
    [ -S "$socket" ] && break
    kill -0 "$server_pid" 2>/dev/null || die "fcgi-wsgi exited (see above)"
    sleep 0.1
done
[ -S "$socket" ] || die "fcgi-wsgi: no socket after ${READY_TIMEOUT} s"

# nginx's locations are the ones fcgi-wsgi prints for these options.
"${server_cmd[@]}" --print-config nginx --socket "unix:$socket" \
    --chdir examples/django --module config.wsgi \
    --static-map "/static/=$DEMO_STATIC_ROOT" > "$tmp/fcgi-wsgi.locations" ||
    die "fcgi-wsgi --print-config nginx failed"
cp /etc/nginx/fastcgi_params "$tmp/fastcgi_params"
sh examples/nginx/render.sh examples/nginx/demo.conf.in \
    "$tmp/nginx.conf" "$PORT" "$socket" "$DEMO_STATIC_ROOT" "$tmp"
launching=1
setsid "$nginx_bin" -p "$tmp" -e "$tmp/error.log" -c "$tmp/nginx.conf" &
nginx_pid=$!
launched

ready=
for i in $(seq $((READY_TIMEOUT * 10))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        ready=1
        break
    fi
    if ! kill -0 "$nginx_pid" 2>/dev/null; then
        cat "$tmp/error.log" >&2 || true
        die "nginx exited"
    fi
    sleep 0.1
done
[ -n "$ready" ] || die "nginx: port $PORT not ready after ${READY_TIMEOUT} s"

cat <<EOF

  fcgi-wsgi demo: http://127.0.0.1:$PORT/
  admin:          http://127.0.0.1:$PORT/admin/  (user admin, password admin)

  fcgi-wsgi pid $server_pid on unix:$socket, nginx pid $nginx_pid.
  The server's log follows; Ctrl-C stops both.

EOF

# Until Ctrl-C, or until one of them dies.
set +e
wait -n "$server_pid" "$nginx_pid"
status=$?
set -e
echo "run-demo: a server exited (status $status); stopping the other" >&2
exit 1
