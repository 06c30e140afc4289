#!/bin/sh
# Installs what is missing on a Debian/Ubuntu machine and builds ipcfs into
# build/. Sourced by the two commands the README gives; safe to run again.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

packages="gcc meson ninja-build pkg-config libglib2.0-dev fuse3 attr util-linux python3 groff-base"
missing=""
for p in $packages; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "setup: installing$missing"
	apt-get update -q >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null
fi

# libfuse >= 3.17 with fuse_file_info::stream (see meson.build); no
# release has the latter, so meson builds the release from subprojects/ with
# our patch, whose tarball the cache may need seeding with.
system_fuse=$(pkg-config --atleast-version=3.17 fuse3 2>/dev/null &&
	pkg-config --variable=includedir fuse3 || true)
if [ -z "$system_fuse" ] || ! grep -qs "stream : 1" "$system_fuse/fuse3/fuse_common.h"; then
	sh scripts/fetch-libfuse.sh
fi

if [ ! -f build/build.ninja ]; then
	meson setup build >/dev/null
fi
ninja -C build >/dev/null
