#!/bin/bash
# The Debian package, as an administrator meets it: scripts/package.sh
# builds it from a clean clone, apt-get installs it from a directory with
# no build tree, and then: its files and dependencies, ipcfs linked without
# a libfuse of the system's, mount -t fuse.ipcfs and an fstab line, the man
# page, the mount unit installed but not enabled; then apt-get purge, after
# which /usr, /etc and dpkg's records are exactly as before. The kernel's
# enable_uring switch, which the package's tmpfiles.d line turns on at
# install, is put back as it was. Skipped, saying why, where
# dpkg-buildpackage can't be installed, or where ipcfs is installed already
# (this test would remove it).
T_NO_MOUNT=1
. "$TESTS_DIR/lib.sh"
TOP=$(cd "$TESTS_DIR/.." && pwd)

skip() {
	echo "1..0 # SKIP $1"
	exit 77
}
command -v apt-get >/dev/null || skip "no apt-get: not a Debian system"
dpkg-query -W -f='${Status}' ipcfs 2>/dev/null | grep -q "installed" &&
	skip "ipcfs is installed as a package here already; this test would purge it"
if ! dpkg-query -W -f='${Status}' dpkg-dev debhelper 2>/dev/null | grep -q "ok installed"; then
	apt-get update -q >/dev/null 2>&1
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends dpkg-dev debhelper \
		>/dev/null 2>&1 || skip "dpkg-dev and debhelper can't be installed (apt-get failed)"
fi

WORK=$(mktemp -d /tmp/ipcfs-package.XXXXXX)
PMNT=$WORK/mnt
URING_SWITCH=/sys/module/fuse/parameters/enable_uring
uring_saved=$(cat "$URING_SWITCH" 2>/dev/null || true)
finish() {
	grep -q " $PMNT " /proc/mounts && { umount "$PMNT" 2>/dev/null || umount -l "$PMNT"; }
	dpkg-query -W -f='${Status}' ipcfs 2>/dev/null | grep -q installed &&
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -q ipcfs >/dev/null 2>&1
	case "$uring_saved" in
	Y) echo 1 >"$URING_SWITCH" ;;
	N) echo 0 >"$URING_SWITCH" ;;
	esac
	rm -rf "$WORK"
	t_cleanup
}
trap finish EXIT

# Everything dpkg and apt keep of packages, and the trees a package fills.
snapshot() {
	find /usr /etc /var/lib/dpkg/info -xdev \( -type f -o -type l \) 2>/dev/null | sort
	grep -c '^Package: ' /var/lib/dpkg/status
}
git clone -q "$TOP" "$WORK/src"
out=$(sh "$WORK/src/scripts/package.sh" 2>&1)
status=$?
deb=$(ls "$WORK"/src/build/ipcfs_*.deb 2>/dev/null)
t_eq "scripts/package.sh builds build/ipcfs_VERSION-1_ARCH.deb and says where" \
	"0|ipcfs_0.1.0-1_$(dpkg --print-architecture).deb|yes" \
	"$status|$(basename "$deb")|$(printf '%s\n' "$out" | grep -q "built build/$(basename "$deb")" && echo yes)"
[ "$status" -eq 0 ] || printf '#   %s\n' "$(printf '%s\n' "$out" | tail -20)" >&2
t_eq "lintian reports no error" "" "$(grep '^E: ' "$WORK/src/build/package/lintian.txt" 2>/dev/null)"
# From here on, nothing but the package may change the machine (the build
# installed its Build-Depends, which stay).
snapshot >"$WORK/before"
# The tests run from a build tree: the package is tried from anywhere else.
mkdir "$WORK/elsewhere"
cd "$WORK/elsewhere" || exit 1
cp "$deb" .
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "./$(basename "$deb")" >"$WORK/apt.log" 2>&1
t_eq "apt-get install ./ipcfs_*.deb installs it" "0|install ok installed" \
	"$?|$(dpkg-query -W -f='${Status}' ipcfs 2>/dev/null)"

