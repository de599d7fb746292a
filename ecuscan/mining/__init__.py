"""The signature miner: catalog entries proposed from Debian binary packages and measured on them.

Run as ``python -m ecuscan.mining fetch|mine|measure|write`` (see :mod:`.__main__` and
``docs/accuracy.md``). :mod:`.apt` fetches packages with a private apt configuration,
:mod:`.corpus` selects and unpacks each project's packages, :mod:`.mine` proposes rules,
:mod:`.evaluate` measures them with the real identification, :mod:`.report` renders the
per-signature table.
"""
