"""The JPKI certificate authority: a root CA, a delegated OCSP signer, and card issuance.

>>> ca = init_ca(Path("var/jpki"))                     # kofu jpki init var/jpki
>>> issued = issue_card(Path("var/jpki"), holder, pin="1234", password="ABCD1234", out=Path("card.json"))
>>> revoke(Path("var/jpki"), issued.auth_serial, "keyCompromise")

Layout of a CA directory::

    ca.pem                 root certificate (what relying parties trust)
    ca-key.pem             its private key
    ocsp-signer.pem        delegated OCSP signer (id-kp-OCSPSigning, ocsp-nocheck)
    ocsp-signer-key.pem    its private key
    config.json            settings fixed at init (OCSP URL put in issued certificates)
    jpki.sqlite            every certificate issued (see :mod:`kofu.jpki.store`)

Private keys are PEM, encrypted with ``KOFU_JPKI_PASSPHRASE`` when it is set;
without it they are stored in the clear and a ``unsafe_unencrypted_ca_keys``
warning is logged (good enough for tests and the demo, not for production).

Real JPKI runs two CAs (one for user authentication, one for signing); this
one CA signs both kinds, which keeps the trust anchor a single ``ca.pem``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from kofu import clock
from kofu.domain.ids import (
    CertSerial,
    InvalidIdentifier,
    MunicipalityCode,
    ResidentLink,
    validate_municipality_code,
)
from kofu.jpki.errors import CaError, CaExists, CaNotFound, InvalidHolder
from kofu.jpki.store import REVOCATION_REASONS, CertRecord, CertStore, normalise_serial, serial_hex

log = logging.getLogger(__name__)

CA_CERT = "ca.pem"
CA_KEY = "ca-key.pem"
OCSP_CERT = "ocsp-signer.pem"
OCSP_KEY = "ocsp-signer-key.pem"
CONFIG = "config.json"
DB = "jpki.sqlite"

PASSPHRASE_ENV = "KOFU_JPKI_PASSPHRASE"

# The four basic items (基本4情報) of the signing certificate, as subjectAltName
# otherName entries. They sit under the JPKI arc 1.2.392.200149.8.5.5 that
# J-LIS uses for the signing certificate's holder attributes (.1 name, .3 sex,
# .4 date of birth, .5 address); each value is a UTF8String.
OID_JPKI_NAME = ObjectIdentifier("1.2.392.200149.8.5.5.1")
"""氏名: the holder's name as on the resident record."""
OID_JPKI_SEX = ObjectIdentifier("1.2.392.200149.8.5.5.3")
"""性別: ISO/IEC 5218 code, "1" male, "2" female, "9" not applicable / other."""
OID_JPKI_BIRTH_DATE = ObjectIdentifier("1.2.392.200149.8.5.5.4")
"""生年月日: YYYYMMDD."""
OID_JPKI_ADDRESS = ObjectIdentifier("1.2.392.200149.8.5.5.5")
"""住所: the address as on the resident record."""

_SEX_CODES = {"male": "1", "female": "2", "other": "9", "unspecified": "9"}
_LINK_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")

CARD_VALIDITY = timedelta(days=5 * 365)
CA_VALIDITY = timedelta(days=20 * 365)


