"""Reading an uploaded scan safely: PNG, JPEG, PDF (or a phone's HEIC) to a grayscale array.

HEIC (iPhones' default) is read only when the optional pillow-heif package is
installed (``pip install 'kofu[heic]'``: a maintained binding of libheif);
without it a HEIC upload is refused with a message saying so.

Steps (numbered as in the code):

1. Refuse more than ``max_bytes`` before looking inside.
2. Recognise the format by its magic bytes, not by a file name or a
   declared content type.
3. Read the declared dimensions from the header (Pillow reads headers
   lazily; for a PDF, the first page's size at 300 dpi) and refuse more than
   ``max_pixels`` *before* anything is decoded: a 50 kB PNG can claim
   10 gigapixels.
4. Decode (OpenCV for PNG/JPEG, straight to grayscale; pdfium for PDF) and
   check that what came out has the dimensions the header promised.

``halve=True`` decodes at half the resolution: a JPEG is then scaled in the
DCT domain while it is decoded (libjpeg's 1/2 scaling: a 2 x 2 average for
less work than a full decode), a PDF is rendered at half the dpi, a PNG is
decoded and area-averaged. The front of a certificate is compared at 150 dpi,
so a 300 dpi scan of it is decoded that way.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from numpy.typing import NDArray

from kofu.antiforgery._pdfium import PDFIUM_LOCK
from kofu.antiforgery.errors import ScanRejected

PDF_DPI = 300
_MAGIC = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG", b"%PDF-": "PDF"}


_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")


def _format(data: bytes) -> str:
    for magic, name in _MAGIC.items():
        if data.startswith(magic):
            return name
    # An ISO-BMFF file: a 'ftyp' box first, its major brand naming HEIF.
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "HEIC"
    raise ScanRejected("the file is not a PNG, JPEG or PDF (nor a HEIC photo)")


def _heic(data: bytes, max_pixels: int) -> NDArray[np.uint8]:
    """A HEIC photo (its primary image) as grayscale, through the optional pillow-heif."""
    try:
        import pillow_heif
    except ImportError as e:
        raise ScanRejected(
            "HEIC photos are not read here (the optional pillow-heif package is not installed):"
            " send the photo as JPEG (on an iPhone: Settings > Camera > Formats > Most Compatible)"
        ) from e
    try:
        heif = pillow_heif.open_heif(data, convert_hdr_to_8bit=True)  # the header only
        w, h = heif.size
        if w <= 0 or h <= 0 or w * h > max_pixels:
            raise ScanRejected(
                f"the image is {w} x {h} pixels; at most {max_pixels / 1e6:g} megapixels are accepted"
            )
        image = heif.to_pillow()
    except ScanRejected:
        raise
    except (ValueError, RuntimeError, OSError) as e:
        raise ScanRejected(f"the HEIC image cannot be read: {e}") from e
    return np.asarray(image.convert("L"), np.uint8)


def _pdf(data: bytes, max_pixels: int, dpi: int) -> NDArray[np.uint8]:
    with PDFIUM_LOCK:
        return _pdf_unlocked(data, max_pixels, dpi)


def _pdf_unlocked(data: bytes, max_pixels: int, dpi: int) -> NDArray[np.uint8]:
    import pypdfium2

    try:
        doc = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as e:
        raise ScanRejected(f"the PDF cannot be read: {e}") from e
    try:
        if len(doc) < 1:
            raise ScanRejected("the PDF has no pages")
        page = doc[0]
        w_pt, h_pt = page.get_size()
        if w_pt <= 0 or h_pt <= 0 or (w_pt * PDF_DPI / 72) * (h_pt * PDF_DPI / 72) > max_pixels:
            raise ScanRejected(
                f"the PDF page ({w_pt / 72 * 25.4:.0f} x {h_pt / 72 * 25.4:.0f} mm) is too large"
            )
        img = page.render(scale=dpi / 72, grayscale=True).to_numpy()
    except pypdfium2.PdfiumError as e:
        raise ScanRejected(f"the PDF cannot be rendered: {e}") from e
    finally:
        doc.close()
    return np.ascontiguousarray(img[..., 0] if img.ndim == 3 else img)


def load_scan(
    data: bytes,
    *,
    max_pixels: int = 60_000_000,
    max_bytes: int = 40 * 2**20,
    halve: bool = False,
) -> NDArray[np.uint8]:
    """A scan (PNG, JPEG, PDF's first page) as a 2-D uint8 grayscale array, or ScanRejected.

    The limits apply to the file as uploaded, whatever ``halve`` says.
    """
    # 1.
    if len(data) > max_bytes:
        raise ScanRejected(f"the file is larger than {max_bytes / 2**20:g} MiB")
    # 2.
    fmt = _format(data)
    if fmt == "PDF":
        return _pdf(data, max_pixels, PDF_DPI // 2 if halve else PDF_DPI)
    if fmt == "HEIC":
        photo = _heic(data, max_pixels)
        if halve:
            size = ((photo.shape[1] + 1) // 2, (photo.shape[0] + 1) // 2)
            photo = np.asarray(cv2.resize(photo, size, interpolation=cv2.INTER_AREA), np.uint8)
        return photo
    # 3.
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.format != fmt:
                raise ScanRejected(f"the file starts like a {fmt} but is not one")
            w, h = im.size
    except Image.DecompressionBombError as e:
        # Pillow's own guard fires on absurd headers before ours can.
        raise ScanRejected(
            f"the image claims more pixels than allowed; at most {max_pixels / 1e6:g} megapixels are accepted"
        ) from e
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise ScanRejected(f"the {fmt} header cannot be read: {e}") from e
    if w <= 0 or h <= 0 or w * h > max_pixels:
        raise ScanRejected(
            f"the image is {w} x {h} pixels; at most {max_pixels / 1e6:g} megapixels are accepted"
        )
    # 4.
    flag = cv2.IMREAD_REDUCED_GRAYSCALE_2 if halve and fmt == "JPEG" else cv2.IMREAD_GRAYSCALE
    img = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    if flag == cv2.IMREAD_REDUCED_GRAYSCALE_2:
        h, w = (h + 1) // 2, (w + 1) // 2
    # OpenCV applies an EXIF orientation (phones), which may swap width and height.
    if img is None or img.shape not in ((h, w), (w, h)):
        raise ScanRejected(f"the {fmt} image data is damaged or truncated")
    if halve and fmt == "PNG":
        size = ((img.shape[1] + 1) // 2, (img.shape[0] + 1) // 2)
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    return np.asarray(img, np.uint8)


def shrink(img: NDArray[np.uint8], dpi: float, work_dpi: float) -> tuple[NDArray[np.uint8], float]:
    """``img`` area-averaged by a whole factor to about ``work_dpi``, and the scale applied.

    A whole factor (the image cropped to a multiple of it) takes OpenCV's
    integer path, 4x faster than an arbitrary scale.
    """
    n = max(1, round(dpi / work_dpi))
    h, w = img.shape
    h, w = max(n, h - h % n), max(n, w - w % n)
    small = cv2.resize(img[:h, :w], (w // n, h // n), interpolation=cv2.INTER_AREA)
    return np.asarray(small, np.uint8), 1.0 / n
