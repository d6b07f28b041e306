"""``kofu serve kiosk``: the touch kiosk residents use.

    kofu serve kiosk --config kiosk.toml

The TOML file is described in kofu.kiosk.web.settings; ``--port`` overrides
its ``[server]`` port. The kiosk listens on loopback only: its browser runs on
the kiosk itself.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any


def register(sub: Any, serve: Any) -> None:
    p = serve.add_parser("kiosk", help="the touch kiosk residents use (a browser on loopback)")
    p.add_argument("--config", type=Path, required=True, help="kiosk TOML file")
    p.add_argument("--port", type=int, help="listen port (overrides [server] port)")
    p.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from kofu.kiosk.web.app import Kiosk, build_app
    from kofu.kiosk.web.settings import SettingsError, load_settings
    from kofu.web import run_app

    try:
        settings = load_settings(args.config)
        kiosk = Kiosk(settings)
    except (SettingsError, OSError) as e:
        print(f"kofu serve kiosk: {e}", file=sys.stderr)
        return 2
    server = settings.server
    if args.port is not None:
        server = dataclasses.replace(server, port=args.port)
    run_app(build_app(kiosk), server)
    return 0
