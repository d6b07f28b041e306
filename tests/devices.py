"""Real device daemons for the tests: a private CUPS scheduler with a paper-tray
queue, and the system's PC/SC daemon with the vpcd reader.

CUPS. Each test session gets its own ``cupsd`` (its own configuration,
spool, socket and logs in a tmp folder; the machine's CUPS is not touched).
Its queue prints to a *paper tray*: a folder where every job comes out as the
PDF the printer received. Why not ``cups-pdf``: it turns every job into
PostScript and back (ghostscript), which drops the text layer of the
certificate's CID fonts (pdftotext then reads nothing of the holder's name),
so a test could not tell which certificate came out; it also ignores copies.
The tray is a six-line CUPS backend (backend(7)), below: the rest of the path
(``lp``, the scheduler, its spool, the job states ``lpstat`` reports) is the
real CUPS a store's kiosk runs. A file named ``JAMMED`` in the tray makes the
backend fail, as a jammed printer does (``JAM-AFTER``: once the tray holds that
many papers).

PC/SC. pcsc-lite 1.9 (Debian 12) has one socket for the machine
(``/run/pcscd/pcscd.comm``), so the tests use the system daemon: started here
(``pcscd --foreground``) when none answers, stopped again afterwards. Debian's
``vsmartcard-vpcd`` gives it two virtual readers ("Virtual PCD 00 00" and
"00 01") on TCP ports 35963 and 35964, where :mod:`kofu.jpki.vpcd` inserts
the card.

Both fail the test (not skip) when ``KOFU_REQUIRE_CUPS=1`` / ``KOFU_REQUIRE_PCSC=1``
and the Debian packages are missing; else they skip with the reason.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CUPS_BIN = Path("/usr/lib/cups")
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
PCSCD_SOCKET = Path("/run/pcscd/pcscd.comm")
VPCD_READER = "Virtual PCD 00 00"
VPCD_PORT = 35963

TRAY_BACKEND = r"""#!/bin/sh
# The test printer's paper tray (CUPS backend(7)): DEVICE_URI is kofu-tray:/FOLDER.
if [ $# -eq 0 ]; then echo 'direct kofu-tray "Unknown" "Kofu test paper tray"'; exit 0; fi
dir=${DEVICE_URI#kofu-tray:}
if [ -e "$dir/JAMMED" ]; then echo "ERROR: paper jam" >&2; exit 1; fi
if [ -e "$dir/JAM-AFTER" ] && [ "$(ls "$dir" | grep -c '^job-.*\.pdf$')" -ge "$(cat "$dir/JAM-AFTER")" ]; then
  echo "ERROR: paper jam" >&2; exit 1
fi
printf '%s\n' "$5" > "$dir/job-$1.options"  # the job's options, as the tests check them
if [ $# -ge 6 ]; then cat "$6" > "$dir/.job-$1"; else cat > "$dir/.job-$1"; fi && mv "$dir/.job-$1" "$dir/job-$1.pdf"
"""


def _missing(what: str, env: str, hint: str) -> None:
    message = f"{what} is not installed here ({hint}; `make setup` installs it)"
    if os.environ.get(env) == "1":
        pytest.fail(f"{env}=1 but {message}")
    pytest.skip(message)


def require_cups() -> None:
    for tool in ("cupsd", "lp", "lpstat", "lpadmin", "cancel"):
        if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists():
            _missing(f"CUPS ({tool})", "KOFU_REQUIRE_CUPS", "Debian package cups")
    try:
        import cups  # noqa: F401
    except ImportError:
        _missing("pycups", "KOFU_REQUIRE_CUPS", "PyPI package pycups, built with libcups2-dev")
    if os.geteuid() != 0:
        _missing("a private cupsd needs root for its backends;", "KOFU_REQUIRE_CUPS", "run as root")


def require_pcsc() -> None:
    if shutil.which("pcscd") is None and not Path("/usr/sbin/pcscd").exists():
        _missing("pcscd", "KOFU_REQUIRE_PCSC", "Debian package pcscd")
    if not VPCD_DRIVER.exists():
        _missing("the vpcd reader driver", "KOFU_REQUIRE_PCSC", "Debian package vsmartcard-vpcd")
    try:
        import smartcard  # noqa: F401
    except ImportError:
        _missing("pyscard", "KOFU_REQUIRE_PCSC", "PyPI package pyscard, built with libpcsclite-dev")


# CUPS ------------------------------------------------------------------------


@dataclass
class CupsQueue:
    root: Path
    server: str
    """CUPS_SERVER for ``lp``: the private scheduler's socket."""
    queue: str
    tray: Path
    spool: Path
    """The scheduler's RequestRoot (its job files)."""
    temp: Path

    def env(self) -> dict[str, str]:
        return {**os.environ, "CUPS_SERVER": self.server}

    def lpstat(self, *args: str) -> str:
        r = subprocess.run(["lpstat", *args], env=self.env(), capture_output=True, text=True, timeout=30)
        return r.stdout + r.stderr

    def jam(self, jammed: bool = True, *, after: int | None = None) -> None:
        """Jam the printer now, or once ``after`` more papers have come out; or clear it."""
        mark, later = self.tray / "JAMMED", self.tray / "JAM-AFTER"
        mark.unlink(missing_ok=True)
        later.unlink(missing_ok=True)
        if jammed and after is None:
            mark.touch()
        elif jammed:
            later.write_text(str(len(self.papers()) + after), encoding="ascii")

    def papers(self) -> list[Path]:
        return sorted(self.tray.glob("job-*.pdf"), key=lambda p: int(p.stem.split("-")[1]))


@contextlib.contextmanager
def private_cups(root: Path, queue: str = "kofu-kiosk", *, preserve_job_files: bool = False) -> Iterator[CupsQueue]:
    """A cupsd of its own under ``root`` with one queue that prints to ``root/tray``
    (``preserve_job_files``: a scheduler that keeps job files, the default of CUPS)."""
    require_cups()
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    spool, temp, tray = root / "spool", root / "spool" / "tmp", root / "tray"
    serverbin = root / "serverbin"
    for d in (spool, temp, tray, root / "cache", root / "state", root / "log", serverbin / "backend"):
        d.mkdir(parents=True, exist_ok=True)
    tray.chmod(0o755)
    for sub in CUPS_BIN.iterdir():
        if sub.name != "backend" and not (serverbin / sub.name).exists():
            (serverbin / sub.name).symlink_to(sub)
    backend = serverbin / "backend" / "kofu-tray"
    backend.write_text(TRAY_BACKEND, encoding="ascii")
    backend.chmod(0o700)  # mode 0700: cupsd runs it as root, so it may write into the tray
    sock = root / "cups.sock"
    (root / "cups-files.conf").write_text(
        f"ServerRoot {root}\nServerBin {serverbin}\nRequestRoot {spool}\nTempDir {temp}\n"
        f"CacheDir {root / 'cache'}\nStateDir {root / 'state'}\nErrorLog {root / 'log' / 'error_log'}\n"
        f"AccessLog {root / 'log' / 'access_log'}\nPageLog {root / 'log' / 'page_log'}\n"
        "FileDevice No\nSystemGroup root\nUser lp\nGroup lp\n", encoding="ascii")
    # PreserveJobFiles No: the scheduler deletes a job's document (the certificate)
    # as soon as the job ends; the job's history (attributes: title "kofu", user, state) stays.
    (root / "cupsd.conf").write_text(
        f"Listen {sock}\nLogLevel info\nBrowsing Off\nDefaultAuthType None\n"
        f"PreserveJobFiles {'Yes' if preserve_job_files else 'No'}\nPreserveJobHistory Yes\nErrorPolicy abort-job\nJobRetryLimit 0\n"
        "<Location />\n  Order allow,deny\n  Allow all\n</Location>\n"
        "<Policy default>\n  <Limit All>\n    Order deny,allow\n  </Limit>\n</Policy>\n", encoding="ascii")
    cupsd = shutil.which("cupsd") or "/usr/sbin/cupsd"
    log = open(root / "log" / "cupsd.out", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([cupsd, "-f", "-c", str(root / "cupsd.conf"), "-s", str(root / "cups-files.conf")],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    q = CupsQueue(root, str(sock), queue, tray, spool, temp)
    try:
        deadline = time.monotonic() + 20
        while "scheduler is running" not in q.lpstat("-r"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"cupsd did not start: {(root / 'log' / 'cupsd.out').read_text(errors='replace')}"
                                   f"{(root / 'log' / 'error_log').read_text(errors='replace') if (root / 'log' / 'error_log').exists() else ''}")
            time.sleep(0.1)
        r = subprocess.run(["lpadmin", "-p", queue, "-E", "-v", f"kofu-tray:{tray}", "-m", "raw",
                            "-o", "printer-error-policy=abort-job"],
                           env=q.env(), capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"lpadmin failed: {r.stderr}")
        yield q
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


# PC/SC ---------------------------------------------------------------------------


def _pcscd_answers() -> bool:
    if not PCSCD_SOCKET.exists():
        return False
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(str(PCSCD_SOCKET))
        return True
    except OSError:
        return False
    finally:
        s.close()


@contextlib.contextmanager
def system_pcscd(log: Path) -> Iterator[None]:
    """The machine's pcscd with the vpcd readers: the running one, or one started for the tests."""
    require_pcsc()
    if _pcscd_answers():
        yield
        return
    pcscd = shutil.which("pcscd") or "/usr/sbin/pcscd"
    log.parent.mkdir(parents=True, exist_ok=True)
    out = open(log, "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([pcscd, "--foreground", "--info"], stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while not _pcscd_answers():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pcscd did not start (as root?): {log.read_text(errors='replace')}")
            time.sleep(0.1)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.close()


# Searching for what was left behind -----------------------------------------------


def files_mentioning(folder: Path, words: list[str]) -> list[str]:
    """The files under ``folder`` that hold any of ``words`` (spaces aside): in their
    bytes (UTF-8), or, for a PDF (whose text is compressed), in what pdftotext reads."""
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
        data = path.read_bytes()
        text = data.decode("utf-8", errors="replace")
        if data.startswith(b"%PDF"):
            r = subprocess.run(["pdftotext", "-q", str(path), "-"], capture_output=True, text=True, timeout=60)
            text += r.stdout
        squeezed = text.replace(" ", "").replace("\u3000", "")  # pdftotext spaces CJK text its own way
        hits = [w for w in words if w in text or w.replace(" ", "").replace("\u3000", "") in squeezed]
        if hits:
            found.append(f"{path}: {', '.join(hits)}")
    return found
