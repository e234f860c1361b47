from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaskKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NORMAL: _ClassVar[TaskKind]
    ACTOR_CREATION: _ClassVar[TaskKind]
    ACTOR_METHOD: _ClassVar[TaskKind]

class GeneratorKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NOT_GENERATOR: _ClassVar[GeneratorKind]
    STREAMING: _ClassVar[GeneratorKind]
    DYNAMIC: _ClassVar[GeneratorKind]
NORMAL: TaskKind
ACTOR_CREATION: TaskKind
ACTOR_METHOD: TaskKind
NOT_GENERATOR: GeneratorKind
STREAMING: GeneratorKind
DYNAMIC: GeneratorKind

class SchedulingStrategy(_message.Message):
    __slots__ = ("kind", "node_id", "soft", "placement_group_id", "bundle_index", "capture_child_tasks", "hard_labels", "soft_labels")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    SOFT_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_INDEX_FIELD_NUMBER: _ClassVar[int]
    CAPTURE_CHILD_TASKS_FIELD_NUMBER: _ClassVar[int]
    HARD_LABELS_FIELD_NUMBER: _ClassVar[int]
    SOFT_LABELS_FIELD_NUMBER: _ClassVar[int]
    kind: str
    node_id: bytes
    soft: bool
    placement_group_id: bytes
    bundle_index: int
    capture_child_tasks: bool
    hard_labels: _containers.RepeatedCompositeFieldContainer[LabelMatch]
    soft_labels: _containers.RepeatedCompositeFieldContainer[LabelMatch]
    def __init__(self, kind: _Optional[str] = ..., node_id: _Optional[bytes] = ..., soft: _Optional[bool] = ..., placement_group_id: _Optional[bytes] = ..., bundle_index: _Optional[int] = ..., capture_child_tasks: _Optional[bool] = ..., hard_labels: _Optional[_Iterable[_Union[LabelMatch, _Mapping]]] = ..., soft_labels: _Optional[_Iterable[_Union[LabelMatch, _Mapping]]] = ...) -> None: ...

class LabelMatch(_message.Message):
    __slots__ = ("key", "op", "values")
    KEY_FIELD_NUMBER: _ClassVar[int]
    OP_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    key: str
    op: str
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, key: _Optional[str] = ..., op: _Optional[str] = ..., values: _Optional[_Iterable[str]] = ...) -> None: ...

class TaskSpec(_message.Message):
    __slots__ = ("task_id", "job_id", "name", "kind", "resources", "dependencies", "num_returns", "max_retries", "actor_id", "strategy", "payload", "actor_name", "detached", "actor_meta", "placement", "function_id", "max_concurrency", "retry_exceptions", "max_restarts", "max_task_retries", "borrowed", "runtime_env", "runtime_env_packages", "parent_task_id", "actor_namespace", "concurrency_group", "generator", "generator_backpressure", "call_seq", "direct_incarnation", "max_calls")
    class ResourcesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class PlacementEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class RuntimeEnvPackagesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: bytes
        def __init__(self, key: _Optional[str] = ..., value: _Optional[bytes] = ...) -> None: ...
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    DEPENDENCIES_FIELD_NUMBER: _ClassVar[int]
    NUM_RETURNS_FIELD_NUMBER: _ClassVar[int]
    MAX_RETRIES_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    ACTOR_NAME_FIELD_NUMBER: _ClassVar[int]
    DETACHED_FIELD_NUMBER: _ClassVar[int]
    ACTOR_META_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    RETRY_EXCEPTIONS_FIELD_NUMBER: _ClassVar[int]
    MAX_RESTARTS_FIELD_NUMBER: _ClassVar[int]
    MAX_TASK_RETRIES_FIELD_NUMBER: _ClassVar[int]
    BORROWED_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_ENV_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_ENV_PACKAGES_FIELD_NUMBER: _ClassVar[int]
    PARENT_TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    CONCURRENCY_GROUP_FIELD_NUMBER: _ClassVar[int]
    GENERATOR_FIELD_NUMBER: _ClassVar[int]
    GENERATOR_BACKPRESSURE_FIELD_NUMBER: _ClassVar[int]
    CALL_SEQ_FIELD_NUMBER: _ClassVar[int]
    DIRECT_INCARNATION_FIELD_NUMBER: _ClassVar[int]
    MAX_CALLS_FIELD_NUMBER: _ClassVar[int]
    task_id: bytes
    job_id: bytes
    name: str
    kind: TaskKind
    resources: _containers.ScalarMap[str, float]
    dependencies: _containers.RepeatedScalarFieldContainer[bytes]
    num_returns: int
    max_retries: int
    actor_id: bytes
    strategy: SchedulingStrategy
    payload: bytes
    actor_name: str
    detached: bool
    actor_meta: bytes
    placement: _containers.ScalarMap[str, float]
    function_id: bytes
    max_concurrency: int
    retry_exceptions: bytes
    max_restarts: int
    max_task_retries: int
    borrowed: _containers.RepeatedScalarFieldContainer[bytes]
    runtime_env: str
    runtime_env_packages: _containers.ScalarMap[str, bytes]
    parent_task_id: bytes
    actor_namespace: str
    concurrency_group: str
    generator: GeneratorKind
    generator_backpressure: int
    call_seq: int
    direct_incarnation: int
    max_calls: int
    def __init__(self, task_id: _Optional[bytes] = ..., job_id: _Optional[bytes] = ..., name: _Optional[str] = ..., kind: _Optional[_Union[TaskKind, str]] = ..., resources: _Optional[_Mapping[str, float]] = ..., dependencies: _Optional[_Iterable[bytes]] = ..., num_returns: _Optional[int] = ..., max_retries: _Optional[int] = ..., actor_id: _Optional[bytes] = ..., strategy: _Optional[_Union[SchedulingStrategy, _Mapping]] = ..., payload: _Optional[bytes] = ..., actor_name: _Optional[str] = ..., detached: _Optional[bool] = ..., actor_meta: _Optional[bytes] = ..., placement: _Optional[_Mapping[str, float]] = ..., function_id: _Optional[bytes] = ..., max_concurrency: _Optional[int] = ..., retry_exceptions: _Optional[bytes] = ..., max_restarts: _Optional[int] = ..., max_task_retries: _Optional[int] = ..., borrowed: _Optional[_Iterable[bytes]] = ..., runtime_env: _Optional[str] = ..., runtime_env_packages: _Optional[_Mapping[str, bytes]] = ..., parent_task_id: _Optional[bytes] = ..., actor_namespace: _Optional[str] = ..., concurrency_group: _Optional[str] = ..., generator: _Optional[_Union[GeneratorKind, str]] = ..., generator_backpressure: _Optional[int] = ..., call_seq: _Optional[int] = ..., direct_incarnation: _Optional[int] = ..., max_calls: _Optional[int] = ...) -> None: ...

