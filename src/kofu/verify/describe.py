"""What a receiver reads on the certificate, from the signed QR payload.

>>> describe(payload)["kind_name"]          # doctest: +SKIP
'住民票の写し'

The certificate's title, the municipality's name with its code, the issue
date in 和暦 and the 証明書番号 exactly as the front prints them (the number
is recomputed from the signed serial and date, kofu.domain.ids.issue_number).
``title`` is the printed title signed in the QR (納税証明書, 戸籍全部事項証明書);
a QR printed before the title was signed gives the kind's category name
(``kind_name``: 各種税証明書, 戸籍証明書) instead.
"""

from __future__ import annotations

from typing import Any

from kofu.domain.era import EraError, to_wareki
from kofu.domain.ids import issue_number
from kofu.domain.rules import KIND_NAMES_JA


def describe(payload: Any) -> dict[str, str]:
    """Printable fields of a verified QR payload (a kofu.antiforgery.qr.QrPayload)."""
    code = str(payload.municipality)
    name = getattr(payload, "municipality_name", None)
    kind_name = KIND_NAMES_JA.get(str(payload.kind), str(payload.kind))
    title = getattr(payload, "title", None)
    try:
        issued = to_wareki(payload.issued_on)
    except EraError:
        issued = payload.issued_on.isoformat()
    return {
        "certificate_number": issue_number(str(payload.serial), payload.issued_on),
        "kind_name": kind_name,
        "title": str(title) if title else kind_name,
        "municipality": f"{name}（{code}）" if name else code,
        "issued_on_wareki": issued,
    }
