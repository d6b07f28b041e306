"""Turn resident records into a certificate PDF, rendered and e-sealed.

The issuer describes the certificate as a :class:`kofu.render.model.JuminhyoDocument`
and hands it to ``kofu.render``; the municipality's certificate seals the
result (電子契印) through ``kofu.lgpki.seal``. Nothing here touches the
database or keeps the PDF.

>>> maker = SealedDocumentMaker()
>>> pdf, pages = maker.make(to_render_model(juminhyo_request), seal_paths)
>>> pdf, pages = maker.make(inkan_document(header, holder, address, seal), seal_paths)

The ``*_document`` functions build the renderer's model of each kind from
records as the issuer stores them (plain values, no database).

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
    from kofu.render.model import (
        FuhyoDocument,
        InkanDocument,
        JuminhyoDocument,
        KisaiDocument,
        KosekiDocument,
        TaxCertificateDocument,
    )


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
    individual_number: str | None = None
    change_reason: str | None = None
    """異動事由 as exported (転入, 出生, 転居, 世帯主変更 …); see :func:`change_of`."""
    change_on: date | None = None


def change_of(m: MemberRecord, municipality_name: str) -> tuple[str, date] | None:
    """The 異動事由 and its date a 住民票の写し prints for ``m``.

    As exported when the record gives it. Otherwise read from the record: no
    従前の住所 and resident since birth is 出生 (on the birth date); a 従前の住所
    in this municipality is 転居, one elsewhere 転入, both on the date the
    current address was taken. None when the record says nothing.
    """
    if m.change_reason:
        return m.change_reason, m.change_on or m.address_since
    if not m.previous_address:
        return ("出生", m.birth_date) if m.became_resident_on == m.birth_date else None
    moved_within = bool(municipality_name) and municipality_name in m.previous_address
    return ("転居" if moved_within else "転入"), m.address_since


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
    with_individual_number: bool = False
    chosen: bool = False
    """True when ``members`` were chosen from the household (not all of it)."""


class DocumentMaker(Protocol):
    def make(self, document: Any, seal: SealPaths) -> tuple[bytes, int]:
        """Render any kind's render-model document and seal it; return (sealed PDF, pages)."""
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
            individual_number=m.individual_number if req.with_individual_number else None,
            change_reason=change[0] if (change := change_of(m, req.municipality_name)) else None,
            change_on=change[1] if change else None,
            # 本籍・筆頭者 of each member, certified on a 記載事項証明書 when asked for.
            domicile=m.domicile if req.with_domicile else None,
            domicile_head=m.domicile_head if req.with_domicile else None,
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
        scope="household" if req.scope == "household" and not req.chosen else "members",
        show_individual_number=req.with_individual_number,
    )


# ------------------------------------------------------------ the other five kinds


def header(
    *, municipality_code: str, municipality_name: str, mayor_title: str, mayor_name: str,
    issued_on: date, certificate_serial: str, binding: str,
) -> dict[str, Any]:
    """The keyword arguments every document's CertificateHeader takes."""
    return dict(
        municipality_code=municipality_code, municipality_name=municipality_name,
        mayor_title=mayor_title, mayor_name=mayor_name, issued_on=issued_on,
        certificate_serial=certificate_serial, binding=binding,
    )


def kisai_document(req: JuminhyoRequest) -> KisaiDocument:
    """住民票記載事項証明書 of the same members a 住民票の写し would list.

    Every item is certified; 世帯主 and 続柄 only when the resident asked for
    世帯主・続柄, 本籍 and 筆頭者 only when they asked for 本籍・筆頭者.
    """
    from kofu.render.model import KISAI_ITEMS, KisaiDocument

    juminhyo = to_render_model(req)
    asked = {"続柄": req.with_householder, "世帯主": req.with_householder,
             "本籍": req.with_domicile, "筆頭者": req.with_domicile}
    items = tuple(i for i in KISAI_ITEMS if asked.get(i, True))
    return KisaiDocument(
        **header(municipality_code=req.municipality_code, municipality_name=req.municipality_name,
                 mayor_title=req.mayor_title, mayor_name=req.mayor_name, issued_on=req.issued_on,
                 certificate_serial=req.certificate_serial, binding=req.binding),
        address=req.address,
        householder=req.householder_name,
        members=juminhyo.members,
        items=items,
    )


@dataclass(frozen=True)
class SealRecord:
    registration_number: str
    impression_png: bytes


def inkan_document(head: dict[str, Any], holder: MemberRecord, address: str, seal: SealRecord) -> InkanDocument:
    from kofu.render.model import InkanDocument

    return InkanDocument(
        **head,
        name=holder.name,
        name_kana=holder.name_kana,
        birth_date=holder.birth_date,
        sex="female" if holder.sex == "female" else "male",
        address=address,
        registration_number=seal.registration_number,
        seal_image_png=seal.impression_png,
    )


