"""Commands of the issuer (証明発行サーバ).

    kofu serve issuer --config issuer.toml
    kofu issuer import --config issuer.toml export.json
    kofu issuer audit-verify --config issuer.toml
    kofu issuer render --config issuer.toml --municipality 282286 --resident R0001 \\
        --kind juminhyo|kisai|inkan|zeimu|koseki|fuhyo [--scope household|self] [--with-householder]
        [--with-domicile] [--with-individual-number] [--member ID] [--tax-kind shotoku|nozei --year YYYY]
        [--koseki-scope all|self] --out cert.pdf
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from kofu.domain.rules import Kind, OrderOptions


def register(sub: Any, serve: Any) -> None:
    p = serve.add_parser("issuer", help="the certificate issuance server (wide-area SOAP)")
    p.add_argument("--config", type=Path, required=True, help="issuer TOML file")
    p.set_defaults(func=_serve)

    issuer = sub.add_parser("issuer", help="issuer administration")
    isub = issuer.add_subparsers(dest="issuer_command", metavar="COMMAND")
    isub.required = True

    imp = isub.add_parser("import", help="load a full export or a difference (docs/issuer-import.md)")
    imp.add_argument("--config", type=Path, required=True)
    imp.add_argument("file", type=Path)
    imp.set_defaults(func=_import)

    av = isub.add_parser("audit-verify", help="verify the hash chain of the issuance audit log")
    av.add_argument("--config", type=Path, required=True)
    av.set_defaults(func=_audit_verify)

    r = isub.add_parser("render", help="render and seal one certificate directly, to check a format")
    r.add_argument("--config", type=Path, required=True)
    r.add_argument("--municipality", required=True, help="municipality code")
    r.add_argument("--resident", required=True, help="the resident id from the import file")
    r.add_argument("--kind", choices=[k.value for k in Kind], required=True)
    r.add_argument("--scope", choices=["household", "self"], default="household")
    r.add_argument("--with-householder", action="store_true", help="include 世帯主・続柄")
    r.add_argument("--with-domicile", action="store_true", help="include 本籍・筆頭者")
    r.add_argument("--with-individual-number", action="store_true", help="juminhyo: include 個人番号")
    r.add_argument("--member", action="append", default=[], metavar="ID", help="juminhyo/kisai: chosen members; fuhyo: chosen persons (一部); koseki with --koseki-scope self: chosen persons (戸籍法 10条)")
    r.add_argument("--tax-kind", choices=["shotoku", "nozei"], default="shotoku", help="zeimu")
    r.add_argument("--year", type=int, help="zeimu: fiscal year (年度)")
    r.add_argument("--koseki-scope", choices=["all", "self"], default="all", help="koseki")
    r.add_argument("--out", type=Path, required=True)
    r.set_defaults(func=_render)


def _settings_and_engine(path: Path) -> tuple[Any, Any]:
    from kofu.db import make_engine
    from kofu.issuer.settings import load_settings
    from kofu.issuer.tables import create_all

    settings = load_settings(path)  # a SettingsError is said by kofu.cli (one line, exit 2)
    engine = make_engine(settings.database_url)
    create_all(engine)
    return settings, engine


def _serve(args: argparse.Namespace) -> int:
    from kofu.issuer.app import build_app
    from kofu.issuer.service import IssuerService
    from kofu.web import run_app

    settings, engine = _settings_and_engine(args.config)
    if settings.server.tls is None:
        # Plain HTTP serves sealed certificates and personal data to anyone on the network.
        if not settings.unsafe_plain_http:
            raise SystemExit(
                f"kofu serve issuer: {args.config} has no [tls]: the issuer serves personal data and seals "
                "documents only over mutual TLS; set unsafe_plain_http = true to run without it (never in production)"
            )
        import logging

        logging.getLogger("kofu.issuer").warning(
            "UNSAFE: unsafe_plain_http is set: this issuer serves sealed certificates over plain HTTP "
            "to anyone who reaches %s:%d", settings.server.host, settings.server.port,
        )
        print("kofu serve issuer: WARNING: unsafe_plain_http: no TLS, no client authentication", file=sys.stderr)
    run_app(build_app(IssuerService(engine, settings)), settings.server)
    return 0


def _import(args: argparse.Namespace) -> int:
    from kofu.issuer.importer import ImportError_, import_file

    _settings, engine = _settings_and_engine(args.config)
    try:
        summary = import_file(engine, args.file)
    except ImportError_ as e:
        print(f"kofu issuer import: {e} (nothing was changed)", file=sys.stderr)
        return 2
    what = "applied a difference:" if summary.difference else "imported"
    print(f"{what} {summary.municipalities} municipalities, {summary.households} households, "
          f"{summary.residents} residents, {summary.seals} seal registrations, {summary.tax_records} tax "
          f"records, {summary.family_registers} family registers ({summary.changed} rows written, "
          f"{summary.removed} records removed; {summary.unchanged} records unchanged since the last import "
          "were not read again)")
    read, checked, merged = summary.seconds
    print(f"read and staged in {read:.1f} s, checked in {checked:.1f} s, merged in {merged:.1f} s")
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    from kofu.issuer.audit import AuditError, check_chain

    settings, engine = _settings_and_engine(args.config)
    try:
        report = check_chain(engine, settings.audit_key)
    except AuditError as e:
        print("audit log does NOT verify:", file=sys.stderr)
        for p in e.problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    print(f"audit log verifies: {report.events} entries, {report.issuances} issuances, "
          f"head {report.last_hash}")
    return 0


def _render(args: argparse.Namespace) -> int:
    from kofu.issuer.errors import IssuerError
    from kofu.issuer.service import IssuerService

    settings, engine = _settings_and_engine(args.config)
    svc = IssuerService(engine, settings)
    try:
        # The option flags are named as OrderOptions' fields; --member gives the members.
        options = OrderOptions.from_dict({**vars(args), "members": args.member})
        pdf, pages = svc.render_for_check(args.municipality, args.resident, args.kind, options)
    except IssuerError as e:
        print(f"kofu issuer render: {e}", file=sys.stderr)
        return 2
    args.out.write_bytes(pdf)
    print(f"wrote {args.out} ({pages} page{'s' if pages != 1 else ''}, {len(pdf)} bytes)")
    return 0
