from raylite.rpc import common_pb2 as _common_pb2
from raylite.rpc import lease_pb2 as _lease_pb2
from raylite.rpc import calls_pb2 as _calls_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ClientHello(_message.Message):
    __slots__ = ("protocol_version", "client_id", "job_id", "is_driver", "log_to_driver")
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    IS_DRIVER_FIELD_NUMBER: _ClassVar[int]
    LOG_TO_DRIVER_FIELD_NUMBER: _ClassVar[int]
    protocol_version: int
    client_id: bytes
    job_id: bytes
    is_driver: bool
    log_to_driver: bool
    def __init__(self, protocol_version: _Optional[int] = ..., client_id: _Optional[bytes] = ..., job_id: _Optional[bytes] = ..., is_driver: _Optional[bool] = ..., log_to_driver: _Optional[bool] = ...) -> None: ...

class BlockState(_message.Message):
    __slots__ = ("task_id", "blocked", "lease_id")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_FIELD_NUMBER: _ClassVar[int]
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: bytes
    blocked: bool
    lease_id: bytes
    def __init__(self, task_id: _Optional[bytes] = ..., blocked: _Optional[bool] = ..., lease_id: _Optional[bytes] = ...) -> None: ...

class ClientBatch(_message.Message):
    __slots__ = ("hello", "exports", "puts", "tasks", "subscribe", "block_states", "kill_actors", "flush", "restart_actors", "ref_changes", "results", "placement_groups", "remove_placement_groups", "cancels", "generator_items", "generator_consumed", "metrics", "streams_received", "lease_requests", "lease_returns", "lease_task_records", "locate_actors", "call_records", "calls_running")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    EXPORTS_FIELD_NUMBER: _ClassVar[int]
    PUTS_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBE_FIELD_NUMBER: _ClassVar[int]
    BLOCK_STATES_FIELD_NUMBER: _ClassVar[int]
    KILL_ACTORS_FIELD_NUMBER: _ClassVar[int]
    FLUSH_FIELD_NUMBER: _ClassVar[int]
    RESTART_ACTORS_FIELD_NUMBER: _ClassVar[int]
    REF_CHANGES_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_GROUPS_FIELD_NUMBER: _ClassVar[int]
    REMOVE_PLACEMENT_GROUPS_FIELD_NUMBER: _ClassVar[int]
    CANCELS_FIELD_NUMBER: _ClassVar[int]
    GENERATOR_ITEMS_FIELD_NUMBER: _ClassVar[int]
    GENERATOR_CONSUMED_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    STREAMS_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    LEASE_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    LEASE_RETURNS_FIELD_NUMBER: _ClassVar[int]
    LEASE_TASK_RECORDS_FIELD_NUMBER: _ClassVar[int]
    LOCATE_ACTORS_FIELD_NUMBER: _ClassVar[int]
    CALL_RECORDS_FIELD_NUMBER: _ClassVar[int]
    CALLS_RUNNING_FIELD_NUMBER: _ClassVar[int]
    hello: ClientHello
    exports: _containers.RepeatedCompositeFieldContainer[_common_pb2.ExportedFunction]
    puts: _containers.RepeatedCompositeFieldContainer[_common_pb2.ObjectValue]
    tasks: _containers.RepeatedCompositeFieldContainer[_common_pb2.TaskSpec]
    subscribe: _containers.RepeatedScalarFieldContainer[bytes]
    block_states: _containers.RepeatedCompositeFieldContainer[BlockState]
    kill_actors: _containers.RepeatedScalarFieldContainer[bytes]
    flush: int
    restart_actors: _containers.RepeatedScalarFieldContainer[bytes]
    ref_changes: _containers.RepeatedCompositeFieldContainer[RefChange]
    results: _containers.RepeatedCompositeFieldContainer[TaskResult]
    placement_groups: _containers.RepeatedCompositeFieldContainer[_common_pb2.PlacementGroupSpec]
    remove_placement_groups: _containers.RepeatedScalarFieldContainer[bytes]
    cancels: _containers.RepeatedCompositeFieldContainer[CancelRequest]
    generator_items: _containers.RepeatedCompositeFieldContainer[GeneratorItem]
    generator_consumed: _containers.RepeatedCompositeFieldContainer[GeneratorProgress]
    metrics: _containers.RepeatedCompositeFieldContainer[MetricReport]
    streams_received: _containers.RepeatedCompositeFieldContainer[StreamReceived]
    lease_requests: _containers.RepeatedCompositeFieldContainer[_lease_pb2.LeaseRequest]
    lease_returns: _containers.RepeatedCompositeFieldContainer[_lease_pb2.LeaseEnd]
    lease_task_records: _containers.RepeatedCompositeFieldContainer[_lease_pb2.LeaseTaskRecord]
    locate_actors: _containers.RepeatedScalarFieldContainer[bytes]
    call_records: _containers.RepeatedCompositeFieldContainer[_calls_pb2.CallRecord]
    calls_running: _containers.RepeatedCompositeFieldContainer[_calls_pb2.CallRunning]
    def __init__(self, hello: _Optional[_Union[ClientHello, _Mapping]] = ..., exports: _Optional[_Iterable[_Union[_common_pb2.ExportedFunction, _Mapping]]] = ..., puts: _Optional[_Iterable[_Union[_common_pb2.ObjectValue, _Mapping]]] = ..., tasks: _Optional[_Iterable[_Union[_common_pb2.TaskSpec, _Mapping]]] = ..., subscribe: _Optional[_Iterable[bytes]] = ..., block_states: _Optional[_Iterable[_Union[BlockState, _Mapping]]] = ..., kill_actors: _Optional[_Iterable[bytes]] = ..., flush: _Optional[int] = ..., restart_actors: _Optional[_Iterable[bytes]] = ..., ref_changes: _Optional[_Iterable[_Union[RefChange, _Mapping]]] = ..., results: _Optional[_Iterable[_Union[TaskResult, _Mapping]]] = ..., placement_groups: _Optional[_Iterable[_Union[_common_pb2.PlacementGroupSpec, _Mapping]]] = ..., remove_placement_groups: _Optional[_Iterable[bytes]] = ..., cancels: _Optional[_Iterable[_Union[CancelRequest, _Mapping]]] = ..., generator_items: _Optional[_Iterable[_Union[GeneratorItem, _Mapping]]] = ..., generator_consumed: _Optional[_Iterable[_Union[GeneratorProgress, _Mapping]]] = ..., metrics: _Optional[_Iterable[_Union[MetricReport, _Mapping]]] = ..., streams_received: _Optional[_Iterable[_Union[StreamReceived, _Mapping]]] = ..., lease_requests: _Optional[_Iterable[_Union[_lease_pb2.LeaseRequest, _Mapping]]] = ..., lease_returns: _Optional[_Iterable[_Union[_lease_pb2.LeaseEnd, _Mapping]]] = ..., lease_task_records: _Optional[_Iterable[_Union[_lease_pb2.LeaseTaskRecord, _Mapping]]] = ..., locate_actors: _Optional[_Iterable[bytes]] = ..., call_records: _Optional[_Iterable[_Union[_calls_pb2.CallRecord, _Mapping]]] = ..., calls_running: _Optional[_Iterable[_Union[_calls_pb2.CallRunning, _Mapping]]] = ...) -> None: ...

