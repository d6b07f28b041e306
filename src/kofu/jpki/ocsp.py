"""The OCSP responder (RFC 6960): pre-signed responses, so a request costs a lookup.

>>> responder = OcspResponder.load(Path("var/jpki"))
>>> responder.refresh_all()            # sign a response for every certificate
>>> der = responder.respond(request_der)

How it stays fast: for every certificate the CA issued, a response is signed
ahead of time (thisUpdate now, nextUpdate :data:`RESPONSE_VALIDITY` later) and
kept in a dict keyed by (CertID hash algorithm, serial). A background thread
(:class:`Refresher`) re-signs everything every ``refresh_seconds`` and, about
once a second, asks SQLite whether another process changed the database
(``PRAGMA data_version``); after ``kofu jpki revoke`` only the changed serials
are re-signed, so a revocation shows within about a second. This is the design
of Let's Encrypt's Boulder. Two kinds of request still cost a signature: one
carrying a nonce (the nonce must be echoed, signed), and one for a serial the
CA never issued (its answer is then cached, within a bound).

What a request gets (the responder's checks, in order):

1. A body over 64 KiB, or one that is not a DER OCSPRequest with exactly one
   CertID → ``malformedRequest`` (several CertIDs in one request are refused
   this way too: RFC 5019's lightweight profile sends one, and so do browsers).
2. A CertID hashed with anything but SHA-1 or SHA-2 (e.g. MD5) → ``malformedRequest``.
3. A CertID naming another issuer → ``unauthorized`` (RFC 5019 2.2.3).
4. A nonce → a freshly signed response that echoes it.
5. Otherwise the cached response: ``good``, ``revoked`` (time and reason) or ``unknown``.

Responses are signed by the delegated OCSP signer (``ocsp-signer.pem``,
id-kp-OCSPSigning, ocsp-nocheck) with SHA-256 and include its certificate.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp

from kofu import clock
from kofu.jpki.ca import DB, load_ca
from kofu.jpki.errors import JpkiError, OcspError
from kofu.jpki.store import CertRecord, CertStore

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 64 * 1024
RESPONSE_VALIDITY = timedelta(hours=1)
DEFAULT_REFRESH_SECONDS = 300.0
POLL_SECONDS = 1.0
MAX_UNKNOWN_CACHED = 10_000

_SUPPORTED_HASHES: tuple[hashes.HashAlgorithm, ...] = (
    hashes.SHA1(),
    hashes.SHA256(),
    hashes.SHA384(),
    hashes.SHA512(),
)

_CAMEL_TO_FLAG = {
    "unspecified": x509.ReasonFlags.unspecified,
    "keyCompromise": x509.ReasonFlags.key_compromise,
    "cACompromise": x509.ReasonFlags.ca_compromise,
    "affiliationChanged": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessationOfOperation": x509.ReasonFlags.cessation_of_operation,
    "certificateHold": x509.ReasonFlags.certificate_hold,
    "removeFromCRL": x509.ReasonFlags.remove_from_crl,
    "privilegeWithdrawn": x509.ReasonFlags.privilege_withdrawn,
    "aACompromise": x509.ReasonFlags.aa_compromise,
}


def _error_response(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(serialization.Encoding.DER)


MALFORMED = _error_response(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
UNAUTHORIZED = _error_response(ocsp.OCSPResponseStatus.UNAUTHORIZED)
INTERNAL_ERROR = _error_response(ocsp.OCSPResponseStatus.INTERNAL_ERROR)


@dataclass(frozen=True)
class _Status:
    revoked_at: datetime | None
    reason: str | None


@dataclass(frozen=True)
class Answer:
    """What :meth:`OcspResponder.answer` decided, with the DER to send."""

    der: bytes
    cacheable: bool
    """True for a pre-signed response an HTTP cache may keep (no nonce, not an error)."""


class OcspResponder:
    def __init__(
        self,
        issuer: x509.Certificate,
        signer_cert: x509.Certificate,
        signer_key: rsa.RSAPrivateKey,
        store: CertStore,
    ) -> None:
        self.signer_cert = signer_cert
        self.signer_key = signer_key
        self.store = store
        # The issuer's name and key hashes under every algorithm we accept.
        self._issuer_hashes: dict[str, tuple[bytes, bytes]] = {}
        spki = issuer.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.PKCS1
        )
        name = issuer.subject.public_bytes()
        for alg in _SUPPORTED_HASHES:
            self._issuer_hashes[alg.name] = (_digest(alg, name), _digest(alg, spki))
        self._algorithms = {alg.name: alg for alg in _SUPPORTED_HASHES}
        self._statuses: dict[int, _Status] = {}
        self._cache: dict[tuple[str, int], bytes] = {}
        self._unknown: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._snapshot: tuple[dict[int, _Status], dict[tuple[str, int], bytes], OrderedDict[tuple[str, int], bytes]] = (
            self._statuses, self._cache, self._unknown
        )
        self._lock = threading.Lock()  # serialises refreshes, not lookups
        self._data_version = -1

    @classmethod
    def load(cls, directory: Path) -> OcspResponder:
        try:
            ca = load_ca(directory)
        except JpkiError as e:
            raise OcspError(f"cannot start the OCSP responder: {e}") from e
        return cls(ca.ca_cert, ca.ocsp_cert, ca.ocsp_key, CertStore(directory / DB))

    # Signing ------------------------------------------------------------------

    def _sign(self, alg_name: str, serial: int, status: _Status | None, nonce: bytes | None) -> bytes:
        name_hash, key_hash = self._issuer_hashes[alg_name]
        now = clock.now().astimezone(UTC).replace(microsecond=0)
        if status is None:
            cert_status, revoked_at, reason = ocsp.OCSPCertStatus.UNKNOWN, None, None
        elif status.revoked_at is None:
            cert_status, revoked_at, reason = ocsp.OCSPCertStatus.GOOD, None, None
        else:
            cert_status = ocsp.OCSPCertStatus.REVOKED
            revoked_at = status.revoked_at
            reason = _CAMEL_TO_FLAG.get(status.reason or "unspecified")
        builder = (
            ocsp.OCSPResponseBuilder()
            .add_response_by_hash(
                issuer_name_hash=name_hash,
                issuer_key_hash=key_hash,
                serial_number=serial,
                algorithm=self._algorithms[alg_name],
                cert_status=cert_status,
                this_update=now,
                next_update=now + RESPONSE_VALIDITY,
                revocation_time=revoked_at,
                revocation_reason=reason,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, self.signer_cert)
            .certificates([self.signer_cert])
        )
        if nonce is not None:
            builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
        response = builder.sign(self.signer_key, hashes.SHA256())
        return response.public_bytes(serialization.Encoding.DER)

    # Refreshing ---------------------------------------------------------------

    def _load_statuses(self) -> dict[int, _Status]:
        records: list[CertRecord] = list(self.store.all())
        return {int(r.serial, 16): _Status(r.revoked_at, r.reason) for r in records}

    def refresh_all(self) -> int:
        """Re-sign every certificate's response (SHA-1 CertIDs, what clients send); returns the count."""
        with self._lock:
            self._data_version = self.store.data_version()
            statuses = self._load_statuses()
            cache: dict[tuple[str, int], bytes] = {}
            for serial, status in statuses.items():
                cache[("sha1", serial)] = self._sign("sha1", serial, status, None)
            # Swap whole dicts: a lookup in another thread sees the old or the new, never half.
            self._statuses = statuses
            self._cache = cache
            self._unknown = OrderedDict()
            self._snapshot = (statuses, cache, self._unknown)
            return len(cache)

    def refresh_changed(self) -> int:
        """Re-sign only what changed since the last look; cheap when nothing did."""
        with self._lock:
            version = self.store.data_version()
            if version == self._data_version:
                return 0
            self._data_version = version
            statuses = self._load_statuses()
            changed = {s for s, st in statuses.items() if self._statuses.get(s) != st}
            changed |= set(self._statuses) - set(statuses)
            if not changed:
                return 0
            cache = dict(self._cache)
            for key in list(cache):
                if key[1] in changed:
                    del cache[key]
            for serial in changed:
                if serial in statuses:
                    cache[("sha1", serial)] = self._sign("sha1", serial, statuses[serial], None)
            self._statuses = statuses
            self._cache = cache
            self._unknown = OrderedDict()
            self._snapshot = (statuses, cache, self._unknown)
            log.info("re-signed %d OCSP responses after a database change", len(changed))
            return len(changed)

    # Answering ----------------------------------------------------------------

    def respond(self, body: bytes) -> bytes:
        return self.answer(body).der

    def answer(self, body: bytes) -> Answer:
        """Answer one DER OCSPRequest; never raises (errors become OCSP error responses)."""
        try:
            return self._answer(body)
        except Exception:  # a bug must cost one request an internalError, not the process
            log.exception("OCSP request failed")
            return Answer(INTERNAL_ERROR, False)

    def _answer(self, body: bytes) -> Answer:
        # 1. Size and syntax.
        if len(body) > MAX_REQUEST_BYTES:
            return Answer(MALFORMED, False)
        try:
            request = ocsp.load_der_ocsp_request(body)
            serial = request.serial_number
            name_hash = request.issuer_name_hash
            key_hash = request.issuer_key_hash
        except (ValueError, TypeError, NotImplementedError):
            # NotImplementedError: several CertIDs in one request, which cryptography
            # cannot answer in one response; RFC 5019 clients send one.
            return Answer(MALFORMED, False)
        # 2. Hash algorithm of the CertID.
        try:
            alg_name = request.hash_algorithm.name
        except (UnsupportedAlgorithm, ValueError):
            return Answer(MALFORMED, False)
        if alg_name not in self._issuer_hashes:
            return Answer(MALFORMED, False)
        # 3. Our issuer?
        if self._issuer_hashes[alg_name] != (name_hash, key_hash):
            return Answer(UNAUTHORIZED, False)
        # 4. Nonce: sign now.
        try:
            nonce_ext = request.extensions.get_extension_for_class(x509.OCSPNonce)
        except x509.ExtensionNotFound:
            nonce_ext = None
        except ValueError:
            return Answer(MALFORMED, False)
        # One consistent generation: statuses and the responses signed from them are
        # swapped together by a refresh, so an answer signed from old statuses can
        # only land in the old generation's cache, which the swap throws away.
        statuses, cache, unknown_cache = self._snapshot
        if nonce_ext is not None:
            nonce = nonce_ext.value.nonce
            if not 1 <= len(nonce) <= 128:
                return Answer(MALFORMED, False)
            return Answer(self._sign(alg_name, serial, statuses.get(serial), nonce), False)
        # 5. The pre-signed response.
        key = (alg_name, serial)
        cached = cache.get(key)
        if cached is not None:
            return Answer(cached, True)
        status = statuses.get(serial)
        if status is not None:
            # A SHA-2 CertID for a known serial: sign once, keep it until the next refresh.
            der = self._sign(alg_name, serial, status, None)
            cache[key] = der
            return Answer(der, True)
        unknown = unknown_cache.get(key)
        if unknown is None:
            unknown = self._sign(alg_name, serial, None, None)
            unknown_cache[key] = unknown
            while len(unknown_cache) > MAX_UNKNOWN_CACHED:
                unknown_cache.popitem(last=False)
        return Answer(unknown, True)


def _digest(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    h = hashes.Hash(algorithm)
    h.update(data)
    return h.finalize()


class Refresher:
    """Background thread: poll the database every second, re-sign everything periodically."""

    def __init__(self, responder: OcspResponder, refresh_seconds: float = DEFAULT_REFRESH_SECONDS) -> None:
        self.responder = responder
        self.refresh_seconds = refresh_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ocsp-refresher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        last_full = clock.now()
        while not self._stop.wait(POLL_SECONDS):
            try:
                if (clock.now() - last_full).total_seconds() >= self.refresh_seconds:
                    n = self.responder.refresh_all()
                    last_full = clock.now()
                    log.info("re-signed all %d OCSP responses", n)
                else:
                    self.responder.refresh_changed()
            except Exception:  # keep serving the last good responses; try again next tick
                log.exception("OCSP refresh failed")
