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


# ---------------------------------------------------------------- the other records
#
# Which household exercises what, in every sample municipality (index into SHAPES):
#   0  household of four: the head has a registered seal, tax records and a
#      family register here (本籍 here) with a marriage and a daughter married out
#   1  couple: the head's seal was registered and then abolished
#   3  household of three: the child moved out (転出), status removed
#   4  seven people: needs two pages
#   5  head and child: the child is under a support measure (支援措置)
SEAL_HOUSEHOLD = 0
ABOLISHED_SEAL_HOUSEHOLD = 1
REMOVED_MEMBER_HOUSEHOLD = 3
PROTECTED_HOUSEHOLD = 5

TAX_YEARS_OFFERED = (2024, 2025)
"""Fiscal years (年度) offered at kiosks; records exist for 2023 too, which is not offered."""
TAX_YEARS_RECORDED = (2023, 2024, 2025)


def individual_number(seed: str) -> str:
    """A 12-digit 個人番号 with a valid check digit (synthetic, from ``seed``)."""
    rng = random.Random(f"mynumber-{seed}")
    body = [rng.randrange(10) for _ in range(11)]
    # Check digit as the My Number Act's ordinance defines it: weights from the right.
    total = sum(p * (n + 1 if n <= 6 else n - 5) for n, p in enumerate(reversed(body), start=1))
    r = total % 11
    return "".join(map(str, body)) + str(0 if r <= 1 else 11 - r)