class StreamReceived(_message.Message):
    __slots__ = ("task_id", "arrived", "missing")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ARRIVED_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    task_id: bytes
    arrived: int
    missing: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, task_id: _Optional[bytes] = ..., arrived: _Optional[int] = ..., missing: _Optional[_Iterable[int]] = ...) -> None: ...

class MetricReport(_message.Message):
    __slots__ = ("name", "kind", "description", "tag_keys", "tag_values", "value", "boundaries", "bucket_counts", "sum")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TAG_KEYS_FIELD_NUMBER: _ClassVar[int]
    TAG_VALUES_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    BOUNDARIES_FIELD_NUMBER: _ClassVar[int]
    BUCKET_COUNTS_FIELD_NUMBER: _ClassVar[int]
    SUM_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: int
    description: str
    tag_keys: _containers.RepeatedScalarFieldContainer[str]
    tag_values: _containers.RepeatedScalarFieldContainer[str]
    value: float
    boundaries: _containers.RepeatedScalarFieldContainer[float]
    bucket_counts: _containers.RepeatedScalarFieldContainer[int]
    sum: float
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[int] = ..., description: _Optional[str] = ..., tag_keys: _Optional[_Iterable[str]] = ..., tag_values: _Optional[_Iterable[str]] = ..., value: _Optional[float] = ..., boundaries: _Optional[_Iterable[float]] = ..., bucket_counts: _Optional[_Iterable[int]] = ..., sum: _Optional[float] = ...) -> None: ...

