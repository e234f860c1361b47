"""What the head shows about itself: read-only views of its state.

- views.py: pure functions from a HeadState to records shaped as Ray's state
  API's (nodes, tasks, actors, objects, placement groups, cluster status).
- query.py: pure filters, limits, summaries and the one `query()` entry that
  the GetStateView RPC and the dashboard's JSON API both call.
- timeline.py: pure Chrome trace events from the tasks' stories.
- server.py: the dashboard's HTTP server (aiohttp, on the head's event loop).
"""
