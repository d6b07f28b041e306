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


def test_members_of_a_koseki_order_only_for_an_individual_certificate_of_offered_persons() -> None:
    import pytest

    from kofu.center.service import OrderConflict, _check_kind_options
    from kofu.domain.rules import MemberChoice
    from kofu.widearea.messages import KindOffer

    offer = KindOffer(kind="koseki", fee=350, max_copies=5, scopes=("self",), with_householder=False,
                      with_domicile=False, koseki_scopes=("all", "self"),
                      members=(MemberChoice("R1", "甲", holder=True), MemberChoice("R2", "乙")))
    # 戸籍法 10条: the 個人事項 of another person of the holder's register.
    _check_kind_options(offer, OrderOptions(scope=Scope.SELF, koseki_scope="self", members=("R2",)))
    _check_kind_options(offer, OrderOptions(scope=Scope.SELF, koseki_scope="self", members=("R1", "R2")))
    for wrong in (OrderOptions(scope=Scope.SELF, koseki_scope="all", members=("R2",)),  # 全部事項 lists everyone
                  OrderOptions(scope=Scope.SELF, koseki_scope="self", members=("R9",)),  # not in the register
                  OrderOptions(scope=Scope.SELF, koseki_scope="self", members=("R2", "R2"))):
        with pytest.raises(OrderConflict) as e:
            _check_kind_options(offer, wrong)
        assert e.value.code == "bad-options", wrong
