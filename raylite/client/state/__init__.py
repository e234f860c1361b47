"""Pure state of a client: the channel of direct actor calls (actor_channel.py)."""
