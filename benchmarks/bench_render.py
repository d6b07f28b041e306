"""Benchmark: render and seal one 住民票の写し, typst against WeasyPrint.

Run ``kofu bench render`` (or ``python -m benchmarks.bench_render``) from a checkout.

Both sides make the same certificate (the 2-member sample household of
:mod:`kofu.render.samples`, the same view model, the same IPAmj明朝 font) and
seal it with the same :class:`~kofu.lgpki.seal.Sealer` (key loaded once):

- typst: :func:`kofu.render.render_juminhyo` (warm compiler, fresh data each time)
- WeasyPrint: an HTML page with the same content and the font loaded through
  ``@font-face`` from a ``file://`` URL — what a developer would reach for
  otherwise.

Each side is warmed up once (font loading, template parsing), then timed
``ROUNDS`` times; the figures are medians of wall time in this process. Every
round changes the serial, so neither side can serve a cached document. The
median of :func:`~kofu.lgpki.seal.check_seal` on the sealed typst document is
printed too (the center runs it on every print job).
"""

from __future__ import annotations

import html
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

ROUNDS = 30
WEASY_ROUNDS = 10


def _median_ms(fn: Callable[[int], object], rounds: int) -> float:
    fn(-1)  # warm-up
    times = []
    for i in range(rounds):
        start = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def weasyprint_html(data: dict[str, Any], font: Path) -> str:
    """The same certificate as HTML, every value escaped."""
    e = html.escape
    members = []
    for m in data["members"]:
        number = (
            f"<tr><td colspan=5><small>個人番号</small><br>{e(m['individual_number'])}</td></tr>"
            if m["individual_number"]
            else ""
        )
        members.append(
            f"""<table class=member>
<tr><td rowspan={4 if number else 3} class=no>{m["no"]}</td>
<td colspan=2><small>氏名</small> <span class=kana>{e(m["kana"])}</span><br><span class=name>{e(m["name"])}</span></td>
<td><small>生年月日</small><br>{e(m["birth"])}</td><td><small>性別</small><br>{e(m["sex"])}</td>
<td><small>続柄</small><br>{e(m["relationship"])}</td></tr>
<tr><td colspan=2><small>住民となった年月日</small><br>{e(m["became_resident"])}</td>
<td><small>住所を定めた年月日</small><br>{e(m["address_since"])}</td>
<td colspan=2><small>届出日</small><br>{e(m["notified"])}</td></tr>
<tr><td colspan=5><small>従前の住所</small><br>{e(m["previous_address"])}</td></tr>{number}
</table>"""
        )
    legend = "".join(f"<span>{e(c)}</span>" for c in data["seal_legend"])
    return f"""<!doctype html><html lang=ja><head><meta charset=utf-8>
<title>{e(data["title"])}</title>
<meta name=keywords content="{e(", ".join(data["keywords"]))}">
<style>
@font-face {{ font-family: MJ; src: url("{font.as_uri()}"); }}
@page {{ size: A4; margin: 58mm 15mm 20mm 15mm;
  @bottom-right {{ content: "{e(data["municipality_code"])}"; font-size: 7pt; }} }}
body {{ font-family: MJ; font-size: 10pt; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 3mm; }}
td {{ border: 0.6pt solid black; padding: 1.3mm 1.6mm; vertical-align: top; }}
small {{ font-size: 6.5pt; color: #5a5a5a; }} .kana {{ font-size: 7.5pt; }} .name {{ font-size: 14pt; }}
.no {{ width: 8mm; text-align: center; vertical-align: middle; }}
h1 {{ font-size: 18pt; text-align: center; font-weight: normal; }}
.seal {{ display: inline-block; width: 22mm; height: 22mm; border: 1.4pt solid #d7000f;
  color: #d7000f; font-size: 19pt; writing-mode: vertical-rl; line-height: 1; }}
</style></head><body>
<h1>{e(data["title"])}</h1><p>証明書番号 {e(data["serial"])}</p>
<table><tr><td>住所</td><td colspan=3>{e(data["address"])}</td></tr>
<tr><td>世帯主</td><td colspan=3>{e(data["householder"])}</td></tr>
<tr><td>本籍</td><td>{e(data["domicile"])}</td><td>筆頭者</td><td>{e(data["domicile_head"])}</td></tr></table>
{"".join(members)}
<p>{e(data["certification"])}</p><p>{e(data["issued"])}</p>
<p style="text-align:right">{e(data["mayor_title"])}　{e(data["mayor_name"])} <span class=seal>{legend}</span></p>
</body></html>"""


