"""Files whose text is about software rather than software: documentation and GNU ld scripts.

A changelog or man page names old releases of many projects: mentions, not contents, so it is
not identified. A linker script (glibc's ``libc.so``) holds no code; the libraries it names
are *used*.
"""

from __future__ import annotations

import re

from ..catalog import Catalog
from ..limits import Limits
from ..model import Buffer, Component, EvidenceMethod, Relation

_DOC_DIRS = ("/share/doc/", "/share/man/", "/share/info/", "/share/gtk-doc/", "/share/help/")
_DOC_NAME = re.compile(r"(?i)^(?:changelog|changes|news|readme|authors|thanks|history)(?:[._-][\w.-]*)?$"
                       r"|\.(?:md|rst|html?)$")


#: Document markup, recognised at the start of a line in the first 64 KiB: POD (Perl's
#: documentation, in ``.pod`` files and inside modules), roff man pages, Texinfo, HTML.
_DOC_MARKUP = re.compile(rb"(?m)^(?:=(?:pod|head[1-6]|over|item|back|encoding|begin|end|for)\b"
                         rb"|\.(?:TH|Dt|Dd|SH|Sh)[ \t]|\\input texinfo|@node |<!DOCTYPE html|<html\b)")


def _is_text(head: bytes) -> bool:
    """No NUL and almost only printable ASCII/UTF-8 bytes and whitespace."""
    if not head or b"\x00" in head:
        return False
    control = sum(head.count(bytes([c])) for c in (*range(1, 9), 11, 12, *range(14, 32), 127))
    return control <= len(head) // 200


def documentation_path(path: str) -> bool:
    """True when ``path`` is where documents live (``share/doc``, ``share/man`` ...) or is named
    like one (changelog, NEWS, README, Markdown, HTML); container paths (``a.deb!/x``) count.

    >>> documentation_path("pkg.deb!/usr/share/man/man1/ssh.1.gz"), documentation_path("usr/lib/libz.so.1")
    (True, False)
    """
    p = _slashed(path)
    return _in_doc_folder(p) or _DOC_NAME.search(p.rsplit("/", 1)[-1]) is not None


def _slashed(path: str) -> str:
    """``path`` with ``/`` separators, container steps (``a.deb!/x``) as folders, one leading ``/``."""
    return "/" + path.replace("\\", "/").replace("!/", "/").lstrip("/")


def _in_doc_folder(slashed: str) -> bool:
    """Whether a :func:`_slashed` path lies in a documentation folder (``share/doc``, ``share/man`` ...)."""
    return any(d in slashed for d in _DOC_DIRS)


#: The magic numbers of the single-stream compressors a document is shipped in (gzip, bzip2, xz, zstd).
COMPRESSED_MAGICS = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")


def compressed_document(path: str, data: Buffer) -> bool:
    r"""True for a compressed file in a documentation folder (``share/doc/*/changelog.Debian.gz``, a
    man page): it is not unpacked, as a document it would not be identified anyway (a Debian
    tree holds one such file for every package, about a fifth of a scan's time when unpacked).

    >>> compressed_document("usr/share/doc/zlib1g/changelog.Debian.gz", b"\x1f\x8b\x08\x00")
    True
    >>> compressed_document("usr/lib/modules/zram.ko.xz", b"\xfd7zXZ\x00"), compressed_document("README", b"zlib")
    (False, False)
    >>> compressed_document("fw/readme-bundle.tar.gz", b"\x1f\x8b\x08\x00")
    False
    """
    # by folder only: a name alone ("readme-fw.tar.gz") says nothing of what an archive holds
    return bytes(data[:6]).startswith(COMPRESSED_MAGICS) and _in_doc_folder(_slashed(path))


def is_documentation(path: str, data: Buffer) -> bool:
    r"""True for a text document (changelog, man page, README, POD ...) by its path or its content.

    A document by path: in a ``share/doc`` / ``share/man`` ... directory, or named like a
    changelog/NEWS/README/Markdown/HTML file. A document by content, wherever it lives and
    whatever its name: text whose lines carry document markup (POD ``=head1``/``=item``/``=cut``
    in at least two places, a roff man page's ``.TH``/``.SH``, Texinfo, HTML): Perl's ``.pod``
    files under a library directory quote the releases of the libraries they document. Either
    way the bytes must be text (no NUL in the first 64 KiB), so a binary is still analysed.

    >>> is_documentation("pkg.deb!/usr/share/doc/zlib1g/changelog.gz!/changelog", b"zlib (1:1.3)")
    True
    >>> is_documentation("usr/lib/libz.so.1", b"zlib 1.3"), is_documentation("docs/README", b"\x7fELF\x00")
    (False, False)
    >>> is_documentation("usr/lib/perl5/Net/SSLeay.pod", b"=head1 NAME\n\nNet::SSLeay\n\n=head1 OpenSSL 1.0.0d\n")
    True
    """
    head = bytes(data[:65536])
    if b"\x00" in head:
        return False
    if documentation_path(path):
        return True
    if not _is_text(head):
        return False
    marks = _DOC_MARKUP.findall(head)
    return len(marks) >= 2 or (len(marks) == 1 and not marks[0].startswith(b"="))


_LD_SCRIPT = re.compile(rb"\A(?:\s|/\*.*?\*/)*(?:OUTPUT_FORMAT|GROUP|INPUT|SEARCH_DIR|OUTPUT_ARCH)\s*\(", re.DOTALL)
_LD_REF = re.compile(rb"[^\s()]+?\.(?:so(?:\.\d+)*|a)(?=[\s()]|$)")


def linker_script_references(data: Buffer) -> list[str] | None:
    r"""The files a GNU ld script (``libc.so`` on glibc systems) names, or ``None`` when the
    bytes are no linker script (text starting, after comments, with a linker command).

    >>> linker_script_references(b"/* GNU ld script */\nGROUP ( /lib/libc.so.6 /usr/lib/libc_nonshared.a "
    ...                          b"AS_NEEDED ( /lib/ld-linux.so.2 ) )\n")
    ['/lib/libc.so.6', '/usr/lib/libc_nonshared.a', '/lib/ld-linux.so.2']
    >>> linker_script_references(b"\x7fELF") is None
    True
    """
    head = bytes(data[:65536])
    if len(data) > 65536 or not _is_text(head) or not _LD_SCRIPT.match(head):
        return None
    return [m.decode("utf-8", "replace") for m in _LD_REF.findall(head)][:64]


def linker_script_components(refs: list[str], catalog: Catalog, limits: Limits) -> tuple[Component, ...]:
    """USES components for the libraries a linker script points the linker at (it holds no code)."""
    from ..identify import merge_hits
    from ..identify._hits import Hit, make_evidence
    from ..identify.symbols import match_soname

    hits = []
    for ref in refs:
        for entry, _version, rule in match_soname(catalog, ref.rsplit("/", 1)[-1]):
            hits.append(Hit(entry.id, None, Relation.USES, make_evidence(
                None, EvidenceMethod.NEEDED, ref, limits=limits, detail=f"ld script; {rule}")))
    return merge_hits(hits, catalog, limits)
