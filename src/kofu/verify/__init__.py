"""Verification of a printed certificate, for receivers (証明書復号画像表示システム).

Two ways in, one core (kofu.antiforgery.verify.check_scan):

    kofu verify BACK.png [--front FRONT.png] [--json]     (kofu.verify.cli)
    kofu serve verify --config verify.toml                (kofu.verify.serve, app)

The web site (``app``) takes uploads in memory only (``uploads``) and is
configured by a TOML file (``settings``).
"""
