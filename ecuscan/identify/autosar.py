"""AUTOSAR Classic basic-software modules, from the module API names the standard publishes.

What is covered (honestly small): the AUTOSAR SWS documents fix each BSW module's short name
and its API names (``Can_Init``, ``CanIf_Transmit``, ``Dcm_MainFunction``,
``<Module>_GetVersionInfo``), and many stacks keep ``<Module>_SW_MAJOR_VERSION``-style
version constants as symbols. When an unstripped image defines such symbols for at least
:data:`MIN_MODULES` modules, the stack is reported as ``autosar-classic-bsw`` (CONTAINS), with
the module list as evidence. What is not covered: the module *versions* live in
``Std_VersionInfoType`` values returned by code (vendor ID, module ID, SW major/minor/patch),
which needs disassembly, and stripped images give no names at all; the vendor ID table
(AUTOSAR's published vendor IDs) is not shipped.
"""

from __future__ import annotations

import re

from ..catalog import Catalog
from ..limits import Limits
from ..model import ComponentId, EvidenceMethod, Image, Relation
from ._hits import Hit, make_evidence

#: Short names of AUTOSAR Classic BSW modules (from the AUTOSAR layered software architecture).
MODULES = (
    "Can", "CanIf", "CanTp", "CanSM", "CanNm", "CanTrcv", "Lin", "LinIf", "LinSM", "Fr", "FrIf",
    "Eth", "EthIf", "EthSM", "SoAd", "TcpIp", "DoIP", "Sd", "PduR", "Com", "ComM", "Nm", "Dcm",
    "Dem", "Det", "Dlt", "FiM", "NvM", "MemIf", "Fee", "Ea", "Fls", "Eep", "EcuM", "BswM",
    "SchM", "WdgM", "WdgIf", "Wdg", "Mcu", "Port", "Dio", "Adc", "Pwm", "Icu", "Gpt", "Spi",
    "Crc", "Csm", "CryIf", "Crypto", "SecOC", "KeyM", "StbM", "Xcp", "J1939Tp", "IpduM", "LdCom",
)
_API = re.compile(r"^(" + "|".join(sorted(MODULES, key=len, reverse=True)) +
                  r")_(?:Init|DeInit|MainFunction\w*|GetVersionInfo|Transmit|RxIndication|"
                  r"TxConfirmation|(?:SW|AR)_(?:MAJOR|MINOR|PATCH)_VERSION\w*)$")
#: Modules that must be evidenced before the stack is reported.
MIN_MODULES = 3


def identify_autosar(image: Image, catalog: Catalog, limits: Limits) -> list[Hit]:
    """A CONTAINS hit for ``autosar-classic-bsw`` when enough BSW module APIs are defined."""
    if catalog.get("autosar-classic-bsw") is None:
        return []
    modules: dict[str, str] = {}
    for sym in image.symbols[: limits.max_symbols]:
        if not sym.defined:
            continue
        m = _API.match(sym.name)
        if m is not None:
            modules.setdefault(m.group(1), sym.name)
    if len(modules) < MIN_MODULES:
        return []
    text = ", ".join(f"{k} ({v})" for k, v in sorted(modules.items()))
    return [Hit(ComponentId("autosar-classic-bsw"), None, Relation.CONTAINS, make_evidence(
        image, EvidenceMethod.SYMBOL, text, limits=limits,
        detail=f"autosar: {len(modules)} BSW modules")) ]
