"""Refusals say why: through the real kiosk CLI, against real services.

A resident refused because of the hour, the year-end closure, maintenance, a
kind's narrower hours or the copy limit is told exactly that, in Japanese and
English, with the hours (or the end of the maintenance). Refusals about the
person (a support measure, nothing offered) keep the neutral words.

One world per clock, each service's clock pinned by KOFU_CLOCK to an instant
named relative to the real date (never before the world's cards were made):

- night: 23:30 JST on the next business day (the center's hours);
- year end: 10:00 JST on the next 30 December (the year-end closure);
- evening: 18:00 JST on the next business day, with a maintenance window of
  加東市 around it (its own notice), 三木市's 戸籍/附票 closed (business days
  9:00–17:00) and 三木市's limit of 10 copies.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kofu.clock import JST
from kofu.demo import data as sample
from kofu.demo.setup import Ports, build_world, start_world
from kofu.domain.rules import NEUTRAL_MESSAGE_EN, NEUTRAL_MESSAGE_JA
from kofu.procs import Service, free_port, kofu_argv
from tests.clocks import business_morning, service_env
from tests.ports import retry_on_taken_port

pytestmark = pytest.mark.slow

KATO, MIKI = sample.MUNICIPALITIES[0].code, sample.MUNICIPALITIES[1].code
NOTICE_JA = "住民記録システムの更新作業のため、コンビニ交付を停止しています。"
NOTICE_EN = "Kiosk issuance is stopped while the resident record system is updated."


def night() -> datetime:
    """23:30 JST on the next business day."""
    return business_morning().replace(hour=23, minute=30)


def year_end() -> datetime:
    """10:00 JST on the next 30 December (this year's, unless it has begun)."""
    now = datetime.now(JST)
    instant = datetime(now.year, 12, 30, 10, 0, tzinfo=JST)
    return instant if instant > now else instant.replace(year=now.year + 1)


def evening() -> datetime:
    """18:00 JST on the next business day: after 戸籍's 17:00, inside the center's hours."""
    return business_morning().replace(hour=18)


CLOCKS = {"night": night, "year-end": year_end, "evening": evening}


@pytest.fixture(scope="module")
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The world at the clock the test names (indirect parameter); one world per clock."""
    name = request.param
    instant = CLOCKS[name]()
    maintenance_ends = instant + timedelta(hours=2, minutes=15)

    def start() -> tuple[Path, dict[str, Any], list[Service]]:
        # The ports are in the world's configs: a port taken meanwhile means a new world on new ports.
        root = tmp_path_factory.mktemp(f"refusals-{name}")
        ports = Ports(center=free_port(), issuer=free_port(), ocsp=free_port(), jpki=free_port())
        w = build_world(root, ports)
        (root / "demo.json").write_text(json.dumps(w, ensure_ascii=False), encoding="utf-8")
        if name == "evening":
            # 加東市 announced maintenance from an hour before the instant to 2 h 15 min after it.
            path = root / "issuer" / "import.json"
            doc = json.loads(path.read_text(encoding="utf-8"))
            kato = next(m for m in doc["municipalities"] if m["code"] == KATO)
            kato["maintenance"] = [{"starts": (instant - timedelta(hours=1)).isoformat(),
                                    "ends": maintenance_ends.isoformat(),
                                    "message": NOTICE_JA, "message_en": NOTICE_EN}]
            path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        return root, w, start_world(root, w, ports, service_env(instant))

    root, w, services = retry_on_taken_port(start)
    w["_root"] = root
    w["_clock"] = instant
    w["_maintenance_ends"] = maintenance_ends
    yield w
    for s in reversed(services):
        s.stop()


def at(clock: str) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("world", [clock], indirect=True)


def card(world: dict[str, Any], tag: str, municipality: str) -> dict[str, Any]:
    return next(c for c in world["cards"] if tag in c["tags"] and c["municipality"] == municipality)


def kiosk(world: dict[str, Any], command: str, card: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    argv = kofu_argv("kiosk", command, "--demo-file", str(world["_root"] / "demo.json"),
                     "--card", card["path"], "--pin", card["pin"], *args)
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def refused(r: subprocess.CompletedProcess[str], out: Path | None = None) -> dict[str, Any]:
    """What the resident is shown on a refusal: exit 4, a JSON line, then the Japanese and English words."""
    assert r.returncode == 4, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    shown = json.loads(lines[0])
    assert set(shown) == {"error", "message", "message_en", "detail"}
    # The words follow the JSON line, Japanese then English, for a person to read.
    assert lines[1:3] == [shown["message"], shown["message_en"]], lines
    assert out is None or not out.exists()
    return shown


def refused_offers(r: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """`kofu kiosk offers` with nothing available: the refusal on stdout too."""
    assert r.returncode == 4, (r.returncode, r.stdout, r.stderr)
    listed = json.loads(r.stdout)
    assert listed["offers"] == []
    assert listed["refusal"] == {k: v for k, v in refused(r).items() if k != "detail"}
    return dict(listed["refusal"])


def says(shown: dict[str, Any], code: str, ja: tuple[str, ...], en: tuple[str, ...]) -> None:
    assert shown["error"] == code, shown
    for part in ja:
        assert part in shown["message"], (part, shown["message"])
    for part in en:
        assert part in shown["message_en"], (part, shown["message_en"])
    assert NEUTRAL_MESSAGE_JA not in shown["message"] and "しばらくしてから" not in shown["message"]
    assert NEUTRAL_MESSAGE_EN not in shown["message_en"]


def day_ja(d: datetime) -> str:
    return f"{d.month}月{d.day}日"


def day_en(d: datetime) -> str:
    return f"{d.day} {d.strftime('%B')}"


# ---------------------------------------------------------------- 23:30: the center's hours


@at("night")
def test_night_says_the_service_hours(world: dict[str, Any], tmp_path: Path) -> None:
    opens = world["_clock"] + timedelta(days=1)
    while (opens.month, opens.day) >= (12, 29) or (opens.month, opens.day) <= (1, 3):
        opens += timedelta(days=1)  # on 28 December, the next opening is after the closure
    year = f"{opens.year}年" if opens.year != world["_clock"].year else ""
    ja = ("サービス時間外", "毎日6:30～23:00", "12月29日～1月3日を除く", f"{year}{day_ja(opens)} 6:30から交付できます")
    en = ("closed at this hour", "every day from 6:30 to 23:00 Japan time", "except 29 December – 3 January",
          f"from 6:30 on {day_en(opens)}")
    resident = card(world, "household", KATO)
    says(refused_offers(kiosk(world, "offers", resident)), "center-hours", ja, en)
    out = tmp_path / "night.pdf"
    says(refused(kiosk(world, "issue", resident, "--out", str(out)), out), "center-hours", ja, en)
    # The same words for every card holder, a protected one included: they say nothing about the person.
    protected = refused(kiosk(world, "issue", card(world, "protected", MIKI), "--out", str(out)), out)
    assert protected["message"] == refused(kiosk(world, "issue", resident, "--out", str(out)))["message"]


# ---------------------------------------------------------------- 30 December: the year-end closure


@at("year-end")
def test_year_end_says_the_closure_and_the_reopening(world: dict[str, Any], tmp_path: Path) -> None:
    reopens = world["_clock"].year + 1
    ja = ("年末年始（12月29日～1月3日）", "休止しています", f"{reopens}年1月4日 6:30から交付できます")
    en = ("closed over the New Year holidays (29 December – 3 January)", f"from 6:30 on 4 January {reopens}")
    resident = card(world, "koseki", MIKI)
    says(refused_offers(kiosk(world, "offers", resident)), "center-year-end", ja, en)
    out = tmp_path / "year-end.pdf"
    says(refused(kiosk(world, "issue", resident, "--kind", "koseki", "--out", str(out)), out),
         "center-year-end", ja, en)


# ---------------------------------------------------------------- 18:00 on a business day


@at("evening")
def test_maintenance_says_until_when_and_the_municipality_notice(world: dict[str, Any], tmp_path: Path) -> None:
    ends = world["_maintenance_ends"]
    until_ja = f"{day_ja(ends)} {ends.hour}:{ends.minute:02d}まで"
    until_en = f"until {ends.hour}:{ends.minute:02d} on {day_en(ends)}"
    ja, en = ("保守作業中", until_ja, NOTICE_JA), ("under maintenance", until_en, NOTICE_EN)
    resident = card(world, "household", KATO)
    says(refused_offers(kiosk(world, "offers", resident)), "maintenance", ja, en)
    out = tmp_path / "maintenance.pdf"
    says(refused(kiosk(world, "issue", resident, "--out", str(out)), out), "maintenance", ja, en)


KOSEKI_HOURS_JA = "開庁日（土日・祝日・年末年始を除く）9:00～17:00"
KOSEKI_HOURS_EN = "on business days (not Saturdays, Sundays, national holidays or 29 December – 3 January), 9:00–17:00"


@at("evening")
def test_a_kind_out_of_its_hours_says_its_hours(world: dict[str, Any], tmp_path: Path) -> None:
    resident = card(world, "koseki", MIKI)
    listed = kiosk(world, "offers", resident)
    assert listed.returncode == 0, listed.stderr
    shown = json.loads(listed.stdout)
    # 住民票 is offered; 戸籍 and 附票 are listed as closed, with their hours.
    assert "juminhyo" in [o["kind"] for o in shown["offers"]]
    assert not {"koseki", "fuhyo"} & {o["kind"] for o in shown["offers"]}
    closed = {u["kind"]: u for u in shown["unavailable"]}
    assert sorted(closed) == ["fuhyo", "koseki"]
    says(closed["fuhyo"], "kind-hours", ("戸籍の附票の写し", KOSEKI_HOURS_JA), ("family register supplement", KOSEKI_HOURS_EN))
    ja = ("戸籍証明書は、ただいまの時間は交付できません", KOSEKI_HOURS_JA)
    en = ("family register certificate (戸籍証明書) cannot be issued at this hour", KOSEKI_HOURS_EN)
    says(closed["koseki"], "kind-hours", ja, en)
    out = tmp_path / "koseki.pdf"
    says(refused(kiosk(world, "issue", resident, "--kind", "koseki", "--out", str(out)), out), "kind-hours", ja, en)


@at("evening")
def test_the_center_refuses_a_closed_kind_with_its_hours(world: dict[str, Any]) -> None:
    """A kiosk that orders a closed kind without looking at `unavailable` gets the same words."""
    from kofu.kiosk import flow
    from kofu.kiosk.client import CenterClient, KioskError, KioskTls

    tls = world["tls"]
    center = CenterClient(world["services"]["center"], KioskTls(Path(tls["ca"]), Path(tls["client_cert"]),
                                                                  Path(tls["client_key"])))
    try:
        resident = card(world, "koseki", MIKI)
        auth = flow.authenticate(center, flow.open_card(Path(resident["path"])), resident["pin"], "kiosk-refusals")
        with pytest.raises(KioskError) as e:
            center.order(auth.session_id, kind="koseki", scope="self", koseki_scope="all", copies=1)
    finally:
        center.close()
    assert e.value.status == 403
    says({"error": e.value.code, "message": e.value.message, "message_en": e.value.message_en},
         "kind-hours", ("戸籍証明書", KOSEKI_HOURS_JA), ("family register certificate", KOSEKI_HOURS_EN))


@at("evening")
def test_the_copy_limit_says_the_limit(world: dict[str, Any], tmp_path: Path) -> None:
    resident = card(world, "koseki", MIKI)
    out = tmp_path / "copies.pdf"
    shown = refused(kiosk(world, "issue", resident, "--kind", "juminhyo", "--copies", "11", "--out", str(out)), out)
    says(shown, "copies-limit", ("一度に交付できるのは10通までです", "10通以下でお申し込みください"),
         ("At most 10 copies can be issued at a time", "order 10 or fewer"))
    # Ten copies are within the limit: the same card gets them.
    ok = kiosk(world, "issue", resident, "--kind", "juminhyo", "--copies", "10", "--out", str(out))
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["copies"] == 10 and out.read_bytes().startswith(b"%PDF")


@at("evening")
def test_a_protected_household_keeps_the_neutral_words(world: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "protected.pdf"
    shown = refused(kiosk(world, "issue", card(world, "protected", MIKI), "--out", str(out)), out)
    assert (shown["error"], shown["message"], shown["message_en"]) == (
        "nothing-offered", NEUTRAL_MESSAGE_JA, NEUTRAL_MESSAGE_EN)


@pytest.mark.parametrize("copies", ["0", "100"])
def test_copies_outside_what_any_kiosk_may_order_is_bad_input(tmp_path: Path, copies: str) -> None:
    # Checked before any card or center is touched: exit 1, not a refusal (4) nor a wrong PIN (2).
    r = subprocess.run(kofu_argv("kiosk", "issue", "--card", str(tmp_path / "none.card"), "--pin", "1234",
                                 "--copies", copies, "--out", str(tmp_path / "x.pdf")),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    assert f"--copies must be 1..99, got {copies}" in r.stderr
