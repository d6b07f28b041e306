"""The 戸籍 as the 戸籍法施行規則 records it: 続柄, 身分事項 and their items, ages.

Pure functions, no I/O. The issuer's import checks family registers with
:func:`register_event` and :func:`person_event`; the certificate prints each
event's items with :func:`event_lines`, in the order of 付録第22号様式's
記載例 (【出生日】【出生地】【届出日】【届出人】 …).

An event is a dict as the import format gives it (docs/issuer-import.md):
``{"type": "出生", "date": "1980-04-01", "place": "兵庫県加東市", …}``; dates
are ISO strings.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Final

from kofu.domain.era import to_wareki

__all__ = [
    "ADOPTIVE_RELATIONSHIPS",
    "MARRIAGE_AGE_REFORM",
    "PERSON_EVENTS",
    "REGISTER_EVENTS",
    "SEAL_MIN_AGE",
    "KosekiFormatError",
    "adoptive_parents",
    "age_on",
    "entered_on",
    "event_lines",
    "given_name",
    "is_parental_relationship",
    "left_on",
    "leaves_register",
    "marriage_age",
    "person_event",
    "register_event",
]


class KosekiFormatError(ValueError):
    """A register field has the wrong shape; the message starts with its field path."""


# (key in the import format, label printed between 【】, kind of value)
_Item = tuple[str, str, str]

PERSON_EVENTS: Final[dict[str, tuple[_Item, ...]]] = {
    "出生": (("date", "出生日", "date"), ("place", "出生地", "text"), ("notified_on", "届出日", "date"),
             ("notifier", "届出人", "text")),
    # The one who entered this register prints 【従前戸籍】; the one who left it
    # prints 【新本籍】 (or 【入籍戸籍】) and 【称する氏】.
    "婚姻": (("date", "婚姻日", "date"), ("spouse", "配偶者氏名", "text"), ("new_honseki", "新本籍", "text"),
             ("entered_register", "入籍戸籍", "text"), ("surname", "称する氏", "text"),
             ("previous_register", "従前戸籍", "text")),
    "認知": (("date", "認知日", "date"), ("child", "認知した子の氏名", "text"),
             ("child_register", "認知した子の戸籍", "text"), ("acknowledger", "認知者氏名", "text"),
             ("acknowledger_register", "認知者の戸籍", "text")),
    "養子縁組": (("date", "縁組日", "date"), ("adoptive_father", "養父氏名", "text"),
                 ("adoptive_mother", "養母氏名", "text"), ("adoptee", "養子氏名", "text"),
                 ("adoptee_register", "養子の戸籍", "text"), ("new_honseki", "新本籍", "text"),
                 ("entered_register", "入籍戸籍", "text"), ("previous_register", "従前戸籍", "text")),
    "離婚": (("date", "離婚日", "date"), ("spouse", "配偶者氏名", "text"), ("new_honseki", "新本籍", "text"),
             ("entered_register", "入籍戸籍", "text"), ("previous_register", "従前戸籍", "text")),
    "死亡": (("date", "死亡日", "date"), ("time", "死亡時分", "time"), ("place", "死亡地", "text"),
             ("notified_on", "届出日", "date"), ("notifier", "届出人", "text")),
}
"""身分事項 each person may carry, with their items in print order."""

REGISTER_EVENTS: Final[dict[str, tuple[str, tuple[_Item, ...]]]] = {
    "編製": ("戸籍編製", (("date", "編製日", "date"),)),
    "転籍": ("転籍", (("date", "転籍日", "date"), ("previous_honseki", "従前本籍", "text"))),
    "改製": ("戸籍改製", (("date", "改製日", "date"), ("reason", "改製事由", "text"))),
}
"""戸籍事項: type → (printed label, items)."""

_REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    "出生": ("date",), "婚姻": ("date", "spouse"), "認知": ("date",), "養子縁組": ("date",),
    "離婚": ("date", "spouse"), "死亡": ("date",), "編製": ("date",), "転籍": ("date", "previous_honseki"),
    "改製": ("date",),
}

_NUMERALS: Final = ("", "長", "二", "三", "四", "五", "六", "七", "八", "九", "十")
_PARENTAL: Final = frozenset(
    {f"{n}{s}" for n in _NUMERALS[1:] for s in ("男", "女")}
    # 嫡出でない子 recorded before 平成16年11月 read 男 / 女.
    | {"男", "女"}
)
ADOPTIVE_RELATIONSHIPS: Final = {"male": "養子", "female": "養女"}
"""The 【続柄】 to the adoptive parents (養父・養母), by the adoptee's sex (付録第22号様式 記載例)."""

