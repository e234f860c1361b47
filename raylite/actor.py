"""raylite.actor: the actor types under Ray's module name (ray.actor).

`isinstance(h, ray.actor.ActorHandle)`, `ray.actor.ActorClass` and
`ray.actor.ActorMethod` name the same classes as raylite's client uses.
"""

from raylite.client.actor import ActorClass, ActorHandle, ActorMethod, method

__all__ = ["ActorClass", "ActorHandle", "ActorMethod", "method"]