@dataclass(frozen=True)
class Holder:
    """The card holder, as the holder file describes them."""

    name: str
    name_kana: str
    birth_date: date
    sex: str
    """One of ``male``, ``female``, ``other``, ``unspecified``."""
    address: str
    municipality: MunicipalityCode
    resident_link: ResidentLink
    """Opaque id the issuer maps to its resident record; random when the file gives none."""

    @classmethod
    def from_json(cls, data: Any) -> Holder:
        if not isinstance(data, dict):
            raise InvalidHolder("the holder file must hold a JSON object")

        def text(field: str, required: bool = True) -> str:
            value = data.get(field)
            if value is None and not required:
                return ""
            if not isinstance(value, str) or not value.strip():
                raise InvalidHolder(f"holder field {field!r} must be a non-empty string")
            return value.strip()

        try:
            birth = date.fromisoformat(text("birth_date"))
        except ValueError as e:
            raise InvalidHolder(f"holder field 'birth_date' is not YYYY-MM-DD: {e}") from e
        sex = text("sex")
        if sex not in _SEX_CODES:
            raise InvalidHolder(f"holder field 'sex' must be one of {', '.join(_SEX_CODES)}; got {sex!r}")
        try:
            municipality = validate_municipality_code(text("municipality"))
        except InvalidIdentifier as e:
            raise InvalidHolder(f"holder field 'municipality': {e}") from e
        link = text("resident_link", required=False) or secrets.token_hex(16)
        if not _LINK_RE.match(link):
            raise InvalidHolder("holder field 'resident_link' must be 8–64 letters, digits, '-' or '_'")
        return cls(
            name=text("name"),
            name_kana=text("name_kana", required=False),
            birth_date=birth,
            sex=sex,
            address=text("address"),
            municipality=municipality,
            resident_link=ResidentLink(link),
        )


@dataclass(frozen=True)
class CaMaterial:
    """A loaded CA: certificates and keys, ready to sign."""

    directory: Path
    ca_cert: x509.Certificate
    ca_key: rsa.RSAPrivateKey
    ocsp_cert: x509.Certificate
    ocsp_key: rsa.RSAPrivateKey
    ocsp_url: str | None


@dataclass(frozen=True)
class IssuedCard:
    card: Path
    auth_serial: CertSerial
    sign_serial: CertSerial
    resident_link: ResidentLink
    municipality: MunicipalityCode


def _utc_now() -> datetime:
    return clock.now().astimezone(UTC).replace(microsecond=0)


def _key_encryption() -> serialization.KeySerializationEncryption:
    passphrase = os.environ.get(PASSPHRASE_ENV)
    if passphrase:
        return serialization.BestAvailableEncryption(passphrase.encode())
    log.warning(
        "unsafe_unencrypted_ca_keys: %s is not set, so the CA private keys are stored unencrypted",
        PASSPHRASE_ENV,
    )
    return serialization.NoEncryption()


def _write_new(path: Path, data: bytes, mode: int = 0o644) -> None:
    # O_EXCL: two concurrent `init`s cannot both believe they created the CA.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _name(*parts: tuple[ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in parts])