class CancelRequest(_message.Message):
    __slots__ = ("object_id", "force", "recursive", "direct_call")
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    RECURSIVE_FIELD_NUMBER: _ClassVar[int]
    DIRECT_CALL_FIELD_NUMBER: _ClassVar[int]
    object_id: bytes
    force: bool
    recursive: bool
    direct_call: bool
    def __init__(self, object_id: _Optional[bytes] = ..., force: _Optional[bool] = ..., recursive: _Optional[bool] = ..., direct_call: _Optional[bool] = ...) -> None: ...

class CancelRefused(_message.Message):
    __slots__ = ("object_id", "actor_call")
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_CALL_FIELD_NUMBER: _ClassVar[int]
    object_id: bytes
    actor_call: bool
    def __init__(self, object_id: _Optional[bytes] = ..., actor_call: _Optional[bool] = ...) -> None: ...

class GeneratorItem(_message.Message):
    __slots__ = ("task_id", "index", "value", "node_id")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: bytes
    index: int
    value: _common_pb2.ObjectValue
    node_id: bytes
    def __init__(self, task_id: _Optional[bytes] = ..., index: _Optional[int] = ..., value: _Optional[_Union[_common_pb2.ObjectValue, _Mapping]] = ..., node_id: _Optional[bytes] = ...) -> None: ...

class GeneratorProgress(_message.Message):
    __slots__ = ("task_id", "consumed")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    CONSUMED_FIELD_NUMBER: _ClassVar[int]
    task_id: bytes
    consumed: int
    def __init__(self, task_id: _Optional[bytes] = ..., consumed: _Optional[int] = ...) -> None: ...

class RefChange(_message.Message):
    __slots__ = ("object_id", "held")
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    object_id: bytes
    held: bool
    def __init__(self, object_id: _Optional[bytes] = ..., held: _Optional[bool] = ...) -> None: ...

class HeadToClient(_message.Message):
    __slots__ = ("objects", "flush_ack", "warning", "cancel_refused", "generator_consumed", "log_batches", "leases", "lease_revokes", "actor_locations")
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    FLUSH_ACK_FIELD_NUMBER: _ClassVar[int]
    WARNING_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REFUSED_FIELD_NUMBER: _ClassVar[int]
    GENERATOR_CONSUMED_FIELD_NUMBER: _ClassVar[int]
    LOG_BATCHES_FIELD_NUMBER: _ClassVar[int]
    LEASES_FIELD_NUMBER: _ClassVar[int]
    LEASE_REVOKES_FIELD_NUMBER: _ClassVar[int]
    ACTOR_LOCATIONS_FIELD_NUMBER: _ClassVar[int]
    objects: _containers.RepeatedCompositeFieldContainer[_common_pb2.ObjectValue]
    flush_ack: int
    warning: str
    cancel_refused: _containers.RepeatedCompositeFieldContainer[CancelRefused]
    generator_consumed: _containers.RepeatedCompositeFieldContainer[GeneratorProgress]
    log_batches: _containers.RepeatedCompositeFieldContainer[WorkerLogBatch]
    leases: _containers.RepeatedCompositeFieldContainer[_lease_pb2.LeaseGrant]
    lease_revokes: _containers.RepeatedCompositeFieldContainer[_lease_pb2.LeaseEnd]
    actor_locations: _containers.RepeatedCompositeFieldContainer[_calls_pb2.ActorLocation]
    def __init__(self, objects: _Optional[_Iterable[_Union[_common_pb2.ObjectValue, _Mapping]]] = ..., flush_ack: _Optional[int] = ..., warning: _Optional[str] = ..., cancel_refused: _Optional[_Iterable[_Union[CancelRefused, _Mapping]]] = ..., generator_consumed: _Optional[_Iterable[_Union[GeneratorProgress, _Mapping]]] = ..., log_batches: _Optional[_Iterable[_Union[WorkerLogBatch, _Mapping]]] = ..., leases: _Optional[_Iterable[_Union[_lease_pb2.LeaseGrant, _Mapping]]] = ..., lease_revokes: _Optional[_Iterable[_Union[_lease_pb2.LeaseEnd, _Mapping]]] = ..., actor_locations: _Optional[_Iterable[_Union[_calls_pb2.ActorLocation, _Mapping]]] = ...) -> None: ...

