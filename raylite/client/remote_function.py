"""@remote functions."""

from __future__ import annotations

import functools
import inspect
from typing import Any

import cloudpickle

from raylite import ids
from raylite.client import generator, submit
from raylite.client.object_ref import ObjectRef
from raylite.rpc import common_pb2


class RemoteFunction:
    """A function that runs as a task: call `.remote(...)` to submit it."""

    def __init__(self, function: Any, options: dict[str, Any]) -> None:
        submit.check_options(options, submit.TASK_OPTIONS, f"@remote function {function.__qualname__}")
        generator.kind_of(function, options.get("num_returns"), f"@remote function {function.__qualname__}")
        self._function = function
        self._options = options
        self._name = function.__qualname__
        self._signature = _signature(function)
        self._max_calls = _max_calls(options, function.__qualname__)
        self._arity = positional_arity(self._signature)
        self._export_cache: dict[str, Any] = {}
        self._kinds: dict[Any, common_pb2.GeneratorKind] = {}  # num_returns option -> generator.kind_of
        self._spec_templates: dict[Any, common_pb2.TaskSpec] = {}  # submit.task_spec
        functools.update_wrapper(self, function)

    def __getstate__(self) -> dict[str, Any]:
        # the spec templates name this process's client: a copy elsewhere makes its own
        return {**self.__dict__, "_spec_templates": {}}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            f"Remote functions cannot be called directly. Instead of running '{self._name}()', "
            f"try '{self._name}.remote()'."
        )

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        return self._remote(args, kwargs, self._options)

    def options(self, **options: Any) -> _BoundOptions:
        submit.check_options(options, submit.TASK_OPTIONS, f"{self._name}.options()")
        generator.kind_of(self._function, options.get("num_returns"), f"{self._name}.options()")
        return _BoundOptions(self, {**self._options, **options})

    def bind(self, *args: Any, **kwargs: Any) -> Any:
        """A node of a task graph (raylite.dag) that calls this function at execute()."""
        return self._bind(args, kwargs, {})

    def _bind(self, args: tuple[Any, ...], kwargs: dict[str, Any], options: dict[str, Any]) -> Any:
        from raylite.dag import FunctionNode

        return FunctionNode(self, args, kwargs, options)

    def _remote(self, args: tuple[Any, ...], kwargs: dict[str, Any], options: dict[str, Any]) -> Any:
        if self._signature is not None and (kwargs or len(args) != self._arity):
            try:
                self._signature.bind(*args, **kwargs)
            except TypeError as exc:
                raise TypeError(
                    f"{self._name}.remote() got arguments that do not fit {self._name}{self._signature}: {exc}"
                ) from None
        client = submit.current_client()
        fid = submit.export(client, self._export_cache, self._function)
        packed = submit.pack_arguments(client, args, kwargs, f"{self._name}.remote()")
        wanted = options.get("num_returns")
        generator_kind = self._kinds.get(wanted)
        if generator_kind is None:
            generator_kind = self._kinds[wanted] = generator.kind_of(self._function, wanted, self._name)
        num_returns = 1 if generator_kind else int(options.get("num_returns", 1))
        name = options.get("name") or self._name  # get_runtime_context().get_task_name()
        if options is self._options:  # the same options each call: the spec's template is kept
            spec = submit.task_spec(
                client,
                self._spec_templates,
                name=name,
                function_id=fid,
                payload=packed.payload,
                deps=packed.deps,
                borrowed=packed.borrowed,
                options=options,
                num_returns=max(1, num_returns),
            )
        else:
            spec = submit.build_spec(
                client,
                kind=common_pb2.NORMAL,
                name=name,
                function_id=fid,
                payload=packed.payload,
                deps=packed.deps,
                borrowed=packed.borrowed,
                options=options,
                default_cpus=1.0,
                num_returns=max(1, num_returns),
            )
        retry_exceptions = options.get("retry_exceptions")
        if retry_exceptions:
            spec.retry_exceptions = _retry_exceptions_blob(retry_exceptions, self._name)
        spec.generator = generator_kind
        if self._max_calls:
            spec.max_calls = self._max_calls
        if generator_kind:
            refs, spec = generator.returns_of(client, spec, options.get("num_returns"), options)
        else:
            refs = return_refs(spec.task_id, num_returns)  # held before the head hears of the task
        client.submit(spec)
        # num_returns=0 (as Ray's): the call returns None; the task still runs, and its one hidden
        # return (a value or an error nobody can get) is freed like a fire-and-forget call's
        return refs if num_returns else None


class _BoundOptions:
    def __init__(self, target: Any, options: dict[str, Any]) -> None:
        self._target = target
        self._options = options

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        return self._target._remote(args, kwargs, self._options)

    def bind(self, *args: Any, **kwargs: Any) -> Any:
        return self._target._bind(args, kwargs, self._options)


def _max_calls(options: dict[str, Any], name: str) -> int:
    """The calls of this function one executor runs before it exits (0: no limit).

    As Ray's: a property of the definition (@remote(max_calls=n)); .options(max_calls=...)
    does not change it; a function that asks for GPUs in @remote gets 1 unless told
    otherwise, so that each call's process lets go of what it held on the GPU.
    """
    value = options.get("max_calls")
    if value is None:
        return 1 if (options.get("num_gpus") or 0) > 0 else 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"@remote function {name}: max_calls must be a whole number >= 0 (0: no limit), got {value!r}")
    return value


def _retry_exceptions_blob(value: Any, name: str) -> bytes:
    """retry_exceptions=True, or a list of exception classes, as the executor reads it."""
    if value is True:
        return cloudpickle.dumps(True)
    classes = list(value) if isinstance(value, (list, tuple)) else None
    if not classes or not all(isinstance(c, type) and issubclass(c, BaseException) for c in classes):
        raise TypeError(f"{name}: retry_exceptions must be True or a list of exception classes, got {value!r}")
    return cloudpickle.dumps(classes)


def return_refs(task_id: bytes, num_returns: int) -> Any:
    if num_returns == 1:
        return ObjectRef(task_id + b"\0\0\0\0")
    return [ObjectRef(ids.object_id(task_id, i)) for i in range(max(1, num_returns))]


def positional_arity(signature: inspect.Signature | None) -> int:
    """n when the signature is n plain parameters (no defaults, *args or keyword-only ones), which n
    positional arguments always fit (their check, Signature.bind, costs 5 us a call); else -1."""
    if signature is None:
        return -1
    params = signature.parameters.values()
    plain = inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.POSITIONAL_ONLY
    if all(p.kind in plain and p.default is inspect.Parameter.empty for p in params):
        return len(signature.parameters)
    return -1


def _signature(function: Any) -> inspect.Signature | None:
    try:
        return inspect.signature(function)
    except (TypeError, ValueError):
        return None
