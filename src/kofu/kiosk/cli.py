"""``kofu kiosk issue`` and ``kofu kiosk offers``: the headless reference kiosk.

Exit status: 0 issued; 2 wrong PIN (the tries left are printed); 3 card
locked; 4 refused (the reason a resident would be shown is printed, in Japanese and
English, after a JSON line {error, message, message_en, detail}); 5
printed, but the center could not be told after retries (the operator must
report it; the paper exists and is never refunded).
TLS files default to those of a running demo (``var/demo/demo.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from kofu.domain.rules import Kind, OrderOptions

EXIT_WRONG_PIN = 2
EXIT_LOCKED = 3
EXIT_REFUSED = 4
EXIT_NOT_REPORTED = 5


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], serve: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    k = sub.add_parser("kiosk", help="the headless reference kiosk")
    ksub = k.add_subparsers(dest="kiosk_command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--center", required=False, help="center URL (default: from the demo file)")
        p.add_argument("--card", type=Path, required=True, help="virtual card file")
        p.add_argument("--pin", required=True, help="4-digit user-authentication PIN")
        p.add_argument("--kiosk-id", default="kiosk-1")
        p.add_argument("--ca-bundle", type=Path, help="CA bundle trusting the center")
        p.add_argument("--client-cert", type=Path, help="store operator client certificate (PEM)")
        p.add_argument("--client-key", type=Path, help="store operator client key (PEM)")
        p.add_argument(
            "--demo-file",
            type=Path,
            default=Path(os.environ.get("KOFU_DEMO", "var/demo/demo.json")),
            help="demo.json to take the center URL and TLS files from (default: %(default)s)",
        )

    i = ksub.add_parser(
        "issue",
        help="run the whole flow and write the printed certificate",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""Run the kiosk flow for one certificate and write what the printer would print.

kinds and their options:
  juminhyo  住民票の写し          --scope household|self, --member ID (repeatable: chosen
                                  members of the household), --with-householder,
                                  --with-domicile, --with-individual-number
  kisai     住民票記載事項証明書  same as juminhyo, without 個人番号
  inkan     印鑑登録証明書        (the holder's registered seal; no options)
  zeimu     各種税証明書          --tax-kind shotoku|nozei --year YYYY (fiscal year 年度)
  koseki    戸籍証明書            --koseki-scope all|self (全部事項 / 個人事項); with self,
                                  --member ID (repeatable): chosen persons of the
                                  holder's register (戸籍法 10条), else the holder
  fuhyo     戸籍の附票の写し      --scope household (全部, default) or self (the holder),
                                  --member ID (repeatable: 一部, chosen persons of the
                                  register), --with-domicile (本籍・筆頭者)

`kofu kiosk offers` lists what the card holder may get now, with the member
ids and years to choose from.""",
    )
    common(i)
    i.add_argument("--kind", default="juminhyo", choices=[k.value for k in Kind])
    i.add_argument("--scope", choices=["household", "self"],
                   help="juminhyo/kisai: whole household (default) or the holder; fuhyo: whole register "
                        "(default) or the holder; other kinds: self")
    i.add_argument("--member", action="append", default=[], metavar="ID",
                   help="juminhyo/kisai: a household member to include; fuhyo: a person of the register "
                        "(repeatable; ids from `kiosk offers`)")
    i.add_argument("--with-householder", action="store_true", help="include 世帯主・続柄")
    i.add_argument("--with-domicile", action="store_true", help="include 本籍・筆頭者")
    i.add_argument("--with-individual-number", action="store_true",
                   help="juminhyo: include 個人番号 (only where the municipality allows it)")
    i.add_argument("--tax-kind", choices=["shotoku", "nozei"],
                   help="zeimu: shotoku 所得・課税証明書 or nozei 納税証明書")
    i.add_argument("--year", type=int, help="zeimu: fiscal year (年度), e.g. 2025 for 令和7年度")
    i.add_argument("--koseki-scope", choices=["all", "self"],
                   help="koseki: all 全部事項証明書 (default) or self 個人事項証明書")
    i.add_argument("--copies", type=int, default=1)
    i.add_argument("--pay", type=int, help="yen to put in (default: the exact fee)")
    i.add_argument("--out", type=Path, required=True, help="where the printer output goes (PDF)")
    i.set_defaults(func=_issue)

    o = ksub.add_parser("offers", help="list what the card holder may get now, as JSON")
    common(o)
    o.set_defaults(func=_offers)

    c = ksub.add_parser(
        "clear-fault", help="put a touch kiosk back in service after the staff settled a coin-vendor fault",
        description="Print the kiosk's fault record and remove it. A running kiosk then pays out what the "
                    "coin vendor held (to the staff) before the next resident starts. Exit 1 when no "
                    "fault is recorded.")
    c.add_argument("--config", type=Path, required=True, help="the kiosk's TOML file")
    c.set_defaults(func=_clear_fault)


