#!/usr/bin/env bash
# Fetches Debian's arm64 static busybox for the aarch64 variant of the demo package set
# (nix/demo, `system = "aarch64-linux"`) and installs it as /usr/local/lib/nixyard/busybox-aarch64
# (or $NIXYARD_BUSYBOX_AARCH64). Nothing runs on the foreign architecture: the binary is only
# copied into the Nix store and packed into image layers.
#
# The host's apt and dpkg are left alone: no `dpkg --add-architecture`, no change to
# /var/lib/apt, /var/lib/dpkg or /var/cache/apt. apt runs on a private state directory (a
# temporary directory, removed at the end) holding its package lists, an empty dpkg status file
# and its cache, with APT::Architecture=arm64, and reads the host's sources
# (/etc/apt/sources.list and /etc/apt/sources.list.d/, one-line or deb822) so it uses the same
# mirror. The host's apt.conf.d hooks (cache cleaning, PackageKit, AppStream) are cleared for
# these runs; proxies and other settings from apt.conf.d still apply.
#
# Safe to run again: when the binary is there and is an aarch64 static ELF, it does nothing.
# --force fetches it again. Prints what it does. Needs root (or sudo) to write the destination.
set -euo pipefail

DEST="${NIXYARD_BUSYBOX_AARCH64:-/usr/local/lib/nixyard/busybox-aarch64}"
FORCE=0
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) printf 'fetch-arm64-busybox: unknown argument %s (--force, --help)\n' "$arg" >&2; exit 2 ;;
  esac
done

