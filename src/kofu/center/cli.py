"""``kofu serve center`` and ``kofu center …``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kofu.center.service import PrintJobComposer
    from kofu.center.settings import CenterSettings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], serve: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = serve.add_parser("center", help="the certificate issuance center (kiosk API)")
    p.add_argument("--config", type=Path, required=True, help="center TOML settings")
    p.set_defaults(func=_serve)

    c = sub.add_parser("center", help="center operations")
    csub = c.add_subparsers(dest="center_command", required=True)
    r = csub.add_parser("records", help="print the issuance records (what settlement counts) as JSON lines")
    r.add_argument("--config", type=Path, required=True)
    r.set_defaults(func=_records)
    rc = csub.add_parser(
        "reconcile",
        help="settle orders a crash left in between (asking the issuers) and retry unacknowledged reports",
    )
    rc.add_argument("--config", type=Path, required=True)
    rc.add_argument("--settle-after", type=int, default=None, metavar="SECONDS",
                    help="settle orders untouched this long (default: the settings' settle_after_seconds)")
    rc.set_defaults(func=_reconcile)
    cmp = csub.add_parser("compare", help="compare copies and fees with the issuers, order by order (JSON lines)")
    cmp.add_argument("--config", type=Path, required=True)
    cmp.add_argument("--all", action="store_true", help="print the agreeing orders too")
    cmp.set_defaults(func=_compare)


def build_service(config: Path):  # type: ignore[no-untyped-def]
    from datetime import timedelta
    from functools import partial

    import httpx

    from kofu.center import settings as settings_mod
    from kofu.center.service import CenterService
    from kofu.center.trust import CardTrust
    from kofu.center.widearea_client import WideAreaClient
    from kofu.db import make_engine
    from kofu.lgpki.seal import check_seal
    from kofu.web import client_ssl_context

    s = settings_mod.load(config)
    engine = make_engine(s.database)
    tls = client_ssl_context(s.lgpki_ca, s.client_cert, s.client_key)
    directory = httpx.Client(verify=tls, timeout=5.0)
    trust = CardTrust(s.jpki_ca.read_bytes(), s.ocsp_url, s.directory_url, directory)
    clients: dict[str, WideAreaClient] = {}
    by_url: dict[str, WideAreaClient] = {}
    for code, url in s.issuers.items():
        if url not in by_url:  # one client (and connection pool) per issuer, however many tenants
            by_url[url] = WideAreaClient(
                url, str(s.lgpki_ca), str(s.client_cert), str(s.client_key),
                retries=s.issuer_retries, timeout=s.issuer_timeout,
            )
        clients[code] = by_url[url]
    service = CenterService(
        engine,
        s.region,
        trust,
        clients,
        partial(check_seal, trust_roots=[s.lgpki_ca]),
        session_ttl=timedelta(seconds=s.session_ttl_seconds),
        compose=_composer(s),
    )
    return s, service


def _composer(s: CenterSettings) -> PrintJobComposer | None:
    """The anti-forgery print-job composer, when the settings name its keys."""
    if s.antiforgery_master_key is None:
        return None
    from functools import partial

    from kofu.antiforgery.keys import QrSigner, ScrambleKeyring
    from kofu.antiforgery.printjob import compose_print_job

    assert s.antiforgery_qr_keys is not None and s.antiforgery_qr_kid is not None  # settings check all three
    keyring = ScrambleKeyring.from_file(s.antiforgery_master_key)
    signer = QrSigner.load(s.antiforgery_qr_keys, s.antiforgery_qr_kid)
    return partial(compose_print_job, keyring=keyring, signer=signer)


def _serve(args: argparse.Namespace) -> int:
    from kofu.center.app import create_app
    from kofu.web import run_app

    settings, service = build_service(args.config)
    service.create_tables()
    _start_confirmer(service, settle_after=_settle_after(settings))
    run_app(create_app(service, qr_keys=settings.antiforgery_qr_keys), settings.server)
    return 0


def _settle_after(settings: CenterSettings):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    if settings.settle_after_seconds is None:
        return None
    return timedelta(seconds=settings.settle_after_seconds)


def _start_confirmer(service, every_seconds: float = 30.0, settle_after=None) -> None:  # type: ignore[no-untyped-def]
    """Settle orders a crash left in between (at start, then periodically) and retry what
    an issuer has not acknowledged yet (printed copies, cancellations)."""
    import logging
    import threading
    import time

    log = logging.getLogger("kofu.center.confirmer")

    def loop() -> None:
        first = True
        while True:
            if not first:
                time.sleep(every_seconds)
            first = False
            try:
                service.settle(settle_after)
            except Exception:  # keep sweeping; the next round may succeed
                log.exception("settling orders failed")
            try:
                remaining = service.reconcile()
                if remaining:
                    log.warning("%d printed or cancelled orders still await an issuer's acknowledgement", remaining)
            except Exception:  # keep retrying; the next round may succeed
                log.exception("confirming printed orders failed")

    threading.Thread(target=loop, name="confirm-printed", daemon=True).start()


def _records(args: argparse.Namespace) -> int:
    import json

    import sqlalchemy as sa

    from kofu.center import settings as settings_mod
    from kofu.center.models import IssuanceRecord
    from kofu.db import make_engine

    s = settings_mod.load(args.config)
    engine = make_engine(s.database)
    with engine.connect() as c:
        for row in c.execute(sa.select(IssuanceRecord).order_by(IssuanceRecord.printed_at)):
            d = dict(row._mapping)
            d["printed_at"] = d["printed_at"].isoformat()
            print(json.dumps(d, ensure_ascii=False))
    return 0


def _reconcile(args: argparse.Namespace) -> int:
    import json
    from datetime import timedelta

    settings, service = build_service(args.config)
    service.create_tables()
    after = timedelta(seconds=args.settle_after) if args.settle_after is not None else _settle_after(settings)
    settled = service.settle(after)
    waiting = service.reconcile()
    print(json.dumps({**settled, "awaiting_issuer": waiting}))
    return 0 if not settled["deferred"] and not waiting else 1


def _compare(args: argparse.Namespace) -> int:
    import json

    _settings, service = build_service(args.config)
    rows = service.compare()
    bad = [r for r in rows if r["agree"] is False]
    for row in rows:
        if args.all or row["agree"] is not True:
            print(json.dumps(row, ensure_ascii=False))
    summary = {"orders": len(rows), "agree": sum(1 for r in rows if r["agree"]), "disagree": len(bad),
               "open": sum(1 for r in rows if r["agree"] is None)}
    print(json.dumps({"summary": summary}))
    return 1 if bad else 0
