from raylite.rpc import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LeaseRequest(_message.Message):
    __slots__ = ("lease_id", "class_key", "resources", "slots", "job_id", "runtime_env")
    class ResourcesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    CLASS_KEY_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_ENV_FIELD_NUMBER: _ClassVar[int]
    lease_id: bytes
    class_key: bytes
    resources: _containers.ScalarMap[str, float]
    slots: int
    job_id: bytes
    runtime_env: str
    def __init__(self, lease_id: _Optional[bytes] = ..., class_key: _Optional[bytes] = ..., resources: _Optional[_Mapping[str, float]] = ..., slots: _Optional[int] = ..., job_id: _Optional[bytes] = ..., runtime_env: _Optional[str] = ...) -> None: ...

class LeaseGrant(_message.Message):
    __slots__ = ("lease_id", "node_id", "node_address", "slots", "class_key", "resources", "client_id", "job_id")
    class ResourcesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    CLASS_KEY_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    lease_id: bytes
    node_id: bytes
    node_address: str
    slots: int
    class_key: bytes
    resources: _containers.ScalarMap[str, float]
    client_id: bytes
    job_id: bytes
    def __init__(self, lease_id: _Optional[bytes] = ..., node_id: _Optional[bytes] = ..., node_address: _Optional[str] = ..., slots: _Optional[int] = ..., class_key: _Optional[bytes] = ..., resources: _Optional[_Mapping[str, float]] = ..., client_id: _Optional[bytes] = ..., job_id: _Optional[bytes] = ...) -> None: ...

class LeaseEnd(_message.Message):
    __slots__ = ("lease_id", "why")
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    WHY_FIELD_NUMBER: _ClassVar[int]
    lease_id: bytes
    why: str
    def __init__(self, lease_id: _Optional[bytes] = ..., why: _Optional[str] = ...) -> None: ...

class LeaseTaskRecord(_message.Message):
    __slots__ = ("spec", "lease_id", "attempt", "started", "finished", "results", "is_error", "error_summary", "node_id")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    IS_ERROR_FIELD_NUMBER: _ClassVar[int]
    ERROR_SUMMARY_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    spec: _common_pb2.TaskSpec
    lease_id: bytes
    attempt: int
    started: float
    finished: float
    results: _containers.RepeatedCompositeFieldContainer[_common_pb2.ObjectValue]
    is_error: bool
    error_summary: str
    node_id: bytes
    def __init__(self, spec: _Optional[_Union[_common_pb2.TaskSpec, _Mapping]] = ..., lease_id: _Optional[bytes] = ..., attempt: _Optional[int] = ..., started: _Optional[float] = ..., finished: _Optional[float] = ..., results: _Optional[_Iterable[_Union[_common_pb2.ObjectValue, _Mapping]]] = ..., is_error: _Optional[bool] = ..., error_summary: _Optional[str] = ..., node_id: _Optional[bytes] = ...) -> None: ...

class LeaseLend(_message.Message):
    __slots__ = ("lease_id", "blocked")
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_FIELD_NUMBER: _ClassVar[int]
    lease_id: bytes
    blocked: bool
    def __init__(self, lease_id: _Optional[bytes] = ..., blocked: _Optional[bool] = ...) -> None: ...
