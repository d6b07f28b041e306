"""The headless reference kiosk; see docs/architecture.md (the boxes, the path of one certificate)."""