def _connect(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from kofu.kiosk.client import CenterClient, KioskTls

    demo = {}
    if args.demo_file.exists():
        demo = json.loads(args.demo_file.read_text(encoding="utf-8"))
    url = args.center or demo.get("services", {}).get("center")
    tls = demo.get("tls", {})
    ca = args.ca_bundle or (Path(tls["ca"]) if "ca" in tls else None)
    cert = args.client_cert or (Path(tls["client_cert"]) if "client_cert" in tls else None)
    key = args.client_key or (Path(tls["client_key"]) if "client_key" in tls else None)
    if not (url and ca and cert and key):
        raise SystemExit(
            "kofu kiosk: need --center, --ca-bundle, --client-cert and --client-key "
            f"(or a running demo's {args.demo_file})"
        )
    return CenterClient(url, KioskTls(ca, cert, key))


def _run(args: argparse.Namespace, action) -> int:  # type: ignore[no-untyped-def]
    from kofu.jpki.errors import CardLocked, WrongPin
    from kofu.kiosk import flow
    from kofu.kiosk.client import KioskError

    center = _connect(args)
    try:
        card = flow.open_card(args.card)
        auth = flow.authenticate(center, card, args.pin, args.kiosk_id)
        try:
            return int(action(center, auth))
        finally:
            try:
                # One card holder, one transaction: nothing more on this session.
                center.close_session(auth.session_id)
            except KioskError:
                pass  # already closed by the printed report or cancel (or not closable: reported later)
    except WrongPin as e:
        print(f"暗証番号が違います。残り{e.tries_left}回 (wrong PIN: {e.tries_left} tries left)", file=sys.stderr)
        return EXIT_WRONG_PIN
    except CardLocked:
        print("暗証番号がロックされています。市区町村窓口で解除してください。(card locked)", file=sys.stderr)
        return EXIT_LOCKED
    except KioskError as e:
        print(json.dumps({"error": e.code, "message": e.message, "message_en": e.message_en, "detail": e.detail},
                         ensure_ascii=False), file=sys.stderr)
        print(e.message, file=sys.stderr)
        if e.message_en:
            print(e.message_en, file=sys.stderr)
        return EXIT_REFUSED
    finally:
        center.close()


def _issue(args: argparse.Namespace) -> int:
    from kofu.kiosk import flow

    resident_record = args.kind in ("juminhyo", "kisai", "fuhyo")
    if args.scope is not None:
        scope = args.scope
    else:
        scope = "household" if resident_record else "self"
    koseki_scope = args.koseki_scope or ("all" if args.kind == "koseki" else None)
    if not 1 <= args.copies <= 99:
        print(f"kofu kiosk issue: --copies must be 1..99, got {args.copies}", file=sys.stderr)
        return 1
    if args.kind == "zeimu" and (args.tax_kind is None or args.year is None):
        print("kofu kiosk issue: --kind zeimu needs --tax-kind and --year (see `kofu kiosk offers`)", file=sys.stderr)
        return 1
    # The option flags are named as OrderOptions' fields; --member gives the members.
    options = OrderOptions.from_dict({**vars(args), "scope": scope, "members": args.member, "koseki_scope": koseki_scope})
    req = flow.IssueRequest(kind=args.kind, options=options, copies=args.copies, pay=args.pay)

    def action(center, auth) -> int:  # type: ignore[no-untyped-def]
        def printer(job: bytes, _copies: int) -> None:
            # The reference kiosk's "printer" is the --out file (one copy of the job).
            args.out.write_bytes(job)

        try:
            result = flow.issue(center, auth, req, printer)
        except flow.PrintedNotReported as e:
            print(json.dumps({**e.result.summary(), "out": str(args.out), "reported": False}, ensure_ascii=False))
            print(f"printed, but the center could not be told: {e.cause}", file=sys.stderr)
            return EXIT_NOT_REPORTED
        print(json.dumps({**result.summary(), "out": str(args.out)}, ensure_ascii=False))
        return 0

    return _run(args, action)


def _offers(args: argparse.Namespace) -> int:
    from kofu.kiosk.client import KioskError

    def action(center, auth) -> int:  # type: ignore[no-untyped-def]
        try:
            available = center.availability(auth.session_id)
        except KioskError as e:
            # Nothing is available: the reason a resident is shown, on stdout as well.
            print(json.dumps({"municipality": auth.municipality, "offers": [],
                              "refusal": {"error": e.code, "message": e.message, "message_en": e.message_en}},
                             ensure_ascii=False))
            raise
        # "unavailable": kinds closed at this hour, with what the resident is told if they choose one.
        print(json.dumps({"municipality": auth.municipality, "offers": available["offers"],
                          "unavailable": available["unavailable"]}, ensure_ascii=False))
        return 0

    return _run(args, action)


def _clear_fault(args: argparse.Namespace) -> int:
    from kofu.kiosk.web.settings import SettingsError, load_settings

    try:
        d = load_settings(args.config).devices
    except SettingsError as e:
        print(f"kofu kiosk clear-fault: {e}", file=sys.stderr)
        return 2
    fault = d.fault_path
    try:
        record = fault.read_text(encoding="utf-8")
    except FileNotFoundError:
        print(f"no fault recorded ({fault}): the kiosk is in service", file=sys.stderr)
        return 1
    fault.unlink()
    print(record.strip())
    print(f"cleared {fault}: the kiosk is back in service", file=sys.stderr)
    return 0
