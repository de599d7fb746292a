"""Expected flash contents from the analysed image: memory-region hashes and recomputed CVNs.

A :class:`Flash` is the image's loadable bytes by address (contiguous segments merged), built
from a loaded :class:`~ecuscan.model.Image` or from a :class:`~ecuscan.model.ScanResult` plus the
image file. :func:`memory_expectations` turns a scan result's segment hashes (or sub-ranges of
its bytes) into the :class:`MemoryRegion` expectations of the opt-in memory-read mode;
:func:`compute_cvn` recomputes the OBD mode 09 CVN the way the ECU is configured to. The
simulator serves the same :class:`Flash` so a virtual ECU answers from the analysed image.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .. import formats
from ..errors import BenchError, EcuscanError
from ..limits import DEFAULT_LIMITS, Limits
from ..model import Image, ScanResult, Segment
from ..provenance import segment_hashes
from .records import CvnConfig, MemoryRegion
from .security import SecurityKeyError, load_callable

Regions = Literal["all"] | Sequence[tuple[int, int]]


@dataclass(frozen=True)
class Flash:
    """Bytes by address: ``runs`` of ``(start address, bytes)``, sorted and not overlapping."""

    runs: tuple[tuple[int, bytes], ...] = ()

    @classmethod
    def from_blocks(cls, blocks: Iterable[tuple[int, bytes]]) -> Flash:
        """Merge blocks; adjacent ones join, later blocks overwrite earlier ones where they overlap.

        >>> Flash.from_blocks([(0x10, b"ab"), (0x12, b"cd")]).runs
        ((16, b'abcd'),)
        """
        spans: list[tuple[int, bytes]] = [(a, bytes(b)) for a, b in blocks if b]
        if not spans:
            return cls()
        spans.sort(key=lambda s: s[0])
        runs: list[tuple[int, bytearray]] = []
        for address, data in spans:
            if runs and address <= runs[-1][0] + len(runs[-1][1]):
                start, buf = runs[-1]
                rel = address - start
                buf[rel:rel + len(data)] = data
            else:
                runs.append((address, bytearray(data)))
        return cls(tuple((a, bytes(b)) for a, b in runs))

    def as_mapping(self) -> dict[int, bytes]:
        """``{start: bytes}`` (the simulator's ``EcuSpec.memory`` form)."""
        return dict(self.runs)

    def read(self, address: int, size: int) -> bytes:
        """The ``size`` bytes at ``address``; a BenchError if the image does not cover all of them.

        >>> Flash(((0x100, b"abcdef"),)).read(0x102, 3)
        b'cde'
        """
        for start, data in self.runs:
            if start <= address and address + size <= start + len(data):
                return data[address - start:address - start + size]
        raise BenchError(f"region {address:#x}+{size} is not covered by the image's segments")

    def patched(self, address: int, data: bytes) -> Flash:
        """A copy with ``data`` written at ``address`` (inside an existing run: a simulated drift)."""
        self.read(address, len(data))
        return Flash.from_blocks([*self.runs, (address, data)])


def flash_from_image(image: Image) -> Flash:
    """The loadable bytes of a loaded image, by load address (segments without address skipped)."""
    data = memoryview(image.data)
    return Flash.from_blocks((s.address, bytes(data[s.offset:s.offset + s.size]))
                             for s in image.segments if s.address is not None and s.size > 0)


def load_flash(path: str | Path, result: ScanResult | None = None, *, base_address: int | None = None,
               limits: Limits = DEFAULT_LIMITS) -> tuple[Flash, tuple[Segment, ...]]:
    """Load the image at ``path`` (any format :func:`ecuscan.formats.load` reads): its :class:`Flash`
    and its segments with their SHA-256 (as a scan records them).

    With ``result`` (the scan of the same file) the file's SHA-256 must equal the scanned one and
    the segments' bytes must match the scanned segment hashes, so the bytes served and hashed
    are exactly the analysed release.
    """

    p = Path(path)
    try:
        if p.stat().st_size > limits.max_file_bytes:
            raise BenchError(f"image is larger than max_file_bytes={limits.max_file_bytes}", source=str(p))
        raw = p.read_bytes()
    except OSError as exc:
        raise BenchError(f"cannot read image: {exc}", source=str(p)) from exc
    if result is not None and hashlib.sha256(raw).hexdigest() != result.sha256:
        raise BenchError("image changed since it was analysed (SHA-256 differs from the scan)", source=str(p))
    if base_address is None and result is not None:
        base_address = next((s.address for s in result.segments if s.address is not None), None)
    try:
        image = formats.load(raw, str(p), base_address=base_address, limits=limits)
    except EcuscanError as exc:
        raise BenchError(f"cannot load image: {exc}", source=str(p)) from exc
    if result is not None:
        data = memoryview(image.data)
        for seg in result.segments:
            if seg.sha256 and hashlib.sha256(data[seg.offset:seg.offset + seg.size]).hexdigest() != seg.sha256:
                raise BenchError(f"segment {seg.name} does not match the scanned hash", source=str(p))
    return flash_from_image(image), segment_hashes(image)


def _segment_for(segments: Sequence[Segment], address: int, size: int) -> Segment | None:
    return next((s for s in segments if s.address == address and s.size == size and s.sha256), None)


def memory_expectations(result: ScanResult | Sequence[Segment], regions: Regions = "all",
                        flash: Flash | None = None) -> tuple[MemoryRegion, ...]:
    """Expected SHA-256 of flash regions from the analysed image.

    ``"all"``: one region per addressed segment, using the scan's segment hashes (no bytes
    needed). A list of ``(address, size)``: a region equal to a segment uses its hash; a
    sub-range (or a range over adjacent segments) is hashed from ``flash`` (the image bytes,
    see :func:`load_flash`), which is then required. ``result`` may also be the segments themselves.
    """
    source = result.path if isinstance(result, ScanResult) else None
    all_segments = result.segments if isinstance(result, ScanResult) else result
    segments = [s for s in all_segments if s.address is not None and s.size > 0]
    if regions == "all":
        out = tuple(MemoryRegion(s.address, s.size, s.sha256, s.name)  # type: ignore[arg-type]
                    for s in segments if s.sha256)
        if not out:
            raise BenchError("the analysed image has no addressed segments to compare", source=source)
        return out
    found: list[MemoryRegion] = []
    for address, size in regions:
        if size <= 0:
            raise BenchError(f"memory region {address:#x}+{size} is empty", source=source)
        seg = _segment_for(segments, address, size)
        if seg is not None and seg.sha256:
            found.append(MemoryRegion(address, size, seg.sha256, seg.name))
            continue
        if flash is None:
            raise BenchError(f"memory region {address:#x}+{size} is not a whole segment: the image bytes are "
                             "needed to hash it", source=source)
        found.append(MemoryRegion(address, size, hashlib.sha256(flash.read(address, size)).hexdigest(),
                                  f"{address:#x}+{size}"))
    return tuple(found)


def compute_cvn(config: CvnConfig, flash: Flash) -> str:
    """The CVN (8 lower-case hex digits, big-endian as OBD mode 09 reports it) of ``config.regions``.

    >>> compute_cvn(CvnConfig("crc32", ((0x0, 9),)), Flash(((0, b"123456789"),)))
    'cbf43926'
    """
    data = b"".join(flash.read(a, s) for a, s in config.regions)
    if config.algorithm.lower() == "crc32":
        return f"{zlib.crc32(data) & 0xFFFFFFFF:08x}"

    func = load_callable(config.algorithm)
    try:
        value = func(data)
    except Exception as exc:  # user code: reported, never raised raw
        raise BenchError(f"CVN algorithm {config.algorithm} raised {type(exc).__name__}: {exc}") from exc
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0xFFFFFFFF:
        return f"{value:08x}"
    if isinstance(value, bytes | bytearray) and len(value) == 4:
        return bytes(value).hex()
    raise SecurityKeyError(f"CVN algorithm {config.algorithm} returned {type(value).__name__} "
                           "(need a 32-bit int or 4 bytes)")


def parse_regions(value: object, where: str) -> tuple[tuple[int, int], ...]:
    """``[[address, size], ...]`` or ``[{address, size}, ...]`` (numbers or ``0x`` strings) from config."""
    def num(v: object) -> int:
        if isinstance(v, bool):
            raise BenchError(f"{where}: {v!r} is not a number")
        if isinstance(v, int):
            return v
        try:
            return int(str(v), 0)
        except ValueError:
            raise BenchError(f"{where}: {v!r} is not a number") from None

    if not isinstance(value, list | tuple):
        raise BenchError(f"{where}: expected a list of [address, size]")
    out = []
    for item in value:
        if isinstance(item, Mapping):
            out.append((num(item.get("address")), num(item.get("size"))))
        elif isinstance(item, list | tuple) and len(item) == 2:
            out.append((num(item[0]), num(item[1])))
        else:
            raise BenchError(f"{where}: {item!r} is not [address, size]")
    return tuple(out)
