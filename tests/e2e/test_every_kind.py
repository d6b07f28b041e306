"""Every certificate kind through real processes: `kofu kiosk issue` → center → issuer.

One world for the module (built by the demo's own code), with every service's
clock set by KOFU_CLOCK to the next business day at 10:00 in Japan, so that
戸籍 and 附票 hours are open whatever time the suite runs. The printed PDF is
read back with pdftotext and compared with the import file the issuer was fed.
"""

from __future__ import annotations

import base64
import json
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kofu.demo.setup import Ports, build_world, start_world
from kofu.domain.era import to_wareki
from kofu.domain.rules import NEUTRAL_MESSAGE_JA
from kofu.procs import Service, free_port, kofu_argv
from tests.clocks import business_morning, service_env
from tests.conftest import require_tool
from tests.ports import retry_on_taken_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    started = business_morning()

    def start() -> tuple[Path, dict[str, Any], list[Service]]:
        # The ports are in the world's configs: a port taken meanwhile means a new world on new ports.
        root = tmp_path_factory.mktemp("every-kind")
        ports = Ports(center=free_port(), issuer=free_port(), ocsp=free_port(), jpki=free_port())
        w = build_world(root, ports)
        (root / "demo.json").write_text(json.dumps(w, ensure_ascii=False), encoding="utf-8")
        return root, w, start_world(root, w, ports, service_env(started))

    root, w, services = retry_on_taken_port(start)
    w["_root"] = root
    w["_clock"] = started
    w["_import"] = json.loads((root / "issuer" / "import.json").read_text(encoding="utf-8"))
    yield w
    for s in reversed(services):
        s.stop()


def card_with(world: dict[str, Any], tag: str) -> dict[str, Any]:
    return next(c for c in world["cards"] if tag in c["tags"])


def kiosk(world: dict[str, Any], command: str, card: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    argv = kofu_argv("kiosk", command, "--demo-file", str(world["_root"] / "demo.json"),
                     "--card", card["path"], "--pin", card["pin"], *args)
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def records(world: dict[str, Any]) -> list[dict[str, Any]]:
    engine = sa.create_engine(f"sqlite:///{world['_root'] / 'center' / 'center.sqlite'}")
    try:
        with engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(sa.text("SELECT * FROM issuance_records"))]
    finally:
        engine.dispose()


def municipality(world: dict[str, Any], card: dict[str, Any]) -> dict[str, Any]:
    return next(m for m in world["_import"]["municipalities"] if m["code"] == card["municipality"])


def resident(world: dict[str, Any], card: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    for h in municipality(world, card)["households"]:
        for p in h["members"]:
            if p["id"] == card["resident"]:
                return h, p
    raise KeyError(card["resident"])


def flat(text: str) -> str:
    return text.replace(" ", "").replace("\u3000", "")


def yen(n: int) -> tuple[str, str]:
    return f"{n:,}", str(n)


def issue_and_read(world: dict[str, Any], card: dict[str, Any], tmp_path: Path, *args: str) -> tuple[dict[str, Any], str]:
    require_tool("pdftotext")
    before = len(records(world))
    out = tmp_path / "cert.pdf"
    r = kiosk(world, "issue", card, *args, "--out", str(out))
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    # The kiosk prints the duplex job: the checked, e-sealed front composed with its
    # anti-forgery back, whose signed QR names this very certificate.
    require_tool("pdftoppm")
    subprocess.run(["pdftoppm", "-r", "300", "-png", "-f", "2", "-l", "2", str(out), str(tmp_path / "back")], check=True)
    (back,) = tmp_path.glob("back-*.png")
    v = subprocess.run(kofu_argv("verify", str(back), "--json", "--demo-file", str(world["_root"] / "demo.json")),
                       capture_output=True, text=True, timeout=120)
    verdict = json.loads(v.stdout)
    assert verdict["qr_valid"] is True and verdict["serial"] == summary["certificate_serial"], v.stderr
    assert verdict["kind"] == summary["kind"]
    after = records(world)
    assert len(after) == before + 1 and after[-1]["kind"] == summary["kind"]
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True, check=True).stdout
    # What the verification tells a receiver is what the front prints.
    from kofu.domain.rules import KIND_NAMES_JA

    assert verdict["kind_name"] == KIND_NAMES_JA[summary["kind"]]
    # The title as printed (納税証明書, 戸籍全部事項証明書 …), signed in the QR.
    assert verdict["title"] and flat(verdict["title"]) in flat(text)
    assert verdict["municipality_name"] and flat(verdict["municipality_name"]) in flat(text)
    assert verdict["issued_on_wareki"] in flat(text) and verdict["certificate_number"] in flat(text)
    return summary, flat(text)


