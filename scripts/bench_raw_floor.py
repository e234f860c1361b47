#!/usr/bin/env python3
"""The raw floor of moving bytes between two network namespaces on this machine, with no raylite code.

    sudo python scripts/bench_raw_floor.py --mib 1024 --repeat 3 --prefix trf

Builds scripts/netns_cluster.py's network (hosts w1 and w2 only), then for each receiver kind
one sender on w1 `sendfile`s a tmpfs file, already written, over --connections TCP connections
(consecutive ranges, a thread each) and a receiver on w2 `recv_into`s:
  shm_populated  a shared map of a tmpfs file whose pages exist and are mapped
                 (madvise MADV_POPULATE_WRITE before the clock starts): what an arena range costs
  shm_faulting   the same file's pages exist, but the map is new: one write fault per 4 KiB page
  anon_fresh     a new anonymous map (a bytearray-like buffer): every page zeroed and faulted in
  anon_huge      the same with MADV_HUGEPAGE and MADV_POPULATE_WRITE before the clock starts
and `memcpy` between two populated buffers (numpy copyto) for reference. Prints GiB/s and the
CPU seconds per GiB of each side (medians of --repeat). Tears down everything it made.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from netns_cluster import HOST_IPS, Cluster  # noqa: E402

PORT = 6399
MADV_POPULATE_WRITE = 23

SENDER = r"""
import os, resource, socket, sys, time
size, repeat, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
os.posix_fallocate(fd, 0, size)
os.pwrite(fd, b"\x5a" * (4 << 20), 0)
srv = socket.create_server(("0.0.0.0", @PORT@))
print("ready", flush=True)
import threading
conns, sndbuf, pytimeout = int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
part = size // conns
cpu = []
def one(conn, i):
    with os.fdopen(os.dup(fd), "rb") as f:
        conn.sendfile(f, i * part, part)
for _ in range(repeat):
    cs = [srv.accept()[0] for _ in range(conns)]
    for c in cs:
        if sndbuf:
            c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        c.settimeout(pytimeout or None)
        c.recv(1)
    t = resource.getrusage(resource.RUSAGE_SELF)
    ts = [threading.Thread(target=one, args=(c, i)) for i, c in enumerate(cs)]
    [x.start() for x in ts]
    [x.join() for x in ts]
    u = resource.getrusage(resource.RUSAGE_SELF)
    cpu.append(u.ru_utime + u.ru_stime - t.ru_utime - t.ru_stime)
    for c in cs:
        c.recv(1)
        c.close()
os.close(fd)
os.unlink(path)
print("CPU", " ".join(map(str, cpu)), flush=True)
""".replace("@PORT@", str(PORT))

RECEIVER = r"""
import json, mmap, os, resource, socket, sys, time
size, repeat, kind, path, host = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
out = []
for _ in range(repeat):
    if kind.startswith("shm"):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        os.posix_fallocate(fd, 0, size)
        m = mmap.mmap(fd, size)
        os.close(fd)
        if kind == "shm_populated":
            m.madvise(@POPULATE@)
    else:
        m = mmap.mmap(-1, size)
        if kind == "anon_huge":
            m.madvise(mmap.MADV_HUGEPAGE)
            m.madvise(@POPULATE@)
    view = memoryview(m)
    conns, rcvbuf, step, flags = int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8]), int(sys.argv[9])
    pytimeout = float(sys.argv[10])
    part = size // conns
    socks = []
    for _ in range(conns):
        s = socket.socket()
        if rcvbuf:  # before connect: the window scale is agreed in the handshake
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(pytimeout or None)
        s.connect((host, @PORT@))
        socks.append(s)
    def one(s, i):
        pos, end = i * part, (i + 1) * part
        while pos < end:
            got = s.recv_into(view[pos:end], min(end - pos, step), flags)
            assert got, "cut"
            pos += got
    import threading
    t0, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    pf0 = r0.ru_minflt
    ts = [threading.Thread(target=one, args=(s, i)) for i, s in enumerate(socks)]
    for s in socks:
        s.send(b"g")
    [x.start() for x in ts]
    [x.join() for x in ts]
    t1, r1 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    for s in socks:
        s.send(b"d")
        s.close()
    assert m[0] == 0x5a
    out.append({"s": t1 - t0, "cpu": r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime,
                "faults": r1.ru_minflt - pf0})
    view.release()
    m.close()
    if kind.startswith("shm"):
        os.unlink(path)