def tax_record(person: Person, year: int, household: Household | None = None) -> dict[str, object]:
    """The raw 所得・課税 and 納税 figures of ``person`` for fiscal year ``year`` (import
    format): salary, social insurance, the spouse and children of ``household`` as
    dependants, payments. The issuer computes every tax amount from them."""
    from kofu.domain.tax import Dependant, TaxReturn, assess

    rng = random.Random(f"tax-{person.resident_id}-{year}")
    salary = rng.randrange(3_000_000, 8_000_000, 1000)
    deductions = [("社会保険料控除", salary * 145 // 1000)]
    if rng.random() < 0.5:
        deductions.append(("生命保険料控除", 28_000))
    others = [p for p in (household.members if household else []) if p is not person]
    spouse = next((p for p in others if p.relationship in ("妻", "夫")), None)
    children = [p for p in others if p.relationship == "子"]
    credits = [("住宅借入金等特別税額控除", 24_600)] if rng.random() < 0.3 else []
    record: dict[str, object] = {
        "resident": person.resident_id,
        "fiscal_year": year,
        "salary_revenue": salary,
        "deductions": [{"kind": k, "amount": v} for k, v in deductions],
        "spouse": {"birth_date": spouse.birth_date.isoformat(), "income": 0} if spouse else None,
        "dependants": [{"birth_date": c.birth_date.isoformat(), "income": 0} for c in children],
        "tax_credits": [{"kind": k, "amount": v} for k, v in credits],
    }
    total = assess(TaxReturn(
        fiscal_year=year, salary_revenue=salary, deductions=tuple(deductions),
        spouse=Dependant(spouse.birth_date) if spouse else None,
        dependants=tuple(Dependant(c.birth_date) for c in children), tax_credits=tuple(credits),
    )).total
    # 普通徴収 in four 期; the latest year has its first two 期 paid.
    dues = [date(year, 6, 30), date(year, 8, 31), date(year, 10, 31), date(year + 1, 1, 31)]
    share = total // 4 // 1000 * 1000
    paid = total if year < max(TAX_YEARS_RECORDED) else total - 2 * share
    record["taxes"] = [
        {"name": "市民税・県民税(普通徴収)", "paid": paid, "due_dates": [d.isoformat() for d in dues]},
        {"name": "軽自動車税(種別割)", "assessed": 10_800, "paid": 10_800,
         "due_on": date(year, 5, 31).isoformat()},
    ]
    return record


def family_register(m: Municipality, h: Household) -> dict[str, object]:
    """The family register (本籍 here) of household ``h``: the couple, their children,
    and a daughter who married out (除籍), with each person's addresses for the 附票."""
    from kofu.domain.era import to_wareki

    head = h.members[0]
    spouse = next((p for p in h.members if p.relationship in ("妻", "夫")), None)
    children = [p for p in h.members if p.relationship == "子"]
    surname = head.name.split(" ")[0]
    father = head.name if head.sex == "male" else ""
    mother = spouse.name if spouse is not None and spouse.sex == "female" else ""
    married = date(max(head.birth_date.year, spouse.birth_date.year if spouse else 0) + 24, 5, 3)

    def addresses(p: Person) -> list[dict[str, str]]:
        out = []
        if p.previous_address:
            out.append({"address": p.previous_address, "since": p.birth_date.isoformat()})
        out.append({"address": h.address, "since": p.address_since.isoformat()})
        return out

    persons: list[dict[str, object]] = [{
        "resident": head.resident_id, "name": head.name, "birth_date": head.birth_date.isoformat(),
        "sex": head.sex, "father": f"{surname} 一", "mother": f"{surname} ハル", "relationship": "長男",
        "events": [{"label": "出生", "text": f"【出生日】{to_wareki(head.birth_date)}\n【出生地】{m.prefecture}{m.name}"},
                   {"label": "婚姻", "text": f"【婚姻日】{to_wareki(married)}\n【配偶者氏名】{spouse.name if spouse else ''}"}],
        "addresses": addresses(head),
    }]
    if spouse is not None:
        persons.append({
            "resident": spouse.resident_id, "name": spouse.name, "birth_date": spouse.birth_date.isoformat(),
            "sex": spouse.sex, "father": "佐藤 一郎", "mother": "佐藤 ハナ", "relationship": "妻",
            "events": [{"label": "出生", "text": f"【出生日】{to_wareki(spouse.birth_date)}"},
                       {"label": "婚姻", "text": f"【婚姻日】{to_wareki(married)}\n【配偶者氏名】{head.name}"}],
            "addresses": addresses(spouse),
        })
    for i, c in enumerate(children):
        persons.append({
            "resident": c.resident_id, "name": c.name, "birth_date": c.birth_date.isoformat(),
            "sex": c.sex, "father": father, "mother": mother,
            "relationship": ("長男", "二男", "三男")[i % 3] if c.sex == "male" else ("長女", "二女", "三女")[i % 3],
            "events": [{"label": "出生", "text": f"【出生日】{to_wareki(c.birth_date)}\n【届出人】父"}],
            "addresses": addresses(c),
        })
    out_born = date(married.year + 1, 8, 8)
    out_married = min(date(out_born.year + 20, 10, 10), date(2025, 10, 10))
    persons.append({
        "resident": None, "name": f"{surname} 明美", "birth_date": out_born.isoformat(), "sex": "female",
        "father": father, "mother": mother, "relationship": "長女",
        "events": [{"label": "出生", "text": f"【出生日】{to_wareki(out_born)}"},
                   {"label": "婚姻", "text": f"【婚姻日】{to_wareki(out_married)}\n【新本籍】大阪府大阪市北区中之島一丁目3番"},
                   {"label": "除籍", "text": f"【除籍日】{to_wareki(out_married)}\n【除籍事由】婚姻"}],
        "removed": True,
        "addresses": [{"address": h.address, "since": out_born.isoformat()},
                      {"address": "大阪府大阪市北区中之島一丁目3番", "since": out_married.isoformat()}],
    })
    return {
        "id": f"{h.household_id}-K",
        "honseki": h.domicile,
        "head": head.name,
        "events": [{"label": "戸籍編製", "text": f"【編製日】{to_wareki(married)}\n【編製事由】婚姻の届出"}],
        "persons": persons,
    }
