"""The self-contained HTML report, rendered from the audit JSON document.

No external URL is referenced (inline CSS and SVG, a Content-Security-Policy that forbids
scripts); every string comes from hostile input (firmware, SBOMs, feeds, CAN frames) and
is escaped by Jinja2's autoescaping. The one piece of markup inserted as-is, the
supply-chain SVG, is checked against an allow-list of elements and attributes first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from ..errors import ReportError
from ..textsafe import finalize_for_html
from .values import cell, flaw, offset, percent, weaknesses

_SVG_NS = "{http://www.w3.org/2000/svg}"
_ALLOWED_ELEMENTS = {"svg", "g", "rect", "text", "tspan", "line", "path", "polyline", "polygon", "circle",
                     "ellipse", "title", "desc", "defs", "marker", "style"}
_FORBIDDEN_ATTR_PREFIXES = ("on", "href", "{http://www.w3.org/1999/xlink}")


def _check_svg_element(el: Element) -> None:
    tag = el.tag.removeprefix(_SVG_NS)
    if tag not in _ALLOWED_ELEMENTS:
        raise ReportError(f"graph picture holds a <{tag}> element, which the report does not embed")
    for name, value in el.attrib.items():
        low = name.lower()
        if low.startswith(_FORBIDDEN_ATTR_PREFIXES) or "javascript:" in value.lower() or "url(" in value.lower():
            raise ReportError(f"graph picture has a forbidden attribute {name!r}")
    if tag == "style" and el.text and ("@import" in el.text or "url(" in el.text):
        raise ReportError("graph picture style refers to outside resources")
    for child in el:
        _check_svg_element(child)


def safe_svg(svg: str | None) -> Markup | None:
    """Return the SVG as markup if it is a plain drawing (no script, no links, no outside refs)."""
    if not svg:
        return None
    try:
        root = SafeET.fromstring(svg)
    except Exception as exc:  # defusedxml raises several types for hostile or broken XML
        raise ReportError(f"graph picture is not well-formed SVG: {exc}") from exc
    _check_svg_element(root)
    return Markup(svg)  # noqa: S704 - checked against the allow-list above


def render_html(doc: Mapping[str, Any]) -> str:
    """Render the audit document (schema ``ecuscan/audit/v1``) to one HTML page."""
    env = Environment(loader=PackageLoader("ecuscan.report", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True), finalize=finalize_for_html)
    env.filters.update(v=lambda value, limit=400: cell(value, limit=limit), hexoff=offset, pct=percent, flaw=flaw,
                       weaknesses=weaknesses)
    template = env.get_template("report.html.j2")
    return template.render(doc=doc, graph_svg=safe_svg(doc.get("graph", {}).get("svg")))
