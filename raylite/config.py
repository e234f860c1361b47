"""Tunables shared by every raylite process. Change them here, not at call sites."""

from __future__ import annotations

import os
import tempfile

# Bumped whenever a message changes meaning; peers with another number are refused.
# 2: a node's store is one arena (objects are links into it, which version 1 cannot read)
# and objects from BULK_MIN_BYTES move over the bulk port (BulkTicket, unknown to 1).
# 3: node labels and label conditions on tasks, actors and bundles (a head of 2 would
# ignore the conditions and place the work anywhere).
PROTOCOL_VERSION = 3

# Values up to this many serialized bytes travel inside messages; larger ones
# go to a node's shared-memory store and only their location travels.
INLINE_MAX_BYTES = 100 * 1024

# The most return values one task may declare (num_returns); the head refuses more.
MAX_NUM_RETURNS = 100_000

# How long a node's store holds room reserved for a process that has not
# written its object yet; a writer that died lets the room go after this.
RESERVATION_LEASE_S = float(os.environ.get("RAYLITE_RESERVATION_LEASE_S", "60"))

# A reservation waiting for room wakes this long after the next lease's end
# (when expire can drop it), not exactly at it: a timer may fire a hair early.
RESERVATION_WAKE_SLACK_S = 0.01

# Threads of a node store for moving files between shared memory and disk
# (spills, restores, evictions), so the daemon's loop never waits on a copy.
STORE_IO_THREADS = 2

# The node's arena (raylite/worker/arena.py): the pages of the first
# ARENA_FIRST_BYTES are allocated at start, then ARENA_GROW_BYTES at a time as
# the store fills, ahead of need; never more than the store's capacity.
ARENA_FIRST_BYTES = int(os.environ.get("RAYLITE_ARENA_FIRST_BYTES", str(64 * 1024 * 1024)))
ARENA_GROW_BYTES = int(os.environ.get("RAYLITE_ARENA_GROW_BYTES", str(256 * 1024 * 1024)))

# At most this many threads wait for readers in other processes to let go of
# freed arena ranges; beyond them, the next allocation that finds no hole
# takes back what readers released meanwhile.
ARENA_FREE_WAITERS = 16

# How long a stopping daemon's gRPC server lets calls in progress finish
# before it cancels them.
SERVER_STOP_GRACE_S = 0.2

# How long a stopping worker daemon waits for each executor to exit after
# SIGKILL before it logs the executor as stuck and goes on.
EXECUTOR_EXIT_WAIT_S = 5.0

# Executors without a runtime environment are forked from one process per daemon that
# has imported them already (raylite/worker/fork_server.py): a few milliseconds each
# instead of 0.4-0.5 s of CPU. RAYLITE_FORK_SERVER=0 starts each from a fresh interpreter.
FORK_SERVER = os.environ.get("RAYLITE_FORK_SERVER", "1") not in ("", "0", "false", "False")

# Chunk size of peer-to-peer object transfers.
TRANSFER_CHUNK_BYTES = 1024 * 1024

