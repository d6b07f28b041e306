from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kofu.jpki.ca import OID_JPKI_ADDRESS, OID_JPKI_BIRTH_DATE, OID_JPKI_NAME, OID_JPKI_SEX
from kofu.jpki.store import CertStore, normalise_serial
from tests.conftest import require_tool
from tests.jpki.conftest import HOLDER, JpkiTestCa, kofu


def _export(card: Path, which: str, tmp_path: Path) -> Path:
    out = tmp_path / f"{which}.pem"
    out.write_text(kofu("card", "export", str(card), "--cert", which).stdout)
    return out


def test_openssl_verify_accepts_both_card_certificates(test_ca: JpkiTestCa, tmp_path: Path) -> None:
    openssl = require_tool("openssl")
    for which in ("auth", "sign"):
        pem = _export(test_ca.card, which, tmp_path)
        result = subprocess.run(
            [openssl, "verify", "-CAfile", str(test_ca.dir / "ca.pem"), str(pem)],
            capture_output=True, text=True,
        )
        assert result.returncode == 0 and result.stdout.strip().endswith(": OK"), result.stdout + result.stderr


def test_ocsp_signer_is_delegated(test_ca: JpkiTestCa) -> None:
    cert = x509.load_pem_x509_certificate((test_ca.dir / "ocsp-signer.pem").read_bytes())
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.OCSP_SIGNING in eku
    cert.extensions.get_extension_for_class(x509.OCSPNoCheck)


def test_init_refuses_to_overwrite(test_ca: JpkiTestCa) -> None:
    before = (test_ca.dir / "ca.pem").read_bytes()
    result = kofu("jpki", "init", str(test_ca.dir), check=False)
    assert result.returncode != 0
    assert "refusing to overwrite" in result.stderr
    assert (test_ca.dir / "ca.pem").read_bytes() == before


def test_auth_certificate_carries_no_personal_data(test_ca: JpkiTestCa, tmp_path: Path) -> None:
    der_text = _export(test_ca.card, "auth", tmp_path).read_text()
    cert = x509.load_pem_x509_certificate(der_text.encode())
    assert cert.public_key().key_size == 2048
    blob = cert.public_bytes(serialization.Encoding.DER)
    for item in ("山田", "加東市", "19811020"):
        assert item.encode() not in blob
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)


def test_sign_certificate_carries_the_four_basic_items(test_ca: JpkiTestCa, tmp_path: Path) -> None:
    cert = x509.load_pem_x509_certificate(_export(test_ca.card, "sign", tmp_path).read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    values = {o.type_id: o.value for o in san.get_values_for_type(x509.OtherName)}
    assert values[OID_JPKI_NAME] == b"\x0c" + bytes([len("山田 太郎".encode())]) + "山田 太郎".encode()
    assert values[OID_JPKI_SEX].endswith(b"1")
    assert values[OID_JPKI_BIRTH_DATE].endswith(b"19811020")
    assert "兵庫県加東市社50番地".encode() in values[OID_JPKI_ADDRESS]


def test_issue_card_output_and_generated_link(test_ca: JpkiTestCa, tmp_path: Path) -> None:
    issued = test_ca.issued
    assert issued["municipality"] == "282286"
    # No link in the holder file: a fresh random one (16 bytes, lower-case hex), which the
    # CA's record of the authentication certificate holds for the directory to answer with.
    assert re.fullmatch(r"[0-9a-f]{32}", issued["resident_link"]), issued["resident_link"]
    store = CertStore(test_ca.dir / "jpki.sqlite")
    try:
        record = store.get(normalise_serial(issued["auth_serial"]))
    finally:
        store.close()
    assert record.resident_link == issued["resident_link"] and record.municipality == "282286"
    # A new card for the same holder (in a copy of the CA) gets a link of its own.
    shutil.copytree(test_ca.dir, tmp_path / "ca")
    (tmp_path / "holder.json").write_text(json.dumps(HOLDER, ensure_ascii=False), encoding="utf-8")
    again = json.loads(kofu("jpki", "issue-card", str(tmp_path / "ca"), "--holder", str(tmp_path / "holder.json"),
                            "--pin", "1234", "--password", "ABCD1234", "--out", str(tmp_path / "c.json")).stdout)
    assert re.fullmatch(r"[0-9a-f]{32}", again["resident_link"])
    assert again["resident_link"] != issued["resident_link"]
    assert test_ca.other_issued["resident_link"] == "link-of-hanako-0001"
    info = json.loads(kofu("card", "info", str(test_ca.card), "--json").stdout)
    assert info["auth"]["serial"] == issued["auth_serial"]
    assert info["sign"]["serial"] == issued["sign_serial"]
    assert info["pin_tries_left"] == 3 and info["password_tries_left"] == 5 and info["locked"] is False


def test_issue_card_rejects_a_bad_municipality_code(test_ca: JpkiTestCa, tmp_path: Path) -> None:
    holder = tmp_path / "bad.json"
    holder.write_text(json.dumps({"name": "x", "birth_date": "1990-01-01", "sex": "male",
                                  "address": "y", "municipality": "282287"}))
    result = kofu("jpki", "issue-card", str(test_ca.dir), "--holder", str(holder), "--pin", "1234",
                  "--password", "ABCD1234", "--out", str(tmp_path / "c.json"), check=False)
    assert result.returncode == 1
    assert "check digit" in result.stderr
    assert not (tmp_path / "c.json").exists()


def test_revoke_unknown_serial_fails(test_ca: JpkiTestCa) -> None:
    result = kofu("jpki", "revoke", str(test_ca.dir), "abcdef", "--reason", "superseded", check=False)
    assert result.returncode == 1 and "no certificate" in result.stderr


def test_ca_keys_are_encrypted_with_the_passphrase(tmp_path: Path) -> None:
    import os

    env = dict(os.environ, KOFU_JPKI_PASSPHRASE="correct horse")
    from kofu.procs import kofu_argv

    r = subprocess.run(kofu_argv("jpki", "init", str(tmp_path / "ca")), env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "unsafe_unencrypted_ca_keys" not in r.stderr
    assert b"ENCRYPTED PRIVATE KEY" in (tmp_path / "ca" / "ca-key.pem").read_bytes()
    # Without the passphrase the CA cannot sign.
    holder = tmp_path / "h.json"
    holder.write_text(json.dumps({"name": "x", "birth_date": "1990-01-01", "sex": "male",
                                  "address": "y", "municipality": "282286"}))
    args = ("jpki", "issue-card", str(tmp_path / "ca"), "--holder", str(holder), "--pin", "1234",
            "--password", "ABCD1234", "--out", str(tmp_path / "c.json"))
    env_without = {k: v for k, v in os.environ.items() if k != "KOFU_JPKI_PASSPHRASE"}
    r = subprocess.run(kofu_argv(*args), env=env_without, capture_output=True, text=True)
    assert r.returncode == 1 and "KOFU_JPKI_PASSPHRASE" in r.stderr
    r = subprocess.run(kofu_argv(*args), env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