def offered_years(world: dict[str, Any], card: dict[str, Any]) -> list[int]:
    """The import's window at the world's clock ∩ the holder's tax records, newest first."""
    from kofu.domain.taxyears import TaxYearWindow

    m = municipality(world, card)
    window = TaxYearWindow.parse(m["tax_years"]["available_from"], m["tax_years"]["kept"])
    recorded = {t["fiscal_year"] for t in m["tax_records"] if t["resident"] == card["resident"]}
    years = sorted(window.years_at(world["_clock"]) & recorded, reverse=True)
    assert years, "the demo's window should offer some recorded year at the world's clock"
    return years


def test_offers_for_the_koseki_card(world: dict[str, Any]) -> None:
    card = card_with(world, "koseki")
    r = kiosk(world, "offers", card)
    assert r.returncode == 0, r.stderr
    offers = {o["kind"]: o for o in json.loads(r.stdout)["offers"]}
    assert sorted(offers) == ["fuhyo", "inkan", "juminhyo", "kisai", "koseki", "zeimu"]
    m = municipality(world, card)
    assert offers["zeimu"]["years"] == offered_years(world, card)
    assert offers["zeimu"]["tax_kinds"] == ["shotoku", "nozei"]
    assert offers["koseki"]["koseki_scopes"] == ["all", "self"]
    for kind, o in offers.items():
        assert o["fee"] == m["fees"][kind] and o["counter_fee"] == m["counter_fees"][kind]
    household, _p = resident(world, card)
    assert [x["id"] for x in offers["juminhyo"]["members"]] == [p["id"] for p in household["members"]]
    # The register's persons for a 個人事項, the card holder marked (the touch kiosk preselects them).
    assert [x["id"] for x in offers["koseki"]["members"] if x["holder"]] == [card["resident"]]
    assert len(offers["koseki"]["members"]) > 1


def test_juminhyo_of_chosen_members_with_individual_number(world: dict[str, Any], tmp_path: Path) -> None:
    card = card_with(world, "koseki")
    household, _p = resident(world, card)
    chosen = household["members"][1]
    _s, text = issue_and_read(world, card, tmp_path, "--kind", "juminhyo", "--member", chosen["id"],
                              "--with-individual-number")
    assert flat(chosen["name"]) in text and chosen["individual_number"] in text
    assert flat(household["members"][0]["name"]) not in text  # not chosen; 世帯主 not asked for
    assert household["members"][0]["individual_number"] not in text


def test_kisai(world: dict[str, Any], tmp_path: Path) -> None:
    card = card_with(world, "large-household")
    household, _p = resident(world, card)
    summary, text = issue_and_read(world, card, tmp_path, "--kind", "kisai", "--with-householder")
    for p in household["members"]:
        assert flat(p["name"]) in text
        assert to_wareki(date.fromisoformat(p["birth_date"])).replace(" ", "") in text
    assert flat(household["address"]) in text


def test_inkan(world: dict[str, Any], tmp_path: Path) -> None:
    card = card_with(world, "seal")
    household, person = resident(world, card)
    seal = next(s for s in municipality(world, card)["seal_registrations"] if s["resident"] == person["id"])
    summary, text = issue_and_read(world, card, tmp_path, "--kind", "inkan")
    assert summary["fee"] == municipality(world, card)["fees"]["inkan"]
    assert flat(seal["number"]) in text and flat(person["name"]) in text and flat(household["address"]) in text
    assert to_wareki(date.fromisoformat(person["birth_date"])).replace(" ", "") in text