SEAL_MIN_AGE: Final = 15
"""印鑑登録 is refused to anyone under 15 (印鑑登録事務処理要領)."""

MARRIAGE_AGE_REFORM: Final = date(2022, 4, 1)
"""令和4年4月1日: 民法731条 makes 18 the marriageable age for both sexes."""


def is_parental_relationship(value: str) -> bool:
    """A 続柄 to the (birth) parents as a 戸籍 records it: 長男, 二女, 十男, 男, 女.

    夫 and 妻 are not 続柄 but the 配偶者区分; 子 and 世帯主 belong to the 住民票;
    養子 and 養女 are the 続柄 to the adoptive parents, printed after 【養父】
    【養母】 (an adoptee keeps the 続柄 to the birth parents as well).
    """
    return value in _PARENTAL


def relationship_sex(value: str) -> str | None:
    """The sex a 続柄 states (``male`` for 長男, 男; ``female`` for 二女, 女), or None."""
    if value in _PARENTAL:
        return "female" if value.endswith("女") else "male"
    return None


def is_birth_order(value: str) -> bool:
    """A 続柄 that counts the parents' children of one sex (長男, 二女 …, 十男): no two
    children of the same parents share one. 男 and 女 are not counted."""
    return value in _PARENTAL and len(value) == 2 and value[0] in _NUMERALS[1:]


def adoptive_parents(person: dict[str, Any]) -> tuple[str, str]:
    """(養父, 養母) of ``person``: the ``adoptive_father`` / ``adoptive_mother``
    given, else those of the latest 養子縁組 that kept (or brought) the person
    in this register as the adoptee. Empty strings when there are none.

    An adopter's own 養子縁組 entry names its ``adoptee``; it makes nobody's 養父・養母."""
    father, mother = person.get("adoptive_father") or "", person.get("adoptive_mother") or ""
    if father or mother:
        return father, mother
    for e in reversed(person.get("events", [])):
        if (e["type"] == "養子縁組" and not e.get("adoptee") and not leaves_register(e)
                and (e.get("adoptive_father") or e.get("adoptive_mother"))):
            return e.get("adoptive_father", ""), e.get("adoptive_mother", "")
    return "", ""


def age_on(birth: date, day: date) -> int:
    """The age throughout ``day``.

    年齢計算ニ関スル法律: an age is reached when the day before the birthday
    ends, so a person has it from the start of their birthday (of 1 March,
    for one born on 29 February, in a common year) and not yet on the day
    before. This is how 改正民法 附則 counts the women 「16歳以上」 on 令和4年4月1日:
    born on or before 平成18年4月1日.
    """
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def marriage_age(sex: str, married_on: date, birth: date) -> int:
    """The age below which ``sex`` could not marry on ``married_on``.

    Before 令和4年4月1日: 18 for men, 16 for women; from then 18 for both,
    except a woman already 16 that day (born by 平成18年4月1日), who kept the
    old age (改正法附則第3条).
    """
    if married_on < MARRIAGE_AGE_REFORM:
        return 18 if sex == "male" else 16
    if sex == "female" and age_on(birth, MARRIAGE_AGE_REFORM) >= 16:
        return 16
    return 18


def given_name(full_name: str) -> str:
    """【名】: the part of the full name after the 氏 (``"山田 太郎"`` → ``"太郎"``)."""
    parts = re.split(r"[ \u3000]+", full_name.strip(), maxsplit=1)
    return parts[1] if len(parts) == 2 else ""


