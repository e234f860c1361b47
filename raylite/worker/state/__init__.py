"""The worker daemon's pure state: no I/O, tested without processes."""
