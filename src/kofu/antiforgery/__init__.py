"""The anti-forgery back side (what the center adds) and its verification.

>>> keyring = ScrambleKeyring.from_file(Path("keys/scramble-master.key"))  # doctest: +SKIP
>>> signer = QrSigner.load(Path("keys/qr"), "k2025")                          # doctest: +SKIP
>>> job = compose_print_job(front_pdf, serial=..., keyring=keyring, signer=signer, ...)  # doctest: +SKIP
>>> result = check_scan(back_png, front_png, keyring=keyring, jwks=published_keys(Path("keys/qr")))  # doctest: +SKIP

Modules: ``keys`` (scramble master key, QR signing keys, the published JWK
set), ``qr`` (the signed COSE_Sign1 payload), ``scramble`` (block permutation),
``printjob`` (the duplex print job), ``verify`` (a scan back to a verdict),
``simulate`` (print-and-scan simulation for tests and the benchmark),
``errors`` (the exception tree).
"""
