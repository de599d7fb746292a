"""CAN bench check: confirm over UDS/ISO-TP that the ECUs on the bench run the analysed release.

python-can carries the frames, can-isotp does ISO 15765-2 and udsoncan does ISO 14229. The
entry points are :func:`ecuscan.bench.verify.verify`, :func:`ecuscan.bench.discover.discover`,
:class:`ecuscan.bench.simulator.Simulator` and :func:`ecuscan.bench.buslog.open_bus`.
Only read-only requests are ever sent (:func:`ecuscan.bench.client.check_allowed`).
"""

import logging

#: can-isotp layers created by the bench log under this name; a NullHandler keeps their warnings
#: (e.g. on a hostile trace) off stderr unless the application configures logging.
ISOTP_LOGGER = "ecuscan.bench.isotp"
logging.getLogger("ecuscan.bench").addHandler(logging.NullHandler())
