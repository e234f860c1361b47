"""`raylite logs`: the log files of a cluster's nodes, and what tasks and actors printed.

    raylite logs                          # every node's log files (as `ray logs cluster`)
    raylite logs 'executor-*.out' --node 10.0.0.2
    raylite logs worker.log --tail 50 --follow
    raylite logs --task <task id>         # what that task printed (`ray logs task --id`)
    raylite logs --actor <actor id>       # what that actor printed (`ray logs actor --id`)

A glob matching one file prints it; matching several lists them. Files are
read from each node's worker daemon (raylite/util/state/logs.py), so this
works from any machine that can reach the cluster.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from raylite.rpc import worker_pb2
from raylite.util.state.exception import RayStateApiException
from raylite.util.state.logs import Cluster, get_log
from raylite.util.state.rpc import NoClusterError


def add_parser(sub: Any) -> None:
    p = sub.add_parser("logs", help="list a cluster's log files, print one, or what a task or actor printed")
    p.add_argument("glob", nargs="?", default=None, help="a file name or pattern (default: list every file)")
    p.add_argument("--node", default=None, help="only this node: its id (or a prefix) or its ip")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--actor", default=None, metavar="ID", help="what this actor printed")
    which.add_argument("--task", default=None, metavar="ID", help="what this task printed")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing what is appended, until Ctrl-C")
    p.add_argument("--tail", type=int, default=1000, help="the last N lines (default 1000; -1 for all)")
    p.add_argument("--address", default=None, help="the head, HOST:PORT (default: the cluster started here)")


def run(opts: argparse.Namespace) -> int:
    try:
        if opts.actor or opts.task:
            where = _node(opts.node)
            found_by_id = get_log(
                address=opts.address,
                node_id=where.get("node_id"),
                node_ip=where.get("node_ip"),
                actor_id=opts.actor,
                task_id=opts.task,
                follow=opts.follow,
                tail=opts.tail,
            )
            return _print(found_by_id)
        cluster = Cluster.find(opts.address)
        where = _node(opts.node)
        nodes = cluster.pick(where.get("node_id"), where.get("node_ip"))
        found = [(node, f) for node in nodes for f in cluster.list_files(node, opts.glob or "").files]
        if opts.glob and len(found) == 1:
            node, f = found[0]
            request = worker_pb2.ReadLogFileRequest(name=f.name, tail=max(0, opts.tail), follow=opts.follow)
            return _print(chunk.data.decode(errors="replace") for chunk in cluster.read(node, request))
        if opts.glob and not found:
            print(f"raylite logs: no log file matches {opts.glob!r} on {_nodes_text(nodes)}", file=sys.stderr)
            return 1
        _list(cluster, nodes, found)
        return 0
    except KeyboardInterrupt:
        return 0
    except NoClusterError as exc:
        print(f"raylite logs: {exc}", file=sys.stderr)
        return 1
    except (RayStateApiException, ValueError, FileNotFoundError) as exc:
        print(f"raylite logs: {exc}", file=sys.stderr)
        return 2


def _node(node: str | None) -> dict[str, str]:
    """--node as the state API takes it: an ip (four dotted parts), else a node id or its prefix."""
    if not node:
        return {}
    return {"node_ip": node} if node.count(".") == 3 else {"node_id": node}


def _print(chunks: Any) -> int:
    for text in chunks:
        sys.stdout.write(text)
        sys.stdout.flush()
    return 0


def _list(cluster: Cluster, nodes: list[Any], found: list[Any]) -> None:
    for node in nodes:
        files = [f for n, f in found if n is node]
        head = " (head)" if node is cluster.nodes[0] else ""
        print(f"Node {node.node_id.hex()} ({node.ip}){head}:")
        for f in files:
            print(f"  {f.name:<32} {_size(f.size):>9}")
        if not files:
            print("  (no log files)")


def _nodes_text(nodes: list[Any]) -> str:
    return ", ".join(f"node {n.node_id.hex()[:12]} ({n.ip})" for n in nodes)


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    size = float(n)
    for unit in ("KiB", "MiB", "GiB"):
        size /= 1024
        if size < 1024 or unit == "GiB":
            break
    return f"{size:.1f} {unit}"
