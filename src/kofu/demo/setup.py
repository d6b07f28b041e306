"""Build the demo world and run it.

Folder layout (``var/demo`` by default)::

    demo.json               service URLs, TLS files, configs, sample cards
    jpki/                   the JPKI CA, its certificate database, directory and OCSP logs
    lgpki/                  the LGPKI-role CA and every TLS / e-seal certificate
    issuer/                 issuer.toml, issuer.sqlite, import.json, issuer.log
    center/                 center.toml, center.sqlite, center.log
    cards/                  the sample virtual cards
    ocsp/                   ocsp.log

The same function builds the world for the end-to-end tests and the
benchmarks, so what they test is what a user runs.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import signal
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from kofu import clock
from kofu.clock import JST
from kofu.demo import data as sample
from kofu.demo import hours
from kofu.procs import (
    Service,
    ServiceFailedToStart,
    kofu_argv,
    port_holder,
    port_is_free,
    start_service,
)

PIN = "1234"
PASSWORD = "ABCD1234"
STORE_ID = "store-0001"


@dataclass(frozen=True)
class Ports:
    center: int
    issuer: int
    ocsp: int
    jpki: int
    verify: int = 0
    """The verification site; 0 when the world runs without it."""
    kiosk: int = 0
    """The touch kiosk (``kofu serve kiosk``); 0 when the world runs without it."""

    @classmethod
    def from_base(cls, base: int) -> Ports:
        return cls(center=base, issuer=base + 1, ocsp=base + 2, jpki=base + 3, verify=base + 4, kiosk=base + 5)


def _secret_file(path: Path, size: int = 32) -> Path:
    """Random bytes in a file only its owner may read (created once)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(size))
    return path


def _toml_str(p: Path) -> str:
    return json.dumps(str(p))  # a JSON string is a valid TOML basic string


