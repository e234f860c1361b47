"""The state API's error, as Ray's (ray.util.state.exception)."""


class RayStateApiException(Exception):
    """A state query failed: the head refused it (its text says why) or could not be reached."""


__all__ = ["RayStateApiException"]
