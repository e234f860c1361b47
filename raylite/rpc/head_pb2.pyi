from raylite.rpc import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ClientHello(_message.Message):
    __slots__ = ("protocol_version", "client_id", "job_id", "is_driver")
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    IS_DRIVER_FIELD_NUMBER: _ClassVar[int]
    protocol_version: int
    client_id: bytes
    job_id: bytes
    is_driver: bool
    def __init__(self, protocol_version: _Optional[int] = ..., client_id: _Optional[bytes] = ..., job_id: _Optional[bytes] = ..., is_driver: _Optional[bool] = ...) -> None: ...

class BlockState(_message.Message):
    __slots__ = ("task_id", "blocked")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_FIELD_NUMBER: _ClassVar[int]
    task_id: bytes
    blocked: bool
    def __init__(self, task_id: _Optional[bytes] = ..., blocked: _Optional[bool] = ...) -> None: ...

class ClientBatch(_message.Message):
    __slots__ = ("hello", "exports", "puts", "tasks", "subscribe", "block_states", "kill_actors", "flush", "restart_actors", "ref_changes", "results", "generator_items", "generator_consumed")
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
    GENERATOR_ITEMS_FIELD_NUMBER: _ClassVar[int]
    GENERATOR_CONSUMED_FIELD_NUMBER: _ClassVar[int]
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
    generator_items: _containers.RepeatedCompositeFieldContainer[GeneratorItem]
    generator_consumed: _containers.RepeatedCompositeFieldContainer[GeneratorProgress]
    def __init__(self, hello: _Optional[_Union[ClientHello, _Mapping]] = ..., exports: _Optional[_Iterable[_Union[_common_pb2.ExportedFunction, _Mapping]]] = ..., puts: _Optional[_Iterable[_Union[_common_pb2.ObjectValue, _Mapping]]] = ..., tasks: _Optional[_Iterable[_Union[_common_pb2.TaskSpec, _Mapping]]] = ..., subscribe: _Optional[_Iterable[bytes]] = ..., block_states: _Optional[_Iterable[_Union[BlockState, _Mapping]]] = ..., kill_actors: _Optional[_Iterable[bytes]] = ..., flush: _Optional[int] = ..., restart_actors: _Optional[_Iterable[bytes]] = ..., ref_changes: _Optional[_Iterable[_Union[RefChange, _Mapping]]] = ..., results: _Optional[_Iterable[_Union[TaskResult, _Mapping]]] = ..., generator_items: _Optional[_Iterable[_Union[GeneratorItem, _Mapping]]] = ..., generator_consumed: _Optional[_Iterable[_Union[GeneratorProgress, _Mapping]]] = ...) -> None: ...

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
    __slots__ = ("objects", "flush_ack", "warning", "generator_consumed")
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    FLUSH_ACK_FIELD_NUMBER: _ClassVar[int]
    WARNING_FIELD_NUMBER: _ClassVar[int]
    GENERATOR_CONSUMED_FIELD_NUMBER: _ClassVar[int]
    objects: _containers.RepeatedCompositeFieldContainer[_common_pb2.ObjectValue]
    flush_ack: int
    warning: str
    generator_consumed: _containers.RepeatedCompositeFieldContainer[GeneratorProgress]
    def __init__(self, objects: _Optional[_Iterable[_Union[_common_pb2.ObjectValue, _Mapping]]] = ..., flush_ack: _Optional[int] = ..., warning: _Optional[str] = ..., generator_consumed: _Optional[_Iterable[_Union[GeneratorProgress, _Mapping]]] = ...) -> None: ...

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
    __slots__ = ("actor_id", "attempt")
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    actor_id: bytes
    attempt: int
    def __init__(self, actor_id: _Optional[bytes] = ..., attempt: _Optional[int] = ...) -> None: ...

class TaskResult(_message.Message):
    __slots__ = ("task_id", "results", "error_summary", "retryable", "node_id")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_SUMMARY_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: bytes
    results: _containers.RepeatedCompositeFieldContainer[_common_pb2.ObjectValue]
    error_summary: str
    retryable: bool
    node_id: bytes
    def __init__(self, task_id: _Optional[bytes] = ..., results: _Optional[_Iterable[_Union[_common_pb2.ObjectValue, _Mapping]]] = ..., error_summary: _Optional[str] = ..., retryable: _Optional[bool] = ..., node_id: _Optional[bytes] = ...) -> None: ...

