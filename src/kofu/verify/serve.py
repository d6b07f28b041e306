"""``kofu serve verify``: the verification web site.

    kofu serve verify --config verify.toml

The TOML file is described in kofu.verify.settings; ``--host`` and ``--port``
override its ``[server]`` table (handy for tests and the demo).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any


def register(sub: Any, serve: Any) -> None:
    p = serve.add_parser("verify", help="the certificate verification web site (証明書の確認)")
    p.add_argument("--config", type=Path, required=True, help="verify TOML file")
    p.add_argument("--host", help="listen address (overrides [server] host)")
    p.add_argument("--port", type=int, help="listen port (overrides [server] port)")
    p.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from kofu.antiforgery.errors import AntiforgeryError
    from kofu.antiforgery.verify import keep_freed_memory
    from kofu.verify.app import Verifier, build_app
    from kofu.verify.settings import SettingsError, load_settings
    from kofu.web import run_app

    try:
        settings = load_settings(args.config)
        verifier = Verifier.from_settings(settings)
    except (SettingsError, AntiforgeryError, OSError) as e:
        print(f"kofu serve verify: {e}", file=sys.stderr)
        return 2
    server = settings.server
    if args.host is not None:
        server = dataclasses.replace(server, host=args.host)
    if args.port is not None:
        server = dataclasses.replace(server, port=args.port)
    keep_freed_memory()  # a long-lived process verifying many scans
    # SIGTERM stops the site within seconds: requests still running are cancelled after
    # this, and a cancelled request kills its verification's worker process.
    run_app(build_app(verifier), server, graceful_shutdown_seconds=3)
    return 0
