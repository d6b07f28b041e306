"""Verifying a printed certificate from scans of its back (and front).

>>> result = check_scan(back_jpeg, front_jpeg, keyring=keyring, jwks=jwks)  # doctest: +SKIP
>>> result.qr_valid, result.serial, result.tampered, result.regions       # doctest: +SKIP
(True, 'T-2025-000123', True, (Region(x=212, y=160, width=32, height=32),))

Steps (numbered as in the code):

1. Decode the back scan safely (kofu.antiforgery.scanio.load_scan); the
   front, if given, is decoded (and its page found) in a second thread
   meanwhile.
2. Find the four registration marks; they give the page's mapping
   (kofu.antiforgery.marks). None, or a scan under MIN_DPI: ScrambleNotFound.
3. Read the QR code in its box (which also tells a page scanned upside
   down). None readable: QrMissing (a QrInvalid).
4. Check its COSE signature against the published keys. A QR that reads
   but does not verify is reported as ``qr_valid=False`` with the reason and
   nothing restored: the serial in it is not to be trusted, and the
   scrambled image is only ever restored for a signed serial.
5. Restore the scrambled image with the key of the signed serial and page.
6. If a front scan is given: align it to the restored image (turned round
   if it was scanned upside down or sideways), compare, and report the regions that
   differ with a picture that frames them (kofu.antiforgery.compare). A
   front that does not look like the restored image at all is not this
   certificate: flagged as a whole.

Two threads share the work (OpenCV and numpy release the GIL; measured on
2 cores, verification takes about twice as long as decoding the two files):
the second decodes the front, then aligns it to a half-resolution preview of
the restoration (kofu.antiforgery.restore.preview) while the first finishes
the restoration; both then share what is left, a band of rows at a time.

Everything stays in memory; nothing of a scan is written or logged.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from kofu.antiforgery import compare, quality
from kofu.antiforgery import layout as L
from kofu.antiforgery.compare import Region
from kofu.antiforgery.errors import QrInvalid, QrMissing, ScrambleNotFound, Unjudgeable
from kofu.antiforgery.keys import ScrambleKeyring
from kofu.antiforgery.marks import find_marks, page_homography
from kofu.antiforgery.page import Page, find_page
from kofu.antiforgery.qr import QrPayload, parse_qr_text, verify_qr
from kofu.antiforgery.restore import (
    Placed,
    finish,
    place,
    preview,
    read_qr,
    restore_scrambled,
    toned,
)
from kofu.antiforgery.scanio import load_scan

__all__ = [
    "Region",
    "VerificationResult",
    "keep_freed_memory",
    "load_scan",
    "restore_back",
    "check_scan",
]


@dataclass(frozen=True)
class VerificationResult:
    qr_valid: bool
    payload: QrPayload | None
    """The signed payload; None when the QR did not verify."""
    serial: str | None
    tampered: bool | None
    """None when no front scan was given (or the QR did not verify), or when photos of it
    could not be judged (the diagnostics say why): never read as "no alteration"."""
    regions: tuple[Region, ...]
    """Where the front differs from the restored image, in restored-image pixels."""
    diagnostics: tuple[str, ...]
    score: float | None = None
    """The largest difference found between the front and the restored image
    (tampered when it reaches kofu.antiforgery.compare.THRESHOLD, or when the front
    does not show this certificate at all); None without a front."""
    restored: NDArray[np.uint8] | None = field(default=None, repr=False, compare=False)
    unchecked: tuple[Region, ...] = ()
    """Parts of the front that could not be judged (photos: the back too coarse or faint
    there, glare on the front), in restored-image pixels: not checked, never "no alteration".
    Nothing there counts towards ``tampered``."""
    aligned_front: NDArray[np.uint8] | None = field(default=None, repr=False, compare=False)

    # The pictures are encoded when asked for: the verdict does not need them,
    # and encoding the two PNGs takes some 50 ms.
    @cached_property
    def restored_png(self) -> bytes | None:
        """The restored front (150 dpi, grayscale PNG)."""
        return None if self.restored is None else _png(self.restored)

    @cached_property
    def marked_png(self) -> bytes | None:
        """The aligned front with each region framed in red."""
        if self.aligned_front is None:
            return None
        return compare.marked_png(self.aligned_front, self.regions, self.unchecked)


def _png(img: NDArray[np.uint8]) -> bytes:
    # Fast compression: these images go straight back to the receiver.
    ok, buf = cv2.imencode(
        ".png",
        img,
        [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE],
    )
    if not ok:  # pragma: no cover - OpenCV always encodes a uint8 array
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def locate_back(
    back: NDArray[np.uint8], *, jwks: Mapping[str, Any]
) -> tuple[QrPayload, NDArray[np.float64]]:
    """Steps 2-4 on a decoded back scan: the verified payload and the page's
    mapping (page millimetres to scan pixels). Raises ScrambleNotFound, QrMissing (no QR
    code read) or QrInvalid."""
    # 2. (A page found within a surround is a photo, or a scan with its lid open: whether
    #    it can be judged at all is asked when its marks or QR code are not found, and
    #    when they are; kofu.antiforgery.quality.)
    page = find_page(back)
    try:
        marks = find_marks(back, page, looked=True)
        _check_resolution("back", float(np.linalg.norm(marks[1] - marks[0])) / _MARKS_APART_MM * 25.4)
        h_mm, text = _read_back(back, marks)
    except (ScrambleNotFound, QrMissing) as e:
        reason = None if page is None or isinstance(e, Unjudgeable) else quality.judge(back, page, None, "back")
        if reason is not None:
            raise Unjudgeable(reason, diagnostics=[str(e), *e.diagnostics]) from e
        raise
    if page is not None:
        reason = quality.judge(back, page, h_mm, "back")
        if reason is not None:
            raise Unjudgeable(reason)
    # 4.
    return verify_qr(parse_qr_text(text), dict(jwks)), h_mm


def _read_back(back: NDArray[np.uint8], marks: NDArray[np.float64]) -> tuple[NDArray[np.float64], str]:
    """3. The page's mapping and the QR code's text, read in its box; QrMissing when none reads."""
    # The marks form the same rectangle on a page laid upside down on the
    # scanner: the QR code, read in its box, tells which way up it is.
    for turn in (0, 2):
        h_mm = page_homography(np.roll(marks, turn, axis=0))
        text = read_qr(back, h_mm, anywhere=False)
        if text is not None:
            return h_mm, text
    h_mm = page_homography(marks)
    text = read_qr(back, h_mm)
    if text is None:
        raise QrMissing("no QR code could be read on the back side")
    return h_mm, text


def restore_back(
    back: NDArray[np.uint8], *, keyring: ScrambleKeyring, jwks: Mapping[str, Any]
) -> tuple[QrPayload, NDArray[np.uint8], NDArray[np.bool_]]:
    """Steps 2-5 on a decoded back scan: the verified payload, the restored raster
    (linear, 0 ink .. 255 paper; kofu.antiforgery.restore.toned makes it a picture)
    and the pixels of it that are a guess.

    Raises ScrambleNotFound or QrInvalid.
    """
    payload, h_mm = locate_back(back, jwks=jwks)
    # 5.
    linear, unsure = restore_scrambled(back, h_mm, keyring.key_for(payload.serial), payload.page)
    return payload, linear, unsure


def keep_freed_memory() -> bool:
    """Have the C allocator keep freed memory in this process instead of returning it
    to the kernel; for a process that verifies many scans (kofu serve verify).

    A verification works on some 100 MB of short-lived arrays. By default
    glibc gives each large one back to the kernel when it is freed, and the
    next verification faults it in again, page by page, zero-filled: some
    12,000 page faults and 10-15 ms per verification (measured on this
    project's 2-core machine; 5 faults once memory is kept). The process
    keeps what its largest verification used. Hand-written with ctypes: no
    maintained package exposes mallopt. Returns False where it cannot (no
    glibc); nothing else changes then.
    """
    import ctypes

    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's malloc.h
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    # Blocks up to 32 MB (a 300 dpi A4 scan is 9 MB) come from the heap, which
    # is trimmed only when 256 MB lie free at its top.
    return bool(mallopt(m_mmap_threshold, 32 << 20)) and bool(mallopt(m_trim_threshold, 256 << 20))


MIN_DPI = 140
"""Coarser scans are refused: at 120 dpi a genuine page restores with false differences
(measured), and a printed block is under two scan pixels wide."""
_MARKS_APART_MM = float(np.hypot(*np.subtract(L.mark_centres()[1], L.mark_centres()[0])))


def _check_resolution(side: str, dpi: float) -> None:
    if dpi < MIN_DPI:
        raise Unjudgeable(
            f"the {side} scan is about {dpi:.0f} dpi, too coarse to compare:"
            " scan at 300 dpi or more"
        )


def _front_scan(front: bytes, max_pixels: int, max_bytes: int) -> compare.FrontScan:
    """Step 1 for the front: the scan at about 150 dpi, where its page may lie, and
    what comparing it needs of it alone. A page found within a surround (a desk, an
    open lid, a photo) comes with its corners (kofu.antiforgery.page)."""
    img = load_scan(front, max_pixels=max_pixels, max_bytes=max_bytes, halve=True)
    page = find_page(img)
    if page is None:
        # The scan's short side is an A4 page's width and a little margin (if any):
        # taking it as 220 mm gives a lower bound of its dpi.
        dpi = 2 * min(img.shape) / (L.PAGE_W_MM + 10) * 25.4
        _check_resolution("front", dpi)
        if dpi < 1.6 * L.RASTER_DPI:
            img = load_scan(front, max_pixels=max_pixels, max_bytes=max_bytes)
            # (A picture this coarse has no page to place by its content: _framed takes halves.)
            return compare.FrontScan(compare.at_raster_dpi(img))
        # (A photo whose page outline did not show may still be placed by its content.)
        return compare.FrontScan(compare.at_raster_dpi(img), source=img)
    reason = quality.judge(img, page, None, "front")
    if reason is not None:
        raise Unjudgeable(reason)
    note = "front: the page was found within its surround"
    return _framed(front, img, page, max_pixels, max_bytes, note)


def _framed(
    front: bytes, img: NDArray[np.uint8], page: Page, max_pixels: int, max_bytes: int, note: str
) -> compare.FrontScan:
    """The front scan ``front``, decoded at half resolution as ``img`` with ``page`` found
    in it, at about 150 dpi with the page's corners."""
    source = img
    dpi = 2 * page.px_per_mm * 25.4
    _check_resolution("front", dpi)
    # Halved, it would be coarser than the comparison. (A photo is compared at no less
    # than the raster's resolution: it is blurred enough already.)
    if dpi < 2.0 * L.RASTER_DPI:
        img = load_scan(front, max_pixels=max_pixels, max_bytes=max_bytes)
        page = Page((page.corners + 0.5) * np.float32(2) - 0.5, page.px_per_mm * 2, page.share)
    else:
        dpi /= 2  # the halved image's
    small = compare.at_raster_dpi(img, dpi)
    f = small.shape[1] / img.shape[1]
    page = Page((page.corners + 0.5) * np.float32(f) - 0.5, page.px_per_mm * f, page.share)
    note += f" and its perspective corrected (sides off by {page.skew():.0%})" if page.skew() >= 0.02 else ""
    # (The decoded picture is kept: an outline found wrongly, on a light desk, aligns with
    # nothing, and the page may still be placed by its content.)
    return compare.FrontScan(small, page, notes=(note,), source=source)


class _Front:
    """Step 6 for the front, shared by the two threads: the aligning thread aligns it
    (_align), then both put it on the restored grid, a band of rows at a time,
    whichever is free taking the next (the other thread is restoring the back
    meanwhile, and either may finish first)."""

    _BANDS = 4

    def __init__(self) -> None:
        self.aligned = threading.Event()
        self.scan: compare.FrontScan | None = None
        self.h = np.eye(3)
        """Restored-grid pixels -> front-scan pixels."""
        self.likeness = -1.0
        self.image = np.empty((L.RASTER_H, L.RASTER_W), np.uint8)
        self.ink = np.empty((L.RASTER_H, L.RASTER_W), np.float32)
        step = L.RASTER_H // self._BANDS
        self._bands = [(y, min(y + step, L.RASTER_H)) for y in range(0, L.RASTER_H, step)]
        self._lock = threading.Lock()

    def put_on_raster(self) -> None:
        """Work on the bands that no thread has taken yet (after ``aligned``)."""
        assert self.scan is not None
        while True:
            with self._lock:
                if not self._bands:
                    return
                y0, y1 = self._bands.pop()
            self.scan.on_raster(self.h, self.image, self.ink, y0, y1)


def _align(
    front_job: Future[compare.FrontScan],
    placed: Placed,
    front: _Front,
    reframe: Callable[[NDArray[np.uint8], Page], compare.FrontScan],
) -> None:
    """6. (first part) The front scan aligned to the restored image (turned round if
    it was scanned upside down or sideways), then put on its grid; ``front.scan``
    stays None when the scan shows no page. ``reframe`` gives the front scan anew
    for a page found in its decoded picture by its content (_framed)."""
    try:
        scan = front_job.result()
        reference = preview(placed) if scan.corners or scan.source is not None else None
        if reference is not None:
            _try_corners(scan, scan.corners, reference, front)
            if front.likeness < compare.MIN_LIKENESS and scan.source is not None:
                # No page outline showed, or none that aligns (a photo on a desk as light
                # as the paper): the page placed by its content, if it is this page.
                page = compare.page_by_content(scan.source, reference)
                if page is not None:
                    by_content = reframe(scan.source, page)
                    by_content.source = None
                    before = front.likeness
                    _try_corners(by_content, by_content.corners[:1], reference, front, turns=(0,))
                    if front.likeness > before:
                        scan = by_content
            if front.likeness > -1.0:
                front.scan = scan
    finally:
        front.aligned.set()
    if front.scan is not None:
        front.put_on_raster()


def _try_corners(
    scan: compare.FrontScan,
    candidates: list[NDArray[np.float32]],
    reference: NDArray[np.uint8],
    front: _Front,
    turns: tuple[int, ...] = (0, 2, 1, 3),
) -> None:
    """The best alignment of ``scan`` from its candidate page corners into ``front``."""
    # A front laid upside down or turned a quarter on the scanner has its
    # page's corners in another order: the likeliest page, then the turns.
    for corners in candidates:
        for turn in turns:
            h, likeness = compare.align_front(scan, np.roll(corners, turn, axis=0), reference)
            if likeness > front.likeness:
                front.h, front.likeness = h, likeness
            if front.likeness >= compare.MIN_LIKENESS:
                return


def _front_not_judged(payload: QrPayload, diagnostics: list[str], restored: NDArray[np.uint8],
                      **extra: Any) -> VerificationResult:
    """The back verified, with no verdict on the front: none was given, or too little of it
    could be judged (``extra``: the aligned front and its unchecked regions)."""
    return VerificationResult(qr_valid=True, payload=payload, serial=payload.serial, tampered=None, regions=(),
                              diagnostics=tuple(diagnostics), restored=restored, **extra)


def check_scan(
    back: bytes,
    front: bytes | None,
    *,
    keyring: ScrambleKeyring,
    jwks: Mapping[str, Any],
    max_pixels: int = 60_000_000,
    max_bytes: int = 40 * 2**20,
) -> VerificationResult:
    """Verify scans of a back (and front) side; ScanRejected, ScrambleNotFound or QrInvalid
    when there is nothing to verify. The limits are load_scan's, for each file."""
    # While this thread decodes the back and restores it, the other decodes the
    # front (at about 150 dpi, where it is compared), finds its page, and aligns
    # it to a preview of the restoration as soon as the marks and the QR allow one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        front_job = (
            pool.submit(_front_scan, front, max_pixels, max_bytes) if front is not None else None
        )
        # 1.-4.
        back_img = load_scan(back, max_pixels=max_pixels, max_bytes=max_bytes)
        try:
            payload, h_mm = locate_back(back_img, jwks=jwks)
        except QrMissing:
            raise
        except QrInvalid as e:
            return VerificationResult(
                qr_valid=False,
                payload=None,
                serial=None,
                tampered=None,
                regions=(),
                diagnostics=(str(e), *e.diagnostics),
            )
        # 5. (The scrambled image is only ever restored for a signed serial.)
        placed = place(back_img, h_mm, keyring.key_for(payload.serial), payload.page)
        front_side = _Front()

        def reframe(img: NDArray[np.uint8], page: Page) -> compare.FrontScan:
            assert front is not None
            note = "front: the page was placed by its content (its outline did not show against the surround)"
            return _framed(front, img, page, max_pixels, max_bytes, note)

        aligning = (
            pool.submit(_align, front_job, placed, front_side, reframe) if front_job is not None else None
        )
        linear, unsure = finish(placed)
        ref = compare.reference(linear, unsure) if aligning is not None else None
        if aligning is not None:
            front_side.aligned.wait()
            if front_side.scan is not None:
                front_side.put_on_raster()
            aligning.result()
    restored = toned(linear)
    diagnostics = [f"QR signed by the center; page {payload.page} of {payload.pages}"]
    if aligning is None:
        return _front_not_judged(payload, diagnostics, restored)
    # 6.
    if front_side.scan is None:
        raise ScrambleNotFound(
            "the front scan shows no page to compare (is it the front side? In a photo, the"
            " whole sheet must show, on a surface darker than the paper)",
            diagnostics=diagnostics,
        )
    diagnostics.extend(front_side.scan.notes)
    likeness = front_side.likeness
    assert ref is not None
    if front_side.scan.perspective:
        # A photo: its blur (focus, motion, the lens) is not the restoration's. The
        # restored image is blurred as much as the photo shows more than it (never the
        # front photo: see compare.blur_difference).
        sigma = compare.blur_difference(front_side.ink, linear, ref)
        if sigma > 0:
            ref = compare.reference(compare.blurred(linear, sigma), unsure)
            diagnostics.append(
                f"the front photo is more blurred than the restored image (by about {sigma:.1f} px"
                " at 150 dpi): the restored image was blurred to match"
            )
    # Parts that cannot be judged (photos): blocks the back photo shows too coarsely or
    # with too little contrast, glare on the front photo. Nothing counts there; they are
    # reported as not checked (never as "no alteration").
    blocks = compare.back_unjudged(placed.m, placed.levels[1], placed.key, placed.page)
    unjudged = np.zeros((L.RASTER_H, L.RASTER_W), bool)
    if blocks.any():
        unjudged = np.repeat(np.repeat(blocks, L.BLOCK, axis=0), L.BLOCK, axis=1)
    if front_side.scan.perspective:
        unjudged |= compare.glare(front_side.image, ref.counts)
    unchecked: tuple[Region, ...] = ()
    inked = (ref.ink > 0.1) & ref.counts.astype(bool)  # the print that counts (before any is taken out)

    def share_of(mask: NDArray[np.bool_]) -> float:
        return float((inked & mask).sum()) / max(int(inked.sum()), 1)

    def too_much_unjudged(advice: str) -> VerificationResult:
        diagnostics.append(f"the front was not checked: too much of it cannot be judged; {advice}")
        return _front_not_judged(payload, diagnostics, restored, aligned_front=front_side.image,
                                 unchecked=unchecked)

    if unjudged.any():
        share = share_of(unjudged)
        unchecked = compare.unchecked_regions(unjudged, ref.counts)
        ref = dataclasses.replace(ref, counts=np.where(unjudged, 0, ref.counts).astype(np.uint8))
        diagnostics.append(
            f"{share:.0%} of the front's print could not be judged ({len(unchecked)} region(s) not"
            " checked: the back photo too coarse or too faint there, or glare on the front)"
        )
        if share > compare.MAX_UNCHECKED:
            return too_much_unjudged("take both photos again from straight above, in even light, without glare")
    capped: list[tuple[int, int]] = []
    score = compare.difference_score(front_side.ink, ref, photo=front_side.scan.perspective, capped=capped)
    top = float(score.max())
    if likeness < compare.MIN_LIKENESS:
        # Not this certificate at all (a blank page, another document): the
        # windows would compare unrelated ink, so the whole page is the region.
        found: tuple[Region, ...] = (Region(0, 0, L.PAGE_W_PX, L.PAGE_H_PX),)
        diagnostics.append(
            f"the front scan does not show this certificate (likeness {likeness:.2f},"
            f" a genuine front gives about 0.7): another document, a blank page, or not the front"
        )
    elif front_side.scan.perspective:
        # A photo: flagged from PHOTO_THRESHOLD; many changes scattered over the page are
        # the photos' fault, and the front is then not checked (never "no alteration");
        # many in one place are one large change, flagged.
        found = compare.regions(score, compare.PHOTO_THRESHOLD)
        if len(found) > compare.MAX_PHOTO_REGIONS and compare.scattered(found):
            diagnostics.append(
                f"the front was not checked: the photos differ in {len(found)} places scattered over"
                " the page, as photos too blurred, too oblique or too unevenly lit do (and as a front"
                " changed all over would); take both again from straight above, in even light,"
                " holding still"
            )
            return VerificationResult(
                qr_valid=True,
                payload=payload,
                serial=payload.serial,
                tampered=None,
                regions=(),
                diagnostics=tuple(diagnostics),
                score=top,
                restored=restored,
                aligned_front=front_side.image,
                unchecked=unchecked,
            )
        if capped and not found:
            # The photos' noise level reached its cap over a half of the page: a change as
            # large as most of that half would raise it as far, so nothing there is judged.
            band = np.zeros_like(unjudged)
            for y0, y1 in capped:
                band[y0:y1] = True
            share = share_of(band | unjudged)
            unchecked = unchecked + compare.unchecked_regions(band, ref.counts)
            diagnostics.append(
                f"the photos differ evenly over {'the whole page' if len(capped) > 1 else 'half the page'}"
                f" (their noise reached its limit there): {share:.0%} of the front's print not checked"
            )
            if share > compare.MAX_UNCHECKED:
                return too_much_unjudged("take both photos again from straight above, in even light, holding still")
        diagnostics.append(
            (
                f"{len(found)} region(s) of the front differ from the restored image"
                if found
                else "the front matches the restored image"
            )
            + f" (largest difference {top:.2f}; in a photo {compare.PHOTO_THRESHOLD:g} or more is flagged)"
        )
    else:
        found = compare.regions(score)
        diagnostics.append(
            (
                f"{len(found)} region(s) of the front differ from the restored image"
                if found
                else "the front matches the restored image"
            )
            + f" (largest difference {top:.2f}; {compare.THRESHOLD:g} or more is flagged)"
        )
    return VerificationResult(
        qr_valid=True,
        payload=payload,
        serial=payload.serial,
        tampered=bool(found),
        regions=found,
        diagnostics=tuple(diagnostics),
        score=top,
        restored=restored,
        aligned_front=front_side.image,
        unchecked=unchecked,
    )
