"""``kofu verify``: check a scanned certificate from the command line.

    kofu verify BACK [--front FRONT] [--out restored.png] [--marked marked.png] [--json]
                --keys DIR --master-key FILE
    kofu verify BACK --demo-file var/demo/demo.json

BACK and FRONT are scans (PNG, JPEG or PDF). ``--keys`` is the folder of the
center's QR keys (only the public ``*.pem`` are read), ``--master-key`` the
scramble master key. With ``--demo-file`` both are read from the demo's
``antiforgery: {"keys": ..., "master_key": ...}``.

With ``--center`` (or the demo's center) the serial's status is asked of the
center: a voided certificate is reported 「無効」 with the reason. With
``--offline``, or no center, the output says the status was not checked.

Exit status: 0 the QR is valid, (if a front was given) nothing differs and the
certificate is not void; 1 the QR is invalid, no QR or scrambled image was
found, the front differs or could not be judged, or the center says void; 2 the input was refused
(not an image, too large, missing keys).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(sub: Any, serve: Any) -> None:
    p = sub.add_parser("verify", help="verify a scanned certificate (back side, optional front)")
    p.add_argument("back", type=Path, help="scan of the back side (PNG, JPEG or PDF)")
    p.add_argument("--front", type=Path, help="scan of the front side, to detect alterations")
    p.add_argument("--out", type=Path, help="write the restored front image here (PNG)")
    p.add_argument(
        "--marked", type=Path, help="write the front with differing regions framed (PNG)"
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--keys", type=Path, help="folder of the center's QR public keys (*.pem)")
    p.add_argument("--master-key", type=Path, help="the center's scramble master key file")
    p.add_argument("--demo-file", type=Path, help="read --keys, --master-key and --center from demo.json")
    p.add_argument("--center", help="the center's URL: ask it whether the serial was voided (online check)")
    p.add_argument("--center-ca", type=Path, help="CA bundle that trusts the center's TLS certificate")
    p.add_argument("--offline", action="store_true", help="do not ask the center (the status is then not checked)")
    p.set_defaults(func=_verify)


def _key_paths(args: argparse.Namespace) -> tuple[Path, Path]:
    keys, master = args.keys, args.master_key
    if args.demo_file is not None:
        demo = json.loads(args.demo_file.read_text(encoding="utf-8"))
        af = demo.get("antiforgery") or {}
        base = args.demo_file.resolve().parent
        if keys is None and af.get("keys"):
            keys = Path(af["keys"]) if Path(af["keys"]).is_absolute() else base / af["keys"]
        if master is None and af.get("master_key"):
            mk = Path(af["master_key"])
            master = mk if mk.is_absolute() else base / mk
    if keys is None or master is None:
        raise ValueError("give --keys and --master-key (or --demo-file with an antiforgery entry)")
    return keys, master


def _center(args: argparse.Namespace) -> tuple[str | None, Path | None]:
    """The center to ask for the serial's status: --center, or the demo's; None offline."""
    if args.offline:
        return None, None
    center, ca = args.center, args.center_ca
    if center is None and args.demo_file is not None:
        demo = json.loads(args.demo_file.read_text(encoding="utf-8"))
        center = (demo.get("services") or {}).get("center")
        if ca is None and (demo.get("tls") or {}).get("ca"):
            ca = Path(demo["tls"]["ca"])
    return center, ca


def _verify(args: argparse.Namespace) -> int:
    from kofu.antiforgery.errors import AntiforgeryError, ScanRejected
    from kofu.antiforgery.keys import ScrambleKeyring, published_keys
    from kofu.antiforgery.verify import check_scan
    from kofu.verify.describe import describe

    def fail(status: int, message: str, diagnostics: tuple[str, ...] = ()) -> int:
        if args.json:
            print(
                json.dumps({"error": message, "diagnostics": list(diagnostics)}, ensure_ascii=False)
            )
        else:
            print(f"kofu verify: {message}", file=sys.stderr)
            for d in diagnostics:
                print(f"  {d}", file=sys.stderr)
        return status

    try:
        keys, master = _key_paths(args)
        keyring = ScrambleKeyring.from_file(master)
        jwks = published_keys(keys)
        back = args.back.read_bytes()
        front = args.front.read_bytes() if args.front is not None else None
    except (OSError, ValueError, AntiforgeryError) as e:
        return fail(2, str(e))
    center, center_ca = _center(args)
    try:
        r = check_scan(back, front, keyring=keyring, jwks=jwks)
    except ScanRejected as e:
        return fail(2, str(e), e.diagnostics)
    except AntiforgeryError as e:
        return fail(1, str(e), e.diagnostics)
    if args.out is not None and r.restored_png is not None:
        args.out.write_bytes(r.restored_png)
    if args.marked is not None and r.marked_png is not None:
        args.marked.write_bytes(r.marked_png)
    from kofu.verify.status import CenterStatus, not_checked

    if not r.qr_valid or r.serial is None:
        status = not_checked("Not checked: the QR is not valid.")
    elif center is None:
        status = not_checked()
    else:
        status = CenterStatus(center, center_ca).lookup(str(r.serial))
    p = r.payload
    shown = describe(p) if p else None
    result = {
        "qr_valid": r.qr_valid,
        "serial": r.serial,
        "certificate_number": shown["certificate_number"] if shown else None,
        "municipality": p.municipality if p else None,
        "municipality_name": p.municipality_name if p else None,
        "kind": p.kind if p else None,
        "kind_name": shown["kind_name"] if shown else None,
        "title": shown["title"] if shown else None,
        "issued_on": p.issued_on.isoformat() if p else None,
        "issued_on_wareki": shown["issued_on_wareki"] if shown else None,
        "page": p.page if p else None,
        "pages": p.pages if p else None,
        "restored": str(args.out) if args.out is not None and r.restored_png else None,
        "marked": str(args.marked) if args.marked is not None and r.marked_png else None,
        "tampered": r.tampered,
        "score": r.score,
        "regions": [{"x": g.x, "y": g.y, "width": g.width, "height": g.height} for g in r.regions],
        "unchecked": [{"x": g.x, "y": g.y, "width": g.width, "height": g.height} for g in r.unchecked],
        "diagnostics": list(r.diagnostics),
        "status": status,
    }
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(f"QR: {'valid (signed by the center)' if r.qr_valid else 'INVALID'}")
        if p is not None and shown is not None:
            print(f"{shown['title']}  証明書番号 {shown['certificate_number']}")
            print(f"{shown['municipality']}  発行日 {shown['issued_on_wareki']}  {p.pages}枚中{p.page}枚目")
            print(f"serial (QR): {p.serial}")
        if result["restored"]:
            print(f"restored image: {result['restored']}")
        if front is not None and r.tampered is None:
            print("front: NOT CHECKED (it could not be judged; this does not mean it is unaltered)")
        if r.tampered is not None:
            print("front: " + ("ALTERED" if r.tampered else "matches the restored image"))
            for g in r.regions:
                print(
                    f"  region x={g.x} y={g.y} {g.width}x{g.height} (pixels of the restored image)"
                )
            for g in r.unchecked:
                print(f"  NOT CHECKED x={g.x} y={g.y} {g.width}x{g.height} (could not be judged)")
        for d in r.diagnostics:
            print(f"  {d}")
        if status["checked"] and status["status"] == "void":
            print(f"status: 無効 VOID ({status['reason']})")
        else:
            print(f"status: {status['message']}")
    void = status["checked"] and status["status"] == "void"
    front_unjudged = front is not None and r.tampered is None
    return 0 if r.qr_valid and not r.tampered and not front_unjudged and not void else 1
