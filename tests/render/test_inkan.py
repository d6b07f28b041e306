"""印鑑登録証明書: the holder's particulars and the registered impression."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from kofu.domain.era import to_wareki
from kofu.render import InvalidDocument, render_inkan
from kofu.render import samples as s
from tests.render.pdftools import run
from tests.render.sealing import SealKit, assert_header, compact, seal_and_read


def test_particulars_and_sentence(test_seal: SealKit, tmp_path: Path) -> None:
    doc = s.inkan(name="辻\U000e0102 𠮷子", sex="female")
    text = seal_and_read(render_inkan(doc).pdf, test_seal, doc, tmp_path / "i.pdf")
    flat = compact(text)
    assert "印鑑登録証明書" in flat
    assert "この写しは、登録されている印影と相違ないことを証明する。" in flat
    assert_header(doc, text)
    assert doc.name in text  # variation sequence and non-BMP character exactly
    assert doc.registration_number in flat and to_wareki(doc.birth_date) in flat
    assert compact(doc.address) in flat and "女" in flat


@pytest.mark.parametrize(("diameter", "printed"), [(15.0, 15.0), (40.0, 25.0)])
def test_impression_at_real_size_never_above_25_mm(
    tmp_path: Path, diameter: float, printed: float
) -> None:
    """pdfimages reports the image's resolution on the page: size = pixels / ppi."""
    png = s.seal_impression_png("山田", diameter_mm=diameter)
    path = tmp_path / "i.pdf"
    path.write_bytes(render_inkan(s.inkan(seal_image_png=png)).pdf)
    rows = run("pdfimages", "-list", str(path)).splitlines()[2:]
    image = [r.split() for r in rows if r.split()[2] == "image"]
    assert len(image) == 1, rows
    width_px, x_ppi = int(image[0][3]), int(image[0][12])
    assert width_px == Image.open(io.BytesIO(png)).width
    assert width_px / x_ppi * 25.4 == pytest.approx(printed, abs=0.3)


def test_not_a_png_is_refused() -> None:
    with pytest.raises(InvalidDocument, match="not a PNG"):
        render_inkan(s.inkan(seal_image_png=b"GIF89a......"))


def test_sample_seal_is_deterministic_and_red() -> None:
    png = s.seal_impression_png("鈴木")
    assert png == s.seal_impression_png.__wrapped__("鈴木")
    image = Image.open(io.BytesIO(png)).convert("RGBA")
    raw = image.tobytes()
    pixels = (raw[i : i + 4] for i in range(0, len(raw), 4))
    reds = sum(1 for r, g, _b, a in pixels if a > 128 and r > 150 and g < 80)
    assert reds > image.width * image.height * 0.05