def init_ca(directory: Path, ocsp_url: str | None = None) -> CaMaterial:
    """Create a root CA and its delegated OCSP signer in ``directory``.

    Refuses (:class:`CaExists`) when ``directory`` already holds any CA file.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for name in (CA_CERT, CA_KEY, OCSP_CERT, OCSP_KEY, DB):
        if (directory / name).exists():
            raise CaExists(f"{directory / name} exists: refusing to overwrite an existing CA")
    now = _utc_now()
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = _name(
        (NameOID.COUNTRY_NAME, "JP"),
        (NameOID.ORGANIZATION_NAME, "JPKI"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "Kofu JPKI Certification Authority"),
        (NameOID.COMMON_NAME, f"Kofu JPKI Root CA {secrets.token_hex(4)}"),
    )
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ocsp_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ocsp_cert = (
        x509.CertificateBuilder()
        .subject_name(
            _name(
                (NameOID.COUNTRY_NAME, "JP"),
                (NameOID.ORGANIZATION_NAME, "JPKI"),
                (NameOID.COMMON_NAME, "Kofu JPKI OCSP Responder"),
            )
        )
        .issuer_name(ca_name)
        .public_key(ocsp_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + CARD_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
        # RFC 6960 4.2.2.2.1: relying parties need not check the signer's own status.
        .add_extension(x509.OCSPNoCheck(), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ocsp_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    encryption = _key_encryption()
    pem = serialization.Encoding.PEM
    pkcs8 = serialization.PrivateFormat.PKCS8
    try:
        _write_new(directory / CA_KEY, ca_key.private_bytes(pem, pkcs8, encryption), 0o600)
        _write_new(directory / OCSP_KEY, ocsp_key.private_bytes(pem, pkcs8, encryption), 0o600)
        _write_new(directory / CA_CERT, ca_cert.public_bytes(pem))
        _write_new(directory / OCSP_CERT, ocsp_cert.public_bytes(pem))
        (directory / CONFIG).write_text(json.dumps({"ocsp_url": ocsp_url}, indent=2) + "\n")
    except FileExistsError as e:
        raise CaExists(f"{e.filename} appeared while creating the CA: refusing to overwrite") from e
    CertStore(directory / DB).close()
    return CaMaterial(directory, ca_cert, ca_key, ocsp_cert, ocsp_key, ocsp_url)


def _load_key(path: Path) -> rsa.RSAPrivateKey:
    passphrase = os.environ.get(PASSPHRASE_ENV)
    try:
        key = serialization.load_pem_private_key(
            path.read_bytes(), password=passphrase.encode() if passphrase else None
        )
    except (ValueError, TypeError) as e:
        raise CaError(f"cannot load {path}: {e} (is {PASSPHRASE_ENV} right?)") from e
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CaError(f"{path} is not an RSA key")
    return key


def load_certificate(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as e:
        raise CaError(f"cannot load certificate {path}: {e}") from e


def load_ca(directory: Path) -> CaMaterial:
    if not (directory / CA_CERT).exists():
        raise CaNotFound(f"no CA in {directory}: run `kofu jpki init {directory}` first")
    try:
        config = json.loads((directory / CONFIG).read_text())
    except (OSError, ValueError):
        config = {}
    return CaMaterial(
        directory=directory,
        ca_cert=load_certificate(directory / CA_CERT),
        ca_key=_load_key(directory / CA_KEY),
        ocsp_cert=load_certificate(directory / OCSP_CERT),
        ocsp_key=_load_key(directory / OCSP_KEY),
        ocsp_url=config.get("ocsp_url"),
    )


def open_store(directory: Path) -> CertStore:
    if not (directory / CA_CERT).exists():
        raise CaNotFound(f"no CA in {directory}: run `kofu jpki init {directory}` first")
    return CertStore(directory / DB)


def _utf8_string(value: str) -> bytes:
    """DER of a UTF8String (tag 12), the value of each otherName above."""
    body = value.encode("utf-8")
    n = len(body)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return b"\x0c" + length + body


def _end_entity(
    ca: CaMaterial,
    public_key: rsa.RSAPublicKey,
    kind: str,
    extra: list[tuple[x509.ExtensionType, bool]],
) -> x509.Certificate:
    now = _utc_now()
    ou = "JPKI for user authentication" if kind == "auth" else "JPKI for digital signature"
    # The subject carries no personal data: a random name, as on the real card.
    subject = _name(
        (NameOID.COUNTRY_NAME, "JP"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
        (NameOID.COMMON_NAME, secrets.token_hex(10).upper()),
    )
    ca_ski = ca.ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + CARD_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
    )
    if ca.ocsp_url:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [x509.AccessDescription(x509.oid.AuthorityInformationAccessOID.OCSP,
                                        x509.UniformResourceIdentifier(ca.ocsp_url))]
            ),
            critical=False,
        )
    for ext, critical in extra:
        builder = builder.add_extension(ext, critical=critical)
    return builder.sign(ca.ca_key, hashes.SHA256())


def _key_usage(
    *, signature: bool = False, non_repudiation: bool = False, ca: bool = False
) -> x509.KeyUsage:
    """Key usage with only the named bits set; ``ca``: signing certificates and CRLs."""
    return x509.KeyUsage(
        digital_signature=signature, content_commitment=non_repudiation, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
        encipher_only=False, decipher_only=False,
    )


def issue_card(directory: Path, holder: Holder, pin: str, password: str, out: Path) -> IssuedCard:
    """Issue both certificates for ``holder`` and write a virtual card to ``out``.

    1. Check the PIN (4 digits) and password (6–16 upper-case letters and digits).
    2. Generate the two RSA-2048 key pairs (on a real card they never leave the chip).
    3. Issue the user-authentication certificate (no personal data) and the
       signing certificate (the four basic items in subjectAltName).
    4. Write the card file, its keys encrypted under the PIN and the password.
    5. Record both certificates, with municipality and resident link.
    """
    from kofu.jpki.cardfile import create_card_file, validate_password, validate_pin

    # 1.
    validate_pin(pin)
    validate_password(password)
    if out.exists():
        raise CaError(f"{out} exists: refusing to overwrite a card")
    ca = load_ca(directory)
    # 2.
    auth_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sign_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    # 3.
    auth_cert = _end_entity(
        ca,
        auth_key.public_key(),
        "auth",
        [
            (_key_usage(signature=True, non_repudiation=False), True),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False),
        ],
    )
    san = x509.SubjectAlternativeName(
        [
            x509.OtherName(OID_JPKI_NAME, _utf8_string(holder.name)),
            x509.OtherName(OID_JPKI_SEX, _utf8_string(_SEX_CODES[holder.sex])),
            x509.OtherName(OID_JPKI_BIRTH_DATE, _utf8_string(holder.birth_date.strftime("%Y%m%d"))),
            x509.OtherName(OID_JPKI_ADDRESS, _utf8_string(holder.address)),
        ]
    )
    sign_cert = _end_entity(
        ca,
        sign_key.public_key(),
        "sign",
        [(_key_usage(signature=True, non_repudiation=True), True), (san, False)],
    )
    # 4.
    create_card_file(out, auth_cert, auth_key, sign_cert, sign_key, pin=pin, password=password)
    # 5.
    store = open_store(directory)
    try:
        for kind, cert in (("auth", auth_cert), ("sign", sign_cert)):
            store.add(
                CertRecord(
                    serial=serial_hex(cert.serial_number),
                    kind="auth" if kind == "auth" else "sign",
                    not_before=cert.not_valid_before_utc,
                    not_after=cert.not_valid_after_utc,
                    municipality=holder.municipality,
                    resident_link=holder.resident_link,
                    der=cert.public_bytes(serialization.Encoding.DER),
                )
            )
    finally:
        store.close()
    return IssuedCard(
        card=out,
        auth_serial=serial_hex(auth_cert.serial_number),
        sign_serial=serial_hex(sign_cert.serial_number),
        resident_link=holder.resident_link,
        municipality=holder.municipality,
    )


def revoke(directory: Path, serial: str, reason: str) -> CertRecord:
    """Revoke one certificate (auth and sign are revoked independently)."""
    if reason not in REVOCATION_REASONS:
        raise CaError(f"unknown reason {reason!r}; one of {', '.join(REVOCATION_REASONS)}")
    try:
        normalised = normalise_serial(serial)
    except ValueError as e:
        raise CaError(str(e)) from e
    store = open_store(directory)
    try:
        return store.revoke(normalised, reason, _utc_now())
    finally:
        store.close()


def openssl_index(directory: Path) -> str:
    """The CA's records as an OpenSSL ``index.txt`` (for ``openssl ocsp -index``)."""
    store = open_store(directory)
    lines = []
    try:
        for r in store.all():
            cert = x509.load_der_x509_certificate(r.der)
            subject = "/" + "/".join(
                f"{a.rfc4514_attribute_name}={a.value!s}" for a in cert.subject
            )
            expiry = r.not_after.astimezone(UTC).strftime("%y%m%d%H%M%SZ")
            serial = r.serial.upper()
            serial = serial if len(serial) % 2 == 0 else "0" + serial
            if r.revoked_at is None:
                lines.append(f"V\t{expiry}\t\t{serial}\tunknown\t{subject}")
            else:
                when = r.revoked_at.astimezone(UTC).strftime("%y%m%d%H%M%SZ")
                lines.append(f"R\t{expiry}\t{when},{r.reason}\t{serial}\tunknown\t{subject}")
    finally:
        store.close()
    return "\n".join(lines) + ("\n" if lines else "")