@pytest.mark.parametrize("tax_kind", ["shotoku", "nozei"])
def test_tax(world: dict[str, Any], tmp_path: Path, tax_kind: str) -> None:
    card = card_with(world, "tax")
    m = municipality(world, card)
    year = offered_years(world, card)[0]
    record = next(t for t in m["tax_records"] if t["resident"] == card["resident"] and t["fiscal_year"] == year)
    _s, text = issue_and_read(world, card, tmp_path, "--kind", "zeimu", "--tax-kind", tax_kind, "--year", str(year))
    assert f"令和{year - 2018}年度" in text
    # The amounts are the issuer's computation from the raw figures (checked against an
    # independent computation in tests/render/test_tax.py and tests/issuer/test_kinds.py).
    from kofu.domain.tax import assess, is_designated_city
    from kofu.issuer.taxrecord import local_rate, tax_lines, tax_return

    data = {**record, "deductions": [[d["kind"], d["amount"]] for d in record["deductions"]],
            "tax_credits": [[c["kind"], c["amount"]] for c in record.get("tax_credits", [])]}
    # The demo's 兵庫県 municipalities levy 県民緑税 (local_tax_rates: 800 円 on the 県民税 均等割).
    local = tuple(local_rate(x) for x in m.get("local_tax_rates", []))
    assert [x.name for x in local] == ["県民緑税"]
    assessment = assess(tax_return(data, year, designated_city=is_designated_city(m["code"]), local_rates=local))
    if tax_kind == "shotoku":
        assert f"{record['salary_revenue']:,}円" in text and f"{assessment.salary_income:,}円" in text
        for item in record["deductions"]:
            assert item["kind"] in text and f"{item['amount']:,}円" in text
        assert f"年税額{assessment.total:,}円" in text
        assert "均等割額3,000円1,800円4,800円" in text and "県民税均等割額には県民緑税800円を含む" in text
    else:
        for line in tax_lines(data, year, assessment):
            i = line.instalment
            assert f"{i.amount:,}円{i.paid:,}円{i.unpaid:,}円" in text, line


def wareki(iso: str) -> str:
    return to_wareki(date.fromisoformat(iso))


def printed_items(event: dict[str, Any]) -> list[str]:
    """The 【item】value lines a 身分事項 from the import file must print as (記載例 order)."""
    labels = {"date": {"出生": "出生日", "婚姻": "婚姻日"}[event["type"]], "place": "出生地", "notified_on": "届出日",
              "notifier": "届出人", "spouse": "配偶者氏名", "new_honseki": "新本籍", "surname": "称する氏",
              "previous_register": "従前戸籍"}
    return [f"【{labels[k]}】{wareki(v) if k in ('date', 'notified_on') else flat(v)}"
            for k, v in event.items() if k != "type"]


@pytest.mark.parametrize("scope", ["all", "self"])
def test_koseki(world: dict[str, Any], tmp_path: Path, scope: str) -> None:
    card = card_with(world, "koseki")
    register = municipality(world, card)["family_registers"][0]
    _s, text = issue_and_read(world, card, tmp_path, "--kind", "koseki", "--koseki-scope", scope)
    assert f"本籍{flat(register['honseki'])}" in text and f"氏名{flat(register['head'])}" in text
    # The demo register moved here (転籍) from where the couple's marriage made it.
    (moved,) = register["events"]
    assert moved["type"] == "転籍" and moved["date"] > "2006-03-20"  # 加東市 exists since 平成18年3月20日
    assert (f"戸籍事項転籍【転籍日】{wareki(moved['date'])}【従前本籍】{flat(moved['previous_honseki'])}"
            in text.replace("\n", ""))
    assert "戸籍編製" not in text and "戸籍改製" not in text
    holder = next(p for p in register["persons"] if p["resident"] == card["resident"])
    shown = register["persons"] if scope == "all" else [holder]
    for p in register["persons"]:
        given = p["name"].split(" ", 1)[1]
        if p not in shown:
            assert f"【名】{given}" not in text
            continue
        # 【名】 is the given name alone, on its own line (除籍 beside it when removed).
        line = next(x for x in text.splitlines() if f"【名】{given}" in x)
        married_out = any(e.get("new_honseki") for e in p["events"])
        assert line.endswith(f"【名】{given}" + ("除籍" if married_out else "")), line
        spouse = f"【配偶者区分】{p['spouse_role']}" if p.get("spouse_role") else ""
        assert f"【生年月日】{wareki(p['birth_date'])}{spouse}\n" in text
        assert f"【父】{flat(p['father'])}\n【母】{flat(p['mother'])}\n【続柄】{p['relationship']}\n" in text
        for e in p["events"]:
            assert e["type"] + "".join(printed_items(e)) in text.replace("\n", ""), e
    assert "【続柄】妻" not in text and "【除籍日】" not in text and "以下余白" in text