class WorkerLogBatch(_message.Message):
    __slots__ = ("job_id", "pid", "name", "is_err", "lines", "ip", "node_id", "task_id", "actor_id")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    IS_ERR_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    IP_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: bytes
    pid: int
    name: str
    is_err: bool
    lines: _containers.RepeatedScalarFieldContainer[str]
    ip: str
    node_id: bytes
    task_id: bytes
    actor_id: bytes
    def __init__(self, job_id: _Optional[bytes] = ..., pid: _Optional[int] = ..., name: _Optional[str] = ..., is_err: _Optional[bool] = ..., lines: _Optional[_Iterable[str]] = ..., ip: _Optional[str] = ..., node_id: _Optional[bytes] = ..., task_id: _Optional[bytes] = ..., actor_id: _Optional[bytes] = ...) -> None: ...

class NodeHello(_message.Message):
    __slots__ = ("protocol_version", "node", "resume", "running", "actors", "objects", "copies")
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    RESUME_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    ACTORS_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    COPIES_FIELD_NUMBER: _ClassVar[int]
    protocol_version: int
    node: _common_pb2.NodeInfo
    resume: bool
    running: _containers.RepeatedCompositeFieldContainer[TaskAssignment]
    actors: _containers.RepeatedCompositeFieldContainer[LiveActor]
    objects: _containers.RepeatedCompositeFieldContainer[_common_pb2.ObjectValue]
    copies: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, protocol_version: _Optional[int] = ..., node: _Optional[_Union[_common_pb2.NodeInfo, _Mapping]] = ..., resume: _Optional[bool] = ..., running: _Optional[_Iterable[_Union[TaskAssignment, _Mapping]]] = ..., actors: _Optional[_Iterable[_Union[LiveActor, _Mapping]]] = ..., objects: _Optional[_Iterable[_Union[_common_pb2.ObjectValue, _Mapping]]] = ..., copies: _Optional[_Iterable[bytes]] = ...) -> None: ...

class LiveActor(_message.Message):
    __slots__ = ("actor_id", "attempt", "call_address")
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    CALL_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    actor_id: bytes
    attempt: int
    call_address: str
    def __init__(self, actor_id: _Optional[bytes] = ..., attempt: _Optional[int] = ..., call_address: _Optional[str] = ...) -> None: ...

class TaskResult(_message.Message):
    __slots__ = ("task_id", "results", "error_summary", "retryable", "node_id", "call_address")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_SUMMARY_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    CALL_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    task_id: bytes
    results: _containers.RepeatedCompositeFieldContainer[_common_pb2.ObjectValue]
    error_summary: str
    retryable: bool
    node_id: bytes
    call_address: str
    def __init__(self, task_id: _Optional[bytes] = ..., results: _Optional[_Iterable[_Union[_common_pb2.ObjectValue, _Mapping]]] = ..., error_summary: _Optional[str] = ..., retryable: _Optional[bool] = ..., node_id: _Optional[bytes] = ..., call_address: _Optional[str] = ...) -> None: ...

class ExecutorDied(_message.Message):
    __slots__ = ("task_id", "actor_id", "reason", "attempt", "intentional")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    INTENTIONAL_FIELD_NUMBER: _ClassVar[int]
    task_id: bytes
    actor_id: bytes
    reason: str
    attempt: int
    intentional: bool
    def __init__(self, task_id: _Optional[bytes] = ..., actor_id: _Optional[bytes] = ..., reason: _Optional[str] = ..., attempt: _Optional[int] = ..., intentional: _Optional[bool] = ...) -> None: ...

