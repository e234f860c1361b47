"""raylite.remote_function: the type of @remote functions under Ray's module name (ray.remote_function)."""

from raylite.client.remote_function import RemoteFunction

__all__ = ["RemoteFunction"]
