"""A seeded synthetic city for import benchmarks and tests: any number of residents.

Households of one to six members (family names with MJ characters, an IVS
and characters outside the BMP among them), seal registrations for about a
third of the adults, a tax record for most adults, and a family register (本籍
here) for about half the households. Everything about household ``h`` comes
from its own random stream, so a difference can regenerate exactly the
records it changes.

>>> write_full(Path("city.json"), residents=100_000)                  # kofu-issuer-import/3
>>> write_difference(Path("diff.json"), residents=100_000, changes=5_000, sequence=1)

The file is written as a stream: memory stays small whatever the size.
"""

from __future__ import annotations

import base64
import io
import json
import random
import shutil
import tempfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from kofu.domain.rules import Kind

CODE = "141003"  # 横浜市
NAME = "横浜市"
SEED = 2026
SURNAMES = ("髙橋", "山﨑", "渡邊", "𠮷田", "葛\U000E0103西", "佐藤", "鈴木", "田中", "伊藤", "齋藤", "小林",
            "中村", "山本", "加藤", "吉田", "山田", "佐々木", "松本", "井上", "木村", "林", "清水", "森", "池田")
KANA = ("タカハシ", "ヤマザキ", "ワタナベ", "ヨシダ", "カサイ", "サトウ", "スズキ", "タナカ", "イトウ", "サイトウ",
        "コバヤシ", "ナカムラ", "ヤマモト", "カトウ", "ヨシダ", "ヤマダ", "ササキ", "マツモト", "イノウエ", "キムラ",
        "ハヤシ", "シミズ", "モリ", "イケダ")
GIVEN_M = (("太郎", "タロウ"), ("𠮷郎", "ヨシロウ"), ("一郎", "イチロウ"), ("翔太", "ショウタ"), ("蓮", "レン"))
GIVEN_F = (("花子", "ハナコ"), ("葛\U000E0103子", "カツコ"), ("陽菜", "ヒナ"), ("結衣", "ユイ"), ("美咲", "ミサキ"))
WARDS = ("鶴見区", "神奈川区", "西区", "中区", "南区", "港南区", "保土ケ谷区", "旭区", "磯子区", "金沢区",
         "港北区", "緑区", "青葉区", "都筑区", "戸塚区", "栄区", "泉区", "瀬谷区")
REFRESHED = "2026-03-01T02:00:00+09:00"
MOVED_IN = date(2015, 4, 1)
"""When the city's residents settled at their address (or their birth, if later)."""
LATEST_BIRTH = date(2025, 12, 31)
"""No one is born after the city's import date (children are folded back into the ten years before)."""


def _seal_png() -> str:
    from PIL import Image, ImageDraw

    img = Image.new("L", (48, 48), 255)
    ImageDraw.Draw(img).ellipse((2, 2, 45, 45), outline=0, width=3)
    buf = io.BytesIO()
    img.save(buf, "PNG", dpi=(400, 400))
    return base64.b64encode(buf.getvalue()).decode("ascii")


def municipality(code: str = CODE, name: str = NAME) -> dict[str, Any]:
    kinds = [k.value for k in Kind]
    return {
        "code": code, "name": name, "mayor_title": f"{name}長", "mayor_name": "山中 竹春",
        "population_class": 1, "participating": True,
        "fees": dict.fromkeys(kinds, 200) | {"koseki": 350},
        "offered_kinds": kinds, "tax_years": [2025], "individual_number_at_kiosk": True,
    }


