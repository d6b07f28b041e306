"""The LGPKI-role certificate authority: TLS and e-seal certificates for organisations.

In production, municipalities, the center and store operators hold certificates
of the 地方公共団体組織認証基盤 (LGPKI) and of commercial CAs. Kofu runs one
self-contained CA in that role, separate from the JPKI CA that issues card
certificates, so a card certificate can never pass where an organisation
certificate is required and vice versa.

>>> from pathlib import Path
>>> ca = LgpkiAuthority.init(Path("var/lgpki"))            # doctest: +SKIP
>>> server = ca.issue_server("issuer", ["127.0.0.1", "localhost"])  # doctest: +SKIP
>>> seal = ca.issue_seal("282286", "加東市")                # doctest: +SKIP
>>> seal.certificate.subject.rfc4514_string()               # doctest: +SKIP
'2.5.4.5=282286,O=加東市,CN=加東市長'

Subjects, so that relying parties can read who a certificate belongs to:

=========  ====================================================================
kind       subject and extensions
=========  ====================================================================
server     ``CN=<name>, O=Kofu``; serverAuth; SAN with every host (IP or DNS)
client     ``CN=<name>, O=<role>, OU=<org_id>, serialNumber=<org_id>``; clientAuth;
           role is one of center, store-operator, municipality. Read the
           organisation id from serialNumber (OU carries the same value for
           tools that only show OU).
seal       ``CN=<municipality>長, O=<municipality>, serialNumber=<code>``;
           digitalSignature + nonRepudiation (e-seal, 電子契印)
=========  ====================================================================

Keys are ECDSA P-256. For the e-seal this is the faster choice: an ECDSA P-256
signature costs about 0.03 ms with OpenSSL against about 1 ms for an RSA-2048
private-key operation, and every printed certificate is sealed once. Verifying
is slower for ECDSA (about 0.1 ms against 0.03 ms) but a seal is verified once
per print job too, so the sum still favours ECDSA, and its signatures and keys
are smaller. Keys are written unencrypted with mode 0600: this CA serves tests,
the demo and on-premises trials; a production deployment keeps seal keys in an
HSM behind the same :class:`~kofu.lgpki.seal.Sealer` interface.

Exceptions::

    Exception
     └── LgpkiError              any failure of this CA; the message says what to do
          ├── AuthorityExists    init() on a folder that already holds a CA
          ├── AuthorityMissing   open() on a folder without a CA
          └── InvalidRequest     a bad name, host, role or municipality code
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kofu import clock

__all__ = [
    "CLIENT_ROLES",
    "AuthorityExists",
    "AuthorityMissing",
    "InvalidRequest",
    "IssuedCert",
    "LgpkiAuthority",
    "LgpkiError",
]

CLIENT_ROLES: Final = ("center", "store-operator", "municipality")

CA_CERT: Final = "ca.pem"
CA_KEY: Final = "ca.key"
ISSUED_DIR: Final = "issued"

# Certificates are back-dated so that a service whose clock (KOFU_CLOCK) stands
# up to a year in the past still accepts them.
_BACKDATE: Final = timedelta(days=400)
_CA_LIFETIME: Final = timedelta(days=20 * 365)
_LEAF_LIFETIME: Final = timedelta(days=5 * 365)


class LgpkiError(Exception):
    """A failure of the LGPKI-role CA."""


class AuthorityExists(LgpkiError):
    """The folder already holds a CA; refusing to overwrite its key."""


class AuthorityMissing(LgpkiError):
    """The folder holds no CA (run ``kofu lgpki init DIR`` first)."""


class InvalidRequest(LgpkiError):
    """A certificate request with a bad name, host, role or code."""


@dataclass(frozen=True)
class IssuedCert:
    """A certificate and its key on disk, with the chain up to the root."""

    cert_path: Path
    key_path: Path
    chain: tuple[Path, ...]
    """PEM files of the issuing CAs, nearest first, ending with the root."""
    certificate: x509.Certificate


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` readable by the owner only, created that way (no window)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _check_text(what: str, value: str) -> str:
    if not value or not value.strip():
        raise InvalidRequest(f"{what} must not be empty")
    if len(value) > 64:
        raise InvalidRequest(f"{what} is longer than 64 characters: {value!r}")
    if any(ord(c) < 0x20 for c in value):
        raise InvalidRequest(f"{what} contains control characters: {value!r}")
    return value


_HOST_RE: Final = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9-]{1,63})(\.[A-Za-z0-9-]{1,63})*$")


def _san_entry(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not _HOST_RE.match(host):
        raise InvalidRequest(f"host {host!r} is neither an IP address nor a DNS name")
    return x509.DNSName(host)


class LgpkiAuthority:
    """A root CA kept in a folder: ``ca.pem``, ``ca.key`` and ``issued/``."""

    def __init__(
        self, directory: Path, certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey
    ) -> None:
        self.directory = directory
        self.certificate = certificate
        self._key = key

    @property
    def ca_path(self) -> Path:
        """The root certificate (PEM): what relying parties trust."""
        return self.directory / CA_CERT

    # -- creating and loading ------------------------------------------------

    @classmethod
    def init(cls, directory: Path, *, name: str = "Kofu LGPKI-role Root CA") -> LgpkiAuthority:
        """Create a new root CA in ``directory``; refuses when one is already there."""
        directory = Path(directory)
        if (directory / CA_CERT).exists() or (directory / CA_KEY).exists():
            raise AuthorityExists(
                f"{directory} already holds a CA ({CA_CERT}/{CA_KEY}); "
                "use it with open(), or choose an empty folder"
            )
        _check_text("CA name", name)
        directory.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Kofu"),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
        now = clock.now()
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + _CA_LIFETIME)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(ca=True), critical=True)
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256())
        )
        # Key first: a folder with ca.pem but no key would look like a usable CA.
        try:
            fd = os.open(directory / CA_KEY, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError as e:
            raise AuthorityExists(f"{directory / CA_KEY} appeared while creating the CA") from e
        with os.fdopen(fd, "wb") as f:
            f.write(_key_pem(key))
        (directory / CA_CERT).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cls(directory, cert, key)

    @classmethod
    def open(cls, directory: Path) -> LgpkiAuthority:
        """Load the CA kept in ``directory``."""
        directory = Path(directory)
        try:
            cert_pem = (directory / CA_CERT).read_bytes()
            key_pem = (directory / CA_KEY).read_bytes()
        except FileNotFoundError as e:
            raise AuthorityMissing(
                f"no CA in {directory} ({e.filename} missing); run `kofu lgpki init {directory}`"
            ) from e
        try:
            cert = x509.load_pem_x509_certificate(cert_pem)
            key = serialization.load_pem_private_key(key_pem, password=None)
        except ValueError as e:
            raise LgpkiError(f"the CA files in {directory} are unreadable: {e}") from e
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise LgpkiError(f"{directory / CA_KEY} is not an ECDSA key")
        return cls(directory, cert, key)

    # -- issuing ---------------------------------------------------------------

    def issue_server(
        self,
        name: str,
        hosts: list[str] | None = None,
        *,
        out: Path | None = None,
    ) -> IssuedCert:
        """A TLS server certificate for ``hosts`` (IP addresses and DNS names).

        ``hosts`` defaults to 127.0.0.1 and localhost. ``out`` is a path prefix:
        the files become ``<out>.pem`` and ``<out>.key`` (default: under ``issued/``).
        """
        hosts = ["127.0.0.1", "localhost"] if hosts is None else hosts
        _check_text("name", name)
        if not hosts:
            raise InvalidRequest("a server certificate needs at least one host")
        sans = [_san_entry(h) for h in hosts]
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Kofu"),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
        return self._issue(
            "server",
            subject,
            _key_usage(digital_signature=True, key_agreement=True),
            [ExtendedKeyUsageOID.SERVER_AUTH],
            sans,
            out,
        )

    def issue_client(
        self, name: str, role: str, org_id: str, *, out: Path | None = None
    ) -> IssuedCert:
        """A TLS client certificate for an organisation (see the subject table above)."""
        _check_text("name", name)
        if role not in CLIENT_ROLES:
            raise InvalidRequest(f"role must be one of {', '.join(CLIENT_ROLES)}, got {role!r}")
        _check_text("org_id", org_id)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, role),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, org_id),
                x509.NameAttribute(NameOID.SERIAL_NUMBER, org_id),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
        return self._issue(
            "client",
            subject,
            _key_usage(digital_signature=True, key_agreement=True),
            [ExtendedKeyUsageOID.CLIENT_AUTH],
            None,
            out,
        )

    def issue_seal(
        self,
        municipality_code: str,
        municipality_name: str,
        *,
        mayor_title: str | None = None,
        out: Path | None = None,
    ) -> IssuedCert:
        """An e-seal certificate (電子契印) for a municipality.

        The subject reads ``CN=<mayor_title>, O=<municipality_name>,
        serialNumber=<municipality_code>``; ``mayor_title`` defaults to the
        name followed by 長 (加東市 → 加東市長).
        """
        from kofu.domain.ids import InvalidIdentifier, validate_municipality_code

        try:
            validate_municipality_code(municipality_code)
        except InvalidIdentifier as e:
            raise InvalidRequest(str(e)) from e
        _check_text("municipality name", municipality_name)
        title = _check_text("mayor title", mayor_title or f"{municipality_name}長")
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, municipality_name),
                x509.NameAttribute(NameOID.SERIAL_NUMBER, municipality_code),
                x509.NameAttribute(NameOID.COMMON_NAME, title),
            ]
        )
        return self._issue(
            "seal",
            subject,
            _key_usage(digital_signature=True, content_commitment=True),
            None,
            None,
            out,
        )

    def _issue(
        self,
        kind: str,
        subject: x509.Name,
        key_usage: x509.KeyUsage,
        ext_key_usage: list[x509.ObjectIdentifier] | None,
        sans: list[x509.GeneralName] | None,
        out: Path | None,
    ) -> IssuedCert:
        key = ec.generate_private_key(ec.SECP256R1())
        now: datetime = clock.now()
        serial = x509.random_serial_number()
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(min(now + _LEAF_LIFETIME, self.certificate.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(key_usage, critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
        )
        if ext_key_usage:
            builder = builder.add_extension(x509.ExtendedKeyUsage(ext_key_usage), critical=False)
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        if out is None:
            issued = self.directory / ISSUED_DIR
            issued.mkdir(exist_ok=True)
            out = issued / f"{kind}-{serial:x}"
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        cert_path = out.with_name(out.name + ".pem")
        key_path = out.with_name(out.name + ".key")
        _write_private(key_path, _key_pem(key))
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return IssuedCert(cert_path, key_path, (self.ca_path,), cert)


def _key_usage(
    *, digital_signature: bool = False, content_commitment: bool = False,
    key_agreement: bool = False, ca: bool = False,
) -> x509.KeyUsage:
    """Key usage with only the named bits set; ``ca``: signing certificates and CRLs."""
    return x509.KeyUsage(
        digital_signature=digital_signature, content_commitment=content_commitment,
        key_encipherment=False, data_encipherment=False, key_agreement=key_agreement,
        key_cert_sign=ca, crl_sign=ca, encipher_only=False, decipher_only=False,
    )