def _date(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise KosekiFormatError(f"{where} must be a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError as e:
        raise KosekiFormatError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from e


def _event(raw: Any, where: str, items: tuple[_Item, ...], kind: str) -> dict[str, str]:
    out: dict[str, str] = {"type": kind}
    known = {key: what for key, _label, what in items}
    for key, value in raw.items():
        if key == "type" or value is None:
            continue
        path = f"{where}.{key}"
        if key not in known:
            raise KosekiFormatError(f"{path}: a {kind} event has no item {key!r} "
                                    f"(items: {', '.join(known)})")
        what = known[key]
        if what == "date":
            out[key] = _date(value, path)
        elif what == "time":
            if not isinstance(value, str) or not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
                raise KosekiFormatError(f"{path} must be a time of day HH:MM, got {value!r}")
            out[key] = value
        else:
            if not isinstance(value, str) or not value.strip():
                raise KosekiFormatError(f"{path} must be a non-empty string")
            if len(value) > 400:
                raise KosekiFormatError(f"{path} is longer than 400 characters")
            out[key] = value
    for key in _REQUIRED[kind]:
        if key not in out:
            raise KosekiFormatError(f"{where}.{key} is required for a {kind} event")
    return out


def person_event(raw: Any, where: str) -> dict[str, str]:
    """One 身分事項 of the import format, checked and normalised."""
    if not isinstance(raw, dict):
        raise KosekiFormatError(f"{where} must be an object")
    kind = raw.get("type")
    if kind not in PERSON_EVENTS:
        hint = " (除籍 is not an event: it follows from the event that removed the person)" if kind == "除籍" else ""
        raise KosekiFormatError(
            f"{where}.type: unknown 身分事項 {kind!r}{hint}; one of {', '.join(PERSON_EVENTS)}"
        )
    return _event(raw, where, PERSON_EVENTS[kind], kind)


def register_event(raw: Any, where: str) -> dict[str, str]:
    """One 戸籍事項 of the import format, checked and normalised."""
    if not isinstance(raw, dict):
        raise KosekiFormatError(f"{where} must be an object")
    kind = raw.get("type")
    if kind not in REGISTER_EVENTS:
        raise KosekiFormatError(f"{where}.type: unknown 戸籍事項 {kind!r}; one of {', '.join(REGISTER_EVENTS)}")
    return _event(raw, where, REGISTER_EVENTS[kind][1], kind)


def _time(value: str) -> str:
    """``15:20`` → 午後3時20分, as a 戸籍 writes 【死亡時分】 (noon is 午後0時)."""
    h, m = (int(x) for x in value.split(":"))
    return f"{'午前' if h < 12 else '午後'}{h % 12}時{m}分"


def _lines(event: dict[str, str], items: tuple[_Item, ...]) -> list[str]:
    lines = []
    for key, label, what in items:
        value = event.get(key)
        if not value:
            continue
        if what == "date":
            value = to_wareki(date.fromisoformat(value))
        elif what == "time":
            value = _time(value)
        lines.append(f"【{label}】{value}")
    return lines


def event_lines(event: dict[str, str]) -> tuple[str, list[str]]:
    """(label, lines) of a 身分事項 or 戸籍事項 as the certificate prints it."""
    kind = event["type"]
    if kind in REGISTER_EVENTS:
        label, items = REGISTER_EVENTS[kind]
        return label, _lines(event, items)
    return kind, _lines(event, PERSON_EVENTS[kind])


def leaves_register(event: dict[str, str]) -> bool:
    """The event took the person out of this register (除籍): death, or a
    marriage, divorce or adoption that gave them a new or another register."""
    if event["type"] == "死亡":
        return True
    return event["type"] in ("婚姻", "離婚", "養子縁組") and bool(
        event.get("new_honseki") or event.get("entered_register")
    )


def _enters(event: dict[str, str]) -> bool:
    return event["type"] in ("婚姻", "養子縁組", "離婚") and bool(event.get("previous_register"))


def register_opened(register_events: list[dict[str, str]]) -> date | None:
    """Since when this register is kept here: the 転籍日 when it moved here, else the 編製日."""
    for kind in ("転籍", "編製"):
        dates = [date.fromisoformat(e["date"]) for e in register_events if e["type"] == kind]
        if dates:
            return max(dates)
    return None


def entered_on(person: dict[str, Any], register_events: list[dict[str, str]]) -> date:
    """When the person came into this register (and onto its 附票): the latest of
    the register's opening here, their birth, and a marriage or adoption that
    brought them in."""
    candidates = [date.fromisoformat(person["birth_date"])]
    opened = register_opened(register_events)
    if opened is not None:
        candidates.append(opened)
    candidates += [date.fromisoformat(e["date"]) for e in person.get("events", []) if _enters(e)]
    return max(candidates)


def left_on(person: dict[str, Any]) -> date | None:
    """When the person left this register, or None while they are in it."""
    dates = [date.fromisoformat(e["date"]) for e in person.get("events", []) if leaves_register(e)]
    return min(dates) if dates else None
