"""The kinds of items a client queues for its next ClientBatch (raylite/client/core.py: _enqueue).

Each kind names the batch field its items go to; `_drain` turns a run of
queued items into one message, in the order of raylite/message_order.py.
"""

_TASK, _PUT, _SUBSCRIBE, _EXPORT, _BLOCK, _KILL, _FLUSH, _RESTART, _REF, _RESULT, _CANCEL = range(11)
_PG_CREATE, _PG_REMOVE = 11, 12
_ITEM, _CONSUMED = 13, 14  # an executor's generator items; a caller's progress through a stream
