#!/bin/sh
# Installs what is missing on a Debian/Ubuntu machine and builds ipcfs into
# build/. Sourced by the two commands the README gives; safe to run again.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

# liburing-dev and libnuma-dev: libfuse serves FUSE over io_uring only
# where it is built with both (meson.build).
packages="gcc meson ninja-build pkg-config libglib2.0-dev liburing-dev libnuma-dev fuse3 attr util-linux python3 groff-base"
missing=""
for p in $packages; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "setup: installing$missing"
	apt-get update -q >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null
fi

if [ ! -f build/build.ninja ]; then
	meson setup build >/dev/null
fi
ninja -C build >/dev/null
