"""JPKI (公的個人認証): CA, virtual card, OCSP responder, directory; see docs/architecture.md."""
