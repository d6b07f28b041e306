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


def build_service(config: Path):  # type: ignore[no-untyped-def]
    from datetime import timedelta
    from functools import partial

    import httpx

    from kofu.center import settings as settings_mod
    from kofu.center.service import CenterService
    from kofu.center.trust import CardTrust
    from kofu.center.widearea_client import WideAreaClient
    from kofu.db import make_engine
    from kofu.lgpki.seal import verify_seal
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
        partial(verify_seal, trust_roots=[s.lgpki_ca]),
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
    _start_confirmer(service)
    run_app(create_app(service, qr_keys=settings.antiforgery_qr_keys), settings.server)
    return 0


def _start_confirmer(service, every_seconds: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    """Retry what an issuer has not acknowledged yet (printed copies, cancellations)."""
    import logging
    import threading
    import time

    log = logging.getLogger("kofu.center.confirmer")

    def loop() -> None:
        while True:
            time.sleep(every_seconds)
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
