"""``kofu demo``: every service on loopback with sample data, until Ctrl-C.

See :mod:`kofu.demo.setup` for what is created, :mod:`kofu.demo.data` for
the synthetic residents and :mod:`kofu.demo.hours` for what the banner says
is closed at the demo's clock (``--clock``).
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path


def parse_clock(raw: str) -> datetime:
    """``--clock``: an ISO 8601 date-time with an offset (what ``KOFU_CLOCK`` takes)."""
    try:
        instant = datetime.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{raw!r} is not an ISO 8601 date-time; for example 2026-12-07T10:00:00+09:00"
        ) from None
    if instant.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{raw!r} needs an offset; for example {raw}+09:00")
    return instant


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], serve: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    d = sub.add_parser("demo", help="start the whole system on loopback with sample data (Ctrl-C stops)")
    d.add_argument("--port-base", type=int, default=8401, help="first port; the services use the next few (default %(default)s)")
    d.add_argument("--data", type=Path, default=Path("var/demo"), help="folder for PKI, databases and logs (default %(default)s)")
    d.add_argument("--fresh", action="store_true", help="throw away the folder's previous contents first")
    d.add_argument("--setup-only", action="store_true", help="create data and configs, start nothing")
    d.add_argument(
        "--clock",
        type=parse_clock,
        metavar="ISO8601",
        help="start every service's clock at this instant (sets KOFU_CLOCK), e.g. 2026-12-07T10:00:00+09:00:"
        " the demo's hours (06:30-23:00 JST, closed 29 Dec - 3 Jan, 戸籍/附票 of 三木市 on business days"
        " 9:00-17:00) then count from there",
    )
    d.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from kofu.demo.setup import run_demo

    return run_demo(args.data, args.port_base, fresh=args.fresh, setup_only=args.setup_only, clock_at=args.clock)