log() { printf 'fetch-arm64-busybox: %s\n' "$*"; }
die() { printf 'fetch-arm64-busybox: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  SUDO=()
fi

# Bytes [offset, offset+count) of a file as one string of hex digits.
hex_at() { od -An -v -tx1 -j "$2" -N "$3" "$1" | tr -d ' \n'; }
# A little-endian unsigned integer of `count` bytes at `offset`.
le_at() {
  local hex rev="" i
  hex="$(hex_at "$1" "$2" "$3")"
  for ((i = ${#hex} - 2; i >= 0; i -= 2)); do rev+="${hex:i:2}"; done
  printf '%d' "$((16#${rev:-0}))"
}

# Checks that $1 is a 64-bit little-endian ELF executable for aarch64 (e_machine 183) without a
# program interpreter (PT_INTERP), i.e. statically linked. Prints why not, and fails, otherwise.
check_aarch64_static() {
  local f="$1" phoff phentsize phnum i
  [ -f "$f" ] || { echo "no such file"; return 1; }
  [ "$(hex_at "$f" 0 6)" = 7f454c460201 ] || { echo "not a 64-bit little-endian ELF file"; return 1; }
  [ "$(le_at "$f" 18 2)" = 183 ] || { echo "ELF e_machine is $(le_at "$f" 18 2), not 183 (aarch64)"; return 1; }
  phoff="$(le_at "$f" 32 8)"; phentsize="$(le_at "$f" 54 2)"; phnum="$(le_at "$f" 56 2)"
  for ((i = 0; i < phnum; i++)); do
    [ "$(le_at "$f" $((phoff + i * phentsize)) 4)" != 3 ] || { echo "dynamically linked (has PT_INTERP)"; return 1; }
  done
}

# What `file` says about the architecture and linking (what check_aarch64_static checked).
describe() {
  if command -v file >/dev/null 2>&1; then
    file -b "$1" | tr ',' '\n' | sed 's/^ *//' | grep -E '^(ELF|ARM|statically|static-pie)' | paste -sd, - | sed 's/,/, /g'
  else
    echo "ELF 64-bit LSB, ARM aarch64, statically linked"
  fi
}

if [ "$FORCE" -eq 0 ] && why="$(check_aarch64_static "$DEST")"; then
  log "present: $DEST ($(describe "$DEST"))"
  exit 0
fi
[ "$FORCE" -eq 1 ] || [ ! -e "$DEST" ] || log "replacing $DEST: ${why:-}"

for tool in apt-get dpkg-deb od; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is needed (Debian's apt, dpkg and coreutils)"
done

work="$(mktemp -d -t nixyard-arm64-apt.XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/state/lists/partial" "$work/cache/archives/partial" "$work/download"
: >"$work/state/status"
# apt downloads as the unprivileged _apt user when it can: let it reach and write the directories.
chmod 0755 "$work"
if [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1; then
  chown _apt "$work/state/lists/partial" "$work/cache/archives/partial" "$work/download"
fi

# Read after the host's configuration (apt-get -c): replaces what must not touch the host.
cat >"$work/apt.conf" <<EOF
Dir::State "$work/state";
Dir::State::lists "$work/state/lists";
Dir::State::status "$work/state/status";
Dir::State::extended_states "$work/state/extended_states";
Dir::Cache "$work/cache";
Dir::Cache::archives "$work/cache/archives";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Dir::Etc::sourcelist "/etc/apt/sources.list";
Dir::Etc::sourceparts "/etc/apt/sources.list.d";
APT::Architecture "arm64";
#clear APT::Architectures;
APT::Architectures { "arm64"; };
Acquire::Languages "none";
#clear Acquire::IndexTargets::deb::DEP-11;
#clear Acquire::IndexTargets::deb::DEP-11-icons;
#clear Acquire::IndexTargets::deb::DEP-11-icons-small;
#clear Acquire::IndexTargets::deb::DEP-11-icons-hidpi;
#clear Acquire::IndexTargets::deb::DEP-11-icons-large;
#clear Acquire::IndexTargets::deb::DEP-11-icons-large-hidpi;
#clear APT::Update::Pre-Invoke;
#clear APT::Update::Post-Invoke;
#clear APT::Update::Post-Invoke-Success;
#clear DPkg::Pre-Invoke;
#clear DPkg::Post-Invoke;
#clear DPkg::Pre-Install-Pkgs;
EOF
apt_private() { apt-get -c "$work/apt.conf" -o APT::Architecture=arm64 -o APT::Architectures=arm64 -q "$@"; }

log "apt-get update for arm64 in a private state directory ($work), with the host's sources"
# A source that is unreachable or has no arm64 index only warns here: what matters is that
# busybox-static:arm64 can be downloaded below, which fails clearly otherwise.
if ! apt_private update; then
  log "apt-get update reported errors (see above); trying the download anyway" >&2
fi

log "apt-get download busybox-static:arm64"
(cd "$work/download" && apt_private download busybox-static:arm64) ||
  die "could not download busybox-static:arm64: do the host's apt sources (/etc/apt/sources.list, /etc/apt/sources.list.d) point at a Debian mirror that serves arm64 for main?"

deb="$(find "$work/download" -maxdepth 1 -name 'busybox-static_*_arm64.deb' | head -n 1)"
[ -n "$deb" ] || die "apt-get download left no busybox-static_*_arm64.deb"
log "got $(basename "$deb") (version $(dpkg-deb -f "$deb" Version), architecture $(dpkg-deb -f "$deb" Architecture))"
dpkg-deb -x "$deb" "$work/root"
bin="$work/root/bin/busybox"
[ -f "$bin" ] || bin="$work/root/usr/bin/busybox"
[ -f "$bin" ] || die "$(basename "$deb") holds no bin/busybox"
why="$(check_aarch64_static "$bin")" || die "$(basename "$deb")'s busybox is not an aarch64 static ELF: $why"

log "installing $DEST ($(describe "$bin"))"
"${SUDO[@]}" mkdir -p "$(dirname "$DEST")"
"${SUDO[@]}" install -m 0555 "$bin" "$DEST.tmp.$$"
"${SUDO[@]}" mv -f "$DEST.tmp.$$" "$DEST"
log "done: $DEST from $(basename "$deb")"
