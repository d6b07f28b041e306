"""Pure domain rules: identifiers, era dates, fees. No I/O, no HTTP, no SQL."""
