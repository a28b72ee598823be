#!/bin/sh
# Renders an nginx template of this directory:
#   render.sh TEMPLATE OUTPUT PORT SOCKET STATIC_ROOT TMPDIR
# Paths must be absolute.  As root, workers run as root too (see @USER@).
set -eu
if [ "$#" -ne 6 ]; then
    echo "usage: $0 TEMPLATE OUTPUT PORT SOCKET STATIC_ROOT TMPDIR" >&2
    exit 2
fi
template=$1 output=$2 port=$3 socket=$4 static_root=$5 tmpdir=$6
for p in "$socket" "$static_root" "$tmpdir"; do
    case $p in
        /*) ;;
        *) echo "$0: not an absolute path: $p" >&2; exit 2 ;;
    esac
    case $p in
        *'|'* | *' '* | *';'*) echo "$0: unsupported character in: $p" >&2
            exit 2 ;;
    esac
done
case $port in
    '' | *[!0-9]*) echo "$0: bad port: $port" >&2; exit 2 ;;
esac
if [ "$(id -u)" = 0 ]; then
    user_line='user root;'
else
    user_line='# not root: the workers run as the current user'
fi
sed -e "s|@PORT@|$port|g" -e "s|@SOCKET@|$socket|g" \
    -e "s|@STATIC_ROOT@|$static_root|g" -e "s|@TMPDIR@|$tmpdir|g" \
    -e "s|@USER@|$user_line|g" "$template" > "$output"
