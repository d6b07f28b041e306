"""``kofu bench``: print benchmark figures; never fails a build.

The benchmarks live in ``benchmarks/`` beside the tests (run from a checkout):

- ``ocsp``: the OCSP responder against ``openssl ocsp`` under the same load.
- ``render``: render-and-seal of one 住民票 against WeasyPrint with the same signer.
- ``flow``: the whole system with many concurrent headless kiosks.
- ``antiforgery``: restoring and checking scanned back sides over a grid of print-and-scan distortions.
- ``import``: a synthetic city into the issuer (full, unchanged, a difference) and lookups after it,
  on SQLite and PostgreSQL (``KOFU_BENCH_IMPORT_SIZES=100000,1000000`` selects the sizes).
- ``photos``: the same from simulated phone photos of the back and the front (issue 17).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from pathlib import Path

BENCHES = {
    "ocsp": "benchmarks.bench_ocsp",
    "render": "benchmarks.bench_render",
    "flow": "benchmarks.bench_flow",
    "antiforgery": "benchmarks.bench_antiforgery",
    "import": "benchmarks.bench_import",
    "photos": "benchmarks.bench_photos",
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], serve: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    b = sub.add_parser("bench", help="run benchmarks and print figures (from a checkout)")
    b.add_argument("which", choices=["all", *BENCHES], help="which benchmark")
    b.set_defaults(func=_bench)


def _bench(args: argparse.Namespace) -> int:
    sys.path.insert(0, str(Path.cwd()))
    names = list(BENCHES) if args.which == "all" else [args.which]
    for name in names:
        print(f"\n=== bench {name} ===", flush=True)
        try:
            module = importlib.import_module(BENCHES[name])
            module.main()
        except Exception:  # a benchmark that breaks reports it and lets the others run
            traceback.print_exc()
            print(f"bench {name}: FAILED to run (see above)")
    return 0
