"""Render one page of each certificate kind to docs/images/*.png (`make samples`).

The documents are kofu.render.samples' (山田 太郎 of 加東市, 令和8年11月21日);
each front is rendered as the issuer renders it and rasterised by poppler's
pdftoppm at a modest resolution, for the README.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import replace
from datetime import date
from pathlib import Path

from kofu.render import (
    render_fuhyo,
    render_inkan,
    render_juminhyo,
    render_kisai,
    render_koseki,
    render_tax,
)
from kofu.render import samples as s

DPI = 50


def main(out: Path) -> None:
    moved = replace(s.member(0), change_reason="転入", change_on=date(2001, 4, 1))
    wife = replace(s.member(1), previous_address="兵庫県三木市上の丸町10番30号",
                   change_reason="転入", change_on=date(2001, 4, 1))
    born = replace(s.member(4), previous_address=None, became_resident_on=date(2019, 5, 1),
                   address_since=date(2019, 5, 1), notified_on=date(2019, 5, 10),
                   change_reason="出生", change_on=date(2019, 5, 1))
    kisai_members = tuple(replace(m, domicile="兵庫県加東市社50番地", domicile_head="山田 太郎")
                          for m in s.kisai(3).members)
    pages = {
        "juminhyo": render_juminhyo(s.document((moved, wife, born))).pdf,
        "kisai": render_kisai(s.kisai(3, members=kisai_members, householder="山田 太郎",
                                      items=("氏名", "生年月日", "性別", "続柄", "住所", "世帯主", "本籍", "筆頭者"))).pdf,
        "inkan": render_inkan(s.inkan()).pdf,
        "zeimu-shotoku": render_tax(s.tax_shotoku()).pdf,
        "zeimu-nozei": render_tax(s.tax_nozei()).pdf,
        "koseki": render_koseki(s.koseki()).pdf,
        "fuhyo": render_fuhyo(s.fuhyo()).pdf,
    }
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, pdf in pages.items():
            path = Path(tmp) / f"{name}.pdf"
            path.write_bytes(pdf)
            subprocess.run(["pdftoppm", "-r", str(DPI), "-png", "-f", "1", "-l", "1", "-singlefile",
                            str(path), str(out / name)], check=True)
            print(out / f"{name}.png")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/images"))
