"""Issue 13 against real processes: a hostile store operator with a kiosk
certificate and the kiosk API, as the findings were made.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kofu.kiosk import flow
from kofu.kiosk.client import CenterClient, KioskError, KioskTls
from tests.e2e.test_walking_skeleton import card_with, records

pytestmark = pytest.mark.slow


@pytest.fixture
def center(world: dict[str, Any]) -> Iterator[CenterClient]:
    tls = world["tls"]
    client = CenterClient(
        world["services"]["center"], KioskTls(Path(tls["ca"]), Path(tls["client_cert"]), Path(tls["client_key"]))
    )
    yield client
    client.close()


def _auth(world: dict[str, Any], center: CenterClient, card: dict[str, Any]) -> flow.Authenticated:
    return flow.authenticate(center, flow.open_card(Path(card["path"])), card["pin"], "kiosk-hostile")


def test_one_pin_entry_gives_one_order_and_nothing_after(world: dict[str, Any], center: CenterClient) -> None:
    """Finding 1 as found: after the resident's order was printed, the same session
    fetched more certificates (no card, no PIN) and cancelled each for a refund."""
    card = card_with(world, "seal")
    auth = _auth(world, center, card)
    before = len(records(world))
    result = flow.issue(center, auth, flow.IssueRequest(kind="juminhyo", scope="self"), lambda job, n: None)
    assert result.copies == 1 and len(records(world)) == before + 1
    for attempt in (
        lambda: center.order(auth.session_id, kind="koseki", koseki_scope="all", copies=1),
        lambda: center.order(auth.session_id, kind="juminhyo", with_individual_number=True, copies=1),
        lambda: center.offers(auth.session_id),
        lambda: center.print_job(auth.session_id, result.order_id),
        lambda: center.cancel(auth.session_id, result.order_id, "give me my money back"),
    ):
        with pytest.raises(KioskError) as e:
            attempt()
        assert e.value.status in (404, 409), e.value
    assert len(records(world)) == before + 1


def test_second_order_on_one_authentication_is_refused(world: dict[str, Any], center: CenterClient) -> None:
    auth = _auth(world, center, card_with(world, "household", 2))
    center.offers(auth.session_id)
    first = center.order(auth.session_id, kind="juminhyo", copies=1)
    with pytest.raises(KioskError) as e:
        center.order(auth.session_id, kind="juminhyo", scope="self", copies=1)
    assert (e.value.status, e.value.code) == (409, "one-order-per-session")
    # Closing before print data cancels it; the session is gone afterwards.
    assert center.close_session(auth.session_id) == 0
    with pytest.raises(KioskError) as e:
        center.pay(auth.session_id, first["order_id"], first["fee"])
    assert e.value.status == 404


def test_fetch_then_cancel_keeps_the_fee(world: dict[str, Any], center: CenterClient) -> None:
    auth = _auth(world, center, card_with(world, "household", 3))
    center.offers(auth.session_id)
    order = center.order(auth.session_id, kind="juminhyo", copies=2)
    center.pay(auth.session_id, order["order_id"], order["fee"])
    pdf, _ = center.print_job(auth.session_id, order["order_id"])
    assert pdf.startswith(b"%PDF")
    with pytest.raises(KioskError) as e:
        center.cancel(auth.session_id, order["order_id"], "fetched, now cancel")
    assert (e.value.status, e.value.code) == (409, "print-data-handed-out")
    # The printer's report is what refunds: 1 of 2 copies came out.
    out = center.printed(auth.session_id, order["order_id"], 1)
    assert (out["state"], out["copies_printed"], out["refunded"]) == ("partial", 1, order["fee"] // 2)


def test_revoked_after_authentication_gets_no_print_data(world: dict[str, Any], center: CenterClient) -> None:
    """Finding 1: a session authenticated before the card was revoked kept working."""
    from kofu.jpki import ca as jpki_ca

    card = card_with(world, "household", 4)
    auth = _auth(world, center, card)
    center.offers(auth.session_id)
    order = center.order(auth.session_id, kind="juminhyo", copies=1)
    center.pay(auth.session_id, order["order_id"], order["fee"])
    jpki_ca.revoke(Path(world["jpki"]), card["auth_serial"], "keyCompromise")
    time.sleep(2.5)  # the OCSP responder re-signs a changed serial within about a second
    with pytest.raises(KioskError) as e:
        center.print_job(auth.session_id, order["order_id"])
    assert (e.value.status, e.value.code) == (403, "card-revoked")
    cancelled = center.cancel(auth.session_id, order["order_id"], "card revoked")
    assert cancelled["refund"] == order["fee"]
