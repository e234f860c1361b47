from raylite.rpc import common_pb2 as _common_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

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
