"""Build paths, user names and build hosts left in an image.

Sources: DWARF compile units (``DW_AT_comp_dir`` and absolute unit names), path strings in
the bytes (``__FILE__`` in assert messages, ``-fdebug-prefix-map`` remnants), and banners
that state who built the image where (Linux ``(user@host)``, ``Compiled by X on Y``).

Written by hand: recognising build-machine paths among firmware strings is a heuristic of
our own, not something a library offers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from ecuscan.model import Buffer, DwarfUnit

_SRC_EXT = (rb"(?:c|h|cc|cpp|cxx|c\+\+|hh|hpp|hxx|s|S|asm|inc|o|obj|a|lib|ld|rs|go|ino|"
            rb"ads|adb|f|f90|m|mm|arxml|dbc|cmake|mk)")
# POSIX paths under directories that only a build machine has. Strong prefixes are
# accepted as they are; weak ones (also used at run time: /tmp, /opt ...) only when the
# path names a source or object file.
_P = rb"[A-Za-z0-9._+~@%=,:\-]"
_POSIX_STRONG = rb"/(?:home|Users|root|build|builds|usr/src|jenkins|var/lib/jenkins|workspace|buildbot)/"
_POSIX_WEAK = rb"/(?:tmp|opt|work|srv|mnt|data|var/tmp|src|proj|projects|repo)/"
_WIN = rb"(?<![A-Za-z0-9])[A-Za-z]:[\\/]"
_WP = rb"[A-Za-z0-9._+~@%=,:() \-]"
_WP_LAST = rb"[A-Za-z0-9._+~@%=,:()\-]"
_PATH_RE = re.compile(
    rb"(?<![A-Za-z0-9_./-])(?P<strong>" + _POSIX_STRONG + rb"(?:" + _P + rb"+/){0,40}" + _P + rb"*)"
    rb"|(?<![A-Za-z0-9_./-])(?P<weak>" + _POSIX_WEAK + rb"(?:" + _P + rb"+/){0,40}" + _P + rb"+\."
    + _SRC_EXT + rb")(?![A-Za-z0-9])"
    rb"|(?P<win>" + _WIN + rb"(?:" + _WP + rb"+[\\/]){1,40}" + _WP_LAST + rb"*)"
)
_LINUX_BANNER_RE = re.compile(rb"Linux version [\x21-\x7e]{1,64} \(([A-Za-z0-9._-]{1,32})@([A-Za-z0-9.-]{1,64})\)")
_BUILT_BY_RE = re.compile(
    rb"(?:[Cc]ompiled|[Bb]uilt) by:? ([A-Za-z0-9._\\-]{1,32})(?:@([A-Za-z0-9.-]{1,64}))?"
    rb"(?: on (?:host )?([A-Za-z][A-Za-z0-9.-]{0,63}))?"
    rb"|[Bb]uild[ _-]?[Hh]ost[:=] ?([A-Za-z][A-Za-z0-9.-]{0,63})"
)
_UNIX_USER_RE = re.compile(r"^/(?:home|Users)/([A-Za-z0-9._-]{1,32})/")
_WIN_USER_RE = re.compile(r"^[A-Za-z]:[\\/](?:Users|Documents and Settings)[\\/]([^\\/:*?\"<>|]{1,64})[\\/]",
                          re.IGNORECASE)
_GENERIC_USERS = {"public", "default", "default user", "all users", "shared", "guest"}
_MAX_PATH = 300


def _clean(path: str) -> str:
    path = path.rstrip(" .,:;)=")
    return path[:_MAX_PATH]


def user_of(path: str) -> str | None:
    r"""The user name a home-directory path reveals, if any.

    >>> user_of("/home/alice/src/app/main.c")
    'alice'
    >>> user_of("C:\\Users\\Bob Smith\\proj\\x.c")
    'Bob Smith'
    >>> user_of("/root/build/x.c")
    'root'
    >>> user_of("/usr/src/x.c") is None
    True
    """
    if path.startswith("/root/"):
        return "root"
    m = _UNIX_USER_RE.match(path) or _WIN_USER_RE.match(path)
    if m is None or m.group(1).lower() in _GENERIC_USERS:
        return None
    return m.group(1)


def dwarf_paths(units: Iterable[DwarfUnit]) -> Iterator[str]:
    """Absolute compilation directories and unit names from DWARF, in unit order."""
    for u in units:
        for p in (u.comp_dir, u.name):
            if p and (p.startswith("/") or re.match(r"[A-Za-z]:[\\/]", p)):
                yield _clean(p)


def flag_paths(flags: Iterable[str]) -> Iterator[str]:
    """Old build directories named by ``-fdebug-prefix-map=OLD=NEW`` style flags."""
    for f in flags:
        m = re.match(r"-f(?:debug|file|macro)-prefix-map=([^=]+)=", f)
        if m and m.group(1).startswith("/"):
            yield _clean(m.group(1))


def scan_paths(data: Buffer, max_hits: int) -> Iterator[tuple[int, str]]:
    """Yield ``(offset, path)`` for build-machine paths in the bytes (one regex pass)."""
    n = 0
    for m in _PATH_RE.finditer(data):
        raw = m.group()
        if m.lastgroup == "strong" and raw.count(b"/") < 3 and not raw.startswith((b"/home/", b"/Users/")):
            # "/build/" alone or "/root/x" says little; want at least two levels under it.
            continue
        path = _clean(raw.decode("ascii", "replace"))
        if len(path) < 6:
            continue
        yield m.start(), path
        n += 1
        if n >= max_hits:
            return


def scan_hosts(data: Buffer, max_hits: int) -> Iterator[tuple[str | None, str | None]]:
    """Yield ``(user, host)`` pairs stated by build banners in the bytes."""
    n = 0
    for rx in (_LINUX_BANNER_RE, _BUILT_BY_RE):
        for m in rx.finditer(data):
            groups = [g.decode("ascii", "replace") if g else None for g in m.groups()]
            if rx is _LINUX_BANNER_RE:
                user, host = groups[0], groups[1]
            else:
                user, host = groups[0], groups[1] or groups[2] or groups[3]
            if user or host:
                yield user, host
                n += 1
            if n >= max_hits:
                return