# The bulk path (raylite/bulk.py): objects of at least BULK_MIN_BYTES move over a TCP
# (or TLS) connection opened with a one-time ticket instead of FetchObject's chunks;
# RAYLITE_BULK_MIN_BYTES=0 turns it off. Larger objects are split over up to
# BULK_MAX_CONNECTIONS connections of at least BULK_PART_MIN_BYTES each.
BULK_MIN_BYTES = int(os.environ.get("RAYLITE_BULK_MIN_BYTES", str(1024 * 1024)))
BULK_CONNECTIONS = int(os.environ.get("RAYLITE_BULK_CONNECTIONS", "1"))
BULK_MAX_CONNECTIONS = 8
BULK_PART_MIN_BYTES = 64 * 1024 * 1024
# A ticket is good this long after its issue (the reader connects right away).
BULK_TICKET_TTL_S = 30.0
# The holder waits this long for a connection's TLS handshake and hello; either side
# gives up on a connection silent this long.
BULK_HELLO_TIMEOUT_S = 5.0
BULK_IDLE_TIMEOUT_S = 2 * float(os.environ.get("RAYLITE_PEER_TIMEOUT_S", "5"))
# Threads of a worker daemon that send on bulk connections (the loop accepts, handshakes
# and reads the hello, so an idle connection holds no thread); connections still
# greeted at once, past which the oldest is dropped.
BULK_SERVE_THREADS = 8
BULK_MAX_GREETING = 1024
# A client with no store on its host reads large objects into buffers of its own; when the
# last view of one goes it keeps up to this many bytes of them for later reads (pages mapped
# already: raylite/pages.py Recycler); 0 keeps none.
CLIENT_KEEP_BUFFER_BYTES = int(os.environ.get("RAYLITE_CLIENT_KEEP_BUFFER_BYTES", str(2 << 30)))

# gRPC message limit, in both directions, of every server and channel: inline
# values and chunks are far smaller. A peer that sends a larger message gets
# RESOURCE_EXHAUSTED for that call; the daemon serves on. Every process of a
# cluster should use the same value.
GRPC_MAX_MESSAGE_BYTES = int(os.environ.get("RAYLITE_GRPC_MAX_MESSAGE_BYTES", str(64 * 1024 * 1024)))

# A peer whose connection stays silent this long (no answer to keepalive
# pings) is declared gone: the head marks a node dead, a transfer gives up.
PEER_TIMEOUT_S = float(os.environ.get("RAYLITE_PEER_TIMEOUT_S", "5"))
# Executor log files rotate by size, as Ray's logs (raylite/worker/state/log_rotation.py):
# a file past this many bytes becomes <name>.1 (0: never rotate), keeping this many backups.
LOGGING_ROTATE_BYTES = int(os.environ.get("RAYLITE_LOGGING_ROTATE_BYTES", str(512 * 1024 * 1024)))
LOGGING_ROTATE_BACKUP_COUNT = int(os.environ.get("RAYLITE_LOGGING_ROTATE_BACKUP_COUNT", "5"))

# The head logs each full garbage collection that stood its loop still at least this long
# (raylite/gc_watch.py); 0 logs every one.
GC_PAUSE_LOG_S = float(os.environ.get("RAYLITE_GC_PAUSE_LOG_S", "0.1"))
# A full collection of the head that takes this long has its survivors frozen, so that the
# next ones stay near this length (raylite/gc_watch.py: FreezePolicy); 0 turns that off.
GC_PAUSE_BUDGET_S = float(os.environ.get("RAYLITE_GC_PAUSE_BUDGET_S", "0.05"))
_KEEPALIVE_INTERVAL_MS = 1000

