"""The service layer without a server: import, rules at the edge, issuance, audit."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kofu import clock
from kofu.db import make_engine
from kofu.domain.rules import Offers, OrderOptions, Refusal, RefusalCode
from kofu.issuer import audit
from kofu.issuer.errors import (
    BadRequest,
    IssuanceRefused,
    IssuerError,
    SerialConflict,
    StateConflict,
    UnknownRecord,
)
from kofu.issuer.importer import ImportError_, import_file
from kofu.issuer.service import IssuerService
from kofu.issuer.settings import load_settings
from kofu.issuer.tables import audit_head, create_all, issuance_events, issuances, residents
from kofu.widearea import order_binding
from kofu.widearea.messages import IssueCertificateRequest

from .conftest import KATO, MIKI, OUTSIDE, World, issue_request


@pytest.fixture
def svc(issuer_world: World) -> Any:
    settings = load_settings(issuer_world.config)
    engine = make_engine(settings.database_url)
    create_all(engine)
    import_file(engine, issuer_world.import_file)
    clock.set_for_tests(datetime.fromisoformat("2026-03-03T10:00:00+09:00"))
    yield IssuerService(engine, settings)
    clock.set_for_tests(None)
    engine.dispose()


def request(serial: str = "S-1", **kw: Any) -> IssueCertificateRequest:
    base = dict(message_serial=serial, municipality_code=KATO, resident_link="link-R001",
                order_id="O-1", kind="juminhyo", scope="household", with_householder=True,
                with_domicile=True, copies=2, fee=400, store_id="store-1")
    base.update(kw)
    return issue_request(**base)


def test_offers_follow_the_records(svc: IssuerService) -> None:
    got = svc.query_availability(KATO, "link-R001")
    assert isinstance(got, Offers)
    assert [(o.kind, o.fee) for o in got.offers] == [("juminhyo", 200)]
    assert got.offers[0].options.with_domicile is True
    # No 本籍 recorded: the domicile option is not offered.
    no_domicile = svc.query_availability(KATO, "link-R010")
    assert isinstance(no_domicile, Offers) and no_domicile.offers[0].options.with_domicile is False
    removed = svc.query_availability(KATO, "link-R011")
    assert isinstance(removed, Refusal) and removed.code is RefusalCode.RESIDENT_REMOVED
    unknown = svc.query_availability(KATO, "link-nobody")
    assert isinstance(unknown, Refusal) and unknown.code is RefusalCode.RESIDENT_UNKNOWN
    # A card of another municipality is unknown here, not served from its records.
    assert isinstance(svc.query_availability(MIKI, "link-R001"), Refusal)
    outside = svc.query_availability(OUTSIDE, "link-R001")
    assert isinstance(outside, Refusal) and outside.code is RefusalCode.NOT_PARTICIPATING
    # Every refusal shows the resident the same words.
    assert removed.message_ja == unknown.message_ja == outside.message_ja


def test_issue_is_sealed_bound_and_idempotent(svc: IssuerService, lgpki: dict[str, Any]) -> None:
    from kofu.lgpki.seal import check_seal

    first = svc.issue_certificate(request())
    assert first.document.startswith(b"%PDF") and first.pages == 1 and first.fee == 400
    again = svc.issue_certificate(request())
    assert again.replayed and (again.issuance_id, again.certificate_serial) == (
        first.issuance_id, first.certificate_serial)
    with svc.engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(issuances)).scalar() == 1
    # Sealed by the municipality's certificate, bound to holder, order and serial.
    info = check_seal(first.document, [lgpki["ca"]])
    assert info.municipality_code == KATO
    assert info.binding == order_binding("link-R001", "O-1", "S-1")
    assert check_seal(again.document, [lgpki["ca"]]).binding == info.binding
    # The e-seal is dated by the service clock (pinned to 2026-03-03 10:00 JST), not the machine's.
    assert info.signed_at is not None
    assert abs((info.signed_at - datetime.fromisoformat("2026-03-03T10:00:00+09:00")).total_seconds()) < 60
    with pytest.raises(SerialConflict):
        svc.issue_certificate(request(copies=1, fee=200))


def test_render_for_check_names_an_unknown_municipality_or_resident(svc: IssuerService) -> None:
    """The local format check says which record it lacks, as an UnknownRecord (an IssuerError,
    which `kofu issuer render` prints with exit code 2), and renders nothing."""
    options = OrderOptions()
    with pytest.raises(UnknownRecord, match="municipality 999999 is not in this issuer"):
        svc.render_for_check("999999", "R001", "juminhyo", options)
    with pytest.raises(UnknownRecord, match=f"resident R999 is not in municipality {KATO}"):
        svc.render_for_check(KATO, "R999", "juminhyo", options)
    assert issubclass(UnknownRecord, IssuerError)
    pdf, pages = svc.render_for_check(KATO, "R001", "juminhyo", options)
    assert pdf.startswith(b"%PDF") and pages >= 1


def test_fee_must_match_rule_times_copies(svc: IssuerService) -> None:
    with pytest.raises(BadRequest) as e:
        svc.issue_certificate(request(fee=200))
    assert e.value.code == "fee-mismatch"
    with pytest.raises(IssuanceRefused) as r:
        svc.issue_certificate(request(resident_link="link-R011", serial="S-removed"))
    assert r.value.refusal.code is RefusalCode.RESIDENT_REMOVED
    with svc.engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(issuances)).scalar() == 0


def test_concurrent_twins_issue_once(svc: IssuerService) -> None:
    results: list[Any] = []
    errors: list[BaseException] = []

    def go() -> None:
        try:
            results.append(svc.issue_certificate(request("S-twin")))
        except BaseException as e:  # noqa: BLE001 - collected for the assertion
            errors.append(e)

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len({r.issuance_id for r in results}) == 1
    assert len({r.certificate_serial for r in results}) == 1
    with svc.engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(issuances)).scalar() == 1
        assert c.execute(sa.select(sa.func.count()).select_from(issuance_events)).scalar() == 1


def test_state_machine_and_audit_chain(svc: IssuerService) -> None:
    a = svc.issue_certificate(request("S-a"))
    b = svc.issue_certificate(request("S-b", order_id="O-2"))
    assert svc.confirm_printed(a.issuance_id, 2) == "printed"
    assert svc.confirm_printed(a.issuance_id, 2) == "printed"
    with pytest.raises(StateConflict) as e:
        svc.cancel_issuance(a.issuance_id, "too late")
    assert e.value.code == "already-printed"
    assert svc.cancel_issuance(b.issuance_id, "paper jam") == "cancelled"
    assert svc.cancel_issuance(b.issuance_id, "paper jam") == "cancelled"
    with pytest.raises(StateConflict):
        svc.confirm_printed(b.issuance_id, 1)
    report = audit.check_chain(svc.engine)
    assert (report.events, report.issuances) == (4, 2)
    # No certificate content in the database: not a name, not the PDF.
    with svc.engine.connect() as c:
        dump = json.dumps([list(map(str, r)) for t in (issuances, issuance_events)
                           for r in c.execute(sa.select(t)).all()], ensure_ascii=False)
    assert "山田" not in dump and "%PDF" not in dump
    # Tampering with the state table, or with an entry, is detected.
    with svc.engine.begin() as c:
        c.execute(sa.update(issuances).where(issuances.c.issuance_id == a.issuance_id).values(fee=0))
    with pytest.raises(audit.AuditError, match="fee differs"):
        audit.check_chain(svc.engine)
    with svc.engine.begin() as c:
        c.execute(sa.update(issuances).where(issuances.c.issuance_id == a.issuance_id).values(fee=400))
        c.execute(sa.delete(issuance_events).where(issuance_events.c.seq == 4))
    with pytest.raises(audit.AuditError, match="audit_head"):
        audit.check_chain(svc.engine)


def test_bad_import_names_the_field_and_changes_nothing(svc: IssuerService, issuer_world: World, tmp_path: Path) -> None:
    data = json.loads(issuer_world.import_file.read_text(encoding="utf-8"))
    data["municipalities"][0]["households"][0]["members"][0]["name"] = "別人 太郎"
    data["municipalities"][0]["households"][0]["members"][2]["birth_date"] = "2010-13-40"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ImportError_, match=r"municipalities\[0\]\.households\[0\]\.members\[2\]\.birth_date"):
        import_file(svc.engine, bad)
    with svc.engine.connect() as c:
        name = c.execute(sa.select(residents.c.name).where(residents.c.resident_id == "R001")).scalar()
    assert name == "山田 太郎"
    # Re-importing the good file is idempotent, and names keep their IVS.
    import_file(svc.engine, issuer_world.import_file)
    with svc.engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(residents)).scalar() == 6
        name = c.execute(sa.select(residents.c.name).where(residents.c.resident_id == "R002")).scalar()
    assert name == "山田 葛\U000E0103子"


def test_keyed_audit_chain_resists_a_rewritten_log(svc: IssuerService) -> None:
    """Someone with write access to the database edits an entry and recomputes the chain.

    With an audit key kept outside the database (issuer.toml ``[audit] key``)
    the rewrite does not verify; an unkeyed chain would have accepted it.
    """
    from dataclasses import replace

    key = b"k" * 32
    keyed = IssuerService(svc.engine, replace(svc.settings, audit_key=key))
    a = keyed.issue_certificate(request("S-keyed"))
    keyed.confirm_printed(a.issuance_id, 2)
    assert audit.check_chain(svc.engine, key).events == 2
    with svc.engine.begin() as c:
        events = c.execute(sa.select(issuance_events).order_by(issuance_events.c.seq)).all()
        prev = "0" * 64
        for ev in events:
            data = json.loads(ev.data)
            if ev.event == "issued":
                data["fee"] = 0  # the edit
            text = audit.canonical(data)
            h = audit.entry_hash(prev, ev.seq, ev.issuance_id, ev.event, text)  # no key: the attacker has none
            c.execute(sa.update(issuance_events).where(issuance_events.c.seq == ev.seq)
                      .values(data=text, prev_hash=prev, entry_hash=h))
            prev = h
        c.execute(sa.update(audit_head).values(last_hash=prev))
        c.execute(sa.update(issuances).where(issuances.c.issuance_id == a.issuance_id).values(fee=0))
    with pytest.raises(audit.AuditError, match="content does not match its hash"):
        audit.check_chain(svc.engine, key)
