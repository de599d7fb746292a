"""ecuscan: automotive ECU software supply-chain analyzer.

Firmware images in, components with evidence and build provenance out; a supply-chain
graph from tiered suppliers to vehicles; offline vulnerability impact; and a CAN bench
check (UDS over ISO-TP) that the deployed software is the analysed release.
"""

__version__ = "0.1.0"
