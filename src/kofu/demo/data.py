"""Synthetic residents for the demo and the tests: deterministic, no real people.

Names draw on the 文字情報基盤 (MJ) set on purpose: 髙 and 﨑 are outside JIS X
0208, 𠮷 is outside the BMP, and 葛 is written with Ideographic Variation
Sequences (U+E0102, U+E0103) so the printed glyph must follow the selector.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
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
    """コンビニ手数料 of 住民票の写し and the kinds charged alike (seed 002, 資料3)."""
    town: str
    counter_fee: int = 300
    """窓口手数料 of the same kinds (資料3)."""
    participating_since: date | None = None
    """開始日 in 資料3; None for a municipality that does not take part."""


# 資料3 (seed 002): 兵庫県内における導入自治体の手数料設定状況. 三木市 since
# H23.3.10 and 加東市 (H29.4) both charge 300 円 at the counter and 250 円 at a kiosk.
MUNICIPALITIES = (
    Municipality("282286", "加東市", "兵庫県", "山本 正和", 5, 250, "社", 300, date(2017, 4, 1)),
    Municipality("282154", "三木市", "兵庫県", "木村 一彦", 5, 250, "上の丸町", 300, date(2011, 3, 10)),
)

NOT_PARTICIPATING = Municipality("285854", "香美町", "兵庫県", "浜田 広志", 1, 300, "香住区香住", 300, None)
"""A municipality with cards in circulation but no issuer in the routing table: 資料3
lists no 但馬 municipality at all (神戸市 takes part since H28.1.20)."""

SURNAMES = (
    ("山田", "ヤマダ"), ("髙橋", "タカハシ"), ("山﨑", "ヤマザキ"), ("𠮷田", "ヨシダ"),
    ("葛\U000E0102西", "カサイ"), ("葛\U000E0103城", "カツラギ"), ("佐藤", "サトウ"), ("鈴木", "スズキ"),
    ("田中", "タナカ"), ("渡邉\U000E0110", "ワタナベ"), ("伊藤", "イトウ"), ("中村", "ナカムラ"),
)
OTHER_SURNAMES = ("松本", "井上", "木村", "林", "清水", "山口", "森", "池田", "橋本", "石川", "前田", "藤井")
"""氏 of people outside the demo households: a wife's parents, a daughter's husband."""

# Given names of each generation (birth years up to the key), as they were common then.
GIVEN_NAMES: dict[str, tuple[tuple[int, tuple[tuple[str, str], ...]], ...]] = {
    "male": (
        (1954, (("茂", "シゲル"), ("清", "キヨシ"), ("勇", "イサム"), ("実", "ミノル"), ("正雄", "マサオ"),
                ("武", "タケシ"))),
        (1979, (("浩", "ヒロシ"), ("誠", "マコト"), ("健一", "ケンイチ"), ("隆", "タカシ"), ("一郎", "イチロウ"),
                ("哲也", "テツヤ"), ("和也", "カズヤ"))),
        (1999, (("翔太", "ショウタ"), ("健太", "ケンタ"), ("拓也", "タクヤ"), ("大輔", "ダイスケ"), ("翔", "ショウ"),
                ("達也", "タツヤ"))),
        (9999, (("悠真", "ユウマ"), ("蓮", "レン"), ("大翔", "ヒロト"), ("陽翔", "ハルト"), ("湊", "ミナト"),
                ("悠斗", "ユウト"))),
    ),
    "female": (
        (1954, (("節子", "セツコ"), ("幸子", "サチコ"), ("和子", "カズコ"), ("久子", "ヒサコ"), ("弘子", "ヒロコ"),
                ("照子", "テルコ"))),
        (1979, (("恵子", "ケイコ"), ("由美子", "ユミコ"), ("直美", "ナオミ"), ("久美子", "クミコ"), ("裕子", "ユウコ"),
                ("真由美", "マユミ"))),
        (1999, (("美咲", "ミサキ"), ("彩", "アヤ"), ("愛", "アイ"), ("麻衣", "マイ"), ("沙織", "サオリ"),
                ("瞳", "ヒトミ"))),
        (9999, (("陽菜", "ヒナ"), ("結衣", "ユイ"), ("葵", "アオイ"), ("美桜", "ミオ"), ("結菜", "ユイナ"),
                ("凛", "リン"))),
    ),
}


def given_names(sex: str, born: date) -> tuple[tuple[str, str], ...]:
    """(名, カナ) common for ``sex`` in the year of ``born``."""
    return next(names for until, names in GIVEN_NAMES[sex] if born.year <= until)


# Where the households lived before they moved here (従前の住所), and where
# their family register was kept before it moved here (従前本籍): places whose
# names have not changed since the 1980s. (municipality, 町名, 丁目 used, 住居表示).
PREVIOUS_HOMES = (
    ("兵庫県明石市", "大久保町大窪", False, False),
    ("兵庫県加古川市", "平岡町新在家", False, False),
    ("兵庫県小野市", "王子町", False, False),
    ("兵庫県西宮市", "甲子園口", True, True),
    ("兵庫県姫路市", "飾磨区恵美酒", False, False),
    ("兵庫県神戸市西区", "学園東町", True, False),
    ("兵庫県西脇市", "野村町", False, False),
    ("大阪府吹田市", "千里山西", True, True),
    ("大阪府豊中市", "上野西", True, True),
    ("京都府京都市伏見区", "深草西浦町", True, False),
    ("兵庫県尼崎市", "塚口町", True, True),
)
# Where the parents' registers are (the couple's 出生地 and 従前戸籍): (municipality, 町名).
HOMETOWNS = (
    ("兵庫県西脇市", "郷瀬町"), ("兵庫県小野市", "中町"), ("兵庫県三木市", "福井"), ("兵庫県高砂市", "荒井町"),
    ("兵庫県豊岡市", "城南町"), ("岡山県津山市", "山下"), ("兵庫県洲本市", "本町"),
)


def _home(rng: random.Random, where: tuple[str, str, bool, bool]) -> tuple[str, str]:
    """(住所, 本籍) in ``where``: the address with 番・号 where 住居表示 applies, else 番地."""
    municipality, town, chome, numbered = where
    c = f"{rng.randint(1, 4)}丁目" if chome else ""
    a, b = rng.randint(1, 30), rng.randint(1, 20)
    address = f"{municipality}{town}{c}{a}番{b}号" if numbered else f"{municipality}{town}{c}{a}番地{b}"
    return address, f"{municipality}{town}{c}{a}番" + ("" if numbered else "地")


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
    married_on: date | None = None
    """When the head married the spouse (the family register was made then)."""
    daughter_married_out: tuple[str, date, date] | None = None
    """(given name, born, married): a daughter of the couple who married and
    left the household and the register (SEAL_HOUSEHOLD only)."""
    came_from: str = ""
    """The municipality the household moved in from (where children born before were born)."""
    previous_honseki: str = ""
    """本籍 of the couple's register before it moved here (従前本籍)."""
    moved_in: date | None = None
    """When the household moved here (転入)."""


