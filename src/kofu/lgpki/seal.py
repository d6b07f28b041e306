"""The e-seal (電子契印): a PAdES signature by the municipality over a certificate PDF.

>>> sealer = Sealer.from_files(seal.cert_path, seal.key_path, seal.chain)  # doctest: +SKIP
>>> sealed = sealer.seal(rendered.pdf)                                      # doctest: +SKIP
>>> info = check_seal(sealed, [ca.ca_path])                                # doctest: +SKIP
>>> info.municipality_code, info.binding                                    # doctest: +SKIP
('282286', '3f…')

The signature is PAdES baseline B-B (SubFilter ETSI.CAdES.detached, SHA-256)
and covers the whole file. There is no timestamp (B-T): no time-stamping
authority is reachable offline, and the certificate is printed and verified
within seconds of sealing, so the signer's claimed time is enough here. The
claimed time is reported as ``signed_at``, nothing more.

The sealer loads its key once and reuses it, reserves a fixed room for the
signature (no trial signature per call) and builds the CMS container from
precomputed DER (:mod:`kofu.lgpki._cms`): about 2 ms per seal instead of
pyHanko's default of 20–90 ms.

Verification (:func:`check_seal`) is run by the center on every print job
before it hands a document to a kiosk, so it must fail closed and be quick:

1. Parse the PDF; anything unreadable is ``SealInvalid``.
2. Exactly one signature field must be signed.
3. The CMS signature must be intact (the digest matches the signed bytes) and
   valid (the signature verifies with the signer certificate's key).
4. The signature must cover the entire file: nothing may follow it, not even
   an incremental update (a later revision could change what is shown).
5. The signer certificate must chain to one of the trust roots, be valid now,
   and allow digital signatures and non-repudiation. Revocation is not
   checked: this CA publishes no CRL or OCSP (documented in kofu.lgpki.ca).
6. The document keywords must carry ``kofu-binding:<64 hex>``; because of
   step 4 they are covered by the signature.

Validation contexts are cached per set of trust roots, so repeated calls do not
rebuild the certificate registry or re-validate a known chain from scratch.

Exceptions::

    Exception
     └── SealError               any failure of this module
          ├── SealerUnavailable  the seal key or certificate cannot be loaded
          └── SealInvalid        a document fails verification; the message
                                  says which step and what to do
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kofu.lgpki._cms import FastCmsSigner

__all__ = [
    "SEAL_FIELD",
    "SealError",
    "SealInfo",
    "SealInvalid",
    "Sealer",
    "SealerUnavailable",
    "check_seal",
]

SEAL_FIELD: Final = "KofuSeal"
_BINDING_RE: Final = re.compile(r"kofu-binding:([0-9a-f]{64})(?![0-9a-f])")


class SealError(Exception):
    """A failure of the e-seal."""


class SealerUnavailable(SealError):
    """The seal certificate or key cannot be loaded."""


class SealInvalid(SealError):
    """A document's seal does not verify; the message names the failed step."""


@dataclass(frozen=True)
class SealInfo:
    """What a verified seal says."""

    signer_subject: str
    """The seal certificate's subject, RFC 4514 (e.g. ``CN=加東市長,2.5.4.5=282286,O=加東市,C=JP``)."""
    municipality_code: str | None
    """The subject's serialNumber: the municipality code of a seal certificate."""
    binding: str
    """The 64-hex binding read from the document keywords."""
    signed_at: datetime | None
    """The time the signer claims (no timestamp authority vouches for it)."""


