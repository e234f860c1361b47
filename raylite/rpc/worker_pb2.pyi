from raylite.rpc import common_pb2 as _common_pb2
from raylite.rpc import head_pb2 as _head_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LeaseBatch(_message.Message):
    __slots__ = ("lease_id", "client_id", "protocol_version", "tasks", "args", "functions", "cancels", "attempts", "force_cancels")
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    FUNCTIONS_FIELD_NUMBER: _ClassVar[int]
    CANCELS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    FORCE_CANCELS_FIELD_NUMBER: _ClassVar[int]
    lease_id: bytes
    client_id: bytes
    protocol_version: int
    tasks: _containers.RepeatedCompositeFieldContainer[_common_pb2.TaskSpec]
    args: _containers.RepeatedCompositeFieldContainer[_common_pb2.ObjectValue]
    functions: _containers.RepeatedCompositeFieldContainer[_common_pb2.ExportedFunction]
    cancels: _containers.RepeatedScalarFieldContainer[bytes]
    attempts: _containers.RepeatedScalarFieldContainer[int]
    force_cancels: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, lease_id: _Optional[bytes] = ..., client_id: _Optional[bytes] = ..., protocol_version: _Optional[int] = ..., tasks: _Optional[_Iterable[_Union[_common_pb2.TaskSpec, _Mapping]]] = ..., args: _Optional[_Iterable[_Union[_common_pb2.ObjectValue, _Mapping]]] = ..., functions: _Optional[_Iterable[_Union[_common_pb2.ExportedFunction, _Mapping]]] = ..., cancels: _Optional[_Iterable[bytes]] = ..., attempts: _Optional[_Iterable[int]] = ..., force_cancels: _Optional[_Iterable[bytes]] = ...) -> None: ...

class LeaseReplyBatch(_message.Message):
    __slots__ = ("results", "bounced", "refused")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    BOUNCED_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[_head_pb2.TaskResult]
    bounced: _containers.RepeatedScalarFieldContainer[bytes]
    refused: str
    def __init__(self, results: _Optional[_Iterable[_Union[_head_pb2.TaskResult, _Mapping]]] = ..., bounced: _Optional[_Iterable[bytes]] = ..., refused: _Optional[str] = ...) -> None: ...

class ListLogFilesRequest(_message.Message):
    __slots__ = ("glob",)
    GLOB_FIELD_NUMBER: _ClassVar[int]
    glob: str
    def __init__(self, glob: _Optional[str] = ...) -> None: ...

class LogFileInfo(_message.Message):
    __slots__ = ("name", "size", "mtime")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    MTIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    size: int
    mtime: float
    def __init__(self, name: _Optional[str] = ..., size: _Optional[int] = ..., mtime: _Optional[float] = ...) -> None: ...

class ListLogFilesReply(_message.Message):
    __slots__ = ("log_dir", "files")
    LOG_DIR_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    log_dir: str
    files: _containers.RepeatedCompositeFieldContainer[LogFileInfo]
    def __init__(self, log_dir: _Optional[str] = ..., files: _Optional[_Iterable[_Union[LogFileInfo, _Mapping]]] = ...) -> None: ...

class ReadLogFileRequest(_message.Message):
    __slots__ = ("name", "tail", "offset", "follow", "task_id", "actor_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TAIL_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    tail: int
    offset: int
    follow: bool
    task_id: bytes
    actor_id: bytes
    def __init__(self, name: _Optional[str] = ..., tail: _Optional[int] = ..., offset: _Optional[int] = ..., follow: _Optional[bool] = ..., task_id: _Optional[bytes] = ..., actor_id: _Optional[bytes] = ...) -> None: ...

class LogFileChunk(_message.Message):
    __slots__ = ("name", "data", "end_offset")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    END_OFFSET_FIELD_NUMBER: _ClassVar[int]
    name: str
    data: bytes
    end_offset: int
    def __init__(self, name: _Optional[str] = ..., data: _Optional[bytes] = ..., end_offset: _Optional[int] = ...) -> None: ...

class BulkTicketRequest(_message.Message):
    __slots__ = ("object_id", "connections")
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    object_id: bytes
    connections: int
    def __init__(self, object_id: _Optional[bytes] = ..., connections: _Optional[int] = ...) -> None: ...

class BulkTicketReply(_message.Message):
    __slots__ = ("port", "size", "tickets")
    PORT_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    TICKETS_FIELD_NUMBER: _ClassVar[int]
    port: int
    size: int
    tickets: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, port: _Optional[int] = ..., size: _Optional[int] = ..., tickets: _Optional[_Iterable[bytes]] = ...) -> None: ...

class ReserveRequest(_message.Message):
    __slots__ = ("object_id", "size", "writer_pid")
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    WRITER_PID_FIELD_NUMBER: _ClassVar[int]
    object_id: bytes
    size: int
    writer_pid: int
    def __init__(self, object_id: _Optional[bytes] = ..., size: _Optional[int] = ..., writer_pid: _Optional[int] = ...) -> None: ...

class ReserveReply(_message.Message):
    __slots__ = ("error", "in_arena", "arena_offset", "arena_length")
    ERROR_FIELD_NUMBER: _ClassVar[int]
    IN_ARENA_FIELD_NUMBER: _ClassVar[int]
    ARENA_OFFSET_FIELD_NUMBER: _ClassVar[int]
    ARENA_LENGTH_FIELD_NUMBER: _ClassVar[int]
    error: str
    in_arena: bool
    arena_offset: int
    arena_length: int
    def __init__(self, error: _Optional[str] = ..., in_arena: _Optional[bool] = ..., arena_offset: _Optional[int] = ..., arena_length: _Optional[int] = ...) -> None: ...

class FetchObjectRequest(_message.Message):
    __slots__ = ("object_id",)
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    object_id: bytes
    def __init__(self, object_id: _Optional[bytes] = ...) -> None: ...

class ObjectChunk(_message.Message):
    __slots__ = ("object_id", "total_size", "offset", "data")
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    object_id: bytes
    total_size: int
    offset: int
    data: bytes
    def __init__(self, object_id: _Optional[bytes] = ..., total_size: _Optional[int] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class PullRequest(_message.Message):
    __slots__ = ("location",)
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    location: _common_pb2.ObjectValue
    def __init__(self, location: _Optional[_Union[_common_pb2.ObjectValue, _Mapping]] = ...) -> None: ...

class PullReply(_message.Message):
    __slots__ = ("error",)
    ERROR_FIELD_NUMBER: _ClassVar[int]
    error: str
    def __init__(self, error: _Optional[str] = ...) -> None: ...

class PushObjectReply(_message.Message):
    __slots__ = ("error",)
    ERROR_FIELD_NUMBER: _ClassVar[int]
    error: str
    def __init__(self, error: _Optional[str] = ...) -> None: ...
