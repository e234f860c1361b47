"""The state commands of `raylite`: status, list, summary, timeline, explain.

raylite status [--address HOST:PORT]
raylite list nodes|tasks|actors|objects|placement-groups [--filter KEY=VALUE ...] [--limit N] [--detail]
    [--format table|json|yaml] [--address HOST:PORT]
raylite summary tasks|actors [--address HOST:PORT]
raylite timeline [FILE] [--address HOST:PORT]
raylite explain ID [ID ...] [--format text|json] [--address HOST:PORT]

Each asks the head with the GetStateView RPC (raylite.util.state.rpc); the
text is made by raylite.util.state.format. No cluster to ask is a message
saying how to start one and exit status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from raylite.util.state import format as fmt
from raylite.util.state.exception import RayStateApiException
from raylite.util.state.rpc import NoClusterError, fetch, head_of

KINDS = ("nodes", "tasks", "actors", "objects", "placement-groups")


def add_parsers(sub: Any) -> None:
    status = sub.add_parser("status", help="nodes, resources used/total, and pending demand")
    _address(status)
    lister = sub.add_parser("list", help="list nodes, tasks, actors, objects or placement groups")
    lister.add_argument("kind", choices=KINDS)
    lister.add_argument(
        "--filter",
        "-f",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="keep records whose KEY is VALUE (KEY!=VALUE: is not); repeatable, all must hold; "
        "values compare case-insensitively",
    )
    lister.add_argument("--limit", type=int, default=100, help="at most this many records (default 100)")
    lister.add_argument("--detail", action="store_true", help="every field, not only Ray's base columns")
    lister.add_argument("--format", choices=("table", "json", "yaml"), default="table")
    _address(lister)
    summary = sub.add_parser("summary", help="counts of tasks or actors by function/class and state")
    summary.add_argument("kind", choices=("tasks", "actors"))
    _address(summary)
    timeline = sub.add_parser("timeline", help="write the tasks' timeline as a Chrome trace (chrome://tracing)")
    timeline.add_argument("file", nargs="?", default=None, help="where to write it (default: timeline-<time>.json)")
    _address(timeline)
    explain = sub.add_parser(
        "explain", help="why an object, task or actor is not done (what it waits for, down to the root cause)"
    )
    explain.add_argument("ids", nargs="+", metavar="ID", help="hex id of an object, a task or an actor")
    explain.add_argument("--format", choices=("text", "json"), default="text")
    _address(explain)


def _address(p: argparse.ArgumentParser) -> None:
    p.add_argument("--address", default=None, help="the head, HOST:PORT (default: the cluster started here)")


def run(opts: argparse.Namespace) -> int:
    command = opts.command
    try:
        if command == "status":
            return _status(opts.address)
        if command == "list":
            return _list(opts)
        if command == "summary":
            return _summary(opts)
        if command == "explain":
            return _explain(opts)
        return _timeline(opts)
    except NoClusterError as exc:
        print(f"raylite {command}: {exc}", file=sys.stderr)
        return 1
    except (RayStateApiException, ValueError) as exc:
        print(f"raylite {command}: {exc}", file=sys.stderr)
        return 2


def _status(address: str | None) -> int:
    head, _token = head_of(address)
    st = fetch("status", address=head)["result"]
    print(fmt.status(head, st, st.get("dashboard_url", "")))
    return 0


def _list(opts: argparse.Namespace) -> int:
    kind = opts.kind.replace("-", "_")
    filters = [fmt.parse_filter(f) for f in opts.filter]
    answer = fetch(kind, filters, opts.limit, opts.detail, opts.address)
    print(fmt.listing(kind, answer, opts.format))
    return 0


def _summary(opts: argparse.Namespace) -> int:
    summary = fetch(f"summary_{opts.kind}", address=opts.address)["result"]
    print(fmt.task_summary(summary) if opts.kind == "tasks" else fmt.actor_summary(summary))
    return 0


def _timeline(opts: argparse.Namespace) -> int:
    import time

    events = fetch("timeline", address=opts.address)["result"]
    path = opts.file or time.strftime("timeline-%Y-%m-%d_%H-%M-%S.json")
    with open(path, "w") as f:
        json.dump(events, f)
    spans = sum(1 for e in events if e.get("ph") == "X")
    print(f"wrote {spans} task spans to {path}: open it in chrome://tracing or https://ui.perfetto.dev")
    return 0


def _explain(opts: argparse.Namespace) -> int:
    ids = []
    for text in opts.ids:
        try:
            ids.append(bytes.fromhex(text))
        except ValueError:
            raise ValueError(f"{text!r} is not a hex id (copy one from `raylite list tasks` or an ObjectRef)") from None
    answer = fetch("explain", address=opts.address, ids=ids)["result"]
    print(json.dumps(answer, indent=2) if opts.format == "json" else "\n".join(answer["lines"]))
    return 0
