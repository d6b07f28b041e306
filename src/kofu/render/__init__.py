"""Certificate rendering: frozen values in, an A4 PDF out (typst, IPAmj明朝).

>>> from kofu.render import render_juminhyo      # doctest: +SKIP
>>> rendered = render_juminhyo(document)          # doctest: +SKIP
>>> rendered.pages, rendered.pdf[:5]              # doctest: +SKIP
(1, b'%PDF-')

Each certificate kind has a module (``juminhyo``) that turns its values into a
view model of printable strings, and a typst template in ``templates/`` that
lays it out; :mod:`kofu.render.engine` keeps one warm compiler per template.
A new kind adds a model, a module and a template, nothing else.
Errors are drawn in :mod:`kofu.render.errors`.
"""

from __future__ import annotations

from kofu.render.errors import FontMissing, InvalidDocument, LayoutError, RenderError
from kofu.render.fuhyo import render_fuhyo
from kofu.render.inkan import render_inkan
from kofu.render.juminhyo import render_juminhyo
from kofu.render.kisai import render_kisai
from kofu.render.koseki import render_koseki
from kofu.render.model import (
    FuhyoDocument,
    FuhyoEntry,
    InkanDocument,
    JuminhyoDocument,
    JuminhyoMember,
    KisaiDocument,
    KosekiDocument,
    KosekiPerson,
    RenderedPdf,
    TaxCertificateDocument,
    TaxItem,
)
from kofu.render.tax import render_tax

__all__ = [
    "FontMissing",
    "InvalidDocument",
    "JuminhyoDocument",
    "JuminhyoMember",
    "LayoutError",
    "RenderError",
    "RenderedPdf",
    "render_fuhyo",
    "render_inkan",
    "render_juminhyo",
    "render_kisai",
    "render_koseki",
    "render_tax",
    "FuhyoDocument",
    "FuhyoEntry",
    "InkanDocument",
    "KisaiDocument",
    "KosekiDocument",
    "KosekiPerson",
    "TaxCertificateDocument",
    "TaxItem",
]
