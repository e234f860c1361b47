"""The kinds of items a client queues for its next ClientBatch (raylite/client/core.py: _enqueue).

Each kind names the batch field its items go to; `_drain` turns a run of
queued items into one message, in the order of raylite/message_order.py.
"""

_TASK, _PUT, _SUBSCRIBE, _EXPORT, _BLOCK, _KILL, _FLUSH, _RESTART, _REF, _RESULT, _CANCEL = range(11)
_PG_CREATE, _PG_REMOVE = 11, 12
_ITEM, _CONSUMED = 13, 14  # an executor's generator items; a caller's progress through a stream
_METRIC = 15  # a user metric's report (raylite/client/metrics_buffer.py)
# task leases (raylite/client/lease_link.py): requests, returns, records of answered tasks
_LEASE_REQUEST, _LEASE_RETURN, _LEASE_RECORD = 16, 17, 18

# The kinds whose item is appended to one repeated field of the batch, by field name
# (the others: _REF folds into ref_changes, _SUBSCRIBE extends subscribe, _FLUSH sets flush).
APPENDED_TO: dict[int, str] = {
    _TASK: "tasks",
    _PUT: "puts",
    _EXPORT: "exports",
    _BLOCK: "block_states",
    _KILL: "kill_actors",
    _RESTART: "restart_actors",
    _RESULT: "results",
    _CANCEL: "cancels",
    _PG_CREATE: "placement_groups",
    _PG_REMOVE: "remove_placement_groups",
    _ITEM: "generator_items",
    _CONSUMED: "generator_consumed",
    _METRIC: "metrics",
    _LEASE_REQUEST: "lease_requests",
    _LEASE_RETURN: "lease_returns",
    _LEASE_RECORD: "lease_task_records",
}
