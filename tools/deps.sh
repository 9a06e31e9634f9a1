#!/bin/sh
# deps.sh WHAT: makes sure the Debian packages that WHAT (build, test, demo,
# asan, tsan, fuzz) needs are installed. As root it installs the missing ones with
# apt-get; otherwise it prints the exact command to run and fails.
set -e
what=${1:-build}
pkgs="gcc make pkg-config libsqlite3-dev libopenblas-dev libzstd-dev libpcre2-dev"
# the dqlite cluster test (tests/dqlite): libdqlite for its node, Go and
# go-dqlite's library (with the packages it needs) for its client
dqlite="libdqlite-dev golang-go golang-github-canonical-go-dqlite-dev"
case "$what" in
  test) pkgs="$pkgs sqlite3 python3 python3-jsonschema nodejs npm unicode-data $dqlite" ;;
  demo) pkgs="$pkgs sqlite3" ;;
  asan) pkgs="$pkgs sqlite3 python3 python3-jsonschema nodejs npm unicode-data clang libclang-rt-14-dev $dqlite" ;;
  tsan|fuzz) pkgs="$pkgs sqlite3 python3 python3-jsonschema nodejs npm unicode-data clang libclang-rt-14-dev" ;;
esac
missing=""
for p in $pkgs; do
  # nodejs may come from elsewhere than Debian (a newer node on PATH): accept it.
  if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
  if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "deps: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
  echo "deps: missing Debian packages:$missing" >&2
  echo "deps: run: sudo apt-get install -y$missing" >&2
  exit 1
fi