_COMMON_OPTIONS = [
    ("grpc.max_send_message_length", GRPC_MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", GRPC_MAX_MESSAGE_BYTES),
    ("grpc.keepalive_time_ms", _KEEPALIVE_INTERVAL_MS),
    ("grpc.keepalive_timeout_ms", int(PEER_TIMEOUT_S * 1000)),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
]
SERVER_OPTIONS = _COMMON_OPTIONS + [
    ("grpc.so_reuseport", 0),
    # accept the peers' keepalive pings at the rate they send them
    ("grpc.http2.min_ping_interval_without_data_ms", _KEEPALIVE_INTERVAL_MS // 2),
    ("grpc.http2.max_ping_strikes", 0),
]
CHANNEL_OPTIONS = _COMMON_OPTIONS + [
    # a lost head (or peer) is retried within 2 s of its return, not gRPC's default of minutes
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2000),
]

DEFAULT_HEAD_PORT = 6380
DEFAULT_DASHBOARD_PORT = 8265  # as Ray's
# finished tasks the head remembers for the state API, the dashboard and the timeline
TASK_HISTORY = int(os.environ.get("RAYLITE_TASK_HISTORY", "10000"))

# Metrics (raylite/util/metrics.py, raylite/head/metrics/): a process reports its user metrics
# and a worker daemon its traffic at most this often; the head keeps at most this many series
# of user metrics (more are dropped, with a warning in its log).
METRICS_REPORT_S = float(os.environ.get("RAYLITE_METRICS_REPORT_S", "1.0"))
METRICS_MAX_SERIES = int(os.environ.get("RAYLITE_METRICS_MAX_SERIES", "10000"))

# How long init(address=...) waits for a head to answer before ConnectionError.
CONNECT_TIMEOUT_S = 5.0

# How long a freshly started daemon may take to report ready.
DAEMON_START_TIMEOUT_S = 30.0

# After a head restart: how long the new head waits for clients and nodes to
# come back before it frees objects nobody re-announced and declares absent
# nodes' actors dead. Daemons and clients keep trying to reach a lost head
# for HEAD_RECONNECT_S before they give up.
HEAD_RECOVERY_S = float(os.environ.get("RAYLITE_HEAD_RECOVERY_S", "10"))
HEAD_RECONNECT_S = float(os.environ.get("RAYLITE_HEAD_RECONNECT_S", "60"))
# Between attempts to reach a lost head: the first wait, doubled up to the
# last. A session that lived STABLE_SESSION_S ends an outage: the next loss
# starts a new one with a full HEAD_RECONNECT_S.
RECONNECT_FIRST_DELAY_S = 0.05
RECONNECT_MAX_DELAY_S = 1.0
STABLE_SESSION_S = 5 * PEER_TIMEOUT_S

# Threads per process that read the values of resolved ObjectRef futures
# (ref.future(), `await ref`): a read may fetch from another node.
FUTURE_RESOLVER_THREADS = 4

# A remote function or actor class whose pickle is larger than this is sent to the cluster
# through the object store (its export carries only a reference to it) rather than inline.
FUNCTION_STORE_MIN_BYTES = 1024 * 1024
# As Ray's: above the first a function's or class's pickle earns a warning (it probably
# captures a large object from its scope), from the second on it is refused.
FUNCTION_SIZE_WARN_BYTES = 10**7
FUNCTION_SIZE_ERROR_BYTES = int(os.environ.get("FUNCTION_SIZE_ERROR_THRESHOLD", str(10**8)))
# How long an executor waits for a function or class stored in the object store.
STORED_FUNCTION_WAIT_S = 60.0

# Default number of retries of a task whose executor process died.
DEFAULT_MAX_RETRIES = 3

# A get or wait that has waited this long prints once, to stderr, why (what it waits for
# and why each is not done: raylite/head/state/explain.py); 0 turns that off. Read at
# each wait, so that RAYLITE_WAIT_EXPLAIN_S set after import counts.
WAIT_EXPLAIN_S = 30.0
# The most ids one explanation asks about (a get of more explains the first of them).
EXPLAIN_MAX_IDS = 10_000


def wait_explain_s() -> float:
    """The explanation threshold: RAYLITE_WAIT_EXPLAIN_S if set (seconds; 0: off), else WAIT_EXPLAIN_S."""
    text = os.environ.get("RAYLITE_WAIT_EXPLAIN_S", "")
    try:
        return max(0.0, float(text)) if text else WAIT_EXPLAIN_S
    except ValueError:
        return WAIT_EXPLAIN_S


def runtime_dir() -> str:
    """Where session files and logs live (one folder per machine and user)."""
    # Not plain "raylite": a folder of that name beside a user's script would
    # shadow the package as a namespace package.
    return os.environ.get("RAYLITE_TMPDIR") or os.path.join(tempfile.gettempdir(), f"raylite-{os.getuid()}")


def shm_root() -> str:
    """Where node object stores live: shared memory when the machine has it."""
    return os.environ.get("RAYLITE_SHM_DIR") or ("/dev/shm" if os.path.isdir("/dev/shm") else runtime_dir())


# Task leases (docs/design-direct-calls.md (b)): a client runs runnable tasks of one scheduling
# class on slots the head leased it on one node, sending them straight to the node's daemon.
# RAYLITE_TASK_LEASES=1 turns them on (off by default: see docs/design-direct-calls.md, status).


def task_leases() -> bool:
    """Read when a client starts (not at import), so a test or a driver may set it before init()."""
    return os.environ.get("RAYLITE_TASK_LEASES", "0") not in ("", "0", "false", "False")


LEASE_SLOTS = int(os.environ.get("RAYLITE_LEASE_SLOTS", "64"))  # asked per lease; the head grants what fits
# tasks a submitter keeps sent per slot of a lease, and a node holds (running or waiting): 2 is the
# design's "an executor never idles for a round trip"; more makes larger batches on the lease stream
LEASE_DEPTH = int(os.environ.get("RAYLITE_LEASE_DEPTH", "2"))
LEASE_TICK_S = 0.05  # the client's lease clock, running only while a lease is held or asked for
LEASE_IDLE_TICKS = 20  # a lease with nothing to run for this many ticks goes back (1 s)
LEASE_GRANT_TICKS = 4  # tasks queued for a grant that has not come go through the head (0.2 s)
LEASE_FAIRNESS_S = 1.0  # a class waiting this long has another class's lease revoked
# a leased task still running this long after it started is reported to the head (NodeBatch.task_records)
# so that the state API lists it as RUNNING; shorter tasks cost nothing (their record comes when answered)
LEASE_STARTED_REPORT_S = 0.2
# a node waits this long for the head's word of a lease a client opens
LEASE_ANNOUNCE_WAIT_S = float(os.environ.get("RAYLITE_LEASE_ANNOUNCE_WAIT_S", "5"))
# a leased task's executor keeps the refs inside its result this long after answering, so that the
# submitter's record (which pins them at the head) arrives before the executor lets go of them
LEASE_CONTAINED_HOLD_S = 30.0

# Direct actor calls (docs/design-direct-calls.md, part (a)): a caller sends actor calls
# straight to the actor's executor's call port instead of through the head. Read by the
# executor (it opens a port) and by every caller (it uses ports). On by default (tests/unit,
# tests/cluster, tests/compat, tests/fuzz and chaos seeds 0-4 pass with it); "0": every
# call goes by the head, as before.
DIRECT_ACTOR_CALLS = os.environ.get("RAYLITE_DIRECT_ACTOR_CALLS", "1") not in ("", "0", "false", "no")

# A caller tells the head of its answered direct calls (CallRecord) at most this long after
# the answer, in one batch: the state API and the dashboard see a direct call this late.
CALL_RECORD_DELAY_S = float(os.environ.get("RAYLITE_CALL_RECORD_DELAY_S", "0.05"))

# Calls made to an actor while its caller first locates it and connects to its call port are
# held for at most this long, then go by the head (raylite/client/direct.py).
CALL_HOLD_S = float(os.environ.get("RAYLITE_CALL_HOLD_S", "1.0"))

# A caller's connection to an actor's call port breaks when the actor's host has not answered
# for about this long (kernel TCP keepalive probes while idle, a user timeout on unacknowledged
# calls: raylite/call_wire.py liveness_options); its unanswered calls then go through the head.
# The kernel answers, so a long call on a busy actor does not count as silence. "0": no check.
CALL_LIVENESS_S = float(os.environ.get("RAYLITE_CALL_LIVENESS_S", "10"))

# How often a worker daemon whose executor pool grew past its size (executors started for tasks
# blocked in get) retires executors that stayed idle for a whole tick (raylite/worker/state/pool.py).
IDLE_TICK_S = float(os.environ.get("RAYLITE_IDLE_TICK_S", "1.0"))