def main() -> None:
    import weasyprint

    from kofu.lgpki.ca import LgpkiAuthority
    from kofu.lgpki.seal import Sealer, check_seal
    from kofu.render import render_juminhyo
    from kofu.render.fonts import mj_font_file
    from kofu.render.juminhyo import juminhyo_data
    from kofu.render.samples import household

    with tempfile.TemporaryDirectory(prefix="kofu-bench-render-") as tmp:
        ca = LgpkiAuthority.init(Path(tmp) / "ca")
        seal = ca.issue_seal("282286", "加東市")
        sealer = Sealer.from_files(seal.cert_path, seal.key_path, seal.chain)
        base = household(2)
        font = mj_font_file()

        def doc(i: int) -> Any:
            return replace(base, certificate_serial=f"2822860000{i + 1000:04d}")

        def typst_round(i: int) -> bytes:
            return sealer.seal(render_juminhyo(doc(i)).pdf)

        def typst_render_only(i: int) -> bytes:
            return render_juminhyo(doc(i)).pdf

        def weasy_round(i: int) -> bytes:
            page = weasyprint_html(juminhyo_data(doc(i)), font)
            pdf = weasyprint.HTML(string=page).write_pdf()
            assert pdf is not None
            return sealer.seal(pdf)

        sealed = typst_round(0)
        roots = [ca.ca_path]

        def verify_round(i: int) -> object:
            return check_seal(sealed, roots)

        render_ms = _median_ms(typst_render_only, ROUNDS)
        typst_ms = _median_ms(typst_round, ROUNDS)
        verify_ms = _median_ms(verify_round, ROUNDS)
        print(f"typst render only        median {render_ms:8.2f} ms  ({ROUNDS} rounds)")
        print(f"typst render + seal      median {typst_ms:8.2f} ms  ({ROUNDS} rounds)")
        print(f"check_seal              median {verify_ms:8.2f} ms  ({ROUNDS} rounds)", flush=True)
        weasy_ms = _median_ms(weasy_round, WEASY_ROUNDS)
        print(f"WeasyPrint render + seal median {weasy_ms:8.2f} ms  ({WEASY_ROUNDS} rounds)")
        print(f"ratio WeasyPrint / typst (render + seal): {weasy_ms / typst_ms:.1f}x")
        print(
            f"ratio WeasyPrint / typst (render only, seal subtracted): "
            f"{(weasy_ms - (typst_ms - render_ms)) / render_ms:.1f}x"
        )
        per_kind(sealer)


def per_kind(sealer: Any) -> None:
    """Render-and-seal median per certificate kind (samples from kofu.render.samples)."""
    from kofu import render
    from kofu.render import samples

    kinds = [
        ("住民票の写し (2 members)", render.render_juminhyo, samples.household(2)),
        ("住民票の写し (7 members, 2 pages)", render.render_juminhyo, samples.household(7)),
        ("住民票記載事項証明書", render.render_kisai, samples.kisai()),
        ("印鑑登録証明書", render.render_inkan, samples.inkan()),
        ("所得・課税証明書", render.render_tax, samples.tax_shotoku()),
        ("納税証明書", render.render_tax, samples.tax_nozei()),
        ("戸籍全部事項証明書", render.render_koseki, samples.koseki()),
        ("戸籍の附票の写し", render.render_fuhyo, samples.fuhyo()),
    ]
    print("render + seal per kind (median):")
    for label, fn, document in kinds:
        fn(document)  # warm the kind's compiler

        def one(i: int, fn: Any = fn, document: Any = document) -> bytes:
            return sealer.seal(fn(replace(document, certificate_serial=f"2822860000{i + 1000:04d}")).pdf)

        print(f"  {label:34s} {_median_ms(one, ROUNDS):7.2f} ms")


if __name__ == "__main__":
    main()
