"""CPU per leased-task record in the head, in process: parse a ClientBatch of 1,000 records (and
the submitter's refs to their outputs), validate it, make its events, apply them to a HeadState.

    python scripts/bench_lease_records.py slim   # records as the submitter sends them
    python scripts/bench_lease_records.py full   # a whole spec without its payload (before c9325e9)

No sockets, no other process: the numbers move with the machine's load far less than a cluster's.
"""

import sys
import time
from types import SimpleNamespace

from raylite.client.lease_link import LeaseLink
from raylite.head import lease_wire, validate
from raylite.head.state import HeadState
from raylite.head.state.leases import LeaseRequested
from raylite.head.state.model import ClientConnected, NodeAdded, RefsChanged
from raylite.rpc import common_pb2, head_pb2, lease_pb2

DRIVER = b"d" * 8
JOB = b"j" * 4
L1 = DRIVER + b"\0\0\0\1"
N = 1000
slim = sys.argv[1] == "slim"


def make_batch(k):
    sent = []
    client = SimpleNamespace(client_id=DRIVER, _enqueue=lambda kind, item: sent.append(item))
    link = LeaseLink.__new__(LeaseLink)
    link.client = client
    stream = SimpleNamespace(grant=lease_pb2.LeaseGrant(lease_id=L1, node_id=b"n" * 16))
    for i in range(N):
        tid = (k * N + i).to_bytes(16, "big")
        spec = common_pb2.TaskSpec(
            task_id=tid,
            job_id=JOB,
            name="workloads.<locals>.echo",
            kind=common_pb2.NORMAL,
            function_id=b"F" * 16,
            num_returns=1,
            resources={"CPU": 1.0},
            payload=b"p" * 60,
            max_retries=3,
            parent_task_id=b"",
            retry_exceptions=b"\x80\x04\x89.",
            strategy=common_pb2.SchedulingStrategy(kind="DEFAULT"),
        )
        value = common_pb2.ObjectValue(object_id=tid + bytes(4), data=b"v" * 8, size=8)
        if slim:
            link._record(stream, spec, head_pb2.TaskResult(task_id=tid, results=[value]), 1)
        else:
            kept = common_pb2.TaskSpec()
            kept.CopyFrom(spec)
            kept.ClearField("payload")
            sent.append(
                lease_pb2.LeaseTaskRecord(spec=kept, lease_id=L1, attempt=1, results=[value], node_id=b"n" * 16)
            )
    b = head_pb2.ClientBatch()
    b.lease_task_records.extend(sent)
    for r in sent:
        b.ref_changes.add(object_id=r.spec.task_id + bytes(4), held=True)
    return b.SerializeToString()


state = HeadState()
state.handle(ClientConnected(DRIVER, JOB, True), NodeAdded(b"n" * 16, {"CPU": 2.0}))
state.handle(LeaseRequested(DRIVER, L1, b"k", {"CPU": 1.0}, 2, JOB))
blobs = [make_batch(k) for k in range(10)]
t = {"parse": 0.0, "validate": 0.0, "events": 0.0, "handle": 0.0}
for blob in blobs:
    t0 = time.process_time()
    b = head_pb2.ClientBatch.FromString(blob)
    t1 = time.process_time()
    assert validate.client_batch(b, False) is None
    t2 = time.process_time()
    evs = [RefsChanged(DRIVER, [(r.object_id, True) for r in b.ref_changes])] + lease_wire.recorded(
        b.lease_task_records, DRIVER
    )
    t3 = time.process_time()
    state.handle(*evs, now=1.0)
    t4 = time.process_time()
    for k, a, z in (("parse", t0, t1), ("validate", t1, t2), ("events", t2, t3), ("handle", t3, t4)):
        t[k] += z - a
n = N * len(blobs)
print(
    sys.argv[1],
    "us per record:",
    "  ".join(f"{k} {v / n * 1e6:.1f}" for k, v in t.items()),
    f" total {sum(t.values()) / n * 1e6:.1f}",
    f" bytes/record {len(blobs[0]) / N:.0f}",
)
