"""戸籍証明書 and 戸籍の附票の写し as a clerk reads them: every item from the PDF's text.

The register of test_kinds (山田 太郎 and 葛子, 明美 married out, 𠮷郎) is
imported with more 身分事項 (認知, 養子縁組, 死亡, 離婚) and a 転籍; each
certificate is issued by the service, sealed, and read back with pdftotext.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from kofu.domain.rules import Offers
from kofu.issuer.errors import BadRequest
from kofu.issuer.importer import import_file

from .conftest import KATO
from .test_kinds import KAZUKO, KOBE, NISHIWAKI, OSAKA, SHA, req, text_of, world  # noqa: F401

KEN_REGISTER = "東京都千代田区平河町一丁目10番地　甲野 一郎"
MIKI_REGISTER = "兵庫県三木市上の丸町10番地　佐藤 一郎"


def _reimport(svc: Any, w: Any, doc: dict[str, Any], change: Any) -> dict[str, Any]:
    register = doc["municipalities"][0]["family_registers"][0]
    change(register)
    w.import_file.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    import_file(svc.engine, w.import_file)
    return register


def _more_events(register: dict[str, Any]) -> None:
    """転籍 to 加東市; 太郎 acknowledged a child and adopted 健; 次郎 died as a baby."""
    register["events"].append({"type": "転籍", "date": "2015-04-10", "previous_honseki": NISHIWAKI})
    taro = register["persons"][0]
    taro["events"] += [
        {"type": "認知", "date": "2003-03-03", "child": "乙野 梅子",
         "child_register": "京都市上京区小山初音町18番地　乙野 花子"},
        {"type": "養子縁組", "date": "2012-03-03", "adoptee": "山田 健", "adoptee_register": KEN_REGISTER},
    ]
    register["persons"] += [
        {"resident": None, "name": "山田 健", "birth_date": "2000-02-02", "sex": "male",
         "father": "甲野 一郎", "mother": "甲野 春子", "relationship": "長男",
         "events": [{"type": "出生", "date": "2000-02-02", "place": "東京都千代田区", "notified_on": "2000-02-07",
                     "notifier": "父"},
                    {"type": "養子縁組", "date": "2012-03-03", "adoptive_father": "山田 太郎",
                     "adoptive_mother": KAZUKO, "previous_register": KEN_REGISTER}],
         "addresses": [{"address": "東京都千代田区平河町一丁目10番地", "since": "2000-02-02"},
                       {"address": SHA, "since": "2015-04-01"}]},
        {"resident": None, "name": "山田 次郎", "birth_date": "2012-05-05", "sex": "male",
         "father": "山田 太郎", "mother": KAZUKO, "relationship": "二男",
         "events": [{"type": "出生", "date": "2012-05-05", "place": "兵庫県西脇市", "notified_on": "2012-05-10",
                     "notifier": "母"},
                    {"type": "死亡", "date": "2013-01-01", "time": "15:20", "place": "兵庫県西脇市",
                     "notified_on": "2013-01-02", "notifier": "親族　山田 太郎"}],
         "addresses": [{"address": NISHIWAKI, "since": "2012-05-05"}]},
    ]


def _line_of(text: str, needle: str) -> str:
    return next(line for line in text.splitlines() if needle in line)


def test_koseki_all_items(world: Any, tmp_path: Path) -> None:  # noqa: F811
    svc, w, doc = world
    _reimport(svc, w, doc, _more_events)
    text = text_of(svc.issue_certificate(req("K-ALL", "koseki", 450, koseki_scope="all")).document, tmp_path)
    flat = text.replace("\n", "")
    # 戸籍事項.
    assert "戸籍編製【編製日】平成17年5月3日" in flat
    assert "転籍【転籍日】平成27年4月10日【従前本籍】兵庫県西脇市郷瀬町1番地" in flat
    # 筆頭者: 【名】 alone, 夫, the parents, 続柄 to them; 出生 with its four items.
    assert _line_of(text, "【名】太郎").endswith("【名】太郎")
    assert "【生年月日】昭和55年4月1日【配偶者区分】夫\n【父】山田一\n【母】山田ハル\n【続柄】長男\n" in text
    assert "出生【出生日】昭和55年4月1日【出生地】兵庫県西脇市【届出日】昭和55年4月8日【届出人】父" in flat
    assert "婚姻【婚姻日】平成17年5月3日【配偶者氏名】佐藤葛\U000E0103子【従前戸籍】兵庫県西脇市郷瀬町1番地山田一" in flat
    assert "認知【認知日】平成15年3月3日【認知した子の氏名】乙野梅子【認知した子の戸籍】京都市上京区小山初音町18番地乙野花子" in flat
    assert "養子縁組【縁組日】平成24年3月3日【養子氏名】山田健【養子の戸籍】東京都千代田区平河町一丁目10番地甲野一郎" in flat
    # The wife entered by the marriage: 妻 as 配偶者区分, 長女 of her own parents, 【従前戸籍】.
    assert "【生年月日】昭和57年6月15日【配偶者区分】妻\n【父】佐藤一郎\n【母】佐藤ハナ\n【続柄】長女\n" in text
    assert f"婚姻【婚姻日】平成17年5月3日【配偶者氏名】山田太郎【従前戸籍】{MIKI_REGISTER.replace(' ', '').replace('　', '')}" in flat
    # 明美 left by marriage: the 婚姻 entry says where to, and she is marked 除籍.
    assert _line_of(text, "【名】明美").endswith("【名】明美除籍")
    assert "婚姻【婚姻日】令和7年10月10日【配偶者氏名】鈴木次郎【新本籍】大阪府大阪市北区中之島一丁目3番【称する氏】夫の氏" in flat
    # The adoptee (付録第22号様式 記載例): his birth parents and his 続柄 to them, then
    # the adoptive parents (from his 養子縁組) and 養子, then the 縁組 with where he came from.
    assert ("【父】甲野一郎\n【母】甲野春子\n【続柄】長男\n"
            f"【養父】山田太郎\n【養母】山田{KAZUKO.split(' ')[1]}\n【続柄】養子\n身分事項") in text
    assert flat.count("【養父】") == 1 and flat.count("【続柄】養子") == 1
    assert ("養子縁組【縁組日】平成24年3月3日【養父氏名】山田太郎【養母氏名】山田葛\U000E0103子"
            "【従前戸籍】東京都千代田区平河町一丁目10番地甲野一郎") in flat
    # 次郎 died: 死亡 with its five items, 除籍.
    assert _line_of(text, "【名】次郎").endswith("【名】次郎除籍")
    assert "死亡【死亡日】平成25年1月1日【死亡時分】午後3時20分【死亡地】兵庫県西脇市【届出日】平成25年1月2日【届出人】親族山田太郎" in flat
    # Never: the full name as 【名】, 妻 as a 続柄, 性別, a separate 除籍 event.
    assert "【名】山田" not in flat and "【続柄】妻" not in flat and "【性別】" not in flat and "【除籍日】" not in flat
    assert len(re.findall("除籍", flat)) == 2
    assert flat.index("【名】太郎") < flat.index("【名】葛") < flat.index("【名】明美") < flat.index("【名】𠮷郎")


def test_koseki_self_is_the_holders_entry_only(world: Any, tmp_path: Path) -> None:  # noqa: F811
    svc, w, doc = world
    _reimport(svc, w, doc, _more_events)
    issued = svc.issue_certificate(req("K-SELF", "koseki", 450, koseki_scope="self", resident_link="link-R002"))
    text = text_of(issued.document, tmp_path)
    assert "戸籍個人事項証明書" in text and "本籍兵庫県加東市社50番地" in text and "氏名山田太郎" in text
    assert "【編製日】平成17年5月3日" in text and "【転籍日】平成27年4月10日" in text
    assert re.findall(r"【名】[^\n]*", text) == ["【名】葛\U000E0103子"]
    assert "【配偶者区分】妻" in text and "【配偶者氏名】山田太郎" in text and "除籍" not in text


def test_divorce(world: Any, tmp_path: Path) -> None:  # noqa: F811
    svc, w, doc = world

    def divorce(register: dict[str, Any]) -> None:
        taro, kazuko = register["persons"][:2]
        for p, spouse in ((taro, KAZUKO), (kazuko, "山田 太郎")):
            del p["spouse_role"]
            p["events"].append({"type": "離婚", "date": "2020-02-02", "spouse": spouse})
        kazuko["events"][-1]["entered_register"] = MIKI_REGISTER
        kazuko["addresses"].append({"address": "兵庫県三木市上の丸町10番地", "since": "2020-02-02"})

    _reimport(svc, w, doc, divorce)
    text = text_of(svc.issue_certificate(req("K-DIV", "koseki", 450, koseki_scope="all")).document, tmp_path)
    flat = text.replace("\n", "")
    assert "離婚【離婚日】令和2年2月2日【配偶者氏名】山田葛\U000E0103子" in flat
    assert ("離婚【離婚日】令和2年2月2日【配偶者氏名】山田太郎【入籍戸籍】" + MIKI_REGISTER.replace(" ", "").replace("　", "")
            in flat)
    assert "【配偶者区分】" not in flat and _line_of(text, "【名】葛").endswith("除籍")
    # Her 附票 entry ends when she left: the 三木市 address is the 佐藤 register's.
    fuhyo = text_of(svc.issue_certificate(req("F-DIV", "fuhyo", 200, scope="household")).document, tmp_path)
    assert "兵庫県三木市上の丸町10番地" not in fuhyo and "消除" in fuhyo


def test_fuhyo_all(world: Any, tmp_path: Path) -> None:  # noqa: F811
    svc, w, doc = world
    _reimport(svc, w, doc, _more_events)
    text = text_of(svc.issue_certificate(req("F-ALL", "fuhyo", 200, scope="household")).document, tmp_path)
    assert "戸籍の附票の写し" in text and "（一部）" not in text
    assert "この写しは、戸籍の附票の原本と相違ないことを証明する。" in text
    # 本籍・筆頭者 only when asked for.
    assert "本籍省略\n" in text and "筆頭者省略\n" in text
    # The register moved here on 平成27年4月10日: its 附票 starts with the address then.
    assert "氏名山田太郎生年月日昭和55年4月1日性別男\n住所住所を定めた年月日\n兵庫県加東市社50番地平成27年4月1日\n" in text
    assert NISHIWAKI not in text and KOBE not in text
    # 明美 left on 令和7年10月10日: her 大阪 address is not this 附票's; her entry is closed.
    assert "氏名山田明美生年月日平成18年8月8日性別女消除\n住所住所を定めた年月日\n兵庫県加東市社50番地平成27年4月1日\n" in text
    assert OSAKA not in text
    # 次郎 died before the register came here: nothing to list. 健 entered by adoption.
    assert "山田次郎" not in text and "氏名山田健" in text and "東京都千代田区" not in text


def test_fuhyo_with_domicile_and_chosen_persons(world: Any, tmp_path: Path) -> None:  # noqa: F811
    svc, _w, _doc = world
    got = svc.query_availability(KATO, "link-R001")
    assert isinstance(got, Offers)
    offer = next(o for o in got.offers if o.kind == "fuhyo")
    assert offer.options.with_domicile and [(m.resident_id, m.name) for m in offer.options.members] == [
        ("R001", "山田 太郎"), ("R002", KAZUKO), ("K001#3", "山田 明美"), ("R003", "山田 𠮷郎")]
    issued = svc.issue_certificate(req("F-SOME", "fuhyo", 200, scope="household", with_domicile=True,
                                       members=("R002", "K001#3")))
    text = text_of(issued.document, tmp_path)
    assert "戸籍の附票の写し（一部）" in text and "原本のうち請求のあった者の記載と相違ない" in text
    assert "本籍兵庫県加東市社50番地\n" in text and "筆頭者山田太郎\n" in text
    assert re.findall(r"氏名(\S+?)生年月日", text) == [f"山田{KAZUKO.split(' ')[1]}", "山田明美"]
    assert f"{NISHIWAKI}平成17年5月3日" in text  # 葛子 from the marriage on
    # The holder alone (Scope self).
    alone = text_of(svc.issue_certificate(req("F-SELF", "fuhyo", 200)).document, tmp_path)
    assert re.findall(r"氏名(\S+?)生年月日", alone) == ["山田太郎"] and "本籍省略" in alone
    # Persons of another register cannot be chosen.
    with pytest.raises(BadRequest):
        svc.issue_certificate(req("F-BAD", "fuhyo", 200, scope="household", members=("R010",)))
