"""Tunables shared by every raylite process. Change them here, not at call sites."""

from __future__ import annotations

import os
import tempfile

# Bumped whenever a message changes meaning; peers with another number are refused.
PROTOCOL_VERSION = 1

# Values up to this many serialized bytes travel inside messages; larger ones
# go to a node's shared-memory store and only their location travels.
INLINE_MAX_BYTES = 100 * 1024

# Chunk size of peer-to-peer object transfers.
TRANSFER_CHUNK_BYTES = 1024 * 1024

# gRPC message limit: inline values and chunks are far smaller than this.
GRPC_MAX_MESSAGE_BYTES = 64 * 1024 * 1024

GRPC_OPTIONS = [
    ("grpc.max_send_message_length", GRPC_MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", GRPC_MAX_MESSAGE_BYTES),
    ("grpc.so_reuseport", 0),
]

DEFAULT_HEAD_PORT = 6380

# How long init(address=...) waits for a head to answer before ConnectionError.
CONNECT_TIMEOUT_S = 5.0

# How long a freshly started daemon may take to report ready.
DAEMON_START_TIMEOUT_S = 30.0

# Default number of retries of a task whose executor process died.
DEFAULT_MAX_RETRIES = 3


def runtime_dir() -> str:
    """Where session files and logs live (one folder per machine and user)."""
    # Not plain "raylite": a folder of that name beside a user's script would
    # shadow the package as a namespace package.
    return os.environ.get("RAYLITE_TMPDIR") or os.path.join(tempfile.gettempdir(), f"raylite-{os.getuid()}")


def shm_root() -> str:
    """Where node object stores live: shared memory when the machine has it."""
    return os.environ.get("RAYLITE_SHM_DIR") or ("/dev/shm" if os.path.isdir("/dev/shm") else runtime_dir())
