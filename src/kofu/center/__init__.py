"""The certificate issuance center (証明書交付センター), the kiosk API; see docs/architecture.md."""