def _tax_labels(municipality_name: str, address: str) -> tuple[str, str]:
    local = "町民税" if municipality_name.endswith("町") else "村民税" if municipality_name.endswith("村") else "市民税"
    prefectural = "県民税"
    for suffix, label in (("東京都", "都民税"), ("北海道", "道民税"), ("京都府", "府民税"), ("大阪府", "府民税")):
        if address.startswith(suffix):
            prefectural = label
    return local, prefectural


def tax_document(
    head: dict[str, Any], tax_kind: str, fiscal_year: int, holder: MemberRecord, address: str,
    record: dict[str, Any], *, local_rates: Sequence[dict[str, Any]] = (),
) -> TaxCertificateDocument:
    """所得・課税証明書 or 納税証明書 from one stored tax record (docs/issuer-import.md):
    the amounts are computed from its raw figures (kofu.domain.tax), with the municipality's
    own rates (``local_rates``, its stored ``local_tax_rates``)."""
    from kofu.domain.tax import TaxRuleError, assess, is_designated_city
    from kofu.issuer.taxrecord import local_rate, tax_lines, tax_return
    from kofu.render.model import TaxCertificateDocument, TaxItem

    local, prefectural = _tax_labels(str(head["municipality_name"]), address)
    designated = is_designated_city(str(head["municipality_code"]))  # 8 % / 2 % (kofu.domain.tax)
    try:
        assessment = assess(tax_return(record, fiscal_year, designated_city=designated, birth_date=holder.birth_date,
                                       local_rates=tuple(local_rate(x) for x in local_rates)))
        lines = tax_lines(record, fiscal_year, assessment) if tax_kind == "nozei" else []
    except (TaxRuleError, ValueError, KeyError) as e:
        raise DocumentUnprintable(f"the tax record cannot be assessed: {e}") from e
    items = tuple(
        TaxItem(
            tax_name=line.name,
            fiscal_year=line.fiscal_year,
            assessed=line.instalment.amount,
            paid=line.instalment.paid,
            unpaid=line.instalment.unpaid,
            due_on=line.instalment.due_on,
            period=None if line.single else line.instalment.period,
            month=line.instalment.month,
        )
        for line in lines
    )
    return TaxCertificateDocument(
        **head,
        tax_kind="nozei" if tax_kind == "nozei" else "shotoku",
        fiscal_year=fiscal_year,
        name=holder.name,
        address=address,
        birth_date=holder.birth_date,
        assessment=assessment if tax_kind == "shotoku" else None,
        municipal_tax_label=local,
        prefectural_tax_label=prefectural,
        tax_items=items,
    )


def _event_rows(events: Sequence[Any]) -> tuple[tuple[str, str], ...]:
    """Stored events as the renderer's (label, lines) pairs.

    Events are dicts checked by :mod:`kofu.domain.koseki` at import; a
    ``[label, text]`` pair (stored by an import before structured events)
    prints as it was given.
    """
    from kofu.domain.koseki import event_lines

    rows = []
    for e in events:
        if isinstance(e, dict):
            label, lines = event_lines(e)
            rows.append((label, "\n".join(lines)))
        else:
            rows.append((str(e[0]), str(e[1])))
    return tuple(rows)


def _koseki_person(p: dict[str, Any]) -> Any:
    from kofu.domain.koseki import given_name
    from kofu.render.model import KosekiPerson

    return KosekiPerson(
        # 【名】: the given name only (戸籍法施行規則 付録第22号様式).
        name=p.get("given_name") or given_name(p["name"]) or p["name"],
        birth_date=date.fromisoformat(p["birth_date"]),
        sex="female" if p["sex"] == "female" else "male",
        father=p.get("father", ""),
        mother=p.get("mother", ""),
        relationship=p["relationship"],
        events=_event_rows(p.get("events", [])),
        removed=bool(p.get("removed", False)),
        spouse_role=p.get("spouse_role") or "",
        adoptive_father=p.get("adoptive_father") or "",
        adoptive_mother=p.get("adoptive_mother") or "",
        adoptive_relationship=p.get("adoptive_relationship") or "",
    )