class ExportedFunction(_message.Message):
    __slots__ = ("function_id", "blob")
    FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    BLOB_FIELD_NUMBER: _ClassVar[int]
    function_id: bytes
    blob: bytes
    def __init__(self, function_id: _Optional[bytes] = ..., blob: _Optional[bytes] = ...) -> None: ...

class ObjectValue(_message.Message):
    __slots__ = ("object_id", "data", "node_id", "node_address", "size", "is_error", "in_store", "copy_addresses", "contained")
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    IS_ERROR_FIELD_NUMBER: _ClassVar[int]
    IN_STORE_FIELD_NUMBER: _ClassVar[int]
    COPY_ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    CONTAINED_FIELD_NUMBER: _ClassVar[int]
    object_id: bytes
    data: bytes
    node_id: bytes
    node_address: str
    size: int
    is_error: bool
    in_store: bool
    copy_addresses: _containers.RepeatedScalarFieldContainer[str]
    contained: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, object_id: _Optional[bytes] = ..., data: _Optional[bytes] = ..., node_id: _Optional[bytes] = ..., node_address: _Optional[str] = ..., size: _Optional[int] = ..., is_error: _Optional[bool] = ..., in_store: _Optional[bool] = ..., copy_addresses: _Optional[_Iterable[str]] = ..., contained: _Optional[_Iterable[bytes]] = ...) -> None: ...

class NodeInfo(_message.Message):
    __slots__ = ("node_id", "address", "ip", "host_key", "total", "available", "alive", "store_dir", "labels")
    class TotalEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class AvailableEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    IP_FIELD_NUMBER: _ClassVar[int]
    HOST_KEY_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    ALIVE_FIELD_NUMBER: _ClassVar[int]
    STORE_DIR_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    node_id: bytes
    address: str
    ip: str
    host_key: str
    total: _containers.ScalarMap[str, float]
    available: _containers.ScalarMap[str, float]
    alive: bool
    store_dir: str
    labels: _containers.ScalarMap[str, str]
    def __init__(self, node_id: _Optional[bytes] = ..., address: _Optional[str] = ..., ip: _Optional[str] = ..., host_key: _Optional[str] = ..., total: _Optional[_Mapping[str, float]] = ..., available: _Optional[_Mapping[str, float]] = ..., alive: _Optional[bool] = ..., store_dir: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class PlacementGroupSpec(_message.Message):
    __slots__ = ("placement_group_id", "name", "bundles", "strategy", "detached", "job_id")
    PLACEMENT_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    BUNDLES_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    DETACHED_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    placement_group_id: bytes
    name: str
    bundles: _containers.RepeatedCompositeFieldContainer[Bundle]
    strategy: str
    detached: bool
    job_id: bytes
    def __init__(self, placement_group_id: _Optional[bytes] = ..., name: _Optional[str] = ..., bundles: _Optional[_Iterable[_Union[Bundle, _Mapping]]] = ..., strategy: _Optional[str] = ..., detached: _Optional[bool] = ..., job_id: _Optional[bytes] = ...) -> None: ...

class Bundle(_message.Message):
    __slots__ = ("resources", "label_selector")
    class ResourcesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    LABEL_SELECTOR_FIELD_NUMBER: _ClassVar[int]
    resources: _containers.ScalarMap[str, float]
    label_selector: _containers.RepeatedCompositeFieldContainer[LabelMatch]
    def __init__(self, resources: _Optional[_Mapping[str, float]] = ..., label_selector: _Optional[_Iterable[_Union[LabelMatch, _Mapping]]] = ...) -> None: ...
