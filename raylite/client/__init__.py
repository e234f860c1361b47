"""The client API: what drivers and executors call. raylite/__init__.py re-exports it."""