class Sealer:
    """Seals PDFs with one municipality's e-seal certificate; the key is loaded once.

    pyHanko lays out the signature dictionary, the byte range and its digest;
    the CMS container comes from :class:`kofu.lgpki._cms.FastCmsSigner`, which
    encodes the constant parts once (pyHanko's own container builder re-encodes
    certificates and attributes each time and took about 15 of a seal's 20 ms).
    """

    def __init__(self, signer: Any, cms_signer: FastCmsSigner) -> None:
        self._signer = signer
        self._cms = cms_signer
        # Room for the CMS container, fixed up front: otherwise pyHanko signs a
        # dummy container on every call just to measure it. Our container's size
        # varies only with the signature value (an ECDSA signature is 70–72
        # bytes in DER), so a trial container plus a small margin always fits;
        # an overflow would fail loudly in pyHanko, never silently. Keeping the
        # reserve tight matters: verifiers read the zero padding byte by byte.
        trial = len(cms_signer.sign_digest(bytes(32)))
        # pyHanko counts hex digits of /Contents: two per byte.
        self._bytes_reserved = 2 * (trial + 32)

    @classmethod
    def from_files(
        cls,
        cert_path: Path | str,
        key_path: Path | str,
        chain_paths: Iterable[Path | str] = (),
    ) -> Sealer:
        """Load the seal certificate, its key, and the chain to embed in signatures."""
        from cryptography.hazmat.primitives.asymmetric import ec, rsa
        from pyhanko.sign import signers

        chain = [str(p) for p in chain_paths]
        for p in (cert_path, key_path, *chain):
            if not Path(p).is_file():
                raise SealerUnavailable(f"seal file {p} does not exist")
        try:
            signer = signers.SimpleSigner.load(  # type: ignore[no-untyped-call]  # pyHanko leaves load() unannotated
                key_file=str(key_path), cert_file=str(cert_path), ca_chain_files=chain
            )
            cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
            key = serialization.load_pem_private_key(Path(key_path).read_bytes(), None)
            chain_certs = [
                c for p in chain for c in x509.load_pem_x509_certificates(Path(p).read_bytes())
            ]
        except Exception as e:  # pyHanko and cryptography raise assorted types here
            raise SealerUnavailable(
                f"cannot load the seal key {key_path} with certificate {cert_path}: {e}"
            ) from e
        if signer is None:  # pyHanko logs and returns None on unreadable files
            raise SealerUnavailable(
                f"cannot load the seal key {key_path} with certificate {cert_path}"
            )
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise SealerUnavailable(f"{key_path}: a seal key must be ECDSA or RSA")
        spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        if key.public_key().public_bytes(*spki) != cert.public_key().public_bytes(*spki):
            raise SealerUnavailable(f"{key_path} is not the key of {cert_path}")
        return cls(signer, FastCmsSigner(key, cert, chain_certs))

    def seal(self, pdf: bytes) -> bytes:
        """Return ``pdf`` with a PAdES signature covering all of it."""
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign import fields, signers
        from pyhanko.sign.signers.pdf_signer import PdfTBSDocument

        try:
            writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
            meta = signers.PdfSignatureMetadata(
                field_name=SEAL_FIELD,
                md_algorithm="sha256",
                subfilter=fields.SigSeedSubFilter.PADES,
                reason="電子契印",
            )
            pdf_signer = _ClockedPdfSigner(meta, signer=self._signer)
            prepared, _tbs, output = _run(
                pdf_signer.async_digest_doc_for_signing(writer, bytes_reserved=self._bytes_reserved)
            )
            cms = self._cms.sign_digest(prepared.document_digest)
            _run(PdfTBSDocument.async_finish_signing(output, prepared, cms))
        except Exception as e:  # malformed input PDFs surface as many pyHanko types
            raise SealError(f"cannot seal this PDF: {type(e).__name__}: {e}") from e
        sealed: bytes = output.getvalue()
        return sealed


def _clocked_pdf_signer() -> type:
    from pyhanko.sign import signers

    class ClockedPdfSigner(signers.PdfSigner):
        """pyHanko's signer, with the signing time (/M) taken from the service clock."""

        def init_signing_session(self, pdf_out: Any, existing_fields_only: bool = False) -> Any:
            from kofu import clock

            session = super().init_signing_session(pdf_out, existing_fields_only)
            session.system_time = clock.now()
            return session

    return ClockedPdfSigner


def _ClockedPdfSigner(meta: Any, *, signer: Any) -> Any:  # noqa: N802  # used as a class
    global _clocked_class
    if _clocked_class is None:
        _clocked_class = _clocked_pdf_signer()
    return _clocked_class(meta, signer=signer)


_clocked_class: type | None = None


# -- verification -------------------------------------------------------------

_contexts: dict[tuple[bytes, ...], Any] = {}
_contexts_lock = threading.Lock()
_loop_local = threading.local()


def _load_root(root: x509.Certificate | Path | str | bytes) -> bytes:
    """A trust root as DER bytes."""
    if isinstance(root, x509.Certificate):
        return root.public_bytes(serialization.Encoding.DER)
    try:
        data = root if isinstance(root, bytes) else Path(root).read_bytes()
    except OSError as e:
        raise SealError(f"cannot read trust root {root!r}: {e}") from e
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data).public_bytes(serialization.Encoding.DER)
        return x509.load_der_x509_certificate(data).public_bytes(serialization.Encoding.DER)
    except ValueError as e:
        raise SealError(f"trust root {root!r:.80} is not a certificate: {e}") from e


