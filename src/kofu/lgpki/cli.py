"""``kofu lgpki``: create the LGPKI-role CA and issue TLS and e-seal certificates.

kofu lgpki init var/lgpki
kofu lgpki issue var/lgpki --kind server --name issuer --host 127.0.0.1 --out var/issuer/tls
kofu lgpki issue var/lgpki --kind client --name store1 --role store-operator --org S001 --out s1
kofu lgpki issue var/lgpki --kind seal --municipality 282286 --name 加東市 --out var/seal-282286
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction, serve: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]  # argparse's action is generic only in typeshed
    p = sub.add_parser("lgpki", help="the LGPKI-role CA for TLS and e-seal certificates")
    lg = p.add_subparsers(dest="lgpki_command", metavar="ACTION")
    lg.required = True

    init = lg.add_parser("init", help="create a root CA in DIR (refuses to overwrite one)")
    init.add_argument("dir", type=Path, metavar="DIR")
    init.set_defaults(func=_init)

    issue = lg.add_parser("issue", help="issue a certificate; writes PREFIX.pem and PREFIX.key")
    issue.add_argument("dir", type=Path, metavar="DIR", help="the CA folder")
    issue.add_argument("--kind", required=True, choices=("server", "client", "seal"))
    issue.add_argument(
        "--name",
        help="server/client: the common name; seal: the municipality name (e.g. 加東市)",
    )
    issue.add_argument(
        "--host",
        action="append",
        default=None,
        help="server: an IP address or DNS name (repeatable; default 127.0.0.1 and localhost)",
    )
    issue.add_argument("--role", choices=("center", "store-operator", "municipality"))
    issue.add_argument("--org", help="client: the organisation id (store operator id, code)")
    issue.add_argument("--municipality", metavar="CODE", help="seal: the 6-digit code")
    issue.add_argument("--mayor-title", help="seal: CN of the seal (default: <name>長)")
    issue.add_argument("--out", type=Path, required=True, metavar="PREFIX")
    issue.set_defaults(func=_issue)


def _init(args: argparse.Namespace) -> int:
    from kofu.lgpki.ca import LgpkiAuthority, LgpkiError

    try:
        ca = LgpkiAuthority.init(args.dir)
    except LgpkiError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"created {ca.ca_path}")
    return 0


def _issue(args: argparse.Namespace) -> int:
    from kofu.lgpki.ca import LgpkiAuthority, LgpkiError

    def need(flag: str, value: object) -> None:
        if not value:
            raise LgpkiError(f"--kind {args.kind} needs {flag}")

    try:
        ca = LgpkiAuthority.open(args.dir)
        if args.kind == "server":
            need("--name", args.name)
            issued = ca.issue_server(args.name, args.host, out=args.out)
        elif args.kind == "client":
            need("--name", args.name)
            need("--role", args.role)
            need("--org", args.org)
            issued = ca.issue_client(args.name, args.role, args.org, out=args.out)
        else:
            need("--municipality", args.municipality)
            need("--name (the municipality name)", args.name)
            issued = ca.issue_seal(
                args.municipality, args.name, mayor_title=args.mayor_title, out=args.out
            )
    except LgpkiError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{issued.cert_path}\n{issued.key_path}")
    return 0
