"""The duplex print job: each front page with a copy-evident underlay, then its back.

>>> job = compose_print_job(front_pdf, serial="T-2025-000123", municipality="282286",
...                         kind="juminhyo", issued_on=date(2025, 4, 1),
...                         keyring=keyring, signer=signer)        # doctest: +SKIP

Steps, per front page (numbered as in the code):

1. Rasterise the page with pdfium at 150 dpi, grayscale, padded with white
   to the 78 x 110 block grid.
2. Scramble it with the certificate's key (HKDF of the master key and the
   serial) and the page number.
3. Extract the page's text (pdfium), canonicalise it and put its SHA-256 with
   serial, municipality (code, and the name the front's metadata gives), kind
   (and the title the front's metadata gives, as printed), date and page M of
   N into a COSE_Sign1 QR.
4. Front: the page as issued, with the void pantograph drawn underneath it.
5. Back: scrambled image, four registration marks, QR, a pantograph band and
   the latent image.

Everything happens in memory; nothing is written to disk.

The PDF is assembled with pikepdf rather than typst: the back is images and
rectangles at exact positions (no text layout to do), the pantograph must be
a 1-bit image mask aligned to the 600 dpi grid, and the latent image must be
DeviceCMYK samples with exactly the calibrated ink values; pikepdf writes
these objects as they are, and copies the issuer's front pages unchanged.
"""

from __future__ import annotations

import io
import zlib
from datetime import date
from functools import lru_cache

import cv2
import numpy as np
import pikepdf
from numpy.typing import NDArray

from kofu.antiforgery import layout as L
from kofu.antiforgery._pdfium import PDFIUM_LOCK
from kofu.antiforgery.errors import AntiforgeryError
from kofu.antiforgery.keys import QrSigner, ScrambleKeyring
from kofu.antiforgery.latent import latent_image
from kofu.antiforgery.pantograph import INK_K, PRINT_DPI, pantograph_mask
from kofu.antiforgery.qr import QrPayload, fields_digest, qr_text, sign_qr
from kofu.antiforgery.scramble import scramble

LATENT_DPI = 300


def _px(mm: float, dpi: int) -> int:
    return int(round(mm / 25.4 * dpi))


def rasterise_front(page: object) -> NDArray[np.uint8]:
    """A pdfium page as the (RASTER_H, RASTER_W) grayscale raster that gets scrambled.

    Rendered at twice RASTER_DPI and averaged down: pdfium draws a thin rule
    on whole device pixels, up to half a pixel from where it lies, and at
    150 dpi that half pixel is as large as the difference between a 5 and a
    6 (measured on the benchmark's scans: the largest difference between an
    untouched front and its raster fell from 0.60 to 0.52 stroke; 6 ms per
    page instead of 2.4)."""
    img = page.render(scale=2 * L.RASTER_DPI / 72, grayscale=True).to_numpy()  # type: ignore[attr-defined]
    if img.ndim == 3:
        img = img[..., 0]
    h, w = img.shape
    img = cv2.copyMakeBorder(img, 0, h % 2, 0, w % 2, cv2.BORDER_CONSTANT, value=255)
    img = cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)
    out = np.full((L.RASTER_H, L.RASTER_W), 255, np.uint8)
    h, w = min(img.shape[0], L.RASTER_H), min(img.shape[1], L.RASTER_W)
    out[:h, :w] = img[:h, :w]
    return out


def front_rasters(front_pdf: bytes) -> list[NDArray[np.uint8]]:
    """Every page of a front PDF as scrambled (the reference a restoration aims at)."""
    import pypdfium2

    with PDFIUM_LOCK:
        doc = pypdfium2.PdfDocument(front_pdf)
        try:
            return [rasterise_front(doc[i]) for i in range(len(doc))]
        finally:
            doc.close()