def _context_for(roots: Sequence[x509.Certificate | Path | str | bytes]) -> Any:
    from asn1crypto import x509 as asn1_x509
    from pyhanko_certvalidator import ValidationContext

    if not roots:
        raise SealError("check_seal needs at least one trust root")
    key = tuple(sorted(_load_root(r) for r in roots))
    with _contexts_lock:
        ctx = _contexts.get(key)
        if ctx is None:
            ctx = ValidationContext(
                trust_roots=[asn1_x509.Certificate.load(der) for der in key],
                allow_fetching=False,
                # The LGPKI-role CA publishes no revocation data (see step 5).
                revocation_mode="soft-fail",
            )
            _contexts[key] = ctx
    return ctx


def _run(coro: Any) -> Any:
    """Run a coroutine on this thread's own loop (cheaper than asyncio.run per call)."""
    loop = getattr(_loop_local, "loop", None)
    if loop is None:
        loop = asyncio.new_event_loop()
        _loop_local.loop = loop
    return loop.run_until_complete(coro)


def check_seal(
    pdf: bytes, trust_roots: Sequence[x509.Certificate | Path | str | bytes]
) -> SealInfo:
    """Verify the e-seal of ``pdf`` against ``trust_roots``; raises SealInvalid.

    ``trust_roots`` are certificates, or paths to PEM/DER files, or PEM/DER bytes.
    The numbered steps are in the module docstring.
    """
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import SignatureCoverageLevel
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko.sign.validation.pdf_embedded import async_validate_pdf_signature

    context = _context_for(trust_roots)
    if not isinstance(pdf, bytes | bytearray | memoryview):
        raise SealInvalid(f"expected PDF bytes, got {type(pdf).__name__}")
    pdf = bytes(pdf)

    # 1. Parse.
    if not pdf.lstrip()[:5] == b"%PDF-":
        raise SealInvalid("not a PDF file (no %PDF- header); was the right file sent?")
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        signatures = reader.embedded_signatures
    except (PdfError, ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
        raise SealInvalid(f"the PDF cannot be read ({type(e).__name__}: {e}); it is damaged") from e
    except Exception as e:  # any other parser failure is still a bad document
        raise SealInvalid(f"the PDF cannot be read ({type(e).__name__}: {e}); it is damaged") from e

    # 2. Exactly one seal.
    if not signatures:
        raise SealInvalid("the PDF is not sealed (no signature); re-issue it from the issuer")
    if len(signatures) != 1:
        raise SealInvalid(
            f"the PDF carries {len(signatures)} signatures; a certificate has one seal"
        )
    sig = signatures[0]

    # 3.–5. Integrity, signature validity, coverage, trust. The diff analysis is
    # skipped because step 4 refuses any revision after the signature anyway.
    try:
        status = _run(
            async_validate_pdf_signature(sig, signer_validation_context=context, skip_diff=True)
        )
    except (SignatureValidationError, PdfError, ValueError, KeyError, TypeError) as e:
        raise SealInvalid(f"the seal cannot be validated: {e}; the document is damaged") from e
    except Exception as e:
        raise SealInvalid(f"the seal cannot be validated ({type(e).__name__}: {e})") from e

    if not status.intact:
        raise SealInvalid(
            "the signed content was changed after sealing (digest mismatch); do not print it"
        )
    if not status.valid:
        raise SealInvalid("the seal's signature does not verify; do not print the document")
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        raise SealInvalid(
            "the seal does not cover the entire file (data was appended after sealing); "
            "do not print it"
        )
    if not status.trusted:
        raise SealInvalid(
            "the seal certificate does not chain to a trusted LGPKI root "
            f"(signer: {status.signing_cert.subject.human_friendly}); check the CA bundle"
        )
    if not status.bottom_line:
        raise SealInvalid(f"the seal is not acceptable: {status.summary()}")

    # 6. The binding, from the (now signed) document keywords.
    keywords = _keywords(reader)
    match = _BINDING_RE.search(keywords)
    if match is None:
        raise SealInvalid(
            "the sealed document carries no kofu-binding keyword; it was not issued by Kofu"
        )

    cert = x509.load_der_x509_certificate(status.signing_cert.dump())
    serials = cert.subject.get_attributes_for_oid(x509.NameOID.SERIAL_NUMBER)
    code = serials[0].value if serials else None
    return SealInfo(
        signer_subject=cert.subject.rfc4514_string(),
        municipality_code=code if isinstance(code, str) else None,
        binding=match.group(1),
        signed_at=status.signer_reported_dt,
    )


def _keywords(reader: Any) -> str:
    try:
        info = reader.trailer_view.get("/Info")
        if info is None:
            return ""
        value = info.get_object().get("/Keywords")
        return "" if value is None else str(value)
    except Exception:  # a broken /Info means no binding, reported by the caller
        return ""