class ExecutorDied(_message.Message):
    __slots__ = ("task_id", "actor_id", "reason", "attempt")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    task_id: bytes
    actor_id: bytes
    reason: str
    attempt: int
    def __init__(self, task_id: _Optional[bytes] = ..., actor_id: _Optional[bytes] = ..., reason: _Optional[str] = ..., attempt: _Optional[int] = ...) -> None: ...

class NodeBatch(_message.Message):
    __slots__ = ("hello", "results", "deaths", "copies_added", "copies_removed")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    DEATHS_FIELD_NUMBER: _ClassVar[int]
    COPIES_ADDED_FIELD_NUMBER: _ClassVar[int]
    COPIES_REMOVED_FIELD_NUMBER: _ClassVar[int]
    hello: NodeHello
    results: _containers.RepeatedCompositeFieldContainer[TaskResult]
    deaths: _containers.RepeatedCompositeFieldContainer[ExecutorDied]
    copies_added: _containers.RepeatedScalarFieldContainer[bytes]
    copies_removed: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, hello: _Optional[_Union[NodeHello, _Mapping]] = ..., results: _Optional[_Iterable[_Union[TaskResult, _Mapping]]] = ..., deaths: _Optional[_Iterable[_Union[ExecutorDied, _Mapping]]] = ..., copies_added: _Optional[_Iterable[bytes]] = ..., copies_removed: _Optional[_Iterable[bytes]] = ...) -> None: ...

class TaskAssignment(_message.Message):
    __slots__ = ("spec", "args", "function", "attempt")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    spec: _common_pb2.TaskSpec
    args: _containers.RepeatedCompositeFieldContainer[_common_pb2.ObjectValue]
    function: _common_pb2.ExportedFunction
    attempt: int
    def __init__(self, spec: _Optional[_Union[_common_pb2.TaskSpec, _Mapping]] = ..., args: _Optional[_Iterable[_Union[_common_pb2.ObjectValue, _Mapping]]] = ..., function: _Optional[_Union[_common_pb2.ExportedFunction, _Mapping]] = ..., attempt: _Optional[int] = ...) -> None: ...

class HeadToNode(_message.Message):
    __slots__ = ("tasks", "kill_actors", "nodes", "free_objects", "promoted_objects")
    TASKS_FIELD_NUMBER: _ClassVar[int]
    KILL_ACTORS_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    FREE_OBJECTS_FIELD_NUMBER: _ClassVar[int]
    PROMOTED_OBJECTS_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[TaskAssignment]
    kill_actors: _containers.RepeatedScalarFieldContainer[bytes]
    nodes: _containers.RepeatedCompositeFieldContainer[_common_pb2.NodeInfo]
    free_objects: _containers.RepeatedScalarFieldContainer[bytes]
    promoted_objects: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, tasks: _Optional[_Iterable[_Union[TaskAssignment, _Mapping]]] = ..., kill_actors: _Optional[_Iterable[bytes]] = ..., nodes: _Optional[_Iterable[_Union[_common_pb2.NodeInfo, _Mapping]]] = ..., free_objects: _Optional[_Iterable[bytes]] = ..., promoted_objects: _Optional[_Iterable[bytes]] = ...) -> None: ...

class ClusterStateRequest(_message.Message):
    __slots__ = ("protocol_version",)
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    protocol_version: int
    def __init__(self, protocol_version: _Optional[int] = ...) -> None: ...

class ClusterStateReply(_message.Message):
    __slots__ = ("nodes", "session_name")
    NODES_FIELD_NUMBER: _ClassVar[int]
    SESSION_NAME_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[_common_pb2.NodeInfo]
    session_name: str
    def __init__(self, nodes: _Optional[_Iterable[_Union[_common_pb2.NodeInfo, _Mapping]]] = ..., session_name: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetActorReply(_message.Message):
    __slots__ = ("found", "actor_id", "actor_meta")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_META_FIELD_NUMBER: _ClassVar[int]
    found: bool
    actor_id: bytes
    actor_meta: bytes
    def __init__(self, found: _Optional[bool] = ..., actor_id: _Optional[bytes] = ..., actor_meta: _Optional[bytes] = ...) -> None: ...