def _days(rng: random.Random, low_years: float, high_years: float) -> timedelta:
    return timedelta(days=rng.randrange(int(low_years * 365.25), int(high_years * 365.25)))


def households_for(m: Municipality, seed: int = 1) -> list[Household]:
    """The sample households of ``m``: couples who married in their late twenties,
    children born after the marriage two to four years apart, the head's parents
    25 to 34 years older than the head, given names of each one's generation.
    Each household moved in from another town (one 転入届 for all who came
    together, within 14 days). Deterministic for (m, seed)."""
    rng = random.Random(f"{m.code}-{seed}")
    result: list[Household] = []
    n = 0
    origins = rng.sample([h for h in PREVIOUS_HOMES if h[0] != f"{m.prefecture}{m.name}"], len(SHAPES))
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
        # The register household moved here before its eldest daughter married (she
        # is recorded in the register that moved here with them).
        years = 6 if h_index == SEAL_HOUSEHOLD else 14
        moved_in = date(2008, 4, 1) + timedelta(days=rng.randrange(0, 365 * years))
        household.moved_in = moved_in
        # One 転入届 for the household, within 14 days of the move (住民基本台帳法 22条).
        moved_in_notified = moved_in + timedelta(days=rng.randrange(0, 14))
        # Where the household lived before (従前の住所), the same for all who moved in together.
        before, household.previous_honseki = _home(rng, origins[h_index])
        household.came_from = origins[h_index][0]
        # The head: born 1962–1979; the SEAL household's couple earlier, so that
        # their eldest daughter is grown up and married by now.
        head_birth = (date(1962, 1, 1) + _days(rng, 0, 6)) if h_index == SEAL_HOUSEHOLD else (
            date(1966, 1, 1) + _days(rng, 0, 14))
        spouse_birth = head_birth + _days(rng, -3, 4) - timedelta(days=365)
        married = max(head_birth, spouse_birth) + _days(rng, 25, 29)
        household.married_on = married if "妻" in shape else None
        # Children: after the marriage (or from the single parent's 25th year).
        child = (married if "妻" in shape else head_birth + _days(rng, 24, 26)) + _days(rng, 0.8, 2.5)
        used: set[str] = set()
        if h_index == SEAL_HOUSEHOLD:
            # (Chosen by the municipality, so the sample registers' daughters differ.)
            generation = given_names("female", child)
            given = generation[int(m.code[3:5]) % len(generation)][0]
            used.add(given)
            # She married at 24 to 27, after the register moved here (転籍, within
            # two years of the move) and before 令和7年10月10日.
            out_married = max(child + _days(rng, 24, 27), moved_in + timedelta(days=900))
            household.daughter_married_out = (given, child, min(out_married, date(2025, 10, 10)))
            child += _days(rng, 2, 4)
        for relationship in shape:
            n += 1
            if relationship == "世帯主":
                sex, birth = ("male" if head_male else "female"), head_birth
            elif relationship == "妻":
                sex, birth = "female", spouse_birth
            elif relationship == "父":
                sex, birth = "male", head_birth - _days(rng, 27, 34)
            elif relationship == "母":
                sex, birth = "female", head_birth - _days(rng, 25, 31)
            else:
                sex, birth = rng.choice(("male", "female")), child
                child += _days(rng, 2, 4)
            names = [g for g in given_names(sex, birth) if g[0] not in used]
            given, given_kana = rng.choice(names)
            used.add(given)
            here = max(birth, moved_in)
            person = Person(
                resident_id=f"{m.code}-{n:06d}",
                name=f"{surname} {given}",
                name_kana=f"{surname_kana} {given_kana}",
                birth_date=birth,
                sex=sex,
                relationship=relationship,
                became_resident_on=here,
                address_since=here,
                # 転入届 of the household, or the 出生届 (within 14 days of the birth).
                notified_on=moved_in_notified if birth < moved_in else birth + timedelta(days=rng.randrange(2, 14)),
                previous_address=None if birth >= moved_in else before,
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

TAX_YEAR_WINDOW = {"available_from": "06-01", "kept": 3}
"""The import's ``tax_years``: a new 年度 from 1 June, the latest three kept. From
1 June 2026 to 31 May 2027 that offers 2024, 2025 and 2026 (令和8年度) of the
recorded years (2023 is recorded but no longer offered); from 1 June 2027, 2025
and 2026."""
TAX_YEARS_RECORDED = (2023, 2024, 2025, 2026)

LOCAL_TAX_RATES: dict[str, list[dict[str, object]]] = {
    # 県民緑税: 800 円 on the 県民税 均等割 from 平成18年度; the 県議会 extended it to
    # 令和12年度 in September 2025 (兵庫県 and its municipalities publish the rate).
    "兵庫県": [{"name": "県民緑税", "first_year": 2006, "last_year": 2030, "prefectural_per_capita": 800}],
}
"""The import's ``local_tax_rates`` (超過課税) by prefecture: every demo municipality is in 兵庫県."""


def individual_number(seed: str) -> str:
    """A 12-digit 個人番号 with a valid check digit (synthetic, from ``seed``)."""
    rng = random.Random(f"mynumber-{seed}")
    body = [rng.randrange(10) for _ in range(11)]
    # Check digit as the My Number Act's ordinance defines it: weights from the right.
    total = sum(p * (n + 1 if n <= 6 else n - 5) for n, p in enumerate(reversed(body), start=1))
    r = total % 11
    return "".join(map(str, body)) + str(0 if r <= 1 else 11 - r)


def tax_record(person: Person, year: int, household: Household | None = None,
               local_rates: Sequence[dict[str, object]] = ()) -> dict[str, object]:
    """The raw 所得・課税 and 納税 figures of ``person`` for fiscal year ``year`` (import
    format): salary, social insurance, the spouse and children of ``household`` as
    dependants, payments (of the tax with the municipality's ``local_rates``, its import
    ``local_tax_rates``). The issuer computes every tax amount from them.

    The salary is steady: one level per person, rising about 1.5 % a year with a
    few ten thousand yen of bonus variation; the same insurance and housing-loan
    deductions every year."""
    from kofu.domain.tax import Dependant, TaxReturn, assess
    from kofu.issuer.taxrecord import local_rate

    person_rng = random.Random(f"tax-{person.resident_id}")
    level = person_rng.randrange(4_300_000, 6_300_000, 1000)
    life_insurance = person_rng.random() < 0.5
    housing_loan = person_rng.random() < 0.3
    rng = random.Random(f"tax-{person.resident_id}-{year}")
    salary = (level * (1000 + 15 * (year - min(TAX_YEARS_RECORDED))) // 1000
              + rng.randrange(-40_000, 40_001, 1000)) // 1000 * 1000
    deductions = [("社会保険料控除", salary * 145 // 1000)]
    if life_insurance:
        deductions.append(("生命保険料控除", 28_000))
    others = [p for p in (household.members if household else []) if p is not person]
    spouse = next((p for p in others if p.relationship in ("妻", "夫")), None)
    children = [p for p in others if p.relationship == "子"]
    credits = [("住宅借入金等特別税額控除", 24_600)] if housing_loan else []
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
        birth_date=person.birth_date, local_rates=tuple(local_rate(dict(x)) for x in local_rates),
    )).total
    # 普通徴収 in four 期; the latest year has its first three 期 paid (the 第4期 falls due
    # at the end of January).
    dues = [date(year, 6, 30), date(year, 8, 31), date(year, 10, 31), date(year + 1, 1, 31)]
    share = total // 4 // 1000 * 1000
    paid = total if year < max(TAX_YEARS_RECORDED) else total - share
    record["taxes"] = [
        {"name": "市民税・県民税(普通徴収)", "paid": paid, "due_dates": [d.isoformat() for d in dues]},
        {"name": "軽自動車税(種別割)", "assessed": 10_800, "paid": 10_800,
         "due_on": date(year, 5, 31).isoformat()},
    ]
    return record


_ORDINALS = ("長", "二", "三", "四", "五")


def family_register(m: Municipality, h: Household) -> dict[str, object]:
    """The family register (本籍 here) of household ``h`` in the import format.

    The head (筆頭者, 夫) and his wife married on ``h.married_on``, which made
    the register where they lived then; each came from a parent's register
    (【従前戸籍】, in their home towns). The register moved here (転籍) a few
    months after the household did, so its 戸籍事項 is the 転籍 with the
    【従前本籍】; the entries of those still in it were carried over. Their
    children follow in birth order with 続柄 counted by sex (長男, 二男, 長女 …);
    the eldest daughter married out after the 転籍 (除籍, 【新本籍】【称する氏】).
    Addresses (附票) include the head's before the register came here and the
    daughter's after she left, which the 附票 leaves out.
    """
    head = h.members[0]
    spouse = next((p for p in h.members if p.relationship == "妻"), None)
    married = h.married_on
    if spouse is None or married is None or h.moved_in is None:
        raise ValueError(f"household {h.household_id} has no married couple for a family register")
    surname = head.name.split(" ")[0]
    rng = random.Random(f"register-{h.household_id}")
    prefecture_town = f"{m.prefecture}{m.name}"
    first_home = head.previous_address or h.address
    transferred = h.moved_in + timedelta(days=rng.randrange(60, 800))
    # The parents' registers, in the couple's home towns (different ones; the
    # head's chosen by the municipality, so the sample registers differ).
    head_town = HOMETOWNS[int(m.code[3:5]) % len(HOMETOWNS)]
    spouse_town = HOMETOWNS[(int(m.code[3:5]) + 3) % len(HOMETOWNS)]
    head_parents_home = f"{head_town[0]}{head_town[1]}{rng.randint(1, 30)}番地"
    spouse_parents_home = f"{spouse_town[0]}{spouse_town[1]}{rng.randint(1, 30)}番地"
    maiden = rng.choice(OTHER_SURNAMES)
    grandparents_born = min(head.birth_date, spouse.birth_date) - timedelta(days=365 * 28)

    taken: set[str] = set()

    def elder(sex: str) -> str:
        given = rng.choice([g for g, _kana in given_names(sex, grandparents_born) if g not in taken])
        taken.add(given)
        return given

    head_father, head_mother = f"{surname} {elder('male')}", f"{surname} {elder('female')}"
    spouse_father, spouse_mother = f"{maiden} {elder('male')}", f"{maiden} {elder('female')}"

    def birth_event(born: date, place: str, notifier: str, notified: date | None = None) -> dict[str, str]:
        notified = notified or born + timedelta(days=rng.randrange(3, 14))
        return {"type": "出生", "date": born.isoformat(), "place": place,
                "notified_on": notified.isoformat(), "notifier": notifier}

    def homes(p: Person, since: date) -> list[dict[str, str]]:
        """Where ``p`` lived from ``since`` (the marriage, or their birth): the
        couple's first home, then this household's address."""
        out = []
        if p.previous_address is not None:
            out.append({"address": first_home, "since": since.isoformat()})
        out.append({"address": h.address, "since": p.address_since.isoformat()})
        return out

    persons: list[dict[str, object]] = [{
        "resident": head.resident_id, "name": head.name, "birth_date": head.birth_date.isoformat(),
        "sex": "male", "father": head_father, "mother": head_mother, "relationship": "長男",
        "spouse_role": "夫",
        "events": [birth_event(head.birth_date, head_town[0], "父"),
                   {"type": "婚姻", "date": married.isoformat(),
                    "spouse": f"{maiden} {spouse.name.split(' ')[1]}",
                    "previous_register": f"{head_parents_home}　{head_father}"}],
        # His parents' home before the marriage: not on this register's 附票.
        "addresses": [{"address": head_parents_home, "since": head.birth_date.isoformat()}, *homes(head, married)],
    }, {
        "resident": spouse.resident_id, "name": spouse.name, "birth_date": spouse.birth_date.isoformat(),
        "sex": "female", "father": spouse_father, "mother": spouse_mother, "relationship": "長女",
        "spouse_role": "妻",
        "events": [birth_event(spouse.birth_date, spouse_town[0], "父"),
                   {"type": "婚姻", "date": married.isoformat(), "spouse": head.name,
                    "previous_register": f"{spouse_parents_home}　{spouse_father}"}],
        "addresses": homes(spouse, married),
    }]
    children: list[tuple[date, dict[str, object]]] = []
    for c in (p for p in h.members if p.relationship == "子"):
        born_here = c.previous_address is None
        children.append((c.birth_date, {
            "resident": c.resident_id, "name": c.name, "birth_date": c.birth_date.isoformat(), "sex": c.sex,
            # A child born here: the 出生届 is the one the 住民票 records.
            "events": [birth_event(c.birth_date, prefecture_town if born_here else h.came_from, "父",
                                   c.notified_on if born_here else None)],
            "addresses": homes(c, c.birth_date),
        }))
    if h.daughter_married_out is not None:
        given, born, out_married = h.daughter_married_out
        husband = f"{rng.choice([n for n in OTHER_SURNAMES if n != maiden])} {rng.choice(given_names('male', born))[0]}"
        new_address, new_honseki = _home(rng, rng.choice([p for p in PREVIOUS_HOMES if p[0] != h.came_from]))
        addresses = [{"address": first_home, "since": born.isoformat()}]
        if head.address_since < out_married:
            addresses.append({"address": h.address, "since": head.address_since.isoformat()})
        # Her home after the marriage belongs to her new register's 附票.
        addresses.append({"address": new_address, "since": out_married.isoformat()})
        children.append((born, {
            "resident": None, "name": f"{surname} {given}", "birth_date": born.isoformat(), "sex": "female",
            "events": [birth_event(born, h.came_from, "父"),
                       {"type": "婚姻", "date": out_married.isoformat(), "spouse": husband,
                        "new_honseki": new_honseki, "surname": "夫の氏"}],
            "addresses": addresses,
        }))
    children.sort(key=lambda item: item[0])
    count = {"male": 0, "female": 0}
    for _born, child in children:
        sex = str(child["sex"])
        child["relationship"] = _ORDINALS[count[sex]] + ("男" if sex == "male" else "女")
        count[sex] += 1
        child["father"], child["mother"] = head.name, spouse.name
        persons.append(child)
    return {
        "id": f"{h.household_id}-K",
        "honseki": h.domicile,
        "head": head.name,
        # Moved here from the register made by the marriage where the couple lived
        # (after 加東市 was formed on 平成18年3月20日): no 編製 or 改製 here.
        "events": [{"type": "転籍", "date": transferred.isoformat(), "previous_honseki": h.previous_honseki}],
        "persons": persons,
    }
