#!/bin/sh
# Installs the Debian packages Liaison needs to build, test and run, if any
# is missing: with apt-get when run as root, otherwise it prints the line to run.
set -eu

PACKAGES="build-essential cmake ninja-build pkg-config clang python3 \
libzmq3-dev libsodium-dev liblmdb-dev lmdb-utils libcmocka-dev \
libcyaml-dev libyaml-dev libjansson-dev libmicrohttpd-dev libcurl4-openssl-dev libxml2-dev libicu-dev \
python3-nacl chromium chromium-driver"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    echo "deps.sh: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
else
    echo "deps.sh: missing Debian packages; run as root:" >&2
    echo "    apt-get install -y$missing" >&2
    exit 69
fi
