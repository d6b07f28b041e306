"""Kofu (交付): an open implementation of the convenience-store certificate issuance network.

The subpackages are the boxes of docs/architecture.md:

- ``kofu.domain``: pure rules (ids, era dates, fees); no I/O.
- ``kofu.jpki``: the JPKI authority, the virtual My Number card, the OCSP responder, the directory.
- ``kofu.lgpki``: the second CA (municipalities and store operators: TLS and e-seals).
- ``kofu.render``: certificate layouts rendered to PDF with typst.
- ``kofu.widearea``: the wide-area interface (WSDL/XSD) shared by issuer and center.
- ``kofu.issuer``: the municipality's certificate issuance server (証明発行サーバ).
- ``kofu.center``: the certificate issuance center (証明書交付センター), the kiosk API.
- ``kofu.kiosk``: the reference (headless) kiosk.
- ``kofu.antiforgery``: the back side the center adds, and reading it back from a scan.
- ``kofu.verify``: the verification site for receivers and ``kofu verify``.
- ``kofu.demo``: the demo world (``kofu demo``, the end-to-end tests, the benchmarks).
"""

__version__ = "0.1.0"
