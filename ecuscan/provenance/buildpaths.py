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
from ecuscan.provenance import prefilter

_SRC_EXT = (rb"(?:c|h|cc|cpp|cxx|c\+\+|hh|hpp|hxx|s|S|asm|inc|o|obj|a|lib|ld|rs|go|ino|"
            rb"ads|adb|f|f90|m|mm|arxml|dbc|cmake|mk)")
# POSIX paths under directories that only a build machine has. Strong roots are accepted
# as they are; weak ones (also used at run time: /tmp, /opt ...) only when the path names
# a source or object file. Both patterns start with a literal byte so that the regex engine
# skips quickly through binary data; word boundaries before the match are checked in Python.
_P = rb"[A-Za-z0-9._+~@%=,:\-]"
_STRONG = frozenset(("home", "Users", "root", "build", "builds", "usr/src", "jenkins", "var/lib/jenkins",
                     "workspace", "buildbot"))
_POSIX_RE = re.compile(
    rb"/(home|Users|root|builds?|usr/src|jenkins|var/lib/jenkins|workspace|buildbot|"
    rb"tmp|opt|work|srv|mnt|data|var/tmp|src|proj|projects|repo)/((?:" + _P + rb"+/){0,40}" + _P + rb"*)"
)
#: Group of the prefilter pass for :data:`_POSIX_RE` (every match starts with one of these) ...
POSIX_GROUP = "posix-path"
POSIX_STARTS = tuple(b"/" + root + b"/" for root in (
    b"home", b"Users", b"root", b"build", b"builds", b"usr/src", b"jenkins", b"var/lib/jenkins", b"workspace",
    b"buildbot", b"tmp", b"opt", b"work", b"srv", b"mnt", b"data", b"var/tmp", b"src", b"proj", b"projects",
    b"repo"))
_SRC_EXT_RE = re.compile(
    r"\.(?:c|h|cc|cpp|cxx|c\+\+|hh|hpp|hxx|s|S|asm|inc|o|obj|a|lib|ld|rs|go|ino|ads|adb|f|f90|m|mm|"
    r"arxml|dbc|cmake|mk)$")
# Windows paths are found by their ":\\" and the drive letter checked afterwards.
_WP = rb"[A-Za-z0-9._+~@%=,:() \-]"
_WP_LAST = rb"[A-Za-z0-9._+~@%=,:()\-]"
_WIN_RE = re.compile(rb":\\(?:" + _WP + rb"+\\){1,40}" + _WP_LAST + rb"*")
#: ... and for :data:`_WIN_RE`.
WIN_GROUP = "windows-path"
WIN_STARTS = (b":\\",)
_WORDISH = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-/")
_LINUX_BANNER_RE = re.compile(rb"Linux version [\x21-\x7e]{1,64} \(([A-Za-z0-9._-]{1,32})@([A-Za-z0-9.-]{1,64})\)")
_BUILT_BY_RE = re.compile(
    # glibc says "Compiled by GNU CC version ...": a compiler, not a person.
    rb"(?:(?:compiled|Compiled|built|Built) by|(?:COMPILED|BUILT) BY):? "
    rb"(?!(?:GNU|GCC|gcc|clang|LLVM|the)\b)([A-Za-z0-9._\\-]{1,32})(?! (?:CC|C|C\+\+|compiler|version)\b)"
    rb"(?:@([A-Za-z0-9.-]{1,64}))?"
    rb"(?: on (?:host )?([A-Za-z][A-Za-z0-9.-]{0,63}))?"
)
_BUILD_HOST_RE = re.compile(rb"(?:build|Build|BUILD)[ _-]?(?:host|Host|HOST)[:=] ?([A-Za-z][A-Za-z0-9.-]{0,63})")
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


def _preceded_by_word(data: Buffer, start: int) -> bool:
    return start > 0 and data[start - 1] in _WORDISH


def scan_paths(data: Buffer, max_hits: int, places: prefilter.Found | None = None) -> Iterator[tuple[int, str]]:
    """Yield ``(offset, path)`` for build-machine paths in the bytes (two regex passes, or their
    matches at the ``places`` a prefilter pass found)."""
    n = 0
    for m in prefilter.finditer(_POSIX_RE, data, places, POSIX_GROUP):
        start = m.start()
        if _preceded_by_word(data, start):
            continue
        root = m.group(1).decode("ascii")
        path = _clean(m.group().decode("ascii", "replace"))
        if root in _STRONG:
            # "/build/x" or "/root/x" alone says little; want two levels below (home dirs: one).
            if path.count("/") < (3 if root in ("home", "Users") else 4) - (0 if path.endswith("/") else 1):
                continue
        elif not _SRC_EXT_RE.search(path):
            continue
        yield start, path
        n += 1
        if n >= max_hits:
            return
    for m in prefilter.finditer(_WIN_RE, data, places, WIN_GROUP):
        start = m.start() - 1
        if start < 0 or not chr(data[start]).isalpha() or not chr(data[start]).isascii() \
                or _preceded_by_word(data, start):
            continue
        path = _clean(bytes(data[start:m.end()]).decode("ascii", "replace"))
        if len(path) < 6:
            continue
        yield start, path
        n += 1
        if n >= max_hits:
            return


#: Trigger words of :func:`people_at` for the shared scan in ``textscan``.
PEOPLE_STARTS = (rb"Linux version ", rb"compiled by", rb"Compiled by", rb"COMPILED BY", rb"built by",
                 rb"Built by", rb"BUILT BY", rb"build", rb"Build", rb"BUILD")


def people_at(data: Buffer, pos: int) -> tuple[str | None, str | None] | None:
    """``(user, host)`` stated by a build banner starting at ``pos``, if one does."""
    for rx in (_LINUX_BANNER_RE, _BUILT_BY_RE, _BUILD_HOST_RE):
        m = rx.match(data, pos, pos + 200)
        if m is None:
            continue
        groups = [g.decode("ascii", "replace") if g else None for g in m.groups()]
        if rx is _LINUX_BANNER_RE:
            user, host = groups[0], groups[1]
        elif rx is _BUILT_BY_RE:
            user, host = groups[0], groups[1] or groups[2]
        else:
            user, host = None, groups[0]
        return (user, host) if user or host else None
    return None
