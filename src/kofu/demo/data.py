"""Synthetic residents for the demo and the tests: deterministic, no real people.

Names draw on the 文字情報基盤 (MJ) set on purpose: 髙 and 﨑 are outside JIS X
0208, 𠮷 is outside the BMP, and 葛 is written with Ideographic Variation
Sequences (U+E0102, U+E0103) so the printed glyph must follow the selector.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta


@dataclass(frozen=True)
class Municipality:
    code: str
    name: str
    prefecture: str
    mayor_name: str
    population_class: int
    kiosk_fee: int
    town: str


MUNICIPALITIES = (
    Municipality("282286", "加東市", "兵庫県", "山本 正和", 5, 200, "社"),
    Municipality("282154", "三木市", "兵庫県", "木村 一彦", 5, 200, "上の丸町"),
)

NOT_PARTICIPATING = Municipality("281000", "神戸市", "兵庫県", "神田 喜一", 1, 300, "中央区加納町")
"""A municipality with cards in circulation but no issuer in the routing table."""

SURNAMES = (
    ("山田", "ヤマダ"), ("髙橋", "タカハシ"), ("山﨑", "ヤマザキ"), ("𠮷田", "ヨシダ"),
    ("葛\U000E0102西", "カサイ"), ("葛\U000E0103城", "カツラギ"), ("佐藤", "サトウ"), ("鈴木", "スズキ"),
    ("田中", "タナカ"), ("渡邉\U000E0110", "ワタナベ"), ("伊藤", "イトウ"), ("中村", "ナカムラ"),
)
MALE = (("太郎", "タロウ"), ("一郎", "イチロウ"), ("健太", "ケンタ"), ("翔", "ショウ"), ("悠真", "ユウマ"), ("隆", "タカシ"))
FEMALE = (("花子", "ハナコ"), ("美咲", "ミサキ"), ("陽菜", "ヒナ"), ("恵子", "ケイコ"), ("結衣", "ユイ"), ("直美", "ナオミ"))

# Household shapes: relationships in order (the first is the householder). 7 needs two pages.
SHAPES = (
    ("世帯主", "妻", "子", "子"),
    ("世帯主", "妻"),
    ("世帯主",),
    ("世帯主", "妻", "子"),
    ("世帯主", "妻", "子", "子", "子", "母", "父"),
    ("世帯主", "子"),
    ("世帯主",),
)


@dataclass
class Person:
    resident_id: str
    name: str
    name_kana: str
    birth_date: date
    sex: str
    relationship: str
    became_resident_on: date
    address_since: date
    notified_on: date
    previous_address: str | None
    resident_link: str


@dataclass
class Household:
    household_id: str
    address: str
    domicile: str
    domicile_head: str
    members: list[Person] = field(default_factory=list)


def _birth(rng: random.Random, relationship: str) -> date:
    if relationship in ("父", "母"):
        base = date(1948, 1, 1)
    elif relationship == "子":
        base = date(2003, 1, 1)
    else:
        base = date(1972, 1, 1)
    return base + timedelta(days=rng.randrange(0, 365 * 12))


def households_for(m: Municipality, seed: int = 1) -> list[Household]:
    rng = random.Random(f"{m.code}-{seed}")
    result: list[Household] = []
    n = 0
    for h_index, shape in enumerate(SHAPES):
        surname, surname_kana = SURNAMES[(h_index * 5 + int(m.code[3:5])) % len(SURNAMES)]
        address = f"{m.prefecture}{m.name}{m.town}{rng.randint(1, 60)}番地{rng.randint(1, 20)}"
        head_male = h_index % 3 != 2
        household = Household(
            household_id=f"{m.code}-H{h_index + 1:03d}",
            address=address,
            domicile=f"{m.prefecture}{m.name}{m.town}{rng.randint(1, 60)}番地",
            domicile_head="",
        )
        moved_in = date(2008, 4, 1) + timedelta(days=rng.randrange(0, 365 * 14))
        for relationship in shape:
            n += 1
            if relationship == "世帯主":
                sex = "male" if head_male else "female"
            elif relationship == "妻":
                sex = "female"
            elif relationship in ("父",):
                sex = "male"
            elif relationship in ("母",):
                sex = "female"
            else:
                sex = rng.choice(("male", "female"))
            given, given_kana = rng.choice(MALE if sex == "male" else FEMALE)
            birth = _birth(rng, relationship)
            person = Person(
                resident_id=f"{m.code}-{n:06d}",
                name=f"{surname} {given}",
                name_kana=f"{surname_kana} {given_kana}",
                birth_date=birth,
                sex=sex,
                relationship=relationship,
                became_resident_on=max(birth, moved_in),
                address_since=max(birth, moved_in),
                notified_on=max(birth, moved_in) + timedelta(days=rng.randrange(0, 14)),
                previous_address=None if birth >= moved_in else f"大阪府大阪市北区梅田{rng.randint(1, 3)}丁目{rng.randint(1, 20)}番",
                resident_link=f"{rng.getrandbits(128):032x}",
            )
            household.members.append(person)
        household.domicile_head = household.members[0].name
        result.append(household)
    return result
