"""The LGPKI-role CA (TLS and e-seal certificates); see docs/architecture.md (the trust model)."""
