"""Facts about the machine a process runs on."""

from __future__ import annotations

import os
import socket


def host_key() -> str:
    """Equal for two processes exactly when they share a kernel boot and a network namespace.

    Processes with equal keys (and a visible store folder) read each other's
    objects straight from shared memory; others transfer them over the network.
    Separate network namespaces count as separate hosts, so the multi-host
    tests move real bytes between "machines" that share one kernel.
    """
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
    except OSError:
        boot = socket.gethostname()
    try:
        netns = str(os.stat("/proc/self/ns/net").st_ino)
    except OSError:
        netns = "0"
    return f"{boot}:{netns}"


def detect_ip(towards: str = "8.8.8.8") -> str:
    """The local address this machine uses to reach `towards` (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect((towards, 1))
            return s.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def total_memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 8 * 1024**3
