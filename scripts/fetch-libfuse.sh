#!/bin/sh
# Seed meson's package cache with the libfuse release tarball, taken from
# Debian's newer fuse3 source package through the mirror this machine already
# uses. No system apt configuration is changed: apt gets a temporary sources
# list and list directory.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
name=fuse-3.17.2.tar.gz
sha=3d932431ad94e86179e5265cddde1d67aa3bb2fb09a5bd35c641f86f2b5ed06f
cache=$top/subprojects/packagecache
dest=$cache/$name

if [ -f "$dest" ] && echo "$sha  $dest" | sha256sum -c --quiet 2>/dev/null; then
	exit 0
fi

# The first Debian mirror URI configured for the system, from either format.
mirror=$( (cat /etc/apt/sources.list 2>/dev/null | awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }';
	cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk 'tolower($1) == "uris:" && $2 !~ /security/ && $2 ~ /debian\/?$/ { print $2 }';
	cat /etc/apt/sources.list.d/*.list 2>/dev/null | awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /debian\/?$/) { print $i; exit } }') | head -n 1)
if [ -z "$mirror" ]; then
	echo "fetch-libfuse: no Debian mirror configured in /etc/apt" >&2
	exit 1
fi

tmp=$(mktemp -d)
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lists/partial" "$tmp/work"
echo "deb-src $mirror trixie main" > "$tmp/sources.list"
opts="-o Dir::Etc::SourceList=$tmp/sources.list -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists=$tmp/lists"
# shellcheck disable=SC2086
apt-get -q $opts update >/dev/null
# shellcheck disable=SC2086
(cd "$tmp/work" && apt-get -q $opts source --download-only fuse3 >/dev/null)
orig=$(ls "$tmp"/work/fuse3_3.17.2.orig.tar.gz 2>/dev/null || true)
if [ -z "$orig" ]; then
	echo "fetch-libfuse: the mirror's trixie has no fuse3 3.17.2 source" >&2
	exit 1
fi
echo "$sha  $orig" | sha256sum -c --quiet
mkdir -p "$cache"
cp "$orig" "$dest"