def in_register(p: dict[str, Any], register: dict[str, Any]) -> list[str]:
    """The addresses the 附票 must list for ``p``: the one they lived at when they came
    into the register (its 転籍 here, their birth, or their marriage into it) until they left it."""
    (moved,) = register["events"]
    came = max([moved["date"], p["birth_date"]] + [e["date"] for e in p["events"] if e.get("previous_register")])
    left = min((e["date"] for e in p["events"] if e.get("new_honseki")), default="9999-12-31")
    kept = [a for a in p["addresses"] if a["since"] < left]
    at_entry = [i for i, a in enumerate(kept) if a["since"] <= came]
    return [a["address"] for a in kept[(at_entry[-1] if at_entry else 0):]]


def test_fuhyo(world: dict[str, Any], tmp_path: Path) -> None:
    card = card_with(world, "koseki")
    register = municipality(world, card)["family_registers"][0]
    offers = {o["kind"]: o for o in json.loads(kiosk(world, "offers", card).stdout)["offers"]}
    assert offers["fuhyo"]["scopes"] == ["household", "self"] and offers["fuhyo"]["with_domicile"] is True
    ids = [x["id"] for x in offers["fuhyo"]["members"]]
    assert ids == [p["resident"] or f"{register['id']}#{i + 1}" for i, p in enumerate(register["persons"])]
    _s, text = issue_and_read(world, card, tmp_path, "--kind", "fuhyo")
    # 本籍・筆頭者 are printed only when asked for (since 令和4年1月11日).
    assert "本籍省略" in text and "筆頭者省略" in text and flat(register["honseki"]) not in text
    left_out = 0
    for p in register["persons"]:
        listed = in_register(p, register)
        for a in p["addresses"]:
            if a["address"] in listed:
                assert f"{flat(a['address'])}{wareki(a['since'])}" in text
            else:
                left_out += 1
                assert flat(a["address"]) not in text, a
    assert left_out >= 2  # the head's home before the register, the daughter's after she left


def test_fuhyo_of_chosen_persons_with_domicile(world: dict[str, Any], tmp_path: Path) -> None:
    card = card_with(world, "koseki")
    register = municipality(world, card)["family_registers"][0]
    head, spouse = register["persons"][:2]
    _s, text = issue_and_read(world, card, tmp_path, "--kind", "fuhyo", "--with-domicile",
                              "--member", spouse["resident"])
    assert "戸籍の附票の写し（一部）" in text
    assert f"本籍{flat(register['honseki'])}" in text and f"筆頭者{flat(register['head'])}" in text
    assert flat(spouse["name"]) in text
    others = [p for p in register["persons"] if p is not spouse]
    assert all(f"氏名{flat(p['name'])}" not in text for p in others) and head["name"] != spouse["name"]


def test_protected_household_gets_the_neutral_refusal(world: dict[str, Any], tmp_path: Path) -> None:
    card = card_with(world, "protected")
    before = len(records(world))
    offers = kiosk(world, "offers", card)
    assert offers.returncode == 4
    shown = json.loads(offers.stdout)
    assert shown["offers"] == [] and shown["refusal"]["message"] == NEUTRAL_MESSAGE_JA
    r = kiosk(world, "issue", card, "--out", str(tmp_path / "x.pdf"))
    assert r.returncode == 4
    err = json.loads(r.stderr.splitlines()[0])
    # Exactly what a resident of a municipality with nothing to offer would see.
    assert err["message"] == NEUTRAL_MESSAGE_JA and err["error"] == "nothing-offered"
    assert "support" not in r.stderr and "restrict" not in r.stderr
    assert not (tmp_path / "x.pdf").exists() and len(records(world)) == before


