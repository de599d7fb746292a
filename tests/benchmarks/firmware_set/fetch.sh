#!/bin/bash
# Download the held-out firmware evaluation set: real Debian binary packages of boot, radio, DSP and
# SBI firmware from three releases (Debian 11 bullseye, 12 bookworm, 13 trixie; bookworm is the release
# no signature was written from), with `apt-get download`
# into PRIVATE apt state dirs (the system's apt configuration is never read for state nor modified;
# only the archive URIs are taken from /etc/apt/sources.list.d/debian.sources). Nothing is installed:
# each .deb is unpacked with `dpkg-deb -x` next to it. Idempotent.
#   usage: bash tests/benchmarks/firmware_set/fetch.sh
#   root:  ${ECUSCAN_FIRMWARE_SET:-$HOME/.cache/ecuscan/firmware}
#   output: <root>/<suite>/<arch>/debs/*.deb, <root>/<suite>/<arch>/root/<package>/...
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="${ECUSCAN_FIRMWARE_SET:-$HOME/.cache/ecuscan/firmware}"
SYS_SOURCES="${SYS_SOURCES:-/etc/apt/sources.list.d/debian.sources}"
PKGLIST="$HERE/packages.txt"

uri_of() { awk '/^URIs:/{print $2}' "$SYS_SOURCES" | grep -v security | head -n1; }
sec_uri_of() { awk '/^URIs:/{print $2}' "$SYS_SOURCES" | grep security | head -n1; }

state_init() {  # <dir> <suite> <arch>
  local A="$1" suite="$2" arch="$3" comps
  case "$suite" in
    bullseye) comps="main contrib non-free" ;;
    *)        comps="main non-free-firmware" ;;
  esac
  mkdir -p "$A/etc/sources.list.d" "$A/lists/partial" "$A/cache/archives/partial" "$A/state"
  touch "$A/state/status"
  cat > "$A/etc/sources.list.d/$suite.sources" <<SRC
Types: deb
URIs: $(uri_of)
Suites: $suite $suite-updates
Components: $comps
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $(sec_uri_of)
Suites: $suite-security
Components: $comps
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  APT_OPTS=(
    -o "APT::Architecture=$arch" -o "APT::Architectures=$arch"
    -o "Dir::Etc::SourceList=$A/etc/none.list" -o "Dir::Etc::SourceParts=$A/etc/sources.list.d"
    -o "Dir::Etc::Preferences=$A/etc/none.pref" -o "Dir::Etc::PreferencesParts=$A/etc/none.d"
    -o "Dir::State=$A/state" -o "Dir::State::Lists=$A/lists" -o "Dir::State::status=$A/state/status"
    -o "Dir::Cache=$A/cache" -o "Dir::Cache::archives=$A/cache/archives"
    -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root" -o "Acquire::Languages=none"
  )
  if [ ! -e "$A/.updated" ]; then
    apt-get "${APT_OPTS[@]}" update -q > "$A/update.log" 2>&1 && touch "$A/.updated"
  fi
}

# ONLY=<suite>/<arch> restricts a run to one part (parts can be fetched in parallel)
grep -v '^#' "$PKGLIST" | awk 'NF{print $1, $2}' | sort -u \
  | awk -v o="${ONLY:-}" 'o=="" || o==$1"/"$2' | while read -r suite arch; do
  A="$ROOT/$suite/$arch"
  state_init "$A/apt" "$suite" "$arch"
  mkdir -p "$A/debs" "$A/root"
  for pkg in $(grep -v '^#' "$PKGLIST" | awk -v s="$suite" -v a="$arch" 'NF && $1==s && $2==a {print $3}'); do
    if ! ls "$A/debs/${pkg}_"*.deb >/dev/null 2>&1; then
      # newest first; a version the mirror no longer serves falls back to the next one
      ok=0
      for v in $(apt-cache "${APT_OPTS[@]}" madison "$pkg" 2>/dev/null | awk -F'|' '{gsub(/ /,"",$2); print $2}'); do
        (cd "$A/debs" && apt-get "${APT_OPTS[@]}" download -q "$pkg=$v" > /dev/null 2>&1) && { ok=1; break; }
      done
      [ $ok = 1 ] || { echo "WARN: $suite/$arch $pkg: not downloadable" >&2; continue; }
    fi
    deb=$(ls "$A/debs/${pkg}_"*.deb | tail -n1)
    dest="$A/root/$pkg"
    if [ ! -e "$dest/.extracted" ]; then
      rm -rf "$dest"; mkdir -p "$dest"
      dpkg-deb -x "$deb" "$dest" && \
        { dpkg-deb -f "$deb" Package Version Architecture Source; echo "Deb: $(basename "$deb")"; } > "$dest/.extracted"
    fi
  done
done
