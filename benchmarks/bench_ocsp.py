"""Benchmark: Kofu's OCSP responder against ``openssl ocsp -index … -port …``.

Run ``kofu bench ocsp`` (or ``python -m benchmarks.bench_ocsp``) from a checkout.
It builds one CA with a few cards (one revoked), writes the OpenSSL
``index.txt`` for the same data, starts both responders on loopback and
drives each with the same load generator (below, asyncio over raw sockets,
in this process):

1. closed loop: ``CONCURRENCY`` connections, each sending the next POST as
   soon as the last answer arrived, for ``DURATION`` seconds → throughput,
   p50 and p99 latency;
2. open loop at a fixed 200 requests/s for ``RATE_SECONDS`` seconds → p50 and
   p99 measured from each request's scheduled start (so a stall is counted,
   not hidden).

The request is one fixed DER OCSP request for a good certificate without a
nonce (the cacheable case, as browsers and RFC 5019 clients send it). Every
answer is checked to be an OCSP ``successful`` response; failures are counted.
``openssl ocsp`` answers HTTP/1.0 and closes each connection, so the
generator reconnects for it (that is how a client must talk to it).

``wrk`` cannot drive ``openssl ocsp`` here (it stalls on wrk's keep-alive
connection), so wrk is used only for an extra figure for Kofu when present.
All traffic is on 127.0.0.1, every loop is bounded in time.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONCURRENCY = 16
DURATION = 5.0
RATE = 200
RATE_SECONDS = 5.0


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _exchange(
    port: int, request: bytes, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None
) -> tuple[bytes, tuple[asyncio.StreamReader, asyncio.StreamWriter] | None]:
    """One HTTP POST; returns the body and the connection if it may be reused."""
    if conn is None:
        conn = await asyncio.open_connection("127.0.0.1", port)
    reader, writer = conn
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = None
    keep = head.startswith(b"HTTP/1.1")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            keep = False
    body = await reader.readexactly(length) if length is not None else await reader.read()
    if not keep:
        writer.close()
        return body, None
    return body, conn


def _http_request(port: int, der: bytes) -> bytes:
    return (
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/ocsp-request\r\n"
        b"Content-Length: %d\r\n\r\n" % (port, len(der))
    ) + der


def _ok(body: bytes) -> bool:
    # OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED (0 = successful), ... }
    if len(body) < 10 or body[0] != 0x30:
        return False
    start = 2 + (body[1] & 0x7F if body[1] & 0x80 else 0)
    return body[start : start + 3] == b"\x0a\x01\x00"


async def closed_loop(port: int, der: bytes, concurrency: int, duration: float) -> dict[str, float]:
    request = _http_request(port, der)
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration

    async def worker() -> None:
        nonlocal errors
        conn = None
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            try:
                body, conn = await asyncio.wait_for(_exchange(port, request, conn), 10)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                conn = None
                continue
            latencies.append(time.perf_counter() - t0)
            if not _ok(body):
                errors += 1
        if conn is not None:
            conn[1].close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50_ms": _percentile(latencies, 0.50) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
    }


async def fixed_rate(port: int, der: bytes, rate: float, duration: float) -> dict[str, float]:
    request = _http_request(port, der)
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    latencies: list[float] = []
    errors = 0

    async def one(scheduled: float) -> None:
        nonlocal errors
        conn = idle.pop() if idle else None
        try:
            body, conn = await asyncio.wait_for(_exchange(port, request, conn), 10)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            errors += 1
            return
        latencies.append(time.perf_counter() - scheduled)
        if not _ok(body):
            errors += 1
        if conn is not None:
            idle.append(conn)

    start = time.perf_counter() + 0.05
    tasks = []
    for i in range(int(rate * duration)):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled)))
    await asyncio.gather(*tasks)
    for _, writer in idle:
        writer.close()
    return {
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": _percentile(latencies, 0.50) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
        "mean_ms": statistics.fmean(latencies) * 1000 if latencies else float("nan"),
    }


def _wrk(port: int, der_path: Path, workdir: Path) -> str | None:
    if shutil.which("wrk") is None:
        return None
    script = workdir / "post.lua"
    script.write_text(
        f'local f = io.open("{der_path}", "rb")\nwrk.method = "POST"\nwrk.body = f:read("*all")\n'
        'f:close()\nwrk.headers["Content-Type"] = "application/ocsp-request"\n'
    )
    out = subprocess.run(
        ["wrk", "-t1", f"-c{CONCURRENCY}", f"-d{int(DURATION)}s", "--latency", "-s", str(script),
         f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True, timeout=DURATION + 30,
    ).stdout
    keep = [ln.strip() for ln in out.splitlines() if ln.strip().startswith(("50%", "99%", "Requests/sec"))]
    return ", ".join(keep)


def _build_ca(workdir: Path) -> tuple[Path, Path]:
    """A CA with three cards, the second's auth certificate revoked; returns (CA dir, request DER)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import ocsp

    from kofu.jpki.ca import Holder, issue_card, load_ca, openssl_index, revoke
    from kofu.jpki.cardfile import CardFile

    ca_dir = workdir / "ca"
    subprocess.run(_kofu("jpki", "init", str(ca_dir)), check=True, capture_output=True)
    issued = []
    for i in range(3):
        holder = Holder.from_json(
            {"name": f"試験 太郎{i}", "birth_date": "1980-01-01", "sex": "male",
             "address": "兵庫県加東市社50番地", "municipality": "282286"}
        )
        issued.append(issue_card(ca_dir, holder, "1234", "ABCD1234", workdir / f"card{i}.json"))
    revoke(ca_dir, issued[1].auth_serial, "keyCompromise")
    (ca_dir / "index.txt").write_text(openssl_index(ca_dir))
    (ca_dir / "index.txt.attr").write_text("unique_subject = no\n")
    ca = load_ca(ca_dir)
    cert = CardFile(issued[0].card).read().auth_certificate()
    req = ocsp.OCSPRequestBuilder().add_certificate(cert, ca.ca_cert, hashes.SHA1()).build()
    der_path = workdir / "request.der"
    der_path.write_bytes(req.public_bytes(serialization.Encoding.DER))
    return ca_dir, der_path


