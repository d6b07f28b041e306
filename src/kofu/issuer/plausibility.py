"""Records no municipality could hold: refused at import, before anything is written.

The streaming importer (:mod:`kofu.issuer.importer`) calls :func:`problems`
on each family register as it passes ``Import.record``, and, once the file
is staged, on each municipality's seals with the birth dates of their
residents and the seals already stored (inside the import's transaction).
Each problem is ``(field path, message)`` and any one refuses the whole
file.

>>> problems(residents=rows.residents, seals=rows.seals, registers=rows.registers)  # doctest: +SKIP
[('municipalities[0].seal_registrations[0].registered_at', 'the resident was 12 …')]

What is checked:

- a seal registration (印鑑登録) for a resident under 15 at its registration;
- a second seal in force at the same time for one resident;
- a marriage below the marriageable age on its date (16 for women and 18
  for men before 令和4年4月1日, 18 for both from then on);
- a person born before (or on the day of) a parent or an adoptive parent
  recorded in the same register;
- a 身分事項 or its 届出日 dated before the person's birth;
- a 続柄 that is not a 戸籍's (長男, 二女 …; 夫 and 妻 are the 配偶者区分; 養子
  and 養女 are the 続柄 to the adoptive parents, ``adoptive_relationship``),
  and an adoptive 続柄 that does not match the sex or has no adoptive parent;
- a 続柄 of the other sex (a woman recorded as 長男, a man as 長女), and a
  配偶者区分 of the other sex (a woman as 夫);
- two children of the same parents (父 and 母 both named) with one
  birth-order 続柄 (two 長女);
- a 配偶者区分 (夫 / 妻) on a person without a 婚姻 身分事項;
- a 附票 address dated before the person's birth;
- a person id used twice in one register;
- a 住民票 whose 住民となった年月日, 住所を定めた年月日, 届出日 or 異動日 is
  before the resident's birth (:func:`resident_problems`, on each household).

Rows are the importer's dicts: residents with ``resident_id``,
``birth_date`` (date) and ``_where``; seals with ``resident_id``,
``registered_at`` / ``abolished_at`` (aware datetimes) and ``_where``;
registers with ``data`` (the JSON stored, persons and their events) and
``_where``. Nothing here reads the database.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from kofu import clock
from kofu.domain import koseki
from kofu.domain.era import to_wareki

Problem = tuple[str, str]

MAX_PROBLEMS = 50
"""Reported at most; the file is refused at the first one anyway."""


def _norm(name: str) -> str:
    return re.sub(r"[ \u3000]+", "", name)


def _seals(
    residents: Iterable[Mapping[str, Any]], seals: Iterable[Mapping[str, Any]],
    stored_seals: Iterable[Mapping[str, Any]] = (),
) -> list[Problem]:
    out: list[Problem] = []
    births = {r["resident_id"]: r["birth_date"] for r in residents}
    by_resident: dict[str, list[Mapping[str, Any]]] = {}
    seals = list(seals)
    in_file = {s["registration_number"] for s in seals}
    for s in stored_seals:
        # A seal already stored and not in this file stays as it is: it counts too.
        if s["registration_number"] not in in_file:
            by_resident.setdefault(s["resident_id"], []).append(
                {**s, "_where": f"the stored seal {s['registration_number']}", "_stored": True})
    for s in seals:
        birth = births.get(s["resident_id"])
        registered: datetime = s["registered_at"]
        if birth is not None:
            day = registered.astimezone(clock.JST).date()
            age = koseki.age_on(birth, day)
            if age < koseki.SEAL_MIN_AGE:
                out.append((f"{s['_where']}.registered_at",
                            f"resident {s['resident_id']} was {max(age, 0)} on {to_wareki(day)}, "
                            f"but a seal can be registered from age {koseki.SEAL_MIN_AGE} (印鑑登録)"))
        by_resident.setdefault(s["resident_id"], []).append(s)
    far = datetime.max.replace(tzinfo=clock.JST)
    for rid, rows in by_resident.items():
        rows = sorted(rows, key=lambda r: r["registered_at"])
        for earlier, later in zip(rows, rows[1:], strict=False):
            if later.get("_stored") and earlier.get("_stored"):
                continue
            if later["registered_at"] < (earlier["abolished_at"] or far):
                if later.get("_stored"):
                    out.append((f"{earlier['_where']}.abolished_at",
                                f"resident {rid} would have two seals in force: {later['_where']} is registered "
                                "while this one is not abolished, and one person registers one seal"))
                    continue
                out.append((f"{later['_where']}.registered_at",
                            f"resident {rid} would have two seals in force: {earlier['registration_number']} "
                            f"(at {earlier['_where']}) is not abolished before this one is registered, "
                            "and one person registers one seal"))
    return out


RESIDENT_DATES: tuple[tuple[str, str], ...] = (
    ("became_resident_on", "住民となった年月日"),
    ("address_since", "住所を定めた年月日"),
    ("notified_on", "届出日"),
    ("change_on", "異動日"),
)
"""The dates of a 住民票 that record something the resident did, so none is before the birth."""


def resident_problems(members: Iterable[Mapping[str, Any]]) -> list[Problem]:
    """A household's 住民票 dated before the resident was born.

    ``members`` are the importer's resident rows (``birth_date`` and the
    dates of :data:`RESIDENT_DATES`, as dates or None, and ``_where``).
    """
    out: list[Problem] = []
    for m in members:
        birth: date = m["birth_date"]
        for key, label in RESIDENT_DATES:
            value = m.get(key)
            if value is not None and value < birth:
                out.append((f"{m['_where']}.{key}",
                            f"{label} {to_wareki(value)} is before the resident's birth ({to_wareki(birth)})"))
    return out[:MAX_PROBLEMS]


def _register(row: Mapping[str, Any]) -> list[Problem]:
    out: list[Problem] = []
    where = row["_where"]
    data = json.loads(row["data"]) if isinstance(row["data"], str) else row["data"]
    persons = data["persons"]
    by_name: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for j, p in enumerate(persons):
        by_name.setdefault(_norm(p["name"]), []).append((j, p))
    ids: dict[str, int] = {}
    birth_orders: dict[tuple[str, str, str], int] = {}
    for j, p in enumerate(persons):
        pw = f"{where}.persons[{j}]"
        if p.get("id") in ids:
            out.append((f"{pw}.id", f"{p['id']!r} is also the id of persons[{ids[p['id']]}]"))
        ids.setdefault(p.get("id"), j)
        relationship = p["relationship"]
        if not koseki.is_parental_relationship(relationship):
            if relationship in ("夫", "妻"):
                hint = " (夫 and 妻 are the 配偶者区分: give spouse_role)"
            elif relationship in ("養子", "養女"):
                hint = (" (養子 and 養女 are the 続柄 to the adoptive parents, printed after 【養父】【養母】: "
                        "relationship is the one to the birth parents)")
            else:
                hint = ""
            out.append((f"{pw}.relationship",
                        f"unknown 続柄 {relationship!r}{hint}: a 戸籍 records 長男, 長女, 二男, 二女 …"))
        who = {"male": "a man", "female": "a woman"}.get(p["sex"], p["sex"])
        stated = koseki.relationship_sex(relationship)
        if stated is not None and stated != p["sex"]:
            out.append((f"{pw}.relationship",
                        f"続柄 {relationship} is a {'son' if stated == 'male' else 'daughter'}'s, "
                        f"but persons[{j}] is {who} (sex {p['sex']!r})"))
        father, mother = _norm(p.get("father") or ""), _norm(p.get("mother") or "")
        if koseki.is_birth_order(relationship) and father and mother:
            first = birth_orders.setdefault((relationship, father, mother), j)
            # One born the same day is the same child entered again (a daughter who married
            # out and came back on her divorce, 復籍, has a second entry with her 続柄).
            if first != j and persons[first]["birth_date"] != p["birth_date"]:
                out.append((f"{pw}.relationship",
                            f"{relationship} is also the 続柄 of persons[{first}], a child of the same parents "
                            f"(父 {p['father']}, 母 {p['mother']}); each child of one sex has its own 続柄"))
        spouse_role = p.get("spouse_role") or ""
        if spouse_role and spouse_role != {"male": "夫", "female": "妻"}.get(p["sex"]):
            out.append((f"{pw}.spouse_role", f"配偶者区分 {spouse_role}, but persons[{j}] is {who}"))
        if spouse_role and not any(e["type"] == "婚姻" for e in p.get("events", [])):
            out.append((f"{pw}.spouse_role",
                        f"配偶者区分 {spouse_role} without a 婚姻 身分事項: the marriage that made "
                        "the person a spouse in this register is recorded with it"))
        birth = date.fromisoformat(p["birth_date"])
        adoptive = p.get("adoptive_relationship")
        if adoptive is not None:
            expected = koseki.ADOPTIVE_RELATIONSHIPS[p["sex"]]
            if adoptive != expected:
                out.append((f"{pw}.adoptive_relationship",
                            f"the 続柄 to the adoptive parents of a {'woman' if p['sex'] == 'female' else 'man'} "
                            f"is {expected}, got {adoptive!r}"))
            elif not any(koseki.adoptive_parents(p)):
                out.append((f"{pw}.adoptive_relationship",
                            f"{adoptive} without a 養父 or 養母: give adoptive_father or adoptive_mother, "
                            "or a 養子縁組 event naming them"))
        for k, (_address, since) in enumerate(p.get("addresses", [])):
            if date.fromisoformat(since) < birth:
                out.append((f"{pw}.addresses[{k}].since",
                            f"an address (附票) from {to_wareki(date.fromisoformat(since))}, before the "
                            f"person's birth ({to_wareki(birth)})"))
        roles = (("father", "父"), ("mother", "母"), ("adoptive_father", "養父"), ("adoptive_mother", "養母"))
        for role, label in roles:
            name = p.get(role) or ""
            if name and _norm(name) == _norm(p["name"]):
                out.append((f"{pw}.{role}", f"the {label} {name} is the person themselves"))
            for k, parent in by_name.get(_norm(name), []) if name else []:
                if k == j:
                    continue
                parent_birth = date.fromisoformat(parent["birth_date"])
                # 民法793条 too: nobody adopts one older (年長者) than themselves; one born the
                # same day may be adopted, a child born the day of its parent's birth may not be.
                if birth < parent_birth or (birth == parent_birth and role in ("father", "mother")):
                    out.append((f"{pw}.birth_date",
                                f"born {to_wareki(birth)}, not after the {label} "
                                f"{name} (persons[{k}], born {to_wareki(parent_birth)})"))
        for n, e in enumerate(p.get("events", [])):
            ew = f"{pw}.events[{n}]"
            for key in ("date", "notified_on"):
                if e.get(key) and date.fromisoformat(e[key]) < birth:
                    out.append((f"{ew}.{key}", f"{e['type']} dated {to_wareki(date.fromisoformat(e[key]))}, "
                                               f"before the person's birth ({to_wareki(birth)})"))
            if e.get("notified_on") and e.get("date") and e["notified_on"] < e["date"]:
                out.append((f"{ew}.notified_on", f"the {e['type']} was notified before it happened"))
            if e["type"] == "婚姻":
                married = date.fromisoformat(e["date"])
                minimum = koseki.marriage_age(p["sex"], married, birth)
                age = koseki.age_on(birth, married)
                if 0 <= age < minimum:
                    out.append((f"{ew}.date",
                                f"married on {to_wareki(married)} at {age}, below the marriageable age of "
                                f"{minimum} for a {'woman' if p['sex'] == 'female' else 'man'} on that date "
                                "(民法731条)"))
    return out


def problems(
    *,
    residents: Iterable[Mapping[str, Any]],
    seals: Iterable[Mapping[str, Any]],
    registers: Iterable[Mapping[str, Any]],
    stored_seals: Iterable[Mapping[str, Any]] = (),
) -> list[Problem]:
    """Every impossible record among one municipality's parsed rows, as (field path, message).

    ``stored_seals`` (``registration_number``, ``resident_id``,
    ``registered_at``, ``abolished_at``) are the municipality's seals already
    in the database: those the file does not replace count when checking that
    a resident has one seal in force at a time.
    """
    residents = list(residents)
    out = _seals(residents, seals, stored_seals)
    for row in registers:
        out += _register(row)
    return out[:MAX_PROBLEMS]
