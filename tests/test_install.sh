#!/bin/bash
# meson install: what it puts where (into a staging directory), the man page
# (renders without a warning, names every option of --help), the systemd
# unit (systemd-analyze verify), and then, with the installed files in the
# live prefix, the two ways the README mounts: mount -t fuse.ipcfs and an
# fstab line. A file is installed in the live system only where none is, and
# exactly what was installed is removed again, as are the directories made
# for it, on every way out.
T_NO_MOUNT=1
. "$TESTS_DIR/lib.sh"
: "${BUILD_DIR:?set by meson: the build directory}"

STAGE=$(mktemp -d /tmp/ipcfs-install.XXXXXX)
FSTAB=$STAGE.fstab
# meson install rewrites the build's install log, which `ninja uninstall`
# reads: a real install's log is put back at the end.
INSTALL_LOG=$BUILD_DIR/meson-logs/install-log.txt
SAVED_LOG=$STAGE.install-log
[ -e "$INSTALL_LOG" ] && cp -p "$INSTALL_LOG" "$SAVED_LOG"
restore_log() {
	if [ -e "$SAVED_LOG" ]; then mv -f "$SAVED_LOG" "$INSTALL_LOG"; else rm -f "$INSTALL_LOG"; fi
}
live_files=()   # installed here by this test, to remove
live_dirs=()    # made here by this test, in the order made

mounted() { grep -q " $MNT fuse.ipcfs " /proc/mounts; }

# The pid of the daemon serving $MNT.
daemon_pid() { pgrep -f -- " $MNT -o " | head -n 1; }

