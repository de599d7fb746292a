"""Readers of DWARF macro information: ``.debug_macro`` (DWARF 5 and the GNU version-4
extension gcc emits with ``-g3``) and ``.debug_macinfo`` (DWARF 2-4).

Written by hand because pyelftools (0.33) parses neither section. Only what a caller needs
comes out: every ``#define`` text with its offset in the section; ``#undef``, file starts and
ends and imports are stepped over (an import names another unit of the same section, which the
walk reaches in turn, so nothing recurses). Every read is bounded by the section's end, the number of
operations and a deadline; a malformed unit ends the walk of that section.
"""

from __future__ import annotations

import time
from collections.abc import Iterator


class _Bad(Exception):
    """Internal: the macro section is malformed or a bound was reached; reading stops there."""


class _Reader:
    """Bounded little/big-endian reader over one section (every read checks the end)."""

    def __init__(self, buf: bytes, big: bool) -> None:
        self.buf, self.pos, self.big = buf, 0, big

    def u(self, n: int) -> int:
        if self.pos + n > len(self.buf):
            raise _Bad("truncated")
        v = int.from_bytes(self.buf[self.pos:self.pos + n], "big" if self.big else "little")
        self.pos += n
        return v

    def uleb(self) -> int:
        v = shift = 0
        for _ in range(10):  # 64-bit values need at most 10 bytes
            b = self.u(1)
            v |= (b & 0x7F) << shift
            if not b & 0x80:
                return v
            shift += 7
        raise _Bad("over-long LEB128")

    def cstr(self) -> bytes:
        end = self.buf.find(b"\0", self.pos)
        if end < 0:
            raise _Bad("unterminated string")
        s = self.buf[self.pos:end]
        self.pos = end + 1
        return s

    def skip_form(self, form: int, off_size: int) -> None:
        sizes = {0x0B: 1, 0x05: 2, 0x06: 4, 0x07: 8, 0x0C: 1, 0x0E: off_size, 0x17: off_size,
                 0x1F: off_size, 0x25: 1, 0x26: 2, 0x27: 3, 0x28: 4}
        if form in sizes:
            self.pos += sizes[form]
        elif form in (0x0F, 0x0D, 0x1A):  # udata, sdata, strx
            self.uleb()
        elif form == 0x08:  # string
            self.cstr()
        elif form == 0x09:  # block
            self.pos += self.uleb()
        else:
            raise _Bad(f"operand form {form:#x} not supported")


def _string_at(strs: bytes, off: int) -> bytes:
    if not 0 <= off < len(strs):
        raise _Bad("string offset outside .debug_str")
    end = strs.find(b"\0", off, off + 4096)
    return strs[off:end if end >= 0 else off + 4096]


def walk_debug_macro(sec: bytes, strs: bytes, str_offsets: bytes, big: bool, deadline: float,
                     max_ops: int) -> Iterator[tuple[bytes, int]]:
    """Every macro definition text (``NAME value``) of a ``.debug_macro`` section, with its position.

    Hand-written because pyelftools (0.33) does not decode ``.debug_macro``. The section is walked
    unit after unit from its start, so ``DW_MACRO_import`` needs no following (the imported unit
    is read where it lies): no recursion and no loop, at most ``max_ops`` entries, stop at
    ``deadline``; a malformed unit ends the walk (what was read before is kept).
    """
    rd = _Reader(sec, big)
    # DW_MACRO_define_strx: resolvable only when one str_offsets contribution (header 8 bytes) exists
    strx_base = 8 if len(str_offsets) >= 8 and _unit_length(str_offsets, big) + 4 == len(str_offsets) else None
    ops = 0
    try:
        while rd.pos < len(sec):
            if rd.u(2) not in (4, 5):
                raise _Bad("unknown .debug_macro version")
            flags = rd.u(1)
            off_size = 8 if flags & 1 else 4
            if flags & 2:
                rd.u(off_size)
            table: dict[int, bytes] = {}
            if flags & 4:
                for _ in range(rd.u(1)):
                    op = rd.u(1)
                    n = rd.uleb()
                    if n > 255 or rd.pos + n > len(sec):
                        raise _Bad("bad opcode operand table")
                    table[op], rd.pos = sec[rd.pos:rd.pos + n], rd.pos + n
            while True:
                ops += 1
                if ops > max_ops or (ops % 4096 == 0 and time.monotonic() > deadline):
                    return
                at = rd.pos
                op = rd.u(1)
                if op == 0:
                    break
                if op in (1, 2):  # define / undef, inline string
                    rd.uleb()
                    s = rd.cstr()
                    if op == 1:
                        yield s, at
                elif op == 3:  # start_file
                    rd.uleb()
                    rd.uleb()
                elif op == 4:  # end_file
                    pass
                elif op in (5, 6, 8, 9):  # define/undef via .debug_str or the supplementary file
                    rd.uleb()
                    off = rd.u(off_size)
                    if op == 5:
                        yield _string_at(strs, off), at
                elif op in (7, 0x0A):  # import / import_sup: the target unit is walked in place
                    rd.u(off_size)
                elif op in (0x0B, 0x0C):  # define_strx / undef_strx
                    rd.uleb()
                    idx = rd.uleb()
                    if op == 0x0B and strx_base is not None:
                        pos = strx_base + idx * 4
                        if pos + 4 <= len(str_offsets):
                            yield _string_at(strs, int.from_bytes(
                                str_offsets[pos:pos + 4], "big" if big else "little")), at
                elif op in table:
                    for form in table[op]:
                        rd.skip_form(form, off_size)
                else:
                    raise _Bad(f"unknown macro opcode {op:#x}")
    except _Bad:
        return


def _unit_length(buf: bytes, big: bool) -> int:
    """The 32-bit unit length at the start of ``buf``."""
    return int.from_bytes(buf[:4], "big" if big else "little")


def walk_debug_macinfo(sec: bytes, deadline: float, max_ops: int) -> Iterator[tuple[bytes, int]]:
    """Every macro definition of a DWARF 2-4 ``.debug_macinfo`` section, with its position (bounded)."""
    rd = _Reader(sec, False)
    try:
        for ops in range(1, max_ops + 1):
            if rd.pos >= len(sec) or (ops % 4096 == 0 and time.monotonic() > deadline):
                return
            at = rd.pos
            op = rd.u(1)
            if op in (1, 2):
                rd.uleb()
                s = rd.cstr()
                if op == 1:
                    yield s, at
            elif op == 3:
                rd.uleb()
                rd.uleb()
            elif op == 0xFF:  # vendor_ext
                rd.uleb()
                rd.cstr()
            elif op not in (0, 4):  # 0 ends one unit's list, 4 is end_file
                return
    except _Bad:
        return
