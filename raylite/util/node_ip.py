"""get_node_ip_address: the IP address of the node the calling code runs on, as ray.util's."""

from __future__ import annotations

from raylite import runtime_context
from raylite.client import context


def get_node_ip_address(address: str = "8.8.8.8:53") -> str:
    """The calling code's node's IP: an executor's node, a driver's local node, else the address
    this machine reaches `address` (host:port) from."""
    facts = runtime_context.worker()
    if facts is not None and facts.node_ip:
        return facts.node_ip
    client = context.peek()
    if client is not None and client.local_node is not None:
        return client.local_node.ip
    from raylite.hostinfo import detect_ip

    return detect_ip(address.rsplit(":", 1)[0])