@pytest.mark.parametrize(("tag", "kind", "code"), [("seal-abolished", "inkan", "kind-not-offered"),
                                                   ("removed", "juminhyo", "resident-removed")])
def test_not_for_this_card(world: dict[str, Any], tmp_path: Path, tag: str, kind: str, code: str) -> None:
    before = len(records(world))
    r = kiosk(world, "issue", card_with(world, tag), "--kind", kind, "--out", str(tmp_path / "x.pdf"))
    assert r.returncode == 4, r.stderr
    err = json.loads(r.stderr.splitlines()[0])
    assert err["error"] == code and err["message"]
    assert not (tmp_path / "x.pdf").exists() and len(records(world)) == before


def test_seal_abolished_between_offer_and_issue(world: dict[str, Any], tmp_path: Path) -> None:
    """The 2023 incident: a seal abolished after the menu was shown must not be certified."""
    from kofu.kiosk import flow
    from kofu.kiosk.client import CenterClient, KioskError, KioskTls

    # A seal card no other test of this module uses (they take the first): abolishing its
    # seal must not change what they find, whatever order the tests run in.
    card = [c for c in world["cards"] if "seal" in c["tags"]][-1]
    assert card["resident"] != card_with(world, "seal")["resident"]
    tls = world["tls"]
    center = CenterClient(world["services"]["center"], KioskTls(Path(tls["ca"]), Path(tls["client_cert"]),
                                                                Path(tls["client_key"])))
    try:
        auth = flow.authenticate(center, flow.open_card(Path(card["path"])), card["pin"], "kiosk-race")
        assert "inkan" in {o["kind"] for o in center.offers(auth.session_id)}
        # The resident chooses 印鑑登録証明書 from the menu and pays ...
        order = center.order(auth.session_id, kind="inkan", scope="self", copies=1)
        center.pay(auth.session_id, order["order_id"], order["fee"])
        before = len(records(world))
        # ... while a clerk abolishes the seal at the counter; the municipality's system exports it at once.
        doc = json.loads(json.dumps(world["_import"]))
        m = next(x for x in doc["municipalities"] if x["code"] == card["municipality"])
        seal = next(s for s in m["seal_registrations"] if s["resident"] == card["resident"])
        seal["abolished_at"] = world["_clock"].isoformat()
        path = tmp_path / "abolished.json"
        path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        done = subprocess.run(kofu_argv("issuer", "import", "--config", world["configs"]["issuer"], str(path)),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        # The issuer checks at issue time: no certificate of an abolished seal, the money back.
        with pytest.raises(KioskError) as refused:
            center.print_job(auth.session_id, order["order_id"])
        assert refused.value.code == "kind-not-offered" and refused.value.status == 403, refused.value
        assert refused.value.message  # what the resident is shown
        cancelled = center.cancel(auth.session_id, order["order_id"], "refused")
        assert cancelled["refund"] == order["fee"] and cancelled["order"]["state"] == "cancelled", cancelled
        assert len(records(world)) == before
    finally:
        center.close()
    # Still abolished for the next resident at the next kiosk.
    r = kiosk(world, "offers", card)
    assert r.returncode == 0 and "inkan" not in {o["kind"] for o in json.loads(r.stdout)["offers"]}


def test_impressions_travel_as_png(world: dict[str, Any]) -> None:
    # The sample data holds real PNG impressions: inline base64, and a file for the abolished one.
    m = world["_import"]["municipalities"][0]
    inline = next(s for s in m["seal_registrations"] if "impression_png" in s)
    assert base64.b64decode(inline["impression_png"]).startswith(b"\x89PNG")
    as_file = next(s for s in m["seal_registrations"] if "impression_file" in s)
    assert Path(as_file["impression_file"]).read_bytes().startswith(b"\x89PNG")
