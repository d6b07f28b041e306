"""``kofu kiosk issue`` and ``kofu kiosk offers``: the headless reference kiosk.

Exit status: 0 issued; 2 wrong PIN (the tries left are printed); 3 card
locked; 4 refused (the reason a resident would be shown is printed).
TLS files default to those of a running demo (``var/demo/demo.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

EXIT_WRONG_PIN = 2
EXIT_LOCKED = 3
EXIT_REFUSED = 4


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

    i = ksub.add_parser("issue", help="run the whole flow and write the printed certificate")
    common(i)
    i.add_argument("--kind", default="juminhyo", choices=["juminhyo", "kisai", "inkan", "zeimu", "koseki", "fuhyo"])
    i.add_argument("--scope", default="household", choices=["household", "self"])
    i.add_argument("--with-householder", action="store_true", help="include 世帯主・続柄")
    i.add_argument("--with-domicile", action="store_true", help="include 本籍・筆頭者")
    i.add_argument("--copies", type=int, default=1)
    i.add_argument("--pay", type=int, help="yen to put in (default: the exact fee)")
    i.add_argument("--out", type=Path, required=True, help="where the printer output goes (PDF)")
    i.set_defaults(func=_issue)

    o = ksub.add_parser("offers", help="list what the card holder may get now, as JSON")
    common(o)
    o.set_defaults(func=_offers)


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
        return int(action(center, auth))
    except WrongPin as e:
        print(f"暗証番号が違います。残り{e.tries_left}回 (wrong PIN: {e.tries_left} tries left)", file=sys.stderr)
        return EXIT_WRONG_PIN
    except CardLocked:
        print("暗証番号がロックされています。市区町村窓口で解除してください。(card locked)", file=sys.stderr)
        return EXIT_LOCKED
    except KioskError as e:
        print(json.dumps({"error": e.code, "message": e.message, "detail": e.detail}, ensure_ascii=False), file=sys.stderr)
        print(e.message, file=sys.stderr)
        return EXIT_REFUSED
    finally:
        center.close()


def _issue(args: argparse.Namespace) -> int:
    from kofu.kiosk import flow

    req = flow.IssueRequest(
        kind=args.kind,
        scope=args.scope,
        with_householder=args.with_householder,
        with_domicile=args.with_domicile,
        copies=args.copies,
        pay=args.pay,
    )

    def action(center, auth) -> int:  # type: ignore[no-untyped-def]
        result = flow.issue(center, auth, req)
        args.out.write_bytes(result.pdf)
        print(json.dumps({**result.summary(), "out": str(args.out)}, ensure_ascii=False))
        return 0

    return _run(args, action)


def _offers(args: argparse.Namespace) -> int:
    def action(center, auth) -> int:  # type: ignore[no-untyped-def]
        print(json.dumps({"municipality": auth.municipality, "offers": center.offers(auth.session_id)}, ensure_ascii=False))
        return 0

    return _run(args, action)
