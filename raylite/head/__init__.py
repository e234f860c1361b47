"""The head daemon: one per cluster. See raylite/head/state for its logic."""
