"""Turn resident records into a certificate PDF, rendered and e-sealed.

The issuer describes the certificate as a :class:`kofu.render.model.JuminhyoDocument`
and hands it to ``kofu.render``; the municipality's certificate seals the
result (電子契印) through ``kofu.lgpki.seal``. Nothing here touches the
database or keeps the PDF.

>>> maker = SealedDocumentMaker()
>>> pdf, pages = maker.make_juminhyo(document, seal_paths)

Errors::

    DocumentError           rendering or sealing failed (wrapped from the library's error)
     └── DocumentUnprintable the records cannot be printed as they are (e.g. a
                             variation sequence the font lacks): retrying cannot help
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

from kofu.issuer.settings import SealPaths

if TYPE_CHECKING:
    from kofu.render.model import JuminhyoDocument


class DocumentError(Exception):
    """The certificate could not be rendered or sealed."""


class DocumentUnprintable(DocumentError):
    """The records hold something the certificate cannot print exactly."""


@dataclass(frozen=True)
class MemberRecord:
    """One resident row, as the issuer stores it (a subset of the table)."""

    resident_id: str
    name: str
    name_kana: str
    birth_date: date
    sex: str
    relationship: str
    became_resident_on: date
    address_since: date
    notified_on: date
    previous_address: str
    domicile: str | None
    domicile_head: str | None


@dataclass(frozen=True)
class JuminhyoRequest:
    """Everything a 住民票の写し says, before it becomes the renderer's model."""

    municipality_code: str
    municipality_name: str
    mayor_title: str
    mayor_name: str
    address: str
    householder_name: str
    holder: MemberRecord
    members: tuple[MemberRecord, ...]
    scope: str
    with_householder: bool
    with_domicile: bool
    issued_on: date
    certificate_serial: str
    binding: str


class DocumentMaker(Protocol):
    def make_juminhyo(self, request: JuminhyoRequest, seal: SealPaths) -> tuple[bytes, int]:
        """Return (sealed PDF, pages)."""
        ...


def to_render_model(req: JuminhyoRequest) -> JuminhyoDocument:
    from kofu.render.model import JuminhyoDocument, JuminhyoMember

    members = tuple(
        JuminhyoMember(
            name=m.name,
            name_kana=m.name_kana,
            birth_date=m.birth_date,
            sex="female" if m.sex == "female" else "male",  # the table's CHECK allows only these
            relationship=m.relationship,
            became_resident_on=m.became_resident_on,
            address_since=m.address_since,
            notified_on=m.notified_on,
            # The renderer wants None for "always lived here"; the import
            # format uses an empty string for it.
            previous_address=m.previous_address or None,
        )
        for m in req.members
    )
    return JuminhyoDocument(
        municipality_code=req.municipality_code,
        municipality_name=req.municipality_name,
        mayor_title=req.mayor_title,
        mayor_name=req.mayor_name,
        address=req.address,
        householder=req.householder_name,
        # 本籍・筆頭者 are the holder's; printed only when asked for.
        domicile=(req.holder.domicile or "") if req.with_domicile else "",
        domicile_head=(req.holder.domicile_head or "") if req.with_domicile else "",
        members=members,
        show_householder_relationship=req.with_householder,
        show_domicile=req.with_domicile,
        issued_on=req.issued_on,
        certificate_serial=req.certificate_serial,
        binding=req.binding,
        # 世帯全員の住民票の写し, or the holder alone (a 住民票の写し of selected members).
        scope="household" if req.scope == "household" else "members",
    )


class SealedDocumentMaker:
    """The production maker: kofu.render, then the municipality's e-seal.

    Sealers are cached per key file: loading a key and chain for every
    certificate would cost more than the signature itself.
    """

    def __init__(self) -> None:
        self._sealers: dict[tuple[str, str, tuple[str, ...]], Any] = {}
        self._lock = threading.Lock()

    def _sealer(self, seal: SealPaths) -> Any:
        from kofu.lgpki.seal import Sealer

        key = (str(seal.cert), str(seal.key), tuple(str(p) for p in seal.chain))
        with self._lock:
            sealer = self._sealers.get(key)
            if sealer is None:
                try:
                    sealer = Sealer.from_files(seal.cert, seal.key, list(seal.chain))
                except Exception as e:  # any load failure is the same to the caller
                    raise DocumentError(f"cannot load the seal {seal.cert}: {e}") from e
                self._sealers[key] = sealer
            return sealer

    def make_juminhyo(self, request: JuminhyoRequest, seal: SealPaths) -> tuple[bytes, int]:
        from kofu.render import InvalidDocument, render_juminhyo

        try:
            rendered = render_juminhyo(to_render_model(request))
        except InvalidDocument as e:
            raise DocumentUnprintable(f"the records cannot be printed: {e}") from e
        except Exception as e:
            raise DocumentError(f"rendering failed: {type(e).__name__}: {e}") from e
        sealer = self._sealer(seal)
        try:
            sealed = sealer.seal(rendered.pdf)
        except Exception as e:
            raise DocumentError(f"sealing failed: {type(e).__name__}: {e}") from e
        return bytes(sealed), int(rendered.pages)


def select_members(
    holder: MemberRecord, household: Sequence[MemberRecord], scope: str
) -> tuple[MemberRecord, ...]:
    """The members a 住民票の写し lists: the whole household, or the holder alone."""
    if scope == "self":
        return (holder,)
    return tuple(household)