files=$(dpkg -L ipcfs | while read -r f; do [ -d "$f" ] && [ ! -L "$f" ] || echo "$f"; done | sort)
t_eq "the package holds ipcfs, its man pages, the mount helper, the unit, the io_uring switch's files and the docs" \
	"/usr/bin/ipcfs
/usr/lib/modprobe.d/ipcfs.conf
/usr/lib/systemd/system/mnt-ipc.mount
/usr/lib/tmpfiles.d/ipcfs.conf
/usr/sbin/mount.fuse.ipcfs
/usr/share/doc/ipcfs/changelog.Debian.gz
/usr/share/doc/ipcfs/copyright
/usr/share/man/man1/ipcfs.1.gz
/usr/share/man/man8/mount.fuse.ipcfs.8.gz" "$files"
t_eq "mount.fuse.ipcfs is ipcfs" "/usr/bin/ipcfs" "$(readlink -f /usr/sbin/mount.fuse.ipcfs)"
depends=$(dpkg-query -W -f='${Depends}' ipcfs)
t_eq "Depends: fuse3 and the shared libraries dpkg-shlibdeps found, GLib's and libc's among them" \
	"fuse3|libc6|libglib2.0-0" \
	"$(printf '%s' "$depends" | tr ',' '\n' | sed 's/^ *//; s/ .*//' | grep -xE 'fuse3|libglib2.0-0|libc6' | sort | paste -sd'|')"
t_eq "ipcfs links no libfuse of the system's (3.18.3 linked in)" "" \
	"$(ldd /usr/bin/ipcfs | grep -E 'libfuse|not found')"
t_eq "man ipcfs finds the page" "/usr/share/man/man1/ipcfs.1.gz" \
	"$(man -w ipcfs 2>/dev/null || ls /usr/share/man/man1/ipcfs.1.gz)"

mkdir "$PMNT"
mount -t fuse.ipcfs ipcfs "$PMNT" -o allow_other
Q="$PMNT/mq/${P}pkg"
echo hello >"$Q" 2>/dev/null
got=$(timeout 5 head -c 6 "$Q" 2>/dev/null)
rm -f "$Q"
t_eq "mount -t fuse.ipcfs mounts the installed ipcfs, and a message goes through" \
	"fuse.ipcfs|hello" "$(awk -v m="$PMNT" '$2 == m { print $3 }' /proc/mounts)|$got"
umount "$PMNT"
echo "ipcfs $PMNT fuse.ipcfs allow_other,noauto 0 0" >"$WORK/fstab"
mount -T "$WORK/fstab" "$PMNT"
t_eq "an fstab line mounts it" "fuse.ipcfs" "$(awk -v m="$PMNT" '$2 == m { print $3 }' /proc/mounts)"
umount "$PMNT"
t_eq "the mount unit is installed, not enabled" "installed|" \
	"$([ -f /usr/lib/systemd/system/mnt-ipc.mount ] && echo installed)|$(ls /etc/systemd/system/*.wants/mnt-ipc.mount 2>/dev/null)"
if [ "$(cat /proc/1/comm)" = systemd ]; then
	systemctl enable --now mnt-ipc.mount >/dev/null 2>&1
	t_eq "systemctl enable --now mnt-ipc.mount mounts /mnt/ipc" "fuse.ipcfs" \
		"$(awk '$2 == "/mnt/ipc" { print $3 }' /proc/mounts)"
	systemctl disable --now mnt-ipc.mount >/dev/null 2>&1
else
	echo "# systemd is not PID 1 here: systemctl enable --now mnt-ipc.mount not tried"
fi

DEBIAN_FRONTEND=noninteractive apt-get purge -y -q ipcfs >"$WORK/purge.log" 2>&1
t_eq "apt-get purge ipcfs removes it" "0|" "$?|$(dpkg-query -W -f='${Status}' ipcfs 2>/dev/null)"
cd / || exit 1
snapshot >"$WORK/after"
t_eq "after the purge, /usr, /etc and dpkg's records are as before" "" \
	"$(diff "$WORK/before" "$WORK/after")"
t_done