def build_world(
    root: Path,
    ports: Ports,
    *,
    issuer_db: str | None = None,
    center_db: str | None = None,
) -> dict[str, Any]:
    """Create PKI, sample data, configs and cards under ``root``; return demo.json's content.

    ``issuer_db`` and ``center_db`` replace the SQLite files (tests run on PostgreSQL too).
    """
    from kofu.jpki import ca as jpki_ca
    from kofu.lgpki.ca import LgpkiAuthority

    root = root.resolve()
    for sub in ("jpki", "lgpki", "issuer", "center", "cards", "ocsp", "tls"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    ocsp_url = f"http://127.0.0.1:{ports.ocsp}"

    # 1. The two authorities.
    jpki_ca.init_ca(root / "jpki", ocsp_url=ocsp_url)
    lg = LgpkiAuthority.init(root / "lgpki")
    tls_dir = root / "tls"
    center_server = lg.issue_server("center", ["127.0.0.1", "localhost"], out=tls_dir / "center-server")
    issuer_server = lg.issue_server("issuer", ["127.0.0.1", "localhost"], out=tls_dir / "issuer-server")
    jpki_server = lg.issue_server("jpki-directory", ["127.0.0.1", "localhost"], out=tls_dir / "jpki-server")
    center_client = lg.issue_client("center", "center", "center-east", out=tls_dir / "center-client")
    # The store operator's client certificate: what a kiosk (or curl) presents to the center.
    store_client = lg.issue_client("Demo Mart store operator", "store-operator", STORE_ID, out=tls_dir / "client")
    seals = {
        m.code: lg.issue_seal(m.code, m.name, out=root / "issuer" / "seals" / m.code) for m in sample.MUNICIPALITIES
    }

    # The CA bundle outside clients need: the LGPKI root signs every TLS server certificate.
    ca_bundle = root / "tls" / "ca-bundle.pem"
    shutil.copyfile(lg.ca_path, ca_bundle)

    # 2. Residents, and the issuer's import file.
    households = {m.code: sample.households_for(m) for m in sample.MUNICIPALITIES}
    import_doc = issuer_import_document(households, seals, seal_dir=root / "issuer" / "seals")
    (root / "issuer" / "import.json").write_text(json.dumps(import_doc, ensure_ascii=False, indent=1), encoding="utf-8")

    # 3. Cards: every householder, plus some members; a revoked one; one from a non-participating city.
    cards: list[dict[str, Any]] = []

    def issue(person: sample.Person, m: sample.Municipality, address: str, tags: list[str]) -> dict[str, Any]:
        holder = jpki_ca.Holder.from_json(
            {
                "name": person.name,
                "name_kana": person.name_kana,
                "birth_date": person.birth_date.isoformat(),
                "sex": person.sex,
                "address": address,
                "municipality": m.code,
                "resident_link": person.resident_link,
            }
        )
        out = root / "cards" / f"{person.resident_id}.card"
        issued = jpki_ca.issue_card(root / "jpki", holder, PIN, PASSWORD, out)
        entry = {
            "path": str(out),
            "pin": PIN,
            "password": PASSWORD,
            "holder": person.name,
            "municipality": m.code,
            "resident": person.resident_id,
            "auth_serial": issued.auth_serial,
            "tags": tags,
        }
        cards.append(entry)
        return entry

    for m in sample.MUNICIPALITIES:
        for index, h in enumerate(households[m.code]):
            head = h.members[0]
            if index == sample.PROTECTED_HOUSEHOLD:
                # Nothing else: whatever a test picks by another tag must be issuable.
                issue(head, m, h.address, ["protected"])
                continue
            tags = ["household"] if len(h.members) > 1 else ["single"]
            if len(h.members) > 5:
                tags.append("large-household")
            if any("\U000E0100" <= ch <= "\U000E01EF" or ord(ch) > 0xFFFF for p in h.members for ch in p.name):
                tags.append("mj-name")
            if index == sample.SEAL_HOUSEHOLD:
                tags += ["seal", "tax", "koseki"]
            if index == sample.ABOLISHED_SEAL_HOUSEHOLD:
                tags.append("seal-abolished")
            issue(head, m, h.address, tags)
        moved_out = households[m.code][sample.REMOVED_MEMBER_HOUSEHOLD].members[-1]
        issue(moved_out, m, households[m.code][sample.REMOVED_MEMBER_HOUSEHOLD].address, ["removed"])
    victim = households[sample.MUNICIPALITIES[0].code][1].members[1]
    revoked = issue(victim, sample.MUNICIPALITIES[0], households[sample.MUNICIPALITIES[0].code][1].address, ["revoked"])
    jpki_ca.revoke(root / "jpki", revoked["auth_serial"], "keyCompromise")
    outsider_m = sample.NOT_PARTICIPATING
    outsider = sample.households_for(outsider_m)[0]
    issue(outsider.members[0], outsider_m, outsider.address, ["not-participating"])

    # 4. Configs.
    issuer_toml = root / "issuer" / "issuer.toml"
    issuer_toml.write_text(
        f"""# Issuer (証明発行サーバ) hosting {', '.join(m.name for m in sample.MUNICIPALITIES)}
[database]
url = {json.dumps(issuer_db or "sqlite:///issuer.sqlite")}   # a relative file is beside this one

[server]
host = "127.0.0.1"
port = {ports.issuer}
log_level = "info"

[tls]
cert = {_toml_str(issuer_server.cert_path)}
key = {_toml_str(issuer_server.key_path)}
client_ca = {_toml_str(lg.ca_path)}

[audit]
key = {_toml_str(_secret_file(root / "issuer" / "audit.key"))}
""",
        encoding="utf-8",
    )
    center_toml = root / "center" / "center.toml"
    issuers = "\n".join(f'"{m.code}" = "https://127.0.0.1:{ports.issuer}"' for m in sample.MUNICIPALITIES)
    center_toml.write_text(
        f"""# Center (証明書交付センター), region east
region = "east"

[database]
url = {json.dumps(center_db or "sqlite:///center.sqlite")}   # a relative file is beside this one

[server]
host = "127.0.0.1"
port = {ports.center}
log_level = "info"

[tls]
cert = {_toml_str(center_server.cert_path)}
key = {_toml_str(center_server.key_path)}
client_ca = {_toml_str(lg.ca_path)}

[jpki]
ca = {_toml_str(root / "jpki" / "ca.pem")}
ocsp_url = "{ocsp_url}"
directory_url = "https://127.0.0.1:{ports.jpki}"

[lgpki]
ca = {_toml_str(lg.ca_path)}
client_cert = {_toml_str(center_client.cert_path)}
client_key = {_toml_str(center_client.key_path)}

[issuers]
{issuers}
{antiforgery_section(root)}""",
        encoding="utf-8",
    )
    verify_toml = root / "verify" / "verify.toml"
    if ports.verify:
        verify_toml.parent.mkdir(parents=True, exist_ok=True)
        verify_toml.write_text(
            f"""# Verification site (証明書復号画像表示システム)
[server]
host = "127.0.0.1"
port = {ports.verify}
log_level = "info"

[keys]
master_key = {_toml_str(root / "antiforgery" / "master.key")}
qr_keys = {_toml_str(root / "antiforgery" / "qr-keys")}

[center]                       # asks whether a certificate serial was voided
url = "https://127.0.0.1:{ports.center}"
ca = {_toml_str(root / "tls" / "ca-bundle.pem")}
""",
            encoding="utf-8",
        )
    services = {
        "center": f"https://127.0.0.1:{ports.center}",
        "issuer": f"https://127.0.0.1:{ports.issuer}",
        "ocsp": ocsp_url,
        "jpki": f"https://127.0.0.1:{ports.jpki}",
    }
    configs = {"issuer": str(issuer_toml), "center": str(center_toml)}
    if ports.verify:
        services["verify"] = f"http://127.0.0.1:{ports.verify}"
        configs["verify"] = str(verify_toml)
    if ports.kiosk:
        from kofu.kiosk.web.settings import write_config

        kiosk_toml = write_config(root / "kiosk" / "kiosk.toml", port=ports.kiosk, center_url=services["center"],
                                  tls={"ca": str(ca_bundle), "client_cert": str(store_client.cert_path),
                                       "client_key": str(store_client.key_path)},
                                  card_dir=root / "cards", store=STORE_ID)
        services["kiosk"] = f"http://127.0.0.1:{ports.kiosk}"
        configs["kiosk"] = str(kiosk_toml)
    _check_configs(configs)
    return {
        "services": services,
        "tls": {
            "ca": str(ca_bundle),
            "client_cert": str(store_client.cert_path),
            "client_key": str(store_client.key_path),
            "center_client_cert": str(center_client.cert_path),
            "center_client_key": str(center_client.key_path),
            "jpki_server_cert": str(jpki_server.cert_path),
            "jpki_server_key": str(jpki_server.key_path),
        },
        "configs": configs,
        "antiforgery": {
            "master_key": str(root / "antiforgery" / "master.key"),
            "keys": str(root / "antiforgery" / "qr-keys"),
            "qr_keys_url": f"https://127.0.0.1:{ports.center}/.well-known/kofu-qr-keys.json",
        },
        "jpki": str(root / "jpki"),
        "cards": cards,
    }


def _seal_registrations(m: sample.Municipality, hs: list[sample.Household], seal_dir: Path | None) -> list[dict[str, Any]]:
    """A registered seal (impression inline, base64) and an abolished one (impression as a file)."""
    import base64

    from kofu.render.samples import seal_impression_png

    holder = hs[sample.SEAL_HOUSEHOLD].members[0]
    former = hs[sample.ABOLISHED_SEAL_HOUSEHOLD].members[0]
    registered: dict[str, Any] = {
        "number": f"{m.code[:5]}-{holder.resident_id[-4:]}",
        "resident": holder.resident_id,
        "impression_png": base64.b64encode(seal_impression_png(holder.name.split(" ")[0])).decode(),
        # Registered at the counter some weeks after moving in (one registers where one lives).
        "registered_at": f"{holder.became_resident_on + timedelta(days=24)}T10:00:00+09:00",
    }
    abolished: dict[str, Any] = {
        "number": f"{m.code[:5]}-{former.resident_id[-4:]}",
        "resident": former.resident_id,
        "registered_at": f"{former.became_resident_on + timedelta(days=10)}T09:30:00+09:00",
        "abolished_at": "2024-02-01T15:00:00+09:00",
    }
    png = seal_impression_png(former.name.split(" ")[0])
    if seal_dir is None:
        abolished["impression_png"] = base64.b64encode(png).decode()
    else:
        seal_dir.mkdir(parents=True, exist_ok=True)
        (seal_dir / f"{former.resident_id}.png").write_bytes(png)
        abolished["impression_file"] = str(seal_dir / f"{former.resident_id}.png")
    return [registered, abolished]


QR_KID = "2026-1"


def _check_configs(configs: dict[str, str]) -> None:
    """Read every config just written with its service's own loader (a SettingsError here is a demo bug)."""
    from kofu.center.settings import load as load_center
    from kofu.issuer.settings import load_settings as load_issuer
    from kofu.kiosk.web.settings import load_settings as load_kiosk
    from kofu.verify.settings import load_settings as load_verify

    loaders = {"center": load_center, "issuer": load_issuer, "verify": load_verify, "kiosk": load_kiosk}
    for name, path in configs.items():
        loaders[name](Path(path))


def antiforgery_section(root: Path) -> str:
    """Create the center's anti-forgery keys under ``root`` and return their TOML section."""
    from kofu.antiforgery.keys import QrSigner, ScrambleKeyring

    folder = root / "antiforgery"
    (folder / "qr-keys").mkdir(parents=True, exist_ok=True)
    if not (folder / "master.key").exists():
        ScrambleKeyring.generate(folder / "master.key")
        QrSigner.generate(folder / "qr-keys", QR_KID)
    return f"""
[antiforgery]
master_key = {_toml_str(folder / "master.key")}
qr_keys = {_toml_str(folder / "qr-keys")}
qr_kid = "{QR_KID}"
"""


def issuer_import_document(
    households: dict[str, list[sample.Household]], seals: dict[str, Any], *, seal_dir: Path | None = None
) -> dict[str, Any]:
    """The issuer's import file (docs/issuer-import.md) for the sample municipalities.

    加東市 offers every kind every day within the center's hours and prints
    個人番号 on request; 三木市 issues 戸籍 and 附票 only 9:00–17:00 on business
    days and never prints 個人番号.
    """
    municipalities = []
    for m in sample.MUNICIPALITIES:
        seal = seals[m.code]
        first = m.code == sample.MUNICIPALITIES[0].code
        hs = households[m.code]
        protected = hs[sample.PROTECTED_HOUSEHOLD].members[-1].resident_id
        moved_out = hs[sample.REMOVED_MEMBER_HOUSEHOLD].members[-1].resident_id
        tax_payer = hs[sample.SEAL_HOUSEHOLD].members[0]
        municipalities.append(
            {
                "code": m.code,
                "name": m.name,
                "mayor_title": f"{m.name}長",
                "mayor_name": m.mayor_name,
                "population_class": m.population_class,
                "participating": True,
                "fees": {"juminhyo": m.kiosk_fee, "kisai": m.kiosk_fee, "inkan": m.kiosk_fee,
                         "zeimu": m.kiosk_fee, "koseki": 350, "fuhyo": m.kiosk_fee},
                # Seed 002 (資料3): the kiosk is cheaper than the counter in several Hyogo towns.
                "counter_fees": {"juminhyo": m.counter_fee, "kisai": m.counter_fee, "inkan": m.counter_fee,
                                 "zeimu": m.counter_fee, "koseki": 450, "fuhyo": m.counter_fee},
                "offered_kinds": ["fuhyo", "inkan", "juminhyo", "kisai", "koseki", "zeimu"],
                "hours": [{"opens": "06:30", "closes": "23:00"}],
                "kind_hours": {} if first else {
                    k: [{"opens": "09:00", "closes": "17:00", "weekdays": [0, 1, 2, 3, 4], "business_days": True}]
                    for k in ("koseki", "fuhyo")
                },
                "tax_years": dict(sample.TAX_YEAR_WINDOW),
                "local_tax_rates": sample.LOCAL_TAX_RATES.get(m.prefecture, []),
                "individual_number_at_kiosk": first,
                "max_copies": 10,
                "seal_registrations": _seal_registrations(m, hs, seal_dir),
                "tax_records": [sample.tax_record(tax_payer, y, hs[sample.SEAL_HOUSEHOLD],
                                                  sample.LOCAL_TAX_RATES.get(m.prefecture, []))
                                for y in sample.TAX_YEARS_RECORDED],
                "family_registers": [sample.family_register(m, hs[sample.SEAL_HOUSEHOLD])],
                "seal": {
                    "cert": str(seal.cert_path),
                    "key": str(seal.key_path),
                    "chain": [str(p) for p in seal.chain],
                },
                "households": [
                    {
                        "id": h.household_id,
                        "address": h.address,
                        "householder": h.members[0].resident_id,
                        "members": [
                            {
                                "id": p.resident_id,
                                "name": p.name,
                                "name_kana": p.name_kana,
                                "birth_date": p.birth_date.isoformat(),
                                "sex": p.sex,
                                "relationship": p.relationship,
                                "became_resident_on": p.became_resident_on.isoformat(),
                                "address_since": p.address_since.isoformat(),
                                "notified_on": p.notified_on.isoformat(),
                                "previous_address": p.previous_address or "",
                                "domicile": h.domicile,
                                "domicile_head": h.domicile_head,
                                "resident_link": p.resident_link,
                                "individual_number": sample.individual_number(p.resident_id),
                                "support_measure": p.resident_id == protected,
                                **({"status": "removed", "removed_reason": "転出", "removed_on": "2025-03-31"}
                                   if p.resident_id == moved_out else {}),
                            }
                            for p in h.members
                        ],
                    }
                    for h in households[m.code]
                ],
            }
        )
    return {"format": "kofu-issuer-import/3", "municipalities": municipalities}


def household_members_of(import_doc: dict[str, Any], resident_id: str) -> list[str]:
    """The names in the household of ``resident_id`` (tests compare them with printed text)."""
    for m in import_doc["municipalities"]:
        for h in m["households"]:
            if any(p["id"] == resident_id for p in h["members"]):
                return [p["name"] for p in h["members"]]
    raise KeyError(resident_id)


def start_world(root: Path, world: dict[str, Any], ports: Ports, env: dict[str, str] | None = None) -> list[Service]:
    """Import the sample data and start OCSP, directory, issuer, center and (when
    configured) the verification site; returns them running.

    ``env`` (e.g. ``KOFU_CLOCK``) applies to the import and to every service.
    Call it from the thread that will outlive the services (the main thread):
    they get SIGTERM when that thread ends (:mod:`kofu.procs`).
    """
    import subprocess

    root = root.resolve()
    tls = world["tls"]
    subprocess.run(
        kofu_argv("issuer", "import", "--config", world["configs"]["issuer"], str(root / "issuer" / "import.json")),
        check=True,
        capture_output=True,
        env={**os.environ, **(env or {})},
    )
    # (name, argv after "kofu serve", port, log file), started in this order.
    plan = [
        ("ocsp", ["ocsp", "--jpki", world["jpki"], "--port", str(ports.ocsp)], ports.ocsp, root / "ocsp" / "ocsp.log"),
        (
            "jpki",
            ["jpki", "--jpki", world["jpki"], "--port", str(ports.jpki), "--tls-cert", tls["jpki_server_cert"],
             "--tls-key", tls["jpki_server_key"], "--client-ca", tls["ca"]],
            ports.jpki,
            root / "jpki" / "directory.log",
        ),
    ]
    for name, port in (("issuer", ports.issuer), ("center", ports.center), ("verify", ports.verify),
                       ("kiosk", ports.kiosk)):
        if name in world["configs"]:
            plan.append((name, [name, "--config", world["configs"][name]], port, root / name / f"{name}.log"))
    services: list[Service] = []
    try:
        for name, argv, port, log in plan:
            services.append(start_service(name, kofu_argv("serve", *argv), port, log, env))
    except BaseException:
        for s in reversed(services):
            s.stop()
        raise
    return services


class DemoError(Exception):
    """``kofu demo`` cannot start; the message says why and what to do."""


def _say(text: str, *, err: bool = False) -> None:
    """Print and flush (the banner must reach a pipe now); a closed terminal is not an error.

    After SIGHUP the terminal is gone and writing to it fails: that must not
    keep the demo from stopping its services.
    """
    try:
        print(text, file=sys.stderr if err else sys.stdout, flush=True)
    except OSError:
        pass


def check_ports_free(ports: Ports) -> None:
    """Raise :class:`DemoError` naming every port that is taken, and by whom when known."""
    taken = []
    for name, port in (("center", ports.center), ("issuer", ports.issuer), ("ocsp", ports.ocsp),
                       ("jpki", ports.jpki), ("verify", ports.verify), ("kiosk", ports.kiosk)):
        if port and not port_is_free(port):
            holder = port_holder(port)
            taken.append(f"  {port} ({name}): held by {holder or 'a process this user cannot see'}")
    if taken:
        raise DemoError(
            "cannot start the demo: its ports are taken\n" + "\n".join(taken)
            + "\n(another kofu demo still running? stop it, or choose other ports with --port-base)"
        )


def _hint_command(argv: list[str] | None = None) -> str:
    """How to start this demo again with other arguments (``{}`` marks where they go).

    The user's own arguments are kept, but for ``--clock`` and ``--fresh``;
    through make (which sets MAKELEVEL) they go into DEMO_ARGS.
    """
    argv = list(sys.argv if argv is None else argv)
    rest = argv[argv.index("demo") + 1:] if "demo" in argv else []
    kept: list[str] = []
    skip = False
    for a in rest:
        if skip:
            skip = False
        elif a == "--clock":
            skip = True
        elif not a.startswith("--clock=") and a != "--fresh":
            kept.append(shlex.quote(a))
    kept.append("{}")
    if os.environ.get("MAKELEVEL"):
        return f'make demo DEMO_ARGS="{" ".join(kept)}"'
    return f"kofu demo {' '.join(kept)}"


def run_demo(
    root: Path, port_base: int, *, fresh: bool, setup_only: bool, clock_at: datetime | None = None
) -> int:
    """Build (or reuse) the demo world under ``root`` and run it until a signal.

    Steps, in this order, so that nothing is announced or written for a demo
    that cannot run:

    1. Check ``--clock`` against the world's cards and every port (a taken
       port names its holder); fail before touching ``root``.
    2. Build the world (or reuse it) and write demo.json.
    3. Start the services from this (the main) thread: each gets SIGTERM if
       this process dies, however it dies (see :mod:`kofu.procs`).
    4. Print the banner, with what is closed at the demo's clock.
    5. Wait for SIGINT, SIGTERM or SIGHUP (terminal closed), or a service
       that stops; then stop the services in reverse order.
    """
    ports = Ports.from_base(port_base)
    demo_json = root / "demo.json"
    reuse = demo_json.exists() and not fresh
    # 1. Before anything is written or announced.
    if clock_at is not None:
        # The world's cards are valid from (a few minutes before) when they were made.
        made = demo_json.stat().st_mtime if reuse else time.time()
        if clock_at.timestamp() < made - 240:
            _say(f"kofu demo: --clock {clock_at.isoformat()} is before the demo's cards became valid "
                 f"({datetime.fromtimestamp(made, JST):%Y-%m-%d %H:%M} JST); choose a later instant", err=True)
            return 2
    if not setup_only:
        try:
            check_ports_free(ports)
        except DemoError as e:
            _say(f"kofu demo: {e}", err=True)
            return 1
    # 2. The world.
    if fresh and root.exists():
        shutil.rmtree(root)
    if demo_json.exists():
        world = json.loads(demo_json.read_text(encoding="utf-8"))
        if world["services"]["center"] != f"https://127.0.0.1:{ports.center}":
            _say(f"{root} was set up for other ports; use --fresh to rebuild it", err=True)
            return 1
        _say(f"Reusing the demo world in {root} (--fresh rebuilds it)")
    else:
        _say(f"Building the demo world in {root} …")
        world = build_world(root, ports)
        demo_json.write_text(json.dumps(world, ensure_ascii=False, indent=2), encoding="utf-8")
    if setup_only:
        _say(f"Wrote {demo_json}")
        return 0
    # 3. The services (KOFU_CLOCK for every one of them when --clock is given).
    env = {"KOFU_CLOCK": clock_at.isoformat()} if clock_at is not None else None
    try:
        services = start_world(root, world, ports, env)
    except ServiceFailedToStart as e:  # PortInUse too: taken between the check and the start
        _say(f"kofu demo: {e}", err=True)
        return 1
    # 4. The banner.
    first = next(c for c in world["cards"] if "household" in c["tags"])
    now = clock_at or clock.now()
    try:
        import_doc = json.loads((root / "issuer" / "import.json").read_text(encoding="utf-8"))
        closed = hours.banner(import_doc, now, _hint_command())
    except (OSError, ValueError, KeyError, TypeError) as e:
        # The banner's note must never take down a demo whose services run.
        closed = f"(Could not tell what is closed at the demo's clock: {type(e).__name__}: {e})"
    clock_line = f"\n  clock   {now:%Y-%m-%d %H:%M} JST (--clock; it runs on from there)" if clock_at else ""
    _say(
        f"""
Kofu demo running (Ctrl-C stops everything):
  center  {world['services']['center']}   (kiosk API; OpenAPI at /openapi.json)
  issuer  {world['services']['issuer']}   (wide-area SOAP; WSDL at /wide-area?wsdl)
  ocsp    {world['services']['ocsp']}
  jpki    {world['services']['jpki']}   (directory)
  verify  {world['services'].get('verify', '(not running)')}   (verification site for receivers)
  kiosk   {world['services'].get('kiosk', '(not in this world: --fresh rebuilds it with one)')}   (the touch kiosk: open it in a browser)
  details {demo_json.resolve()}{clock_line}
{chr(10) + closed + chr(10) if closed else ""}
Try, in another shell (the kiosk takes TLS files from {demo_json}):
  .venv/bin/kofu kiosk issue --card {first['path']} --pin {first['pin']} --kind juminhyo --with-householder --out cert.pdf
      (cert.pdf is the duplex print job: front, anti-forgery back, …)
  pdftoppm -r 300 -png cert.pdf page          # "scan" it: page-1.png front, page-2.png back
  .venv/bin/kofu verify page-2.png --front page-1.png --json --demo-file {demo_json}
  or upload both at {world['services'].get('verify', '')}
  .venv/bin/kofu issuer render --config {world['configs']['issuer']} --municipality {first['municipality']} \\
      --resident {first['resident']} --kind juminhyo --out sealed.pdf && pdfsig sealed.pdf   # the e-sealed front
"""
    )
    # 5. Until a signal; SIGHUP is the terminal closing.
    stopping = False

    def _stop(_sig: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _stop)
    try:
        while not stopping:
            for s in services:
                if s.process.poll() is not None:
                    _say(f"{s.name} stopped unexpectedly (status {s.process.returncode}); see {s.log}", err=True)
                    stopping = True
            time.sleep(0.5)
    finally:
        _say("Stopping …")
        for s in reversed(services):
            s.stop()
    return 0
