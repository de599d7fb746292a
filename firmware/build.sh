#!/bin/bash
# Build the ecuscan demo ECU images (firmware/*.elf|hex|srec|vbf|bin) from our own small C sources
# in firmware/src/ linked with real open-source libraries taken from Debian SOURCE packages
# (lwIP, mbed TLS, wolfSSL/wolfCrypt, zlib) and Debian's arm-none-eabi-gcc + newlib.
#
#   usage (as root on Debian 12 or later, archive reachable):   bash firmware/build.sh [--no-vbf]
#   env:   FW_BUILD=<dir>   work dir (default firmware/build, git-ignored): apt state, sources, objects
#          REFRESH=1        re-read the apt indexes
#          PYTHON=<python>  interpreter that can import ecuscan (for the VBF writer); default: the
#                           repository's venv if one is found, else python3 with PYTHONPATH=<repo>
#          ONLY="<image> ..."  development: build only these into $FW_BUILD/obj, write nothing else
#          SOURCE_DATE_EPOCH  fixed below unless set (reproducible __DATE__ and ELF contents)
#
# Output (committed): firmware/<image>.*, firmware/expected.json (ground truth computed from what was
# built), firmware/NOTICE (library versions and licences read from the Debian source packages).
# Sources come from a private apt state (the system's apt configuration is never modified): deb-src
# entries derived from /etc/apt/sources.list.d/debian.sources for bookworm (Debian 12) and trixie
# (Debian 13), whatever host the machine's own sources name.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
B="${FW_BUILD:-$HERE/build}"
WITH_VBF=1
for a in "$@"; do
  case "$a" in
    --no-vbf) WITH_VBF=0 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "unknown argument: $a" >&2; exit 2 ;;
  esac
done
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-1767225600}"   # 2026-01-01T00:00:00Z
export LC_ALL=C TZ=UTC
umask 022
mkdir -p "$B"
log() { echo "[build.sh] $*" >&2; }

