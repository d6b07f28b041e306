"""The touch kiosk residents use (``kofu serve kiosk``): screens in a browser on
the kiosk itself, devices behind small interfaces (``devices``), texts from
message catalogs (``catalog``), on top of the headless kiosk's
:mod:`kofu.kiosk.client` and :mod:`kofu.kiosk.flow`."""
