"""``kofu demo``: every service on loopback with sample data, until Ctrl-C.

See :mod:`kofu.demo.setup` for what is created and :mod:`kofu.demo.data` for
the synthetic residents.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], serve: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    d = sub.add_parser("demo", help="start the whole system on loopback with sample data (Ctrl-C stops)")
    d.add_argument("--port-base", type=int, default=8401, help="first port; the services use the next few (default %(default)s)")
    d.add_argument("--data", type=Path, default=Path("var/demo"), help="folder for PKI, databases and logs (default %(default)s)")
    d.add_argument("--fresh", action="store_true", help="throw away the folder's previous contents first")
    d.add_argument("--setup-only", action="store_true", help="create data and configs, start nothing")
    d.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from kofu.demo.setup import run_demo

    return run_demo(args.data, args.port_base, fresh=args.fresh, setup_only=args.setup_only)