class NodeBatch(_message.Message):
    __slots__ = ("hello", "results", "deaths", "copies_added", "copies_removed", "pulls", "log_batches", "metrics", "task_records", "leased_tasks_ended", "leases_served", "leases_drained")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    DEATHS_FIELD_NUMBER: _ClassVar[int]
    COPIES_ADDED_FIELD_NUMBER: _ClassVar[int]
    COPIES_REMOVED_FIELD_NUMBER: _ClassVar[int]
    PULLS_FIELD_NUMBER: _ClassVar[int]
    LOG_BATCHES_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    TASK_RECORDS_FIELD_NUMBER: _ClassVar[int]
    LEASED_TASKS_ENDED_FIELD_NUMBER: _ClassVar[int]
    LEASES_SERVED_FIELD_NUMBER: _ClassVar[int]
    LEASES_DRAINED_FIELD_NUMBER: _ClassVar[int]
    hello: NodeHello
    results: _containers.RepeatedCompositeFieldContainer[TaskResult]
    deaths: _containers.RepeatedCompositeFieldContainer[ExecutorDied]
    copies_added: _containers.RepeatedScalarFieldContainer[bytes]
    copies_removed: _containers.RepeatedScalarFieldContainer[bytes]
    pulls: _containers.RepeatedCompositeFieldContainer[PullProgress]
    log_batches: _containers.RepeatedCompositeFieldContainer[WorkerLogBatch]
    metrics: _containers.RepeatedCompositeFieldContainer[NodeMetrics]
    task_records: _containers.RepeatedCompositeFieldContainer[_lease_pb2.LeaseTaskRecord]
    leased_tasks_ended: _containers.RepeatedScalarFieldContainer[bytes]
    leases_served: _containers.RepeatedCompositeFieldContainer[_lease_pb2.LeaseGrant]
    leases_drained: _containers.RepeatedCompositeFieldContainer[_lease_pb2.LeaseEnd]
    def __init__(self, hello: _Optional[_Union[NodeHello, _Mapping]] = ..., results: _Optional[_Iterable[_Union[TaskResult, _Mapping]]] = ..., deaths: _Optional[_Iterable[_Union[ExecutorDied, _Mapping]]] = ..., copies_added: _Optional[_Iterable[bytes]] = ..., copies_removed: _Optional[_Iterable[bytes]] = ..., pulls: _Optional[_Iterable[_Union[PullProgress, _Mapping]]] = ..., log_batches: _Optional[_Iterable[_Union[WorkerLogBatch, _Mapping]]] = ..., metrics: _Optional[_Iterable[_Union[NodeMetrics, _Mapping]]] = ..., task_records: _Optional[_Iterable[_Union[_lease_pb2.LeaseTaskRecord, _Mapping]]] = ..., leased_tasks_ended: _Optional[_Iterable[bytes]] = ..., leases_served: _Optional[_Iterable[_Union[_lease_pb2.LeaseGrant, _Mapping]]] = ..., leases_drained: _Optional[_Iterable[_Union[_lease_pb2.LeaseEnd, _Mapping]]] = ...) -> None: ...

class PullProgress(_message.Message):
    __slots__ = ("object_id", "received", "total", "elapsed_ms", "done")
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_MS_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    object_id: bytes
    received: int
    total: int
    elapsed_ms: int
    done: bool
    def __init__(self, object_id: _Optional[bytes] = ..., received: _Optional[int] = ..., total: _Optional[int] = ..., elapsed_ms: _Optional[int] = ..., done: _Optional[bool] = ...) -> None: ...

class NodeMetrics(_message.Message):
    __slots__ = ("bytes_sent", "bytes_received", "store_used", "store_spilled")
    BYTES_SENT_FIELD_NUMBER: _ClassVar[int]
    BYTES_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    STORE_USED_FIELD_NUMBER: _ClassVar[int]
    STORE_SPILLED_FIELD_NUMBER: _ClassVar[int]
    bytes_sent: int
    bytes_received: int
    store_used: int
    store_spilled: int
    def __init__(self, bytes_sent: _Optional[int] = ..., bytes_received: _Optional[int] = ..., store_used: _Optional[int] = ..., store_spilled: _Optional[int] = ...) -> None: ...