print("RESULT " + json.dumps(out), flush=True)
""".replace("@PORT@", str(PORT)).replace("@POPULATE@", str(MADV_POPULATE_WRITE))

MEMCPY = r"""
import json, mmap, sys, time
import numpy as np
size, repeat = int(sys.argv[1]), int(sys.argv[2])
a = np.ones(size, np.uint8); b = np.zeros(size, np.uint8)
np.copyto(b, a)
out = []
for _ in range(repeat):
    t = time.perf_counter(); np.copyto(b, a); out.append(time.perf_counter() - t)
print("RESULT " + json.dumps(out), flush=True)
"""


def run_kind(
    cluster: Cluster, size: int, repeat: int, kind: str, conns: int, opts: argparse.Namespace
) -> dict[str, float]:
    sender = subprocess.Popen(
        cluster.exec_argv(
            "w1",
            [
                sys.executable,
                "-c",
                SENDER,
                str(size),
                str(repeat),
                f"/dev/shm/{cluster.prefix}-src",
                str(conns),
                str(opts.sndbuf),
                str(opts.py_timeout),
            ],
        ),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sender.stdout is not None and sender.stdout.readline().strip() == "ready"
        argv = [sys.executable, "-c", RECEIVER, str(size), str(repeat), kind, f"/dev/shm/{cluster.prefix}-dst"]
        got = subprocess.run(
            cluster.exec_argv(
                "w2",
                [
                    *argv,
                    HOST_IPS["w1"],
                    str(conns),
                    str(opts.rcvbuf),
                    str(opts.step),
                    str(opts.flags),
                    str(opts.py_timeout),
                ],
            ),
            capture_output=True,
            text=True,
            timeout=600,
        )
        line = [x for x in got.stdout.splitlines() if x.startswith("RESULT ")]
        if not line:
            raise RuntimeError(f"receiver {kind} failed: {got.stderr[-2000:]}")
        samples = json.loads(line[0][len("RESULT ") :])
        out, _ = sender.communicate(timeout=60)
        send_cpu = [float(x) for x in out.split("CPU", 1)[1].split()]
    finally:
        if sender.poll() is None:
            sender.kill()
            sender.wait()
    gib = size / (1 << 30)
    return {
        "GiB/s": round(statistics.median(gib / s["s"] for s in samples), 2),
        "recv_cpu_s_per_GiB": round(statistics.median(s["cpu"] for s in samples) / gib, 3),
        "send_cpu_s_per_GiB": round(statistics.median(send_cpu) / gib, 3),
        "recv_faults": int(statistics.median(s["faults"] for s in samples)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--prefix", default="rlf")
    parser.add_argument(
        "--kinds", default="shm_populated,shm_faulting,anon_fresh,anon_huge", help="comma-separated receiver kinds"
    )
    parser.add_argument("--connections", default="1", help="comma-separated connection counts (ranges in parallel)")
    parser.add_argument(
        "--sndbuf",
        type=int,
        default=0,
        help="SO_SNDBUF of the sender (capped by net.core.wmem_max, doubled) (0: the kernel's)",
    )
    parser.add_argument(
        "--rcvbuf", type=int, default=0, help="SO_RCVBUF of the receiver (0: autotuning; capped by rmem_max, doubled)"
    )
    parser.add_argument("--step", type=int, default=4 << 20, help="bytes asked of each recv_into")
    parser.add_argument(
        "--py-timeout", type=float, default=0, help="settimeout() on both sockets, as raylite's bulk path had (0: none)"
    )
    parser.add_argument("--waitall", action="store_true", help="recv_into with MSG_WAITALL")
    args = parser.parse_args()
    size = args.mib << 20
    args.flags = socket.MSG_WAITALL if args.waitall else 0
    cluster = Cluster(prefix=args.prefix, hosts=("w1", "w2"))
    cluster.create_network()
    try:
        for conns in [int(c) for c in args.connections.split(",")]:
            for kind in args.kinds.split(","):
                print(
                    kind,
                    f"connections={conns}",
                    json.dumps(run_kind(cluster, size, args.repeat, kind, conns, args)),
                    flush=True,
                )
        got = subprocess.run(
            [sys.executable, "-c", MEMCPY, str(size), str(args.repeat)], capture_output=True, text=True
        )
        secs = json.loads(got.stdout.split("RESULT ", 1)[1])
        print("memcpy", json.dumps({"GiB/s": round(size / (1 << 30) / statistics.median(secs), 2)}), flush=True)
    finally:
        cluster.destroy_network()
    return 0


if __name__ == "__main__":
    sys.exit(main())
