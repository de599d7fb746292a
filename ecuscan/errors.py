"""The error tree of ecuscan.

Every error the library raises derives from :class:`EcuscanError` and carries a
human-readable message that names the input (file, frame, record) and the problem.
The CLI turns these into exit code 2; the library never prints or exits.
"""

from __future__ import annotations


class EcuscanError(Exception):
    """Root of every error ecuscan raises on purpose."""

    def __init__(self, message: str, *, source: str | None = None) -> None:
        self.source = source
        self.message = message
        super().__init__(f"{source}: {message}" if source else message)


class FormatError(EcuscanError):
    """A firmware image or container is corrupt, truncated or hostile."""


class LimitExceeded(FormatError):
    """An input asked for more than a configured limit allows (size, count, depth, time)."""


class UnsupportedFormat(FormatError):
    """The bytes are not in any format ecuscan can read."""


class CatalogError(EcuscanError):
    """The component catalog / signature data is malformed (a packaging bug)."""


class StoreError(EcuscanError):
    """The inventory store could not be opened, migrated or written."""


class ManifestError(EcuscanError):
    """A supply-chain manifest is invalid (names file, line and field)."""


class SbomError(EcuscanError):
    """A supplier SBOM could not be read, or an SBOM could not be written or validated."""


class FeedError(EcuscanError):
    """A vulnerability feed or VEX document could not be read."""


class BenchError(EcuscanError):
    """The CAN bench could not be set up or used (interface, addressing, log)."""


class ReportError(EcuscanError):
    """A report could not be rendered or written."""


class GraphError(EcuscanError):
    """A supply-chain graph query got bad input (unknown node, bad purl or version range)."""


class IncompleteError(EcuscanError):
    """Something the user asked to be checked could not be checked (CLI exit code 3, INCOMPLETE)."""


class BusUnavailable(BenchError, IncompleteError):
    """The CAN bus could not be opened (adapter absent, driver missing, interface down)."""
