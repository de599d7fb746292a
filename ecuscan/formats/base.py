"""What a firmware format is to ecuscan: the :class:`Format` protocol and its metadata.

A format module (``ecuscan/formats/<name>.py``) defines ``FORMATS``, a tuple of objects that
satisfy :class:`Format` (usually one :class:`LoaderFormat`), and one line in
:data:`ecuscan.formats.registry.BUILTIN` makes ecuscan detect, load and unpack it. The metadata
(:class:`FormatInfo`) is the one place that says what the format is, how it is recognised, whether
it holds members and how offsets in the scanned bytes map to file offsets and load addresses; the
documentation (``docs/scan-json.md``) and the SBOM writers read it from there.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ecuscan.errors import LimitExceeded, UnsupportedFormat
from ecuscan.limits import DEFAULT_LIMITS, Limits
from ecuscan.model import Buffer, Image, ImageFormat

__all__ = ["Format", "FormatInfo", "LoaderFormat", "Member", "MembersFn", "OffsetMap", "ProbeFn", "Skipped",
           "UnpackBudget"]

#: Bytes handed to every probe: the start of the input (probes may look further into ``data``).
PROBE_BYTES = 8192


class OffsetMap(enum.StrEnum):
    """How offsets in :attr:`Image.data` (the scanned bytes) relate to the file and to addresses."""

    FILE = "file"  # the scanned bytes are the file: an offset is a file offset; segments give addresses
    PAYLOAD = "payload"  # a decoded payload: segments give the address and, when stored as is, the file offset
    MEMBERS = "members"  # a container: its members are scanned, each with its own mapping


@dataclass(frozen=True)
class FormatInfo:
    """Everything ecuscan knows about a format besides how to parse it.

    ``magic`` says in words how the bytes are recognised (it is shown in the format table of
    ``docs/scan-json.md``); ``container`` is true when the format has members to unpack. A
    container whose ``offsets`` is :attr:`OffsetMap.MEMBERS` is only unpacked (an archive); one
    with a payload mapping also loads as one image (a UEFI volume: every section, decompressed).
    """

    format: ImageFormat
    description: str
    media_type: str
    magic: str
    offsets: OffsetMap
    container: bool = False

    @property
    def name(self) -> str:
        """The format's name as it appears in JSON output (``format`` of a scan result)."""
        return self.format.value


# What a container yields (defined here, beside the protocol whose ``members`` returns them, so
# that the registry and every container format use them without importing the archive module).


@dataclass(frozen=True)
class Member:
    """A regular file unpacked from a container.

    ``path`` is the full display path (``outer.tar!/usr/lib/libz.so.1``), ``name`` the path
    inside the archive (``usr/lib/libz.so.1``), ``mode`` the permission bits when stored.
    """

    path: str
    name: str
    data: bytes
    mode: int | None = None


@dataclass(frozen=True)
class Skipped:
    """An entry not returned as a member, and why (symlink, device, unsafe name, too large ...)."""

    path: str
    reason: str


@dataclass
class UnpackBudget:
    """Members and bytes unpacked so far; share one across a container tree to bound the tree."""

    members: int = 0
    bytes: int = 0

    def take(self, size: int, limits: Limits, path: str) -> None:
        """Count one more member of ``size`` bytes; :class:`LimitExceeded` past ``limits.max_members``
        or ``limits.max_unpacked_bytes`` for the whole tree."""
        self.members += 1
        self.bytes += size
        if self.members > limits.max_members:
            raise LimitExceeded(f"more than max_members={limits.max_members} members", source=path)
        if self.bytes > limits.max_unpacked_bytes:
            raise LimitExceeded(f"more than max_unpacked_bytes={limits.max_unpacked_bytes} unpacked", source=path)


ProbeFn = Callable[[bytes, Buffer], bool]
LoadFn = Callable[..., Image]
MembersFn = Callable[..., Iterator["Member"]]


@runtime_checkable
class Format(Protocol):
    """A firmware format: recognise it, load it into an :class:`Image`, list its members."""

    @property
    def info(self) -> FormatInfo:
        """The format's metadata."""
        ...

    def probe(self, head: bytes, data: Buffer) -> bool:
        """True if ``data`` is in this format. ``head`` is its first :data:`PROBE_BYTES` bytes.

        Probes run in registry order on every input, so they look at a few bytes only, never
        parse the whole input and never raise.
        """
        ...

    def load(self, data: Buffer, path: str, *, base_address: int | None = None,
             limits: Limits = DEFAULT_LIMITS) -> Image:
        """The bytes as one :class:`Image` (raises :class:`~ecuscan.errors.FormatError`)."""
        ...

    def members(self, data: Buffer, path: str, *, limits: Limits = DEFAULT_LIMITS, depth: int = 0,
                skipped: list[Skipped] | None = None,
                budget: UnpackBudget | None = None) -> Iterator[Member]:
        """The members of a container (:class:`UnsupportedFormat` when the format has none)."""
        ...


def _no_load(data: Buffer, path: str, **_: object) -> Image:
    raise UnsupportedFormat("is an archive or filesystem image, not a single image; "
                            "unpack it with ecuscan.formats.iter_members", source=path)


@dataclass(frozen=True)
class LoaderFormat:
    """A :class:`Format` made of functions: the usual way a format module declares itself.

    ``load`` is called as ``load(data, path, limits=...)`` and, when ``takes_base_address``,
    also with ``base_address=``; ``members`` has the signature of
    :func:`ecuscan.formats.archive.iter_members`. A container without a single-image reading
    leaves ``load`` unset.
    """

    info: FormatInfo
    probe_fn: ProbeFn
    load_fn: LoadFn = _no_load
    members_fn: MembersFn | None = None
    takes_base_address: bool = False

    def probe(self, head: bytes, data: Buffer) -> bool:
        """See :meth:`Format.probe`."""
        return self.probe_fn(head, data)

    def load(self, data: Buffer, path: str, *, base_address: int | None = None,
             limits: Limits = DEFAULT_LIMITS) -> Image:
        """See :meth:`Format.load`."""
        if self.takes_base_address:
            return self.load_fn(data, path, base_address=base_address, limits=limits)
        return self.load_fn(data, path, limits=limits)

    def members(self, data: Buffer, path: str, *, limits: Limits = DEFAULT_LIMITS, depth: int = 0,
                skipped: list[Skipped] | None = None,
                budget: UnpackBudget | None = None) -> Iterator[Member]:
        """See :meth:`Format.members`."""
        if self.members_fn is None:
            raise UnsupportedFormat(f"a {self.info.name} image has no members", source=path)
        return self.members_fn(data, path, limits=limits, depth=depth, skipped=skipped, budget=budget)