take_down() {
	local pid
	pid=$(daemon_pid)
	mounted && { umount "$MNT" 2>/dev/null || umount -l "$MNT"; }
	for _ in $(seq 100); do
		[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.05
	done
	kill "$pid" 2>/dev/null
}

uninstall() {
	local i
	take_down
	for i in "${live_files[@]}"; do rm -f "$i"; done
	for ((i = ${#live_dirs[@]} - 1; i >= 0; i--)); do rmdir "${live_dirs[i]}" 2>/dev/null; done
	live_files=() live_dirs=()
}
URING_SWITCH=/sys/module/fuse/parameters/enable_uring
uring_saved=""  # the switch as it was, while this test has changed it
restore_uring() { [ -z "$uring_saved" ] || echo "$uring_saved" >"$URING_SWITCH"; uring_saved=""; }
trap 'uninstall; restore_log; restore_uring; rm -rf "$STAGE" "$FSTAB"; t_cleanup' EXIT

prefix=$(meson introspect "$BUILD_DIR" --buildoptions |
	/usr/bin/python3 -c 'import json, sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')

# The README's command, into a staging directory; --no-rebuild because
# meson test has built it, and the tests share the build directory.
out=$(meson install -C "$BUILD_DIR" --no-rebuild --skip-subprojects --destdir "$STAGE" 2>&1)
status=$?
t_eq "meson install --destdir succeeds" "0" "$status"
[ "$status" -eq 0 ] || printf '#   %s\n' "$out"

want="$prefix/bin/ipcfs
$prefix/lib/modprobe.d/ipcfs.conf
$prefix/lib/systemd/system/mnt-ipc.mount
$prefix/lib/tmpfiles.d/ipcfs.conf
$prefix/share/man/man1/ipcfs.1"
t_eq "it installs ipcfs, ipcfs(1), the unit and the io_uring switch's files, nothing of libfuse" \
	"$want" "$(cd "$STAGE" && find . ! -type d | sed 's/^\.//' | sort)"

BIN=$STAGE$prefix/bin/ipcfs
TMPFILES=$STAGE$prefix/lib/tmpfiles.d/ipcfs.conf
MODPROBE=$STAGE$prefix/lib/modprobe.d/ipcfs.conf
MAN=$STAGE$prefix/share/man/man1/ipcfs.1
UNIT=$STAGE$prefix/lib/systemd/system/mnt-ipc.mount

runs="$("$BIN" --version 2>&1 | head -n 1)|$(ldd "$BIN" | grep 'not found')"
t_eq "the installed ipcfs runs on its own (libfuse linked in)" "ipcfs version 0.1.0|" "$runs"
[ "$runs" = "ipcfs version 0.1.0|" ] ||
	echo "#   a build directory set up before libfuse was static needs: meson configure -Dlibfuse:default_library=static"

# The man page: no warning from groff, and every option --help lists.
if command -v groff >/dev/null 2>&1; then
	t_eq "the man page renders without warnings" "" "$(groff -man -Tascii -ww -z "$MAN" 2>&1)"
	# One long line per paragraph, no hyphenation, no formatting: each
	# option shows as the user types it.
	page=$(groff -man -Tascii -P-cbou -rLL=2000n -rHY=0 "$MAN" 2>/dev/null)
	options=() missing=""
	while IFS=$'\t' read -r -a fields; do
		for f in "${fields[@]}"; do
			[[ $f == -* ]] || break
			options+=("$f")
			printf '%s\n' "$page" | grep -qF -- "$f" || missing+=" [$f]"
		done
	done < <("$IPCFS" --help | sed -E 's/^ +//; s/ {2,}/\t/g')
	t_eq "--help lists options (at least 15 found)" "yes" "$([ "${#options[@]}" -ge 15 ] && echo yes)"
	t_eq "the man page names every option --help lists (${#options[@]})" "" "$missing"
else
	ok "the man page renders without warnings # SKIP no groff"
	ok "--help lists options # SKIP no groff"
	ok "the man page names every option # SKIP no groff"
fi

# The unit, with the man page it names (Documentation=) where man finds it.
if command -v systemd-analyze >/dev/null 2>&1; then
	t_eq "systemd-analyze verify accepts the unit" "0:" \
		"$(cd / && MANPATH=$STAGE$prefix/share/man systemd-analyze verify "$UNIT" 2>&1; echo "$?:")"
else
	ok "systemd-analyze verify # SKIP no systemd-analyze"
fi

# FUSE over io_uring at boot: what systemd-tmpfiles does with the
# tmpfiles.d line at boot, done now with the switch off and put back after;
# the modprobe.d line is the module option of the same switch.
t_eq "modprobe.d/ipcfs.conf sets fuse's enable_uring" "options fuse enable_uring=1" \
	"$(grep -v '^#' "$MODPROBE")"
if [ ! -e "$URING_SWITCH" ]; then
	ok "tmpfiles.d/ipcfs.conf turns FUSE over io_uring on # SKIP the kernel has no $URING_SWITCH"
elif ! command -v systemd-tmpfiles >/dev/null 2>&1; then
	ok "tmpfiles.d/ipcfs.conf turns FUSE over io_uring on # SKIP no systemd-tmpfiles"
else
	uring_saved=$(cat "$URING_SWITCH")
	echo N >"$URING_SWITCH"
	out=$(systemd-tmpfiles --create "$TMPFILES" 2>&1)
	t_eq "tmpfiles.d/ipcfs.conf turns FUSE over io_uring on" "|Y" "$out|$(cat "$URING_SWITCH")"
	restore_uring
fi

# Into the live prefix, only where nothing is: ": >" under noclobber
# creates a file or fails if one exists, atomically. On failure, says why
# in $why and leaves what it did for uninstall.
install_live() {
	local staged live dir missing_dirs
	while IFS= read -r staged; do
		live=${staged#"$STAGE"}
		missing_dirs=() dir=$(dirname "$live")
		while [ ! -d "$dir" ]; do
			missing_dirs=("$dir" "${missing_dirs[@]}")
			dir=$(dirname "$dir")
		done
		for dir in "${missing_dirs[@]}"; do
			mkdir "$dir" || { why="cannot make $dir"; return 1; }
			live_dirs+=("$dir")
			installed+=("$dir")
		done
		( set -C; : > "$live" ) 2>/dev/null || { why="$live exists"; return 1; }
		live_files+=("$live")
		installed+=("$live")
		cp --preserve=mode "$staged" "$live" || { why="cannot copy to $live"; return 1; }
	done < <(find "$STAGE" ! -type d)
}

# From /, so that mount does not take the source "ipcfs" for a file here.
cd /
why="" installed=()
if ! install_live; then
	uninstall
	for t in "mount -t fuse.ipcfs" "an fstab line" "man ipcfs" "the installed unit"; do
		ok "$t # SKIP not installed in $prefix: $why"
	done
elif ! command -v mount.fuse3 >/dev/null 2>&1 && [ ! -x /sbin/mount.fuse3 ]; then
	for t in "mount -t fuse.ipcfs" "an fstab line" "man ipcfs" "the installed unit"; do
		ok "$t # SKIP no mount.fuse3 (Debian package fuse3)"
	done
else
	# Checks the mount at $MNT: served by the installed ipcfs, the tree is
	# there, and a queue made through it works. Prints what differs.
	check_mount() {
		local pid=$(daemon_pid) q="$MNT/mq/${P}$1"
		mounted || { echo "not mounted"; return; }
		[ "$(readlink "/proc/$pid/exe")" = "$prefix/bin/ipcfs" ] ||
			echo "served by '$(readlink "/proc/$pid/exe")'"
		for d in mq shm sem sysv sysv/msg sysv/sem sysv/shm; do
			[ -d "$MNT/$d" ] || echo "no $d/"
		done
		touch "$q" && echo "hello" > "$q"
		[ "$(dd if="$q" bs=1M count=1 status=none)" = "hello" ] || echo "the queue does not work"
		rm -f "$q"
	}

	mount -t fuse.ipcfs ipcfs "$MNT" -o allow_other
	t_eq "mount -t fuse.ipcfs -o allow_other runs the installed ipcfs" "ipcfs $MNT fuse.ipcfs|allow_other|" \
		"$(grep " $MNT " /proc/mounts | cut -d' ' -f1-3)|$(grep " $MNT " /proc/mounts | grep -o allow_other)|$(check_mount a)"
	take_down

	echo "ipcfs $MNT fuse.ipcfs allow_other,mq_msgsize=256 0 0" > "$FSTAB"
	mount --fstab "$FSTAB" "$MNT"
	t_eq "an fstab line mounts the installed ipcfs, with its options" "ipcfs $MNT fuse.ipcfs|256|" \
		"$(grep " $MNT " /proc/mounts | cut -d' ' -f1-3)|$(touch "$MNT/mq/${P}fstab" &&
			getfattr --absolute-names --only-values -n user.mq.msgsize "$MNT/mq/${P}fstab"; rm -f "$MNT/mq/${P}fstab")|$(check_mount b)"
	take_down

	if command -v man >/dev/null 2>&1; then
		# Debian's /usr/local/man is a link to share/man.
		t_eq "man ipcfs finds the installed page" "$prefix/share/man/man1/ipcfs.1" \
			"$(realpath "$(man -w ipcfs 2>&1)" 2>&1)"
	else
		ok "man ipcfs # SKIP no man"
	fi
	if command -v systemd-analyze >/dev/null 2>&1; then
		t_eq "systemd-analyze verify accepts the installed unit" "0:" \
			"$(systemd-analyze verify "$prefix/lib/systemd/system/mnt-ipc.mount" 2>&1; echo "$?:")"
	else
		ok "the installed unit # SKIP no systemd-analyze"
	fi
	uninstall
fi
t_eq "what the test installed is gone again" "" \
	"$(for f in "${installed[@]}"; do [ -e "$f" ] && echo "$f"; done)"

t_done
