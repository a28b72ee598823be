#!/bin/sh
# Renders an nginx template of this directory:
#   render.sh TEMPLATE OUTPUT PORT SOCKET STATIC_ROOT TMPDIR [NAME=VALUE...]
# SOCKET is fcgi-wsgi's address: an absolute unix socket path, or
# HOST:PORT for TCP.  @FASTCGI_ADDR@ becomes what fastcgi_pass wants
# (unix:PATH or HOST:PORT).  Each NAME=VALUE replaces @NAME@ (PREFIX=/app,
# SOCKET2=127.0.0.1:9001, ...).  Paths must be absolute.  As root, workers
# run as root too (see @USER@).  A placeholder left unfilled is an error.
set -eu
if [ "$#" -lt 6 ]; then
    echo "usage: $0 TEMPLATE OUTPUT PORT SOCKET STATIC_ROOT TMPDIR" \
        "[NAME=VALUE...]" >&2
    exit 2
fi
template=$1 output=$2 port=$3 socket=$4 static_root=$5 tmpdir=$6
shift 6

# Characters that would break the sed expressions or the config.
check_chars() {
    case $1 in
        *'|'* | *' '* | *';'* | *'&'* | *'\'*)
            echo "$0: unsupported character in: $1" >&2
            exit 2 ;;
    esac
}

for p in "$static_root" "$tmpdir"; do
    case $p in
        /*) ;;
        *) echo "$0: not an absolute path: $p" >&2; exit 2 ;;
    esac
    check_chars "$p"
done
check_chars "$socket"
case $socket in
    /*) fastcgi_addr="unix:$socket" ;;
    *:[0-9]*) fastcgi_addr=$socket ;;
    *) echo "$0: SOCKET must be an absolute path or HOST:PORT: $socket" >&2
        exit 2 ;;
esac
case $port in
    '' | *[!0-9]*) echo "$0: bad port: $port" >&2; exit 2 ;;
esac
if [ "$(id -u)" = 0 ]; then
    user_line='user root;'
else
    user_line='# not root: the workers run as the current user'
fi

extra=
for pair in "$@"; do
    name=${pair%%=*}
    value=${pair#*=}
    case $name in
        '' | *[!A-Z0-9_]*) echo "$0: expected NAME=VALUE: $pair" >&2
            exit 2 ;;
    esac
    if [ -n "$value" ]; then
        check_chars "$value"
    fi
    extra="$extra -e s|@$name@|$value|g"
done

# $extra is split on purpose (its words are sed arguments without spaces),
# never globbed.
set -f
# shellcheck disable=SC2086
sed -e "s|@PORT@|$port|g" -e "s|@SOCKET@|$socket|g" \
    -e "s|@FASTCGI_ADDR@|$fastcgi_addr|g" \
    -e "s|@STATIC_ROOT@|$static_root|g" -e "s|@TMPDIR@|$tmpdir|g" \
    -e "s|@USER@|$user_line|g" $extra "$template" > "$output"

left=$(grep -o '@[A-Z0-9_][A-Z0-9_]*@' "$output" | sort -u | tr '\n' ' ' || true)
if [ -n "$left" ]; then
    echo "$0: $template: placeholders left unfilled: $left" \
        "(give them as NAME=VALUE)" >&2
    exit 2
fi
