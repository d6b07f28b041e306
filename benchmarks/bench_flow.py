"""The whole system under many concurrent headless kiosks.

Builds a demo world in a temporary folder, starts every service as its own
process, then runs kiosks in threads of this process for a fixed time, each
with its own card and its own mutual-TLS connection, each doing the full
flow (PIN, challenge, OCSP, offers, order, payment, print data, printed).

Prints certificates per second, p50/p99 latency of one whole flow, and the
CPU seconds each service process spent per certificate (from /proc).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from kofu.demo.setup import Ports, build_world, start_world
from kofu.domain.rules import OrderOptions
from kofu.kiosk import flow
from kofu.kiosk.client import CenterClient, KioskTls
from kofu.procs import free_port, log_tail

DURATION_S = float(os.environ.get("KOFU_BENCH_FLOW_SECONDS", "20"))
KIOSKS = int(os.environ.get("KOFU_BENCH_FLOW_KIOSKS", "12"))


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="kofu-bench-flow-") as tmp:
        root = Path(tmp)
        ports = Ports(center=free_port(), issuer=free_port(), ocsp=free_port(), jpki=free_port())
        world = build_world(root, ports)
        services = start_world(root, world, ports)
        try:
            _run(world, services)
            for s in services:
                if s.process.poll() is not None:
                    print(f"  {s.name} exited with status {s.process.returncode} during the run; its log ends:")
                    print("  " + log_tail(s.log, 15).replace("\n", "\n  "))
        finally:
            for s in reversed(services):
                s.stop()


def _run(world: dict, services: list) -> None:
    tls = KioskTls(Path(world["tls"]["ca"]), Path(world["tls"]["client_cert"]), Path(world["tls"]["client_key"]))
    # Cards whose holders may get a 住民票 (not revoked, protected, removed, …).
    usable = [c for c in world["cards"] if {"household", "single"} & set(c["tags"])]
    cards = [usable[i % len(usable)] for i in range(min(KIOSKS, len(usable)))]
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    req = flow.IssueRequest(kind="juminhyo", options=OrderOptions(with_householder=True))

    def one(center: CenterClient, card_obj: object, card: dict) -> None:
        t0 = time.perf_counter()
        auth = flow.prove_card(center, card_obj, "bench")
        flow.issue(center, auth, req, lambda _job, _copies: None)  # the paper goes nowhere
        dt = time.perf_counter() - t0
        with lock:
            latencies.append(dt)

    # The PIN is verified once per kiosk: the software card's scrypt (~50 ms, what a real
    # card does on its own chip) would otherwise load these 2 cores, and it is not part of
    # the system under test. Every flow still has the card sign a fresh center challenge.
    card_objs = {}
    for card in cards:
        if card["path"] not in card_objs:
            card_objs[card["path"]] = flow.open_card(Path(card["path"]))
            card_objs[card["path"]].verify_pin(card["pin"])
    # Warm-up: one flow per card (WSDL load, connection pools, compiler caches).
    for card in cards:
        c = CenterClient(world["services"]["center"], tls)
        one(c, card_objs[card["path"]], card)
        c.close()
    latencies.clear()

    cpu0 = {s.name: _cpu_seconds(s.process.pid) for s in services}
    stop_at = time.monotonic() + DURATION_S

    def worker(card: dict) -> None:
        center = CenterClient(world["services"]["center"], tls)
        card_obj = card_objs[card["path"]]
        try:
            while time.monotonic() < stop_at:
                try:
                    one(center, card_obj, card)
                except Exception as e:  # report, keep going: a benchmark measures, it does not stop
                    with lock:
                        errors.append(f"{type(e).__name__}: {e}")
        finally:
            center.close()

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(c,)) for c in cards]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    cpu1 = {s.name: _cpu_seconds(s.process.pid) for s in services}
    n = len(latencies)
    print(f"kiosks: {len(cards)} concurrent, {elapsed:.1f} s, certificates: {n}, errors: {len(errors)}")
    if errors:
        print("  first error:", errors[0])
    if not n:
        return
    lat = sorted(latencies)
    p99 = lat[min(n - 1, int(0.99 * n))]
    print(f"throughput: {n / elapsed:.1f} certificates/s")
    print(f"latency of one whole kiosk flow: p50 {statistics.median(lat) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
    total = 0.0
    for name in cpu0:
        per = (cpu1[name] - cpu0[name]) / n * 1000
        total += per
        print(f"  CPU per certificate in {name:7s}: {per:6.1f} ms")
    print(f"  CPU per certificate, all services: {total:.1f} ms (goal <= 15 ms)")
    print("  (the kiosks run in this process and are not counted)")


if __name__ == "__main__":
    main()