def _kofu(*args: str) -> list[str]:
    return [sys.executable, "-m", "kofu", *args]


def _measure(name: str, port: int, der: bytes) -> dict[str, dict[str, float]]:
    closed = asyncio.run(closed_loop(port, der, CONCURRENCY, DURATION))
    rated = asyncio.run(fixed_rate(port, der, RATE, RATE_SECONDS))
    print(
        f"{name:>13}: {closed['rps']:8.0f} req/s  p50 {closed['p50_ms']:6.2f} ms  p99 {closed['p99_ms']:6.2f} ms"
        f"  ({closed['requests']:.0f} ok, {closed['errors']:.0f} errors, {CONCURRENCY} connections)",
        flush=True,
    )
    print(
        f"{'':>13}  at {RATE} req/s for {RATE_SECONDS:.0f} s: p50 {rated['p50_ms']:6.2f} ms"
        f"  p99 {rated['p99_ms']:6.2f} ms  ({rated['errors']:.0f} errors)",
        flush=True,
    )
    return {"closed": closed, "rate": rated}


def _start_openssl(ca_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """Start ``openssl ocsp`` and wait for its "waiting" line.

    Not through ``kofu.procs.start_service``: its readiness probe (connect,
    then close without a request) leaves OpenSSL 3.0's responder blocked on
    that connection for good, even with ``-timeout``. The generator below
    therefore never opens a connection without sending a request.
    """
    argv = ["openssl", "ocsp", "-index", str(ca_dir / "index.txt"), "-port", str(port),
            "-rsigner", str(ca_dir / "ocsp-signer.pem"), "-rkey", str(ca_dir / "ocsp-signer-key.pem"),
            "-CA", str(ca_dir / "ca.pem")]
    out = open(log, "wb")
    process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if b"waiting for OCSP client connections" in log.read_bytes():
            return process
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"openssl ocsp did not start: {log.read_text(errors='replace')[-2000:]}")


def main() -> None:
    """Print the figures; used by ``kofu bench ocsp``."""
    from kofu.procs import free_port, start_service

    if shutil.which("openssl") is None:
        print("openssl is not installed: cannot compare")
        return
    with tempfile.TemporaryDirectory(prefix="kofu-bench-ocsp-") as tmp:
        workdir = Path(tmp)
        env = {"KOFU_JPKI_PASSPHRASE": ""}
        os.environ.pop("KOFU_JPKI_PASSPHRASE", None)  # the openssl side reads the key unencrypted
        ca_dir, der_path = _build_ca(workdir)
        der = der_path.read_bytes()
        kofu_port, openssl_port = free_port(), free_port()
        kofu = start_service(
            "ocsp", _kofu("serve", "ocsp", "--jpki", str(ca_dir), "--port", str(kofu_port)),
            kofu_port, workdir / "kofu-ocsp.log", env=env,
        )
        openssl = _start_openssl(ca_dir, openssl_port, workdir / "openssl-ocsp.log")
        try:
            print(f"load: {CONCURRENCY} connections for {DURATION:.0f} s, then {RATE} req/s; "
                  f"one POST of {len(der)} bytes (no nonce); {os.cpu_count()} cores shared with the generator")
            ours = _measure("kofu", kofu_port, der)
            theirs = _measure("openssl ocsp", openssl_port, der)
            ratio = ours["closed"]["rps"] / max(theirs["closed"]["rps"], 1e-9)
            print(f"ratio: kofu / openssl = {ratio:.1f}x throughput")
            goal = ratio >= 10 and ours["rate"]["p99_ms"] < 20
            print(f"goal (>= 10x and p99 < 20 ms at {RATE} req/s): {'met' if goal else 'NOT met'}")
            extra = _wrk(kofu_port, der_path, workdir)
            if extra:
                print(f"wrk on kofu (-t1 -c{CONCURRENCY}): {extra}")
            print(json.dumps({"kofu": ours, "openssl": theirs, "ratio": ratio}))
        finally:
            kofu.stop()
            openssl.terminate()
            openssl.wait(10)


def run(args: object = None) -> None:
    main()


if __name__ == "__main__":
    main()
