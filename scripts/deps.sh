#!/bin/sh
# Installs the Debian packages xva needs to build and test, if missing.
set -eu
pkgs="build-essential cmake pkg-config clang libclang-rt-14-dev
  libxml2-dev libzstd-dev zlib1g-dev libxxhash-dev libssl-dev libjansson-dev
  libarchive-dev libmicrohttpd-dev libcurl4-openssl-dev libsqlite3-dev
  curl python3 tar gzip zstd xxhash openssl valgrind time clang-format-14"
missing=""
for p in $pkgs; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing packages:$missing (run as root, or install them)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