def _image(
    pdf: pikepdf.Pdf, data: bytes, w: int, h: int, *, deflated: bytes | None = None, **extra: object
) -> pikepdf.Stream:
    # Level 1: per-job images are compressed on every print; the size gain of 6 is not worth it.
    s = pikepdf.Stream(pdf, deflated if deflated is not None else zlib.compress(data, 1))
    s.Type = pikepdf.Name.XObject
    s.Subtype = pikepdf.Name.Image
    s.Width = w
    s.Height = h
    s.Filter = pikepdf.Name.FlateDecode
    for k, v in extra.items():
        s[pikepdf.Name("/" + k)] = v
    return s


@lru_cache(maxsize=4)
def _mask_deflated(w: int, h: int) -> bytes:
    """The pantograph mask, compressed once: it is the same on every page of every job
    (compressing it was half the cost of a print job)."""
    # ImageMask samples: 1 = unpainted by default, so ink is 0 (or use /Decode [1 0]).
    return zlib.compress(np.packbits(pantograph_mask(w, h), axis=1).tobytes(), 6)


def _mask_xobject(pdf: pikepdf.Pdf, w: int, h: int) -> pikepdf.Stream:
    return _image(
        pdf,
        b"",
        w,
        h,
        deflated=_mask_deflated(w, h),
        ImageMask=True,
        BitsPerComponent=1,
        Decode=pikepdf.Array([1, 0]),
        Interpolate=False,
    )


def _place(x_mm: float, y_mm: float, w_mm: float, h_mm: float, page_h_pt: float) -> bytes:
    """A ``cm`` that maps the unit square onto a box given in mm from the top left."""
    x, w, h = x_mm * L.MM, w_mm * L.MM, h_mm * L.MM
    y = page_h_pt - (y_mm + h_mm) * L.MM
    return b"%.4f 0 0 %.4f %.4f %.4f cm" % (w, h, x, y)


def _qr_path(text: str, box: L.Box, page_h_pt: float) -> bytes:
    import segno

    qr = segno.make(text, error="m", micro=False)
    rows = [list(r) for r in qr.matrix_iter(scale=1, border=4)]
    n = len(rows)
    mod = box.w / n
    ops = [b"0 0 0 1 k"]
    for r, row in enumerate(rows):
        c = 0
        while c < n:
            if row[c]:
                start = c
                while c < n and row[c]:
                    c += 1
                x = (box.x + start * mod) * L.MM
                y = page_h_pt - (box.y + (r + 1) * mod) * L.MM
                ops.append(b"%.3f %.3f %.3f %.3f re" % (x, y, (c - start) * mod * L.MM, mod * L.MM))
            else:
                c += 1
    ops.append(b"f")
    return b"\n".join(ops)


def _back_page(
    out: pikepdf.Pdf, scrambled: NDArray[np.uint8], qr: str, page_w_pt: float, page_h_pt: float
) -> pikepdf.Page:
    page = out.add_blank_page(page_size=(page_w_pt, page_h_pt))
    band = L.PANTOGRAPH_BOX
    bw, bh = _px(band.w, PRINT_DPI), _px(band.h, PRINT_DPI)
    n_lat = _px(L.LATENT_BOX.w, LATENT_DPI)
    res = {
        "/Scr": _image(
            out,
            scrambled.tobytes(),
            L.RASTER_W,
            L.RASTER_H,
            ColorSpace=pikepdf.Name.DeviceGray,
            BitsPerComponent=8,
        ),
        "/Pan": _mask_xobject(out, bw, bh),
        "/Lat": _image(
            out,
            latent_image(n_lat).tobytes(),
            n_lat,
            n_lat,
            ColorSpace=pikepdf.Name.DeviceCMYK,
            BitsPerComponent=8,
        ),
    }
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(res))
    ops = [
        b"q "
        + _place(L.SCRAMBLE_X, L.SCRAMBLE_Y, L.SCRAMBLE_W, L.SCRAMBLE_H, page_h_pt)
        + b" /Scr Do Q",
        b"q 0 0 0 %.3f k " % INK_K
        + _place(band.x, band.y, band.w, band.h, page_h_pt)
        + b" /Pan Do Q",
        b"q "
        + _place(L.LATENT_BOX.x, L.LATENT_BOX.y, L.LATENT_BOX.w, L.LATENT_BOX.h, page_h_pt)
        + b" /Lat Do Q",
        b"q 0 0 0 1 k",
    ]
    s = L.MARK_SIZE
    for cx, cy in L.mark_centres():
        ops.append(
            b"%.3f %.3f %.3f %.3f re f"
            % ((cx - s / 2) * L.MM, page_h_pt - (cy + s / 2) * L.MM, s * L.MM, s * L.MM)
        )
    ops += [b"Q", b"q", _qr_path(qr, L.QR_BOX, page_h_pt), b"Q"]
    page.Contents = out.make_stream(b"\n".join(ops))
    return page


