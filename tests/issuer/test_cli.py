"""The issuer's administrative commands, run as an operator runs them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import sqlalchemy as sa

from tests.conftest import require_tool

from .conftest import KATO, World, run_kofu


def imported(world: World) -> None:
    r = run_kofu("issuer", "import", "--config", str(world.config), str(world.import_file))
    assert r.returncode == 0, r.stderr
    assert "imported 3 municipalities, 3 households, 6 residents" in r.stdout


def test_render_for_a_format_check(issuer_world: World, tmp_path: Path) -> None:
    imported(issuer_world)
    out = tmp_path / "check.pdf"
    r = run_kofu("issuer", "render", "--config", str(issuer_world.config), "--municipality", KATO,
                 "--resident", "R001", "--kind", "juminhyo", "--with-householder", "--with-domicile",
                 "--out", str(out))
    assert r.returncode == 0, r.stderr
    pdfsig = subprocess.run([require_tool("pdfsig"), str(out)], capture_output=True, text=True)
    assert "Signature is Valid" in pdfsig.stdout, pdfsig.stdout
    text = subprocess.run([require_tool("pdftotext"), "-layout", str(out), "-"],
                          capture_output=True, text=True).stdout
    for expected in ("山田", "太郎", "𠮷郎", "加東市長", "令和", "兵庫県加東市社50番地"):
        assert expected in text, expected
    # A removed member (the husband in H002) is not listed on the household's certificate.
    r = run_kofu("issuer", "render", "--config", str(issuer_world.config), "--municipality", KATO,
                 "--resident", "R010", "--kind", "juminhyo", "--out", str(out))
    assert r.returncode == 0, r.stderr
    text = subprocess.run([require_tool("pdftotext"), str(out), "-"], capture_output=True, text=True).stdout
    assert "花子" in text and "一郎" not in text
    r = run_kofu("issuer", "render", "--config", str(issuer_world.config), "--municipality", KATO,
                 "--resident", "nobody", "--kind", "juminhyo", "--out", str(out))
    assert r.returncode == 2 and "nobody" in r.stderr


def test_bad_import_exits_2_naming_the_field(issuer_world: World, tmp_path: Path) -> None:
    data = json.loads(issuer_world.import_file.read_text(encoding="utf-8"))
    data["municipalities"][1]["households"][0]["members"][0]["sex"] = "x"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    r = run_kofu("issuer", "import", "--config", str(issuer_world.config), str(bad))
    assert r.returncode == 2
    assert "municipalities[1].households[0].members[0].sex" in r.stderr
    assert "nothing was changed" in r.stderr
    bad.write_text("{not json", encoding="utf-8")
    r = run_kofu("issuer", "import", "--config", str(issuer_world.config), str(bad))
    assert r.returncode == 2 and "not valid UTF-8 JSON" in r.stderr


def test_audit_verify_detects_tampering(issuer_world: World, db_url: str) -> None:
    imported(issuer_world)
    from datetime import datetime

    from kofu import clock
    from kofu.db import make_engine
    from kofu.issuer.service import IssuerService
    from kofu.issuer.settings import load_settings
    from kofu.issuer.tables import issuance_events

    from .conftest import issue_request

    settings = load_settings(issuer_world.config)
    engine = make_engine(settings.database_url)
    clock.set_for_tests(datetime.fromisoformat("2026-03-03T10:00:00+09:00"))
    try:
        svc = IssuerService(engine, settings)
        for i in range(3):
            svc.issue_certificate(issue_request(message_serial=f"S{i}", municipality_code=KATO,
                                                resident_link="link-R001", order_id=f"O{i}", kind="juminhyo",
                                                scope="self", copies=1, fee=200, store_id="store"))
    finally:
        clock.set_for_tests(None)
    r = run_kofu("issuer", "audit-verify", "--config", str(issuer_world.config))
    assert r.returncode == 0 and "3 entries, 3 issuances" in r.stdout, r.stderr
    # Someone edits the middle entry's data: its hash no longer matches.
    with engine.begin() as c:
        c.execute(sa.update(issuance_events).where(issuance_events.c.seq == 2)
                  .values(data=sa.func.replace(issuance_events.c.data, '"fee":200', '"fee":0')))
    engine.dispose()
    r = run_kofu("issuer", "audit-verify", "--config", str(issuer_world.config))
    assert r.returncode == 1
    assert "entry 2: content does not match its hash" in r.stderr
