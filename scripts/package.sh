#!/bin/sh
# Builds the Debian package ipcfs_VERSION-1_ARCH.deb from the last commit
# (a clean copy of it: nothing uncommitted, no build tree), checks it with
# lintian, and leaves it under build/:
#   sh scripts/package.sh
#   apt-get install ./build/ipcfs_*.deb
# Installs what it needs first, as the README's two commands do: dpkg-dev,
# debhelper and lintian, then the Build-Depends of debian/control.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

install_missing() {
	missing=""
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	echo "package: installing$missing"
	apt-get update -q >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null
}
install_missing dpkg-dev debhelper lintian git
# The Build-Depends, read from debian/control by apt itself.
if ! dpkg-checkbuilddeps >/dev/null 2>&1; then
	echo "package: installing the Build-Depends of debian/control"
	DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -q ./ >/dev/null
fi

version=$(dpkg-parsechangelog -S Version)
upstream=${version%-*}
work="$top/build/package"
rm -rf "$work"
mkdir -p "$work/ipcfs-$upstream"
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
	git -C "$top" archive --format=tar HEAD | tar -x -C "$work/ipcfs-$upstream"
	from="commit $(git -C "$top" rev-parse --short HEAD)"
else
	tar -C "$top" --exclude='./build*' --exclude='./subprojects/fuse-*' -cf - . |
		tar -x -C "$work/ipcfs-$upstream"
	from="$top, not a git checkout"
fi

echo "package: building ipcfs $version from $from"
(cd "$work/ipcfs-$upstream" && dpkg-buildpackage -b -us -uc >"$work/build.log" 2>&1) || {
	tail -40 "$work/build.log"
	echo "package: dpkg-buildpackage failed; the whole log is $work/build.log"
	exit 1
}
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
deb="ipcfs_${version}_${arch}.deb"
mv "$work/$deb" "$top/build/$deb"

# Errors fail the build; the warnings that stay are listed, with why, in
# doc/running.md.
lintian --fail-on error --tag-display-limit 0 "$top/build/$deb" | tee "$work/lintian.txt"
echo "package: built build/$deb (log: build/package/build.log)"
