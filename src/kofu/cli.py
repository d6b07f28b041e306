"""The ``kofu`` command.

Each bounded context registers its own sub-commands through a small
``register(sub, serve)`` function in its ``cli`` module, where ``sub`` is the
top-level sub-parser collection and ``serve`` the one under ``kofu serve``.
Registration must stay cheap: heavy imports (cryptography, SQLAlchemy,
pyHanko, typst) happen inside the command handlers, so ``kofu --help`` and
the kiosk start quickly.

A handler is stored as ``func`` in the parsed namespace; it returns the exit
status (0 when it returns ``None``). A settings file that cannot be used
(``kofu.tomlconf.SettingsError``, from any command taking ``--config``) is
said in one line on stderr, naming the file, the field and what was
expected, and exits 2.

Every command module must import: one that does not stops ``kofu`` with its
traceback. An optional extra (``kofu[pcsc]``'s pyscard) is imported only
where it is used, and its absence is said then, naming the extra
(``kofu.jpki.reader.PcscCardReader``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# The modules that contribute commands; each has ``register(sub, serve)``.
_COMMAND_MODULES = (
    "kofu.jpki.cli",
    "kofu.lgpki.cli",
    "kofu.issuer.cli",
    "kofu.center.cli",
    "kofu.kiosk.cli",
    "kofu.kiosk.web.serve",
    "kofu.verify.serve",
    "kofu.verify.cli",
    "kofu.demo",
    "kofu.bench",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kofu", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    serve_parser = sub.add_parser("serve", help="run one of the services")
    serve = serve_parser.add_subparsers(dest="service", metavar="SERVICE")
    serve.required = True
    for name in _COMMAND_MODULES:
        # A command module that fails to import is a bug: it surfaces, with its
        # traceback, rather than its commands quietly vanishing from ``kofu``.
        try:
            module = importlib.import_module(name)
        except Exception as e:
            e.add_note(f"kofu: the command module {name} failed to import")
            raise
        module.register(sub, serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from kofu.tomlconf import SettingsError

    try:
        status = args.func(args)
    except KeyboardInterrupt:
        return 130
    except SettingsError as e:
        what = " ".join(filter(None, (parser.prog, args.command, getattr(args, "service", None))))
        print(f"{what}: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    return int(status or 0)


if __name__ == "__main__":
    sys.exit(main())
