"""The center's mapping of a resident's choices onto the IssueCertificate ``Options``
element: every field of :class:`OrderOptions`, and a plain 住民票 order that a
2.0 issuer reads as a 2.0 order (no 2.1 element sent)."""

from __future__ import annotations

from kofu.center.widearea_client import options_element
from kofu.domain.rules import OrderOptions, Scope


def test_a_plain_order_sends_only_the_2_0_elements() -> None:
    assert options_element(OrderOptions()) == {"Scope": "household", "WithHouseholder": False, "WithDomicile": False}


def test_every_choice_reaches_its_element() -> None:
    chosen = OrderOptions(scope=Scope.SELF, with_householder=True, with_domicile=True, with_individual_number=True,
                          members=("R001", "R002"), tax_kind="shotoku", year=2025, koseki_scope="zenbu")
    assert options_element(chosen) == {
        "Scope": "self", "WithHouseholder": True, "WithDomicile": True, "WithIndividualNumber": True,
        "Member": ["R001", "R002"], "TaxKind": "shotoku", "Year": 2025, "KosekiScope": "zenbu",
    }