class TaskAssignment(_message.Message):
    __slots__ = ("spec", "args", "function", "attempt", "lease_id")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    spec: _common_pb2.TaskSpec
    args: _containers.RepeatedCompositeFieldContainer[_common_pb2.ObjectValue]
    function: _common_pb2.ExportedFunction
    attempt: int
    lease_id: bytes
    def __init__(self, spec: _Optional[_Union[_common_pb2.TaskSpec, _Mapping]] = ..., args: _Optional[_Iterable[_Union[_common_pb2.ObjectValue, _Mapping]]] = ..., function: _Optional[_Union[_common_pb2.ExportedFunction, _Mapping]] = ..., attempt: _Optional[int] = ..., lease_id: _Optional[bytes] = ...) -> None: ...

class HeadToNode(_message.Message):
    __slots__ = ("tasks", "kill_actors", "nodes", "free_objects", "promoted_objects", "cancel_tasks", "leases", "lease_ends", "lease_lends")
    TASKS_FIELD_NUMBER: _ClassVar[int]
    KILL_ACTORS_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    FREE_OBJECTS_FIELD_NUMBER: _ClassVar[int]
    PROMOTED_OBJECTS_FIELD_NUMBER: _ClassVar[int]
    CANCEL_TASKS_FIELD_NUMBER: _ClassVar[int]
    LEASES_FIELD_NUMBER: _ClassVar[int]
    LEASE_ENDS_FIELD_NUMBER: _ClassVar[int]
    LEASE_LENDS_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[TaskAssignment]
    kill_actors: _containers.RepeatedScalarFieldContainer[bytes]
    nodes: _containers.RepeatedCompositeFieldContainer[_common_pb2.NodeInfo]
    free_objects: _containers.RepeatedScalarFieldContainer[bytes]
    promoted_objects: _containers.RepeatedScalarFieldContainer[bytes]
    cancel_tasks: _containers.RepeatedCompositeFieldContainer[CancelTask]
    leases: _containers.RepeatedCompositeFieldContainer[_lease_pb2.LeaseGrant]
    lease_ends: _containers.RepeatedCompositeFieldContainer[_lease_pb2.LeaseEnd]
    lease_lends: _containers.RepeatedCompositeFieldContainer[_lease_pb2.LeaseLend]
    def __init__(self, tasks: _Optional[_Iterable[_Union[TaskAssignment, _Mapping]]] = ..., kill_actors: _Optional[_Iterable[bytes]] = ..., nodes: _Optional[_Iterable[_Union[_common_pb2.NodeInfo, _Mapping]]] = ..., free_objects: _Optional[_Iterable[bytes]] = ..., promoted_objects: _Optional[_Iterable[bytes]] = ..., cancel_tasks: _Optional[_Iterable[_Union[CancelTask, _Mapping]]] = ..., leases: _Optional[_Iterable[_Union[_lease_pb2.LeaseGrant, _Mapping]]] = ..., lease_ends: _Optional[_Iterable[_Union[_lease_pb2.LeaseEnd, _Mapping]]] = ..., lease_lends: _Optional[_Iterable[_Union[_lease_pb2.LeaseLend, _Mapping]]] = ...) -> None: ...

class CancelTask(_message.Message):
    __slots__ = ("task_id", "actor_id", "force")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    task_id: bytes
    actor_id: bytes
    force: bool
    def __init__(self, task_id: _Optional[bytes] = ..., actor_id: _Optional[bytes] = ..., force: _Optional[bool] = ...) -> None: ...

class ClusterStateRequest(_message.Message):
    __slots__ = ("protocol_version",)
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    protocol_version: int
    def __init__(self, protocol_version: _Optional[int] = ...) -> None: ...

class ClusterStateReply(_message.Message):
    __slots__ = ("nodes", "session_name", "dashboard_url")
    NODES_FIELD_NUMBER: _ClassVar[int]
    SESSION_NAME_FIELD_NUMBER: _ClassVar[int]
    DASHBOARD_URL_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[_common_pb2.NodeInfo]
    session_name: str
    dashboard_url: str
    def __init__(self, nodes: _Optional[_Iterable[_Union[_common_pb2.NodeInfo, _Mapping]]] = ..., session_name: _Optional[str] = ..., dashboard_url: _Optional[str] = ...) -> None: ...

