"""戸籍 rules: 続柄, 身分事項 items, entry and removal, and the 附票's options."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from kofu.clock import JST
from kofu.domain import koseki
from kofu.domain.fees import FeeSchedule
from kofu.domain.rules import (
    MemberChoice,
    MunicipalityFacts,
    Offers,
    Order,
    OrderInvalid,
    OrderOptions,
    PersonFacts,
    Scope,
    check_order,
    offers,
)

TOWN = MunicipalityFacts(code="282286", participating=True, fees=FeeSchedule.from_mapping({"fuhyo": 250, "koseki": 350}),
                         offered_kinds=frozenset({"fuhyo", "koseki"}))
REGISTER = (MemberChoice("R1", "山田 太郎"), MemberChoice("R2", "山田 花子"), MemberChoice("K1#3", "山田 明美"))
HOLDER = PersonFacts(active=True, has_domicile=True, register_here=True, register_persons=REGISTER,
                     members=(MemberChoice("R1", "山田 太郎"), MemberChoice("R9", "山田 同居人")))
NOW = datetime(2026, 3, 3, 10, 0, tzinfo=JST)


@pytest.mark.parametrize("value", ["長男", "二男", "十男", "長女", "三女", "男", "女"])
def test_parental_relationships(value: str) -> None:
    assert koseki.is_parental_relationship(value)


# 養子 / 養女 is the 続柄 to the adoptive parents, not to the birth parents.
@pytest.mark.parametrize("value", ["妻", "夫", "子", "世帯主", "十一男", "長子", "", "養子", "養女"])
def test_not_relationships(value: str) -> None:
    assert not koseki.is_parental_relationship(value)


def test_adoptive_parents_from_the_adoption_that_brought_the_person_in() -> None:
    adoption = koseki.person_event({"type": "養子縁組", "date": "2012-03-03", "adoptive_father": "山田 太郎",
                                    "adoptive_mother": "山田 花子", "previous_register": "東京都千代田区平河町1番地"}, "e")
    person = {"events": [adoption]}
    assert koseki.adoptive_parents(person) == ("山田 太郎", "山田 花子")
    # Given explicitly, the person's fields win; an adoption into another register leaves none here.
    assert koseki.adoptive_parents({**person, "adoptive_father": "山田 一"}) == ("山田 一", "")
    away = koseki.person_event({"type": "養子縁組", "date": "2012-03-03", "adoptive_father": "乙川 孝助",
                                "entered_register": "京都市北区1番地　乙川 孝助"}, "e")
    assert koseki.adoptive_parents({"events": [away]}) == ("", "")
    # The adopters' own entry names the adoptee: it makes them nobody's 養子.
    adopter = koseki.person_event({"type": "養子縁組", "date": "2012-03-03", "adoptive_father": "山田 太郎",
                                   "adoptive_mother": "山田 花子", "adoptee": "田中 二郎"}, "e")
    assert koseki.adoptive_parents({"events": [adopter]}) == ("", "")


def test_given_name() -> None:
    assert koseki.given_name("山田 太郎") == "太郎" and koseki.given_name("葛\U000E0103城\u3000𠮷子") == "𠮷子"
    assert koseki.given_name("山田太郎") == ""


def test_event_lines_in_the_order_of_the_form() -> None:
    death = koseki.person_event({"type": "死亡", "notifier": "親族", "time": "12:05", "date": "2013-01-01",
                                 "place": "兵庫県加東市"}, "e")
    assert koseki.event_lines(death) == ("死亡", ["【死亡日】平成25年1月1日", "【死亡時分】午後0時5分",
                                                "【死亡地】兵庫県加東市", "【届出人】親族"])
    made = koseki.register_event({"type": "転籍", "date": "2019-05-01", "previous_honseki": "兵庫県三木市"}, "e")
    assert koseki.event_lines(made) == ("転籍", ["【転籍日】令和元年5月1日", "【従前本籍】兵庫県三木市"])


def test_entry_and_removal() -> None:
    made = [{"type": "編製", "date": "2005-05-03"}]
    wife = {"birth_date": "1982-06-15", "events": [
        {"type": "婚姻", "date": "2005-05-03", "spouse": "山田 太郎", "previous_register": "三木市"}]}
    child = {"birth_date": "2006-08-08", "events": [
        {"type": "婚姻", "date": "2025-10-10", "spouse": "鈴木 次郎", "new_honseki": "大阪市"}]}
    assert koseki.entered_on(wife, made) == date(2005, 5, 3) and koseki.left_on(wife) is None
    assert koseki.entered_on(child, made) == date(2006, 8, 8) and koseki.left_on(child) == date(2025, 10, 10)
    moved = [*made, {"type": "転籍", "date": "2015-04-10", "previous_honseki": "西脇市"}]
    assert koseki.entered_on(child, moved) == date(2015, 4, 10)
    assert koseki.leaves_register({"type": "死亡", "date": "2020-01-01"})
    assert not koseki.leaves_register(wife["events"][0])


def test_fuhyo_offers_all_some_and_the_domicile() -> None:
    got = offers(HOLDER, TOWN, NOW)
    assert isinstance(got, Offers)
    fuhyo, koseki_offer = got.find("fuhyo"), got.find("koseki")
    assert fuhyo is not None and koseki_offer is not None
    assert fuhyo.options.scopes == (Scope.HOUSEHOLD, Scope.SELF) and fuhyo.options.with_domicile
    assert fuhyo.options.members == REGISTER  # the register's persons, not the household
    assert not koseki_offer.options.with_domicile
    assert koseki_offer.options.members == REGISTER  # 個人事項 of chosen persons (戸籍法 10条)
    ok = Order("fuhyo", OrderOptions(Scope.HOUSEHOLD, False, True, members=("R2", "K1#3")), 1, 250)
    assert check_order(HOLDER, TOWN, ok, NOW) == fuhyo
    check_order(HOLDER, TOWN, Order("fuhyo", OrderOptions(Scope.SELF, False, False), 1, 250), NOW)
    for bad in (Order("fuhyo", OrderOptions(Scope.HOUSEHOLD, False, False, members=("R9",)), 1, 250),  # household, not register
                Order("fuhyo", OrderOptions(Scope.HOUSEHOLD, True, False), 1, 250),
                Order("koseki", OrderOptions(Scope.SELF, False, True, koseki_scope="all"), 1, 350)):
        with pytest.raises(OrderInvalid):
            check_order(HOLDER, TOWN, bad, NOW)