# ---------------------------------------------------------------------------------------------
# 1. toolchain and helpers (Debian packages from the machine's own archive)
need=()
command -v arm-none-eabi-gcc >/dev/null || need+=(gcc-arm-none-eabi)
[ -e /usr/lib/arm-none-eabi/newlib/thumb/v7e-m+fp/hard/libc_nano.a ] || need+=(libnewlib-arm-none-eabi)
command -v arm-none-eabi-objcopy >/dev/null || need+=(binutils-arm-none-eabi)
command -v dpkg-source >/dev/null || need+=(dpkg-dev)
command -v python3 >/dev/null || need+=(python3)
if [ "${#need[@]}" -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get install -y --no-install-recommends "${need[@]}" \
    || { apt-get update -q && apt-get install -y --no-install-recommends "${need[@]}"; }
fi

# ---------------------------------------------------------------------------------------------
# 2. Debian source packages through private apt states, one per release (bookworm = Debian 12,
#    trixie = Debian 13; each with its -updates and -security suites), deb-src only
SYS_SOURCES="${SYS_SOURCES:-/etc/apt/sources.list.d/debian.sources}"
declare -A APT_STATE_DONE
apt_for() {   # apt_for <release>: sets APT_OPTS for that release's private state (created on first use)
  local rel="$1" A="$B/apt/$1"
  mkdir -p "$A/etc/sources.list.d" "$A/lists/partial" "$A/cache/archives/partial" "$A/state"
  touch "$A/state/status"
  if [ ! -s "$A/etc/sources.list.d/$rel.sources" ]; then
    [ -r "$SYS_SOURCES" ] || { log "ERROR: $SYS_SOURCES not readable (need the Debian deb822 sources)"; return 1; }
    grep -v '^[[:space:]]*#' "$SYS_SOURCES" \
      | sed -e "s/\\bbookworm\\b/$rel/g; s/\\bbookworm-/$rel-/g" -e 's/^Types:.*/Types: deb-src/' \
      > "$A/etc/sources.list.d/$rel.sources"
  fi
  APT_OPTS=(
    -o "Dir::Etc::SourceList=$A/etc/none.list" -o "Dir::Etc::SourceParts=$A/etc/sources.list.d"
    -o "Dir::Etc::Preferences=$A/etc/none.pref" -o "Dir::Etc::PreferencesParts=$A/etc/none.d"
    -o "Dir::State=$A/state" -o "Dir::State::Lists=$A/lists" -o "Dir::State::status=$A/state/status"
    -o "Dir::Cache=$A/cache" -o "Dir::Cache::archives=$A/cache/archives"
    -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root" -o "Acquire::Languages=none"
  )
  if [ -z "${APT_STATE_DONE[$rel]:-}" ] && { [ ! -e "$A/.updated" ] || [ "${REFRESH:-0}" = 1 ]; }; then
    log "apt-get update ($rel, private state in $A)"
    apt-get "${APT_OPTS[@]}" update -q > "$A/update.log" 2>&1 || { cat "$A/update.log" >&2; return 1; }
    grep -q '^E:' "$A/update.log" && log "WARN: apt-get update $rel reported errors (see $A/update.log)"
    touch "$A/.updated"
  fi
  APT_STATE_DONE[$rel]=1
}

# fetch <key> <package> <release>: newest source version of <package> in <release> (security and
# updates included), unpacked with the Debian patches applied -> SRCDIR[key], SRCVER[key]
declare -A SRCDIR SRCVER SRCPKG
mkdir -p "$B/dl" "$B/tree"
fetch() {
  local key="$1" pkg="$2" rel="$3" ver dsc d
  apt_for "$rel"
  # candidate versions, newest first (dpkg ordering); a version the index announces but the mirror
  # does not serve yet (404 during a sync) falls back to the next one
  local cands=() v i j t ok=0
  mapfile -t cands < <(apt-cache "${APT_OPTS[@]}" showsrc "$pkg" 2>/dev/null \
                       | awk -v p="$pkg" '/^Package: /{pk=$2} /^Version: /&&pk==p{print $2}' | sort -u)
  for ((i = 1; i < ${#cands[@]}; i++)); do
    for ((j = i; j > 0; j--)); do
      dpkg --compare-versions "${cands[j-1]}" lt "${cands[j]}" || break
      t="${cands[j]}"; cands[j]="${cands[j-1]}"; cands[j-1]="$t"
    done
  done
  [ "${#cands[@]}" -gt 0 ] || { log "ERROR: no source package $pkg in $rel"; return 1; }
  for v in "${cands[@]}"; do
    ver="${v#*:}"                                   # file names carry no epoch
    dsc="$B/dl/${pkg}_${ver}.dsc"
    if [ -e "$dsc" ]; then ok=1; break; fi
    if [ "${REFRESH:-0}" != 1 ] && grep -qxF "$pkg=$v" "$B/dl/unavailable.txt" 2>/dev/null; then continue; fi
    log "apt-get source $pkg=$v ($rel)"
    if (cd "$B/dl" && apt-get "${APT_OPTS[@]}" source --download-only -q "$pkg=$v" > "$B/dl/$pkg-$rel.log" 2>&1); then
      ok=1; break
    fi
    echo "$pkg=$v" >> "$B/dl/unavailable.txt"
    log "WARN: $pkg=$v not downloadable ($(grep -m1 '^E:' "$B/dl/$pkg-$rel.log" | sed 's/ \[IP:.*//')), trying an older one"
  done
  [ "$ok" = 1 ] || { log "ERROR: no downloadable source for $pkg in $rel"; return 1; }
  d="$B/tree/${pkg}-${ver}"
  if [ ! -e "$d/.unpacked" ]; then
    rm -rf "$d"
    dpkg-source --no-check -x "$dsc" "$d" > "$B/tree/${pkg}-${ver}.log" 2>&1 \
      || { cat "$B/tree/${pkg}-${ver}.log" >&2; return 1; }
    touch "$d/.unpacked"
  fi
  SRCDIR[$key]="$d"; SRCVER[$key]="$(awk '/^Version: /{print $2; exit}' "$dsc")"; SRCPKG[$key]="$pkg"
  printf '%s\t%s\t%s\t%s\t%s\n' "$key" "$pkg" "${SRCVER[$key]}" "$rel" "$d" >> "$B/sources.tsv"
  log "source $key: $pkg ${SRCVER[$key]} ($rel)"
}
: > "$B/sources.tsv"
fetch lwip13    lwip    trixie
fetch mbedtls13 mbedtls trixie
fetch wolfssl13 wolfssl trixie
fetch zlib13    zlib    trixie
fetch lwip12    lwip    bookworm
fetch mbedtls12 mbedtls bookworm
fetch zlib12    zlib    bookworm

# ---------------------------------------------------------------------------------------------
# 3. compile and link
CC=arm-none-eabi-gcc
S="$HERE/src"
OUT="$HERE"
: > "$B/images.tsv"

# lib_sources <key> <kind>: the library files an image compiles (the linker drops what is unused)
lib_sources() {
  local d="${SRCDIR[$1]}"
  case "$2" in
    lwip)    ls "$d"/src/core/*.c "$d"/src/core/ipv4/*.c; echo "$d/src/netif/ethernet.c" ;;
    mbedtls) ls "$d"/library/*.c ;;
    wolfcrypt)
      for f in aes error hash hmac logging memory random sha256 wc_port; do echo "$d/wolfcrypt/src/$f.c"; done ;;
    zlib)    for f in adler32 compress crc32 deflate inffast inflate inftrees trees uncompr zutil; do echo "$d/$f.c"; done ;;
    zcrc)    for f in crc32 zutil; do echo "$d/$f.c"; done ;;
  esac
}

# build <image> <cpu> <flash> <flashlen> <ramlen> <prefix-map> <elf-mode> <debug> <libs...>
#   elf-mode: full (symbols and DWARF kept) | symbols (symbols, no DWARF) | strip (nothing) ; debug: -g flags for our own sources ("" = none)
#   libs: key:kind pairs, e.g. lwip13:lwip mbedtls13:mbedtls
build() {
  local name="$1" cpu="$2" flash="$3" flashlen="$4" ramlen="$5" pmap="$6" mode="$7" dbg="$8"; shift 8
  local O="$B/obj/$name" dir="${name%%_*}"
  if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then return 0; fi
  local inc=(-I"$S/$dir" -I"$S/common/include") defs=() maps=() own=() spec key kind nsrc=0
  rm -rf "$O"; mkdir -p "$O"
  # compile in the object dir (DW_AT_comp_dir); every build path maps to a fixed, realistic one
  maps+=(-ffile-prefix-map="$S"=/home/builder/"$pmap"/src -ffile-prefix-map="$O"=/home/builder/"$pmap"/build)
  for spec in "$@"; do
    key="${spec%%:*}"; kind="${spec#*:}"
    case "$kind" in
      lwip)      inc+=(-I"${SRCDIR[$key]}/src/include") ;;
      mbedtls)   inc+=(-I"${SRCDIR[$key]}/include"); defs+=(-DMBEDTLS_CONFIG_FILE='"mbedtls_ecu_config.h"') ;;
      wolfcrypt) inc+=(-I"${SRCDIR[$key]}"); defs+=(-DWOLFSSL_USER_SETTINGS) ;;
      zlib|zcrc) inc+=(-I"${SRCDIR[$key]}") ;;
    esac
    maps+=(-ffile-prefix-map="${SRCDIR[$key]}"=/home/builder/"$pmap"/third_party/"$(basename "${SRCDIR[$key]}")")
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$kind" "${SRCPKG[$key]}" "${SRCVER[$key]}" "${SRCDIR[$key]}" >> "$B/components.tsv"
  done
  own=("$S/common/startup.c" "$S/common/board.c" "$S/common/uds_ident.c" "$S/$dir/main.c")
  local cflags=($cpu -mthumb -Os -std=gnu11 -ffunction-sections -fdata-sections -fno-common
                "${maps[@]}" "${inc[@]}" "${defs[@]}")
  # own code: warnings on, optional DWARF -> own_<file>.o
  cd "$O"
  printf '%s\n' "${own[@]}" | xargs -P "$(nproc)" -I{} sh -c \
    'exec "$0" "$@" -Wall -Wextra -c "{}" -o "'"$O"'/own_$(basename "{}" .c).o"' "$CC" "${cflags[@]}" $dbg
  # libraries as shipped, no warnings -> <kind>_<file>.o (the map file names the library of each object)
  for spec in "$@"; do
    key="${spec%%:*}"; kind="${spec#*:}"
    lib_sources "$key" "$kind" > "$O/$kind.sources"
    nsrc=$((nsrc + $(wc -l < "$O/$kind.sources")))
    xargs -P "$(nproc)" -I{} sh -c \
      'exec "$0" "$@" -w -c "{}" -o "'"$O/$kind"'_$(basename "{}" .c).o"' "$CC" "${cflags[@]}" < "$O/$kind.sources"
  done
  cd "$HERE"
  log "== $name ($cpu): ${#own[@]} own + $nsrc library sources"
  sed -e "s/@FLASH@/$flash/; s/@FLASHLEN@/$flashlen/; s/@RAMLEN@/$ramlen/; s/@NAME@/$name/" \
      "$S/common/cortexm.ld.in" > "$O/link.ld"
  # objects in a fixed order (reproducible link)
  local objs; objs=$(cd "$O" && ls -1 *.o | sort | sed "s|^|$O/|")
  $CC $cpu -mthumb -Os -T "$O/link.ld" -nostartfiles --specs=nano.specs --specs=nosys.specs \
      -Wl,--gc-sections -Wl,--build-id=sha1 -Wl,-Map="$O/$name.map" -Wl,--no-warn-rwx-segments \
      -o "$O/$name.full.elf" $objs -lc -lgcc -lnosys
  case "$mode" in
    full)    cp "$O/$name.full.elf" "$O/$name.elf" ;;
    symbols) arm-none-eabi-strip --strip-debug -o "$O/$name.elf" "$O/$name.full.elf" ;;
    strip) arm-none-eabi-strip --strip-all -o "$O/$name.elf" "$O/$name.full.elf" ;;
  esac
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$cpu" "$flash" "$mode" "/home/builder/$pmap" >> "$B/images.tsv"
  arm-none-eabi-size "$O/$name.full.elf" | tail -n 1 >&2
}

: > "$B/components.tsv"
M0P="-mcpu=cortex-m0plus -mfloat-abi=soft"
M4="-mcpu=cortex-m4 -mfloat-abi=hard -mfpu=fpv4-sp-d16"
M7="-mcpu=cortex-m7 -mfloat-abi=hard -mfpu=fpv5-d16"
M33="-mcpu=cortex-m33 -mfloat-abi=hard -mfpu=fpv5-sp-d16"
#     image      cpu   flash      len   ram   build path (prefix map)  elf   debug  libraries
build bcm_app    "$M4"  0x08000000 512K  128K  acme/bcm                full  "-g"   lwip13:lwip mbedtls13:mbedtls
build gw_app     "$M7"  0x08020000 896K  256K  kestrel/gw-fw           strip ""     lwip13:lwip wolfssl13:wolfcrypt zlib13:zlib
build tcu_app    "$M33" 0x00010000 448K  128K  telenova/tcu            symbols ""     lwip12:lwip mbedtls12:mbedtls zlib12:zlib
build sensor_raw "$M0P" 0x08008000 96K   16K   picosense/sns           symbols ""     zlib13:zcrc

# ---------------------------------------------------------------------------------------------
if [ -n "${ONLY:-}" ]; then log "ONLY=$ONLY: objects in $B/obj, deliverables not written"; exit 0; fi
# 4. deliverables: ELF/HEX/SREC/VBF/BIN as the demo needs them, ground truth, NOTICE
O="$B/obj"
: > "$B/deliverables.tsv"
ship() { echo "$1	$2	$3" >> "$B/deliverables.tsv"; }   # ship <file> <image> <format>
cp "$O/bcm_app/bcm_app.elf" "$OUT/bcm_app.elf";                                 ship bcm_app.elf bcm_app elf
arm-none-eabi-objcopy -O ihex "$OUT/bcm_app.elf" "$OUT/bcm_app.hex";           ship bcm_app.hex bcm_app ihex
arm-none-eabi-objcopy -O srec --srec-forceS3 "$OUT/bcm_app.elf" "$OUT/bcm_app.srec"; ship bcm_app.srec bcm_app srec
cp "$O/gw_app/gw_app.elf" "$OUT/gw_app.elf";                                    ship gw_app.elf gw_app elf
cp "$O/tcu_app/tcu_app.elf" "$OUT/tcu_app.elf";                                 ship tcu_app.elf tcu_app elf
arm-none-eabi-objcopy -O binary "$O/sensor_raw/sensor_raw.elf" "$OUT/sensor_raw.bin"; ship sensor_raw.bin sensor_raw bin

# VBF with ecuscan's own writer (the loader and the writer must agree)
if [ -z "${PYTHON:-}" ]; then
  for p in "$REPO/.venv/bin/python" "$REPO/../venv/bin/python" python3; do
    if command -v "$p" >/dev/null 2>&1 && PYTHONPATH="$REPO" "$p" -c 'import ecuscan.formats.vbf, elftools' 2>/dev/null; then
      PYTHON="$p"; break
    fi
  done
fi
if [ "$WITH_VBF" = 1 ]; then
  [ -n "${PYTHON:-}" ] || { log "ERROR: no python that imports ecuscan and pyelftools (set PYTHON=, or --no-vbf)"; exit 1; }
  PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" "$HERE/tools/make_vbf.py" --elf "$OUT/bcm_app.elf" \
    --out "$OUT/bcm_app.vbf" --ecu-address 0x726 --description "ACME BCM_APP application" --sidecar "$B/bcm_app.vbf.json"
  ship bcm_app.vbf bcm_app vbf
elif [ -e "$OUT/bcm_app.vbf" ] && [ -e "$B/bcm_app.vbf.json" ]; then
  log "--no-vbf: keeping the existing bcm_app.vbf"; ship bcm_app.vbf bcm_app vbf
else
  log "--no-vbf: no bcm_app.vbf"
fi
(cd "$OUT" && chmod 0644 $(cut -f1 "$B/deliverables.tsv"))
python3 "$HERE/tools/gen_expected.py" --fw "$HERE" --build "$B" --out "$HERE/expected.json" --notice "$HERE/NOTICE"
log "done"
(cd "$OUT" && ls -l *.elf *.hex *.srec *.bin *.vbf) >&2
