"""Entry point of the head daemon process: `python -m raylite.head.server`."""

from __future__ import annotations

import argparse
import asyncio

from raylite import auth, config, gc_watch, hostinfo, tls
from raylite.daemon_util import new_event_loop, report_ready, setup_logging, stop_on_signals, watch_parent
from raylite.head import dashboard_entry
from raylite.head.service import HeadServicer
from raylite.head.storage import HeadStorage
from raylite.rpc import head_pb2_grpc


async def serve(opts: argparse.Namespace) -> None:
    log = setup_logging("head")
    loop = asyncio.get_running_loop()
    token = auth.find_token(opts.token)
    if not token:
        raise SystemExit("raylite head: no cluster token: pass --token or set RAYLITE_TOKEN")
    tls_paths = tls.adopt_for_daemon("head", opts)
    tls_material = tls.load(tls_paths) if tls_paths is not None else None
    server = auth.server(token)
    storage = HeadStorage(opts.storage) if opts.storage else None
    servicer = HeadServicer(opts.session_name, storage)
    servicer.peer_tls = tls_material
    servicer.recover(config.HEAD_RECOVERY_S)
    head_pb2_grpc.add_HeadServiceServicer_to_server(servicer, server)
    port = auth.listen(server, opts.host, opts.port, tls_material)
    if port == 0:
        raise SystemExit(f"raylite head: cannot listen on {opts.host}:{opts.port} (is the port in use?)")
    await server.start()
    stopped = asyncio.Event()
    stop_on_signals(loop, stopped.set)
    if opts.parent_fd is not None:
        watch_parent(loop, opts.parent_fd, stopped.set)
    log.info(
        "head serving on %s:%d%s (session %s)", opts.host, port, " with TLS" if tls_material else "", opts.session_name
    )
    ready = {"port": port, "pid": __import__("os").getpid()}
    dashboard = dashboard_entry.Entry(servicer, token, opts, hostinfo.detect_ip)
    ready.update(dashboard.bind())
    report_ready(opts.ready_fd, ready)
    await dashboard.start()
    policy = gc_watch.FreezePolicy(config.GC_PAUSE_BUDGET_S) if config.GC_PAUSE_BUDGET_S > 0 else None
    watch = gc_watch.GcWatch(config.GC_PAUSE_LOG_S, log, policy).install()
    log.info("start-up objects frozen out of garbage collection: %d", gc_watch.freeze_startup())
    await stopped.wait()
    log.info("head stopping")
    watch.remove()
    await dashboard.stop()
    await server.stop(grace=config.SERVER_STOP_GRACE_S)
    if storage is not None:
        storage.close(clean=True)  # a stopped cluster's successor starts afresh


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="raylite-head")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=config.DEFAULT_HEAD_PORT)
    parser.add_argument("--session-name", default="")
    parser.add_argument("--ready-fd", type=int, default=None, help="write one JSON line here once serving")
    parser.add_argument("--parent-fd", type=int, default=None, help="exit when this pipe closes")
    parser.add_argument("--token", default=None, help="the cluster token (default: $RAYLITE_TOKEN)")
    parser.add_argument(
        "--storage", default=None, help="directory of the state a restarted head recovers (default: none kept)"
    )
    dashboard_entry.add_flags(parser)
    tls.add_flags(parser)
    opts = parser.parse_args(argv)
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(serve(opts))
    finally:
        loop.close()


if __name__ == "__main__":
    main()
