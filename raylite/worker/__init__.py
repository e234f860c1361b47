"""The worker daemon: one per machine. It runs tasks in executor processes and keeps the node's objects."""
