"""Pure state machines of the client: no I/O, no clock (tests/unit/test_purity.py checks)."""
