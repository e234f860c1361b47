"""The cluster token: where this process finds it, and how a call presents it.

No grpc here: an executor reads the token at start for its call port
(raylite/worker/executor_direct.py) and loads grpc only when user code makes
it a client. The token comes from, in order: an explicit argument,
$RAYLITE_TOKEN, or the token file that `raylite start --head` wrote on this
machine (readable only by its user). raylite/auth.py checks it on every server
and adds it to every channel.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from raylite import config

METADATA_KEY = "raylite-token"
ENV = "RAYLITE_TOKEN"

HOW_TO_PASS = (
    "set RAYLITE_TOKEN to the cluster's token (`raylite start --head` printed where it is kept), "
    "or connect with address='auto' on a machine of the cluster"
)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_file() -> Path:
    return Path(config.runtime_dir()) / "token"


def write_token_file(token: str) -> Path:
    path = token_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token)
    return path


def find_token(explicit: str | None = None) -> str | None:
    """The token to present: explicit, else $RAYLITE_TOKEN, else this machine's token file."""
    if explicit:
        return explicit
    if os.environ.get(ENV):
        return os.environ[ENV]
    try:
        return token_file().read_text().strip() or None
    except OSError:
        return None


def call_metadata(token: str | None) -> tuple[tuple[str, str], ...]:
    """The metadata a stream-stream call passes itself (`stub.NodeStream(metadata=...)`): the token."""
    return ((METADATA_KEY, token),) if token else ()
