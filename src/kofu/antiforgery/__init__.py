"""The anti-forgery back side the center adds, and its verification.

Modules: :mod:`keys` (scramble master key, QR signing keys), :mod:`qr`
(COSE_Sign1 QR payload), :mod:`printjob` (duplex print PDF with the
scrambled image, copy-evident pattern, latent image and QR),
:mod:`verify` (scan loading, QR check, restore, tamper regions).
Errors are drawn in :mod:`kofu.antiforgery.errors`.
"""
