"""``kofu jpki …``, ``kofu card …``, ``kofu serve jpki`` and ``kofu serve ocsp``.

>>> kofu jpki init var/jpki
>>> kofu jpki issue-card var/jpki --holder holder.json --pin 1234 --password ABCD1234 --out card.json
>>> kofu card info card.json --json
>>> kofu serve ocsp --jpki var/jpki --port 8403
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from kofu.jpki.store import REVOCATION_REASONS


def register(sub: Any, serve: Any) -> None:
    jpki = sub.add_parser("jpki", help="the JPKI certificate authority")
    jsub = jpki.add_subparsers(dest="jpki_command", metavar="ACTION")
    jsub.required = True

    p = jsub.add_parser("init", help="create a root CA and its OCSP signer in DIR")
    p.add_argument("dir", type=Path)
    p.add_argument("--ocsp-url", help="OCSP URL to put in issued certificates (AIA)")
    p.set_defaults(func=_init)

    p = jsub.add_parser("issue-card", help="issue a virtual My Number card")
    p.add_argument("dir", type=Path)
    p.add_argument("--holder", type=Path, required=True, help="holder JSON file")
    p.add_argument("--pin", required=True, help="4-digit user-authentication PIN")
    p.add_argument("--password", required=True, help="6-16 character signing password")
    p.add_argument("--out", type=Path, required=True, help="card file to write")
    p.set_defaults(func=_issue_card)

    p = jsub.add_parser("revoke", help="revoke a certificate by serial (hex, as `kofu card info` prints it)")
    p.add_argument("dir", type=Path)
    p.add_argument("serial")
    p.add_argument("--reason", choices=REVOCATION_REASONS, default="unspecified")
    p.set_defaults(func=_revoke)

    p = jsub.add_parser("reset-pin", help="municipality reset: unlock a card's PIN and password")
    p.add_argument("card", type=Path)
    p.set_defaults(func=_reset)

    p = jsub.add_parser("index", help="print the CA's records as an OpenSSL index.txt")
    p.add_argument("dir", type=Path)
    p.set_defaults(func=_index)

    card = sub.add_parser("card", help="a virtual My Number card")
    csub = card.add_subparsers(dest="card_command", metavar="ACTION")
    csub.required = True

    p = csub.add_parser("info", help="certificates and tries left")
    p.add_argument("card", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_card_info)

    p = csub.add_parser("export", help="print a certificate as PEM")
    p.add_argument("card", type=Path)
    p.add_argument("--cert", choices=("auth", "sign"), required=True)
    p.set_defaults(func=_card_export)

    p = csub.add_parser("sign", help="sign data with the user-authentication key (needs the PIN)")
    p.add_argument("card", type=Path)
    p.add_argument("--pin", required=True)
    p.add_argument("--data", required=True, help="the message, in hex")
    p.set_defaults(func=_card_sign)

    p = csub.add_parser("reset", help="municipality reset: unlock the PIN and password")
    p.add_argument("card", type=Path)
    p.set_defaults(func=_reset)

    p = serve.add_parser("jpki", help="the JPKI directory (serial → municipality, resident link)")
    p.add_argument("--jpki", type=Path, required=True, help="CA directory")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tls-cert", type=Path)
    p.add_argument("--tls-key", type=Path)
    p.add_argument("--client-ca", type=Path, help="require client certificates from this CA")
    p.set_defaults(func=_serve_directory)

    p = serve.add_parser("ocsp", help="the OCSP responder (RFC 6960)")
    p.add_argument("--jpki", type=Path, required=True, help="CA directory")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--refresh-seconds", type=float, default=300.0,
                   help="re-sign every response this often (revocations show within ~1 s anyway)")
    p.set_defaults(func=_serve_ocsp)


def _fail(message: str, status: int = 1) -> int:
    print(f"error: {message}", file=sys.stderr)
    return status


def _init(args: argparse.Namespace) -> int:
    from kofu.jpki.ca import CA_CERT, OCSP_CERT, init_ca
    from kofu.jpki.errors import JpkiError

    try:
        init_ca(args.dir, ocsp_url=args.ocsp_url)
    except JpkiError as e:
        return _fail(str(e))
    print(f"created {args.dir / CA_CERT} and {args.dir / OCSP_CERT}")
    return 0


def _issue_card(args: argparse.Namespace) -> int:
    from kofu.jpki.ca import Holder, issue_card
    from kofu.jpki.errors import JpkiError

    try:
        data = json.loads(args.holder.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        return _fail(f"cannot read the holder file {args.holder}: {e}")
    try:
        issued = issue_card(args.dir, Holder.from_json(data), args.pin, args.password, args.out)
    except JpkiError as e:
        return _fail(str(e))
    print(
        json.dumps(
            {
                "card": str(issued.card),
                "auth_serial": issued.auth_serial,
                "sign_serial": issued.sign_serial,
                "resident_link": issued.resident_link,
                "municipality": issued.municipality,
            },
            ensure_ascii=False,
        )
    )
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from kofu.jpki.ca import revoke
    from kofu.jpki.errors import JpkiError

    try:
        record = revoke(args.dir, args.serial, args.reason)
    except JpkiError as e:
        return _fail(str(e))
    assert record.revoked_at is not None
    print(f"revoked {record.serial} ({record.kind}) at {record.revoked_at.isoformat()}: {record.reason}")
    return 0


def _reset(args: argparse.Namespace) -> int:
    from kofu.jpki.cardfile import reset_card
    from kofu.jpki.errors import JpkiError

    try:
        image = reset_card(args.card)
    except JpkiError as e:
        return _fail(str(e))
    print(f"reset {args.card}: PIN tries {image.pin_tries_left}, password tries {image.password_tries_left}")
    return 0


def _index(args: argparse.Namespace) -> int:
    from kofu.jpki.ca import openssl_index
    from kofu.jpki.errors import JpkiError

    try:
        sys.stdout.write(openssl_index(args.dir))
    except JpkiError as e:
        return _fail(str(e))
    return 0


def _cert_summary(cert: Any) -> dict[str, str]:
    from kofu.jpki.store import serial_hex

    return {
        "serial": serial_hex(cert.serial_number),
        "subject": cert.subject.rfc4514_string(),
        "not_after": cert.not_valid_after_utc.isoformat(),
    }


def _card_info(args: argparse.Namespace) -> int:
    from kofu.jpki.cardfile import PASSWORD_MAX_TRIES, PIN_MAX_TRIES, CardFile
    from kofu.jpki.errors import JpkiError

    # The holder's own view of the card file (as the municipality's terminal
    # sees it), not through the APDU interface, which hides EF 0001 until the
    # password is given.
    try:
        image = CardFile(args.card).read()
        info = {
            "auth": _cert_summary(image.auth_certificate()),
            "sign": _cert_summary(image.sign_certificate()),
            "pin_tries_left": image.pin_tries_left,
            "password_tries_left": image.password_tries_left,
            "locked": image.pin_tries_left == 0,
            "password_locked": image.password_tries_left == 0,
        }
    except (JpkiError, ValueError) as e:
        return _fail(str(e))
    if args.json:
        print(json.dumps(info, ensure_ascii=False))
        return 0
    for kind, title in (("auth", "user authentication"), ("sign", "signing")):
        c = info[kind]
        assert isinstance(c, dict)
        print(f"{title} certificate:")
        print(f"  serial:    {c['serial']}")
        print(f"  subject:   {c['subject']}")
        print(f"  not after: {c['not_after']}")
    print(f"PIN tries left:      {image.pin_tries_left}/{PIN_MAX_TRIES}" + ("  (LOCKED)" if info["locked"] else ""))
    print(
        f"password tries left: {image.password_tries_left}/{PASSWORD_MAX_TRIES}"
        + ("  (LOCKED)" if info["password_locked"] else "")
    )
    return 0


def _card_export(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives import serialization

    from kofu.jpki.cardfile import CardFile
    from kofu.jpki.errors import JpkiError

    try:
        image = CardFile(args.card).read()
        cert = image.auth_certificate() if args.cert == "auth" else image.sign_certificate()
    except (JpkiError, ValueError) as e:
        return _fail(str(e))
    sys.stdout.write(cert.public_bytes(serialization.Encoding.PEM).decode())
    return 0


def _card_sign(args: argparse.Namespace) -> int:
    from kofu.jpki.client import JpkiCard
    from kofu.jpki.errors import CardLocked, JpkiError, WrongPin
    from kofu.jpki.reader import VirtualCardReader

    try:
        message = bytes.fromhex(args.data)
    except ValueError:
        return _fail("--data must be hexadecimal")
    try:
        card = JpkiCard(VirtualCardReader(args.card))
        card.verify_pin(args.pin)
        signature = card.sign_with_auth_key(message)
    except WrongPin as e:
        print(f"wrong PIN: {e.tries_left} tries left", file=sys.stderr)
        return 2
    except CardLocked as e:
        print(f"locked: {e}", file=sys.stderr)
        return 3
    except JpkiError as e:
        return _fail(str(e))
    print(signature.hex())
    return 0


def _serve_directory(args: argparse.Namespace) -> int:
    from kofu.jpki.ca import CA_CERT
    from kofu.jpki.directory import directory_app
    from kofu.web import ServerSettings, TlsServerSettings, run_app

    if not (args.jpki / CA_CERT).exists():
        return _fail(f"no CA in {args.jpki}: run `kofu jpki init {args.jpki}` first")
    if (args.tls_cert is None) != (args.tls_key is None):
        return _fail("--tls-cert and --tls-key go together")
    if args.client_ca is not None and args.tls_cert is None:
        return _fail("--client-ca needs --tls-cert and --tls-key")
    tls = None
    if args.tls_cert is not None:
        tls = TlsServerSettings(cert=args.tls_cert, key=args.tls_key, client_ca=args.client_ca)
    app = directory_app(args.jpki, require_center=args.client_ca is not None)
    run_app(app, ServerSettings(host=args.host, port=args.port, tls=tls))
    return 0


def _serve_ocsp(args: argparse.Namespace) -> int:
    from kofu.jpki.errors import JpkiError
    from kofu.jpki.ocsp import OcspResponder
    from kofu.jpki.ocsp_http import ocsp_app
    from kofu.web import ServerSettings, run_app

    try:
        responder = OcspResponder.load(args.jpki)
        count = responder.refresh_all()
    except JpkiError as e:
        return _fail(str(e))
    print(f"OCSP responder: {count} responses pre-signed; listening on {args.host}:{args.port}", flush=True)
    run_app(ocsp_app(responder, refresh_seconds=args.refresh_seconds),
            ServerSettings(host=args.host, port=args.port))
    return 0