def _household(h: int, code: str, png: str, variant: int = 0) -> tuple[dict[str, Any], list[Any], list[Any], Any]:
    """Household ``h``: (household, seals, tax records, register or None). ``variant`` > 0: a changed copy."""
    rng = random.Random(SEED * 1_000_003 + h)
    size = rng.choices((1, 2, 3, 4, 5, 6), (35, 28, 17, 14, 4, 2))[0]
    s = rng.randrange(len(SURNAMES))
    surname, kana = SURNAMES[s], KANA[s]
    ward = WARDS[h % len(WARDS)]
    address = f"神奈川県{NAME}{ward}{rng.randint(1, 9)}丁目{rng.randint(1, 40)}番{rng.randint(1, 30)}号"
    head_born = date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 60))
    members: list[dict[str, Any]] = []
    seals: list[dict[str, Any]] = []
    taxes: list[dict[str, Any]] = []
    for j in range(size):
        rid = f"R{h:08d}-{j}"
        adult = j < 2
        sex = ("male" if j == 0 else "female") if adult else rng.choice(("male", "female"))
        given, gkana = rng.choice(GIVEN_M if sex == "male" else GIVEN_F)
        born = head_born + timedelta(days=rng.randrange(-1500, 1500)) if adult else \
            head_born + timedelta(days=365 * 25 + rng.randrange(365 * 15))
        if born > LATEST_BIRTH:
            born = LATEST_BIRTH - timedelta(days=(born - LATEST_BIRTH).days % 3650)
        # Settled at this address in 2015, or born here later (no 従前の住所 then).
        settled = max(born, MOVED_IN)
        m = {
            "id": rid, "name": f"{surname} {given}", "name_kana": f"{kana} {gkana}",
            "birth_date": born.isoformat(), "sex": sex,
            "relationship": ("世帯主", "妻" if sex == "female" else "夫")[j] if adult else "子",
            "became_resident_on": born.isoformat(), "address_since": settled.isoformat(),
            "notified_on": (settled + timedelta(days=2)).isoformat(),
            "previous_address": "神奈川県川崎市川崎区宮本町1番地" if born < MOVED_IN else "",
            "individual_number": f"{(h * 7 + j) % 10**11:011d}{(h + j) % 10}",
            "status": "active", "resident_link": f"city-{code}-{rid}",
        }
        if h % 2 == 0:
            m["domicile"], m["domicile_head"] = address, f"{surname} {GIVEN_M[0][0]}"
        members.append(m)
        if adult and rng.random() < 0.35:
            # Registered at 16 at the earliest (a seal is registered from 15).
            registered = max(date(2016, 5, 1), born + timedelta(days=365 * 16 + 5))
            seals.append({"number": f"S{h:08d}-{j}", "resident": rid, "impression_png": png,
                          "registered_at": f"{registered.isoformat()}T10:00:00+09:00", "abolished_at": None})
        if adult and rng.random() < 0.8:
            income = rng.randrange(1_000_000, 9_000_000, 1000)
            # Raw figures only: the issuer computes the taxes from them.
            taxes.append({"resident": rid, "fiscal_year": 2025, "salary_revenue": income,
                          "deductions": [{"kind": "社会保険料控除", "amount": income // 7}],
                          "taxes": [{"name": "市民税・県民税(普通徴収)", "assessed": income // 12,
                                     "paid": income // 12, "due_on": "2026-01-31"}]})
    household: dict[str, Any] = {"id": f"H{h:08d}", "address": address, "householder": members[0]["id"], "members": members}
    register: dict[str, Any] | None = None
    if h % 2 == 0:
        # The head and his wife (the second member, when there is one) married when the
        # younger was 20, in 2005 at the earliest; the marriage made the register.
        couple = members[:2] if len(members) > 1 else []
        married = max([date(2005, 5, 3)] + [date.fromisoformat(m["birth_date"]) + timedelta(days=365 * 20 + 5)
                                            for m in couple])

        def events(j: int, m: dict[str, Any]) -> list[dict[str, Any]]:
            out: list[dict[str, Any]] = [{"type": "出生", "date": m["birth_date"], "place": "神奈川県横浜市"}]
            if j < len(couple):
                out.append({"type": "婚姻", "date": married.isoformat(), "spouse": couple[1 - j]["name"]})
            return out

        register = {
            "id": f"K{h:08d}", "honseki": address, "head": f"{surname} {GIVEN_M[0][0]}",
            "events": [{"type": "編製", "date": married.isoformat()}],
            "persons": [{"resident": m["id"], "name": m["name"], "birth_date": m["birth_date"], "sex": m["sex"],
                         "father": "", "mother": "", "relationship": _register_relationship(members, j),
                         "spouse_role": ("夫", "妻")[j] if j < len(couple) else None,
                         "events": events(j, m),
                         "removed": False, "addresses": [{"address": address, "since": m["address_since"]}]}
                        for j, m in enumerate(members)],
        }
    if variant:
        kind = variant % 5
        if kind == 0:  # the household moved
            household["address"] = address.replace("丁目", f"丁目{variant % 7 + 1}-", 1)
            for m in members:
                m["address_since"] = "2026-02-27"
        elif kind == 1 and len(members) > 1:  # a member removed (転出)
            members[-1].update(status="removed", removed_reason="転出", removed_on="2026-02-27")
        elif kind == 2 and seals:  # a seal abolished
            seals[0]["abolished_at"] = "2026-02-27T09:00:00+09:00"
        elif kind == 3 and taxes:  # a tax record corrected
            taxes[0]["salary_revenue"] += 1000
        elif register is not None:  # a register entry added
            register["events"].append({"type": "改製", "date": "2026-02-27", "reason": f"記録の訂正 ({variant})"})
        else:
            household["address"] += "（変更）"
    return household, seals, taxes, register


def _register_relationship(members: list[dict[str, Any]], j: int) -> str:
    """The 続柄 a 戸籍 records (長男, 二女 …): each person counted among the earlier ones of the same sex."""
    sex = members[j]["sex"]
    if j < 2:  # the head and the spouse, each their parents' first
        return "長男" if sex == "male" else "長女"
    n = sum(1 for m in members[2:j] if m["sex"] == sex)
    return ("長", "二", "三", "四", "五")[n] + ("男" if sex == "male" else "女")


def households_for(residents: int) -> Iterator[int]:
    """The household numbers that hold ``residents`` residents (the last may hold a few more)."""
    total = h = 0
    while total < residents:
        yield h
        total += random.Random(SEED * 1_000_003 + h).choices((1, 2, 3, 4, 5, 6), (35, 28, 17, 14, 4, 2))[0]
        h += 1


def _write(path: Path, head: dict[str, Any], settings: dict[str, Any], records: Iterator[tuple[Any, ...]]) -> int:
    """Stream a file: JSON Lines (``.jsonl``) record by record; JSON with the four record
    lists written to temporary files first, then joined."""
    lists = ("households", "seal_registrations", "tax_records", "family_registers")
    count = 0
    if path.suffix == ".jsonl":
        with path.open("w", encoding="utf-8") as out:
            out.write(json.dumps(head, ensure_ascii=False) + "\n")
            out.write(json.dumps({"municipality": settings}, ensure_ascii=False) + "\n")
            for household, seals, taxes, register in records:
                count += len(household["members"])
                for key, items in zip(("household", "seal_registration", "tax_record", "family_register"),
                                      ([household], seals, taxes, [register] if register else []), strict=True):
                    for item in items:
                        out.write(json.dumps({key: item}, ensure_ascii=False) + "\n")
        return count
    with tempfile.TemporaryDirectory() as tmp:
        parts = {k: open(Path(tmp) / k, "w", encoding="utf-8") for k in lists}  # noqa: SIM115
        first = dict.fromkeys(lists, True)
        try:
            for household, seals, taxes, register in records:
                count += len(household["members"])
                for key, items in zip(lists, ([household], seals, taxes, [register] if register else []),
                                      strict=True):
                    for item in items:
                        parts[key].write(("" if first[key] else ",\n") + json.dumps(item, ensure_ascii=False))
                        first[key] = False
        finally:
            for f in parts.values():
                f.close()
        with path.open("w", encoding="utf-8") as out:
            out.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "municipalities": [\n')
            out.write(json.dumps(settings, ensure_ascii=False)[:-1])
            for key in lists:
                out.write(f', "{key}": [\n')
                with open(Path(tmp) / key, encoding="utf-8") as f:
                    shutil.copyfileobj(f, out, 1 << 20)
                out.write("]")
            out.write("}]}\n")
    return count


def write_full(path: Path, residents: int, *, code: str = CODE, sequence: int = 0,
               bad_last: bool = False) -> int:
    """A full export of about ``residents`` residents; the number written.

    ``bad_last``: the very last household's last member has an impossible birth date.
    """
    png = _seal_png()
    hs = list(households_for(residents)) if bad_last else None

    def records() -> Iterator[tuple[Any, ...]]:
        for h in hs if hs is not None else households_for(residents):
            rec = _household(h, code, png)
            if hs is not None and h == hs[-1]:
                rec[0]["members"][-1]["birth_date"] = "2010-13-40"
            yield rec

    return _write(path, {"format": "kofu-issuer-import/3"}, municipality(code) | {"sequence": sequence},
                  records())


def write_difference(path: Path, residents: int, changes: int, sequence: int, *, code: str = CODE) -> int:
    """A difference of ``changes`` changed households (moves, removals, seals abolished, tax, registers)."""
    png = _seal_png()
    total = sum(1 for _ in households_for(residents))
    rng = random.Random(SEED + sequence)
    chosen = sorted(rng.sample(range(total), min(changes, total)))
    return _write(path, {"format": "kofu-issuer-difference/2"}, {"code": code, "sequence": sequence},
                  (_household(h, code, png, variant=sequence * 7 + k + 1) for k, h in enumerate(chosen)))


def resident_link(h: int, j: int = 0, code: str = CODE) -> str:
    return f"city-{code}-R{h:08d}-{j}"