def _underlay(out: pikepdf.Pdf, page: pikepdf.Page) -> None:
    """Draw the void pantograph under everything already on a front page."""
    x0, y0, x1, y1 = (float(v) for v in page.mediabox)
    w, h = _px((x1 - x0) / L.MM, PRINT_DPI), _px((y1 - y0) / L.MM, PRINT_DPI)
    name = page.add_resource(_mask_xobject(out, w, h), pikepdf.Name.XObject, prefix="KofuPan")
    # The image covers whole 600 dpi pixels, anchored at the top left like a raster.
    ih = h * 72 / PRINT_DPI
    cs = b"q 0 0 0 %.3f k %.4f 0 0 %.4f %.4f %.4f cm %s Do Q\n" % (
        INK_K,
        w * 72 / PRINT_DPI,
        ih,
        x0,
        y1 - ih,
        str(name).encode("ascii"),
    )
    page.contents_add(out.make_stream(cs), prepend=True)


def _docinfo_text(pdf: pikepdf.Pdf, key: str) -> str | None:
    """A text entry of the document information dictionary, None when absent or blank."""
    value = pdf.docinfo.get(key)
    text = str(value).strip() if value is not None else ""
    return text or None


def compose_print_job(
    front_pdf: bytes,
    *,
    serial: str,
    municipality: str,
    kind: str,
    issued_on: date,
    keyring: ScrambleKeyring,
    signer: QrSigner,
) -> bytes:
    """The duplex PDF: front 1, back 1, front 2, back 2, ..."""
    with PDFIUM_LOCK:
        import pypdfium2

        try:
            doc = pypdfium2.PdfDocument(front_pdf)
            src = pikepdf.open(io.BytesIO(front_pdf))
        except (pypdfium2.PdfiumError, pikepdf.PdfError) as e:
            raise AntiforgeryError(f"the certificate PDF cannot be read: {e}") from e
        key = keyring.key_for(serial)
        # The municipality's name and the certificate's printed title as the sealed
        # front states them (its document author and title).
        municipality_name = _docinfo_text(src, "/Author")
        title = _docinfo_text(src, "/Title")
        out = pikepdf.new()
        try:
            pages = len(doc)
            if pages == 0 or pages != len(src.pages):
                raise AntiforgeryError("the certificate PDF has no pages")
            for i in range(pages):
                # 1.-2. Raster and scramble.
                scrambled = scramble(rasterise_front(doc[i]), key, i + 1)
                # 3. The signed QR.
                text = doc[i].get_textpage().get_text_range()
                payload = QrPayload(
                    serial=serial,
                    municipality=municipality,
                    kind=kind,
                    issued_on=issued_on,
                    page=i + 1,
                    pages=pages,
                    fields_digest=fields_digest(text),
                    municipality_name=municipality_name,
                    title=title,
                )
                qr = qr_text(sign_qr(payload, signer))
                # 4. Front with underlay.
                out.pages.append(src.pages[i])
                front = out.pages[-1]
                _underlay(out, front)
                x0, y0, x1, y1 = (float(v) for v in front.mediabox)
                # 5. Back.
                _back_page(out, scrambled, qr, x1 - x0, y1 - y0)
            # The issuer's signature form cannot survive page copying and does not
            # apply to the print job; the kiosk prints, nobody validates this file.
            if "/AcroForm" in out.Root:
                del out.Root.AcroForm
            buf = io.BytesIO()
            out.save(buf)
            return buf.getvalue()
        finally:
            doc.close()
            src.close()