class StateFilter(_message.Message):
    __slots__ = ("key", "predicate", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    PREDICATE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    predicate: str
    value: str
    def __init__(self, key: _Optional[str] = ..., predicate: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class StateViewRequest(_message.Message):
    __slots__ = ("protocol_version", "view", "filters", "limit", "detail", "ids", "parked")
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    PARKED_FIELD_NUMBER: _ClassVar[int]
    protocol_version: int
    view: str
    filters: _containers.RepeatedCompositeFieldContainer[StateFilter]
    limit: int
    detail: bool
    ids: _containers.RepeatedScalarFieldContainer[bytes]
    parked: _containers.RepeatedCompositeFieldContainer[_common_pb2.TaskSpec]
    def __init__(self, protocol_version: _Optional[int] = ..., view: _Optional[str] = ..., filters: _Optional[_Iterable[_Union[StateFilter, _Mapping]]] = ..., limit: _Optional[int] = ..., detail: _Optional[bool] = ..., ids: _Optional[_Iterable[bytes]] = ..., parked: _Optional[_Iterable[_Union[_common_pb2.TaskSpec, _Mapping]]] = ...) -> None: ...

class StateViewReply(_message.Message):
    __slots__ = ("json",)
    JSON_FIELD_NUMBER: _ClassVar[int]
    json: str
    def __init__(self, json: _Optional[str] = ...) -> None: ...

class GetFunctionRequest(_message.Message):
    __slots__ = ("function_id",)
    FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    function_id: bytes
    def __init__(self, function_id: _Optional[bytes] = ...) -> None: ...

class GetFunctionReply(_message.Message):
    __slots__ = ("blob",)
    BLOB_FIELD_NUMBER: _ClassVar[int]
    blob: bytes
    def __init__(self, blob: _Optional[bytes] = ...) -> None: ...

class GetActorRequest(_message.Message):
    __slots__ = ("name", "namespace")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    name: str
    namespace: str
    def __init__(self, name: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class GetActorReply(_message.Message):
    __slots__ = ("found", "actor_id", "actor_meta")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_META_FIELD_NUMBER: _ClassVar[int]
    found: bool
    actor_id: bytes
    actor_meta: bytes
    def __init__(self, found: _Optional[bool] = ..., actor_id: _Optional[bytes] = ..., actor_meta: _Optional[bytes] = ...) -> None: ...

class GetPlacementGroupsRequest(_message.Message):
    __slots__ = ("placement_group_id", "name")
    PLACEMENT_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    placement_group_id: bytes
    name: str
    def __init__(self, placement_group_id: _Optional[bytes] = ..., name: _Optional[str] = ...) -> None: ...

class GetPlacementGroupsReply(_message.Message):
    __slots__ = ("groups",)
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    groups: _containers.RepeatedCompositeFieldContainer[PlacementGroupInfo]
    def __init__(self, groups: _Optional[_Iterable[_Union[PlacementGroupInfo, _Mapping]]] = ...) -> None: ...

class PlacementGroupInfo(_message.Message):
    __slots__ = ("spec", "state", "bundle_nodes")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_NODES_FIELD_NUMBER: _ClassVar[int]
    spec: _common_pb2.PlacementGroupSpec
    state: str
    bundle_nodes: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, spec: _Optional[_Union[_common_pb2.PlacementGroupSpec, _Mapping]] = ..., state: _Optional[str] = ..., bundle_nodes: _Optional[_Iterable[bytes]] = ...) -> None: ...

class ListNamedActorsRequest(_message.Message):
    __slots__ = ("namespace", "all_namespaces")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    ALL_NAMESPACES_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    all_namespaces: bool
    def __init__(self, namespace: _Optional[str] = ..., all_namespaces: _Optional[bool] = ...) -> None: ...

class NamedActor(_message.Message):
    __slots__ = ("name", "namespace")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    name: str
    namespace: str
    def __init__(self, name: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class ListNamedActorsReply(_message.Message):
    __slots__ = ("actors",)
    ACTORS_FIELD_NUMBER: _ClassVar[int]
    actors: _containers.RepeatedCompositeFieldContainer[NamedActor]
    def __init__(self, actors: _Optional[_Iterable[_Union[NamedActor, _Mapping]]] = ...) -> None: ...
