from raylite.rpc import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CallHello(_message.Message):
    __slots__ = ("protocol_version", "token", "caller_id", "actor_id", "incarnation", "first_unanswered")
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    CALLER_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    FIRST_UNANSWERED_FIELD_NUMBER: _ClassVar[int]
    protocol_version: int
    token: str
    caller_id: bytes
    actor_id: bytes
    incarnation: int
    first_unanswered: int
    def __init__(self, protocol_version: _Optional[int] = ..., token: _Optional[str] = ..., caller_id: _Optional[bytes] = ..., actor_id: _Optional[bytes] = ..., incarnation: _Optional[int] = ..., first_unanswered: _Optional[int] = ...) -> None: ...

class CallRefused(_message.Message):
    __slots__ = ("why", "stale_incarnation")
    WHY_FIELD_NUMBER: _ClassVar[int]
    STALE_INCARNATION_FIELD_NUMBER: _ClassVar[int]
    why: str
    stale_incarnation: bool
    def __init__(self, why: _Optional[str] = ..., stale_incarnation: _Optional[bool] = ...) -> None: ...

class CallBatch(_message.Message):
    __slots__ = ("calls", "cancels", "first_unanswered")
    CALLS_FIELD_NUMBER: _ClassVar[int]
    CANCELS_FIELD_NUMBER: _ClassVar[int]
    FIRST_UNANSWERED_FIELD_NUMBER: _ClassVar[int]
    calls: _containers.RepeatedCompositeFieldContainer[_common_pb2.TaskSpec]
    cancels: _containers.RepeatedScalarFieldContainer[bytes]
    first_unanswered: int
    def __init__(self, calls: _Optional[_Iterable[_Union[_common_pb2.TaskSpec, _Mapping]]] = ..., cancels: _Optional[_Iterable[bytes]] = ..., first_unanswered: _Optional[int] = ...) -> None: ...

class CallReplyBatch(_message.Message):
    __slots__ = ("results", "refused")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[TaskResultDirect]
    refused: CallRefused
    def __init__(self, results: _Optional[_Iterable[_Union[TaskResultDirect, _Mapping]]] = ..., refused: _Optional[_Union[CallRefused, _Mapping]] = ...) -> None: ...

class TaskResultDirect(_message.Message):
    __slots__ = ("task_id", "results", "error_summary", "started", "finished", "node_id")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_SUMMARY_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: bytes
    results: _containers.RepeatedCompositeFieldContainer[_common_pb2.ObjectValue]
    error_summary: str
    started: float
    finished: float
    node_id: bytes
    def __init__(self, task_id: _Optional[bytes] = ..., results: _Optional[_Iterable[_Union[_common_pb2.ObjectValue, _Mapping]]] = ..., error_summary: _Optional[str] = ..., started: _Optional[float] = ..., finished: _Optional[float] = ..., node_id: _Optional[bytes] = ...) -> None: ...

class CallRecord(_message.Message):
    __slots__ = ("spec", "results", "error_summary", "node_id", "started", "finished", "failed")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_SUMMARY_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    spec: _common_pb2.TaskSpec
    results: _containers.RepeatedCompositeFieldContainer[_common_pb2.ObjectValue]
    error_summary: str
    node_id: bytes
    started: float
    finished: float
    failed: bool
    def __init__(self, spec: _Optional[_Union[_common_pb2.TaskSpec, _Mapping]] = ..., results: _Optional[_Iterable[_Union[_common_pb2.ObjectValue, _Mapping]]] = ..., error_summary: _Optional[str] = ..., node_id: _Optional[bytes] = ..., started: _Optional[float] = ..., finished: _Optional[float] = ..., failed: _Optional[bool] = ...) -> None: ...

class CallRunning(_message.Message):
    __slots__ = ("spec", "sent")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    SENT_FIELD_NUMBER: _ClassVar[int]
    spec: _common_pb2.TaskSpec
    sent: float
    def __init__(self, spec: _Optional[_Union[_common_pb2.TaskSpec, _Mapping]] = ..., sent: _Optional[float] = ...) -> None: ...

class ActorLocation(_message.Message):
    __slots__ = ("actor_id", "state", "incarnation", "call_address", "death")
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    CALL_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    DEATH_FIELD_NUMBER: _ClassVar[int]
    actor_id: bytes
    state: str
    incarnation: int
    call_address: str
    death: str
    def __init__(self, actor_id: _Optional[bytes] = ..., state: _Optional[str] = ..., incarnation: _Optional[int] = ..., call_address: _Optional[str] = ..., death: _Optional[str] = ...) -> None: ...