def koseki_document(
    head: dict[str, Any], scope: str, honseki: str, head_name: str, data: dict[str, Any], holder_id: str,
    *, register_id: str = "", chosen: Sequence[str] = (),
) -> KosekiDocument:
    """全部事項証明書 (every person) or 個人事項証明書: the holder's entry, or the
    ``chosen`` person ids of the register (戸籍法 10条), in register order."""
    from kofu.render.model import KosekiDocument

    persons = data["persons"]
    if scope == "self" and chosen:
        # Only the chosen entries go into the document at all.
        wanted = set(chosen)
        persons = [p for pid, p in register_persons(register_id, data) if pid in wanted]
        if len(persons) != len(wanted):
            raise DocumentUnprintable("a chosen person is not in the family register")
    elif scope == "self":
        # Only the holder's entry goes into the document at all.
        persons = [p for p in persons if p.get("resident") == holder_id]
        if len(persons) != 1:
            raise DocumentUnprintable("the holder is not listed exactly once in the family register")
    return KosekiDocument(
        **head,
        scope="self" if scope == "self" else "all",
        honseki=honseki,
        head_name=head_name,
        koseki_events=_event_rows(data.get("events", [])),
        persons=tuple(_koseki_person(p) for p in persons),
        self_index=0,
        chosen=tuple(range(len(persons))) if scope == "self" else (),
    )


def register_persons(register_id: str, data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(id, person) of every person in a stored register, in register order.

    The id is the one the import gave (or derived: the resident id, else
    ``<register>#<position>``); it is what a resident chooses persons by.
    """
    return [
        (str(p.get("id") or p.get("resident") or f"{register_id}#{j + 1}"), p)
        for j, p in enumerate(data["persons"])
    ]


def fuhyo_addresses(p: dict[str, Any], register_events: Sequence[Any]) -> list[tuple[str, date]]:
    """The addresses a 附票 lists for ``p``: from the one they lived at when they
    entered this register until they left it (a later address belongs to the
    附票 of the register they went to)."""
    from kofu.domain.koseki import entered_on, left_on

    structured = [e for e in register_events if isinstance(e, dict)]
    if any(not isinstance(e, dict) for e in p.get("events", [])):
        entered, left = date.fromisoformat(p["birth_date"]), None  # an import before structured events
    else:
        entered, left = entered_on(p, structured), left_on(p)
    addresses = [(str(a), date.fromisoformat(d)) for a, d in p.get("addresses", [])]
    if left is not None and left < entered:
        return []  # left before the register came here (転籍): on the former 附票 only
    if left is not None:
        addresses = [(a, d) for a, d in addresses if d < left]
    at_entry = [i for i, (_a, d) in enumerate(addresses) if d <= entered]
    first = at_entry[-1] if at_entry else 0
    return addresses[first:]


def fuhyo_document(
    head: dict[str, Any], honseki: str, head_name: str, data: dict[str, Any], *,
    register_id: str = "", with_domicile: bool = False, chosen: Sequence[str] = (),
) -> FuhyoDocument:
    """戸籍の附票の写し: each person's addresses while in the register, oldest first.

    本籍・筆頭者 only when asked for (``with_domicile``, since 令和4年1月11日);
    ``chosen`` person ids make a 一部 of those persons, in register order.
    """
    from kofu.render.model import FuhyoDocument, FuhyoEntry

    events = data.get("events", [])
    persons = register_persons(register_id, data)
    if chosen:
        persons = [(pid, p) for pid, p in persons if pid in set(chosen)]
        if len(persons) != len(set(chosen)):
            raise DocumentUnprintable("a chosen person is not in the family register")
    entries = []
    for _pid, p in persons:
        addresses = fuhyo_addresses(p, events)
        if not addresses:
            continue
        entries.append(FuhyoEntry(
            name=p["name"],
            addresses=tuple(addresses),
            birth_date=date.fromisoformat(p["birth_date"]),
            sex="female" if p["sex"] == "female" else "male",
            removed=bool(p.get("removed", False)),
        ))
    if not entries:
        raise DocumentUnprintable("no chosen person has an address recorded in the 附票")
    return FuhyoDocument(
        **head,
        honseki=honseki if with_domicile else None,
        head_name=head_name if with_domicile else None,
        entries=tuple(entries),
        scope="some" if chosen else "all",
    )


_RENDERERS = {
    "JuminhyoDocument": "render_juminhyo",
    "KisaiDocument": "render_kisai",
    "InkanDocument": "render_inkan",
    "TaxCertificateDocument": "render_tax",
    "KosekiDocument": "render_koseki",
    "FuhyoDocument": "render_fuhyo",
}


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
        return self.make(to_render_model(request), seal)

    def make(self, document: Any, seal: SealPaths) -> tuple[bytes, int]:
        import kofu.render
        from kofu.render import InvalidDocument

        name = _RENDERERS.get(type(document).__name__)
        render = getattr(kofu.render, name, None) if name else None
        if render is None:
            raise DocumentError(f"no renderer for {type(document).__name__}")
        try:
            rendered = render(document)
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
