"""The e-seal: a sealed 住民票 passes poppler's and our checks; tampering never does."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from kofu.lgpki.ca import IssuedCert, LgpkiAuthority
from kofu.lgpki.seal import Sealer, SealerUnavailable, SealInvalid, check_seal
from kofu.render import render_juminhyo
from kofu.render.samples import BINDING, household
from tests.render.pdftools import pdftotext, run


@pytest.fixture(scope="module")
def sealed(sealer: Sealer) -> bytes:
    return sealer.seal(render_juminhyo(household(2)).pdf)


@pytest.mark.parametrize("members", [2, 7])
def test_sealed_certificate_as_poppler_sees_it(
    members: int, sealer: Sealer, nssdb: str, tmp_path: Path
) -> None:
    path = tmp_path / "sealed.pdf"
    path.write_bytes(sealer.seal(render_juminhyo(household(members)).pdf))
    report = run("pdfsig", "-nssdir", nssdb, str(path))
    assert "Signature Field Name: KofuSeal" in report
    assert "Signer Certificate Common Name: 加東市長" in report
    assert "Signature Type: ETSI.CAdES.detached" in report
    assert "Total document signed" in report
    assert "Signature Validation: Signature is Valid." in report
    assert "Certificate Validation: Certificate is Trusted." in report
    text = pdftotext(path)
    assert "この写しは、世帯全員の住民票の原本と相違ないことを証明する。" in text
    assert "令和8年11月21日" in text
    assert "山田 太郎" in text and "山田 花子" in text
    if members == 7:
        assert "2枚中1枚目" in text and "2枚中2枚目" in text and "山田 六郎" in text
    fonts = run("pdffonts", str(path)).splitlines()[2:]
    assert fonts and all(
        "+IPAmjMincho" in row and row.split()[-5:-2] == ["yes"] * 3 for row in fonts
    )


def test_pdfsig_sees_an_appended_byte(sealed: bytes, nssdb: str, tmp_path: Path) -> None:
    path = tmp_path / "appended.pdf"
    path.write_bytes(sealed + b"\n")
    assert "Not total document signed" in run("pdfsig", "-nssdir", nssdb, str(path))


def test_verify_reports_the_seal(sealed: bytes, lgpki: LgpkiAuthority) -> None:
    info = check_seal(sealed, [lgpki.ca_path])
    assert info.municipality_code == "282286"
    assert info.binding == BINDING
    assert "CN=加東市長" in info.signer_subject and "O=加東市" in info.signer_subject
    assert info.signed_at is not None
    # Roots may also be given as certificates or PEM bytes.
    assert check_seal(sealed, [lgpki.certificate]).binding == BINDING
    assert check_seal(sealed, [lgpki.ca_path.read_bytes()]).binding == BINDING


def test_a_byte_changed_in_the_signed_range_is_refused(
    sealed: bytes, lgpki: LgpkiAuthority
) -> None:
    # The date printed on the certificate, inside the first signed range.
    start = sealed.index(b"/ByteRange")
    assert 0 < len(sealed) // 3 < start
    for offset in (len(sealed) // 3, len(sealed) // 2 - 7):
        tampered = bytearray(sealed)
        tampered[offset] ^= 0x01
        with pytest.raises(SealInvalid):
            check_seal(bytes(tampered), [lgpki.ca_path])


def test_metadata_changed_after_sealing_is_refused(sealed: bytes, lgpki: LgpkiAuthority) -> None:
    other = "f" * 64
    tampered = sealed.replace(BINDING.encode(), other.encode())
    assert tampered != sealed
    with pytest.raises(SealInvalid, match="changed after sealing"):
        check_seal(tampered, [lgpki.ca_path])


def test_random_tampering_never_passes(sealed: bytes, lgpki: LgpkiAuthority) -> None:
    rng = random.Random(20261121)
    contents = sealed.index(b"/Contents <") + len(b"/Contents <")
    contents_end = sealed.index(b">", contents)
    refused = 0
    for _ in range(40):
        pos = rng.randrange(len(sealed))
        tampered = bytearray(sealed)
        tampered[pos] ^= 1 << rng.randrange(8)
        try:
            check_seal(bytes(tampered), [lgpki.ca_path])
        except SealInvalid:
            refused += 1
            continue
        # Only a flip inside the zero padding of /Contents changes neither a
        # signed byte nor the signature itself; anything else must be refused.
        assert contents <= pos < contents_end, pos
    assert refused >= 30


@pytest.mark.parametrize("suffix", [b"\n", b"%%EOF\n", b"\n1 0 obj\n<<>>\nendobj\n"])
def test_appended_bytes_are_refused(sealed: bytes, lgpki: LgpkiAuthority, suffix: bytes) -> None:
    # A bare %%EOF makes the file unreadable to the parser: refused as damaged.
    with pytest.raises(SealInvalid, match="entire file|damaged"):
        check_seal(sealed + suffix, [lgpki.ca_path])


def test_an_incremental_update_after_sealing_is_refused(
    sealed: bytes, lgpki: LgpkiAuthority
) -> None:
    from io import BytesIO

    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    w = IncrementalPdfFileWriter(BytesIO(sealed))
    w.set_info(
        generic.DictionaryObject(
            {generic.NameObject("/Keywords"): generic.TextStringObject("kofu-binding:" + "e" * 64)}
        )
    )  # noqa: E501
    out = BytesIO()
    w.write(out)
    with pytest.raises(SealInvalid, match="entire file"):
        check_seal(out.getvalue(), [lgpki.ca_path])


def test_a_seal_from_another_ca_is_refused(
    sealed: bytes, lgpki: LgpkiAuthority, tmp_path: Path
) -> None:
    rogue = LgpkiAuthority.init(tmp_path / "rogue")
    cert = rogue.issue_seal("282286", "加東市")
    forged = Sealer.from_files(cert.cert_path, cert.key_path, cert.chain).seal(
        render_juminhyo(household(2)).pdf
    )
    with pytest.raises(SealInvalid, match="trusted"):
        check_seal(forged, [lgpki.ca_path])
    # ...while the rogue CA's own root accepts it: the refusal is about trust.
    assert check_seal(forged, [rogue.ca_path]).municipality_code == "282286"


def test_unsealed_document_is_refused(lgpki: LgpkiAuthority) -> None:
    with pytest.raises(SealInvalid, match="not sealed"):
        check_seal(render_juminhyo(household(1)).pdf, [lgpki.ca_path])


def test_a_seal_without_binding_is_refused(sealer: Sealer, lgpki: LgpkiAuthority) -> None:
    # Same length, so the PDF's cross-reference offsets stay right.
    pdf = render_juminhyo(household(1)).pdf.replace(b"kofu-binding:", b"kofu-bindinX:")
    with pytest.raises(SealInvalid, match="kofu-binding"):
        check_seal(sealer.seal(pdf), [lgpki.ca_path])


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"garbage",
        b"%PDF-1.7\n",
        b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF",
        bytes(range(256)) * 8,
    ],
)
def test_garbage_is_refused(garbage: bytes, lgpki: LgpkiAuthority) -> None:
    with pytest.raises(SealInvalid):
        check_seal(garbage, [lgpki.ca_path])


def test_truncated_pdfs_are_refused(sealed: bytes, lgpki: LgpkiAuthority) -> None:
    for cut in (100, len(sealed) // 2, len(sealed) - 10):
        with pytest.raises(SealInvalid):
            check_seal(sealed[:cut], [lgpki.ca_path])


def test_sealer_needs_its_files(seal_cert: IssuedCert, tmp_path: Path) -> None:
    with pytest.raises(SealerUnavailable, match="does not exist"):
        Sealer.from_files(tmp_path / "none.pem", seal_cert.key_path)
    bad = tmp_path / "bad.key"
    bad.write_text("not a key")
    with pytest.raises(SealerUnavailable):
        Sealer.from_files(seal_cert.cert_path, bad)


def test_sealer_refuses_a_key_of_another_certificate(
    seal_cert: IssuedCert, lgpki: LgpkiAuthority
) -> None:
    other = lgpki.issue_seal("282154", "三木市")
    with pytest.raises(SealerUnavailable, match="is not the key of"):
        Sealer.from_files(seal_cert.cert_path, other.key_path, seal_cert.chain)


def test_each_seal_is_its_own_signature(sealer: Sealer, lgpki: LgpkiAuthority) -> None:
    """Two documents sealed by one Sealer verify independently (no state leaks between seals)."""
    from dataclasses import replace

    first = sealer.seal(render_juminhyo(household(1)).pdf)
    second = sealer.seal(render_juminhyo(replace(household(1), binding="a" * 64)).pdf)
    assert check_seal(first, [lgpki.ca_path]).binding == BINDING
    assert check_seal(second, [lgpki.ca_path]).binding == "a" * 64
