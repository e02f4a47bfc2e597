#!/usr/bin/env bash
# install-deps.sh - installs every Debian package that chuang's build, tests and
# local run need. Idempotent: packages already present are left alone, and the
# package lists are refreshed only when something is missing.
set -euo pipefail

packages=(
    build-essential cmake pkg-config clang-format clang libclang-rt-dev
    libzmq3-dev libczmq-dev libsodium-dev
    libprotobuf-c-dev protobuf-c-compiler libprotobuf-dev
    libhiredis-dev libpq-dev libjansson-dev libcmocka-dev
    postgresql redis-server
    python3 python3-zmq python3-aiosmtpd
    libcurl4-openssl-dev libmicrohttpd-dev curl
    procps iproute2
)

# Node for the checks of the tests that use an independent validator
# (tests/openapi): Debian's, unless the machine has a node and npm already.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
