"""@remote classes (actors), their handles and methods."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import types
from dataclasses import dataclass, field
from typing import Any

import cloudpickle

from raylite import exceptions
from raylite.client import generator, named_actors, submit
from raylite.client.object_ref import ObjectRef
from raylite.client.remote_function import (
    _BoundOptions,
    _retry_exceptions_blob,
    _signature,
    positional_arity,
    return_refs,
)
from raylite.ids import object_id
from raylite.rpc import common_pb2


@dataclass(frozen=True)
class ActorMeta:
    """What a handle needs to know of its class; travels with the handle (and to the
    actor's process, which reads its concurrency groups)."""

    class_name: str
    methods: dict[str, Any] = field(default_factory=dict)  # name -> num_returns (or "streaming", "dynamic")
    is_async: bool = False
    # name -> the method's parameters without self, to check calls where they are made
    signatures: dict[str, inspect.Signature] = field(default_factory=dict)
    # name -> the options of @method(...) other than num_returns (concurrency_group, retry_exceptions, ...)
    method_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    concurrency_groups: dict[str, int] = field(default_factory=dict)  # the class's option: group -> threads
    max_pending_calls: int = -1  # calls a caller may have unfinished on the actor (-1: no limit)
    max_task_retries: int = 0  # the actor's option, for methods that retry on exceptions


# The methods every actor has, besides its class's own (as Ray's): name -> num_returns.
BUILTIN_METHODS = {"__ray_ready__": 1, "__ray_terminate__": 1}
METHOD_OPTIONS = frozenset(
    {"num_returns", "concurrency_group", "max_task_retries", "retry_exceptions", "_generator_backpressure_num_objects"}
)


class _Default:
    """Stands for a parameter's default value in a handle's signatures: the value
    itself may not pickle, and only whether there is one matters for checking a call."""

    def __repr__(self) -> str:
        return "..."


_DEFAULT = _Default()


def method(*args: Any, **options: Any) -> Any:
    """Decorator for actor methods: @raylite.method(num_returns=2, concurrency_group="io",
    max_task_retries=3, retry_exceptions=[ValueError])."""
    if args or not options:
        raise ValueError(
            "@raylite.method takes keyword arguments only, at least one of "
            f"{sorted(METHOD_OPTIONS)}: write @raylite.method(num_returns=2)"
        )
    submit.check_options(options, METHOD_OPTIONS, "@method")
    if "retry_exceptions" in options:
        _retry_exceptions_blob(options["retry_exceptions"], "@method")

    def mark(fn: Any) -> Any:
        fn.__raylite_method_options__ = dict(options)
        return fn

    return mark


class ActorClass:
    """A class whose instances are actors: call `.remote(...)` to create one."""

    def __init__(self, cls: type, options: dict[str, Any]) -> None:
        submit.check_options(options, submit.ACTOR_OPTIONS, f"@remote class {cls.__qualname__}")
        self._cls = cls
        self._options = options
        self._name = cls.__qualname__
        self._export_cache: dict[str, Any] = {}
        methods: dict[str, int | str] = dict(BUILTIN_METHODS)
        signatures = {}
        method_options = {}
        is_async = False
        for name, fn in inspect.getmembers(cls, predicate=callable):
            if name.startswith("__") and name not in ("__call__",):
                continue
            marked = dict(getattr(fn, "__raylite_method_options__", {}))
            # as Ray's: a generator method streams unless @method(num_returns=...) says otherwise
            methods[name] = marked.pop("num_returns", None)
            generator.kind_of(fn, methods[name], f"{self._name}.{name}")
            if methods[name] is None:
                is_generator = inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn)
                methods[name] = "streaming" if is_generator else 1
            if marked:
                method_options[name] = marked
            is_async = is_async or inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)
            signature = _method_signature(cls, name, fn)
            if signature is not None:
                signatures[name] = signature
        self._meta = ActorMeta(self._name, methods, is_async, signatures, method_options)
        self._init_signature = _signature(cls.__dict__["__init__"]) if "__init__" in cls.__dict__ else None
        self.__doc__ = cls.__doc__

    def __getattr__(self, name: str) -> Any:
        # Class attributes, static and class methods of the user's class read through,
        # as on Ray's ActorClass (a subclass of the user's class there).
        cls = self.__dict__.get("_cls")
        if cls is None or (name.startswith("__") and name.endswith("__")):
            raise AttributeError(name)
        value = getattr(cls, name)
        if isinstance(value, types.FunctionType):
            # Not the function itself: cloudpickle would then find it at module.Class.name
            # and pickle the class's methods by reference, in a module executors may not have.
            return functools.wraps(value)(functools.partial(value))
        return value

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            f"Actors cannot be instantiated directly. Instead of '{self._name}()', use '{self._name}.remote()'."
        )

    def remote(self, *args: Any, **kwargs: Any) -> ActorHandle:
        return self._remote(args, kwargs, self._options)

    def options(self, **options: Any) -> _BoundOptions:
        submit.check_options(options, submit.ACTOR_OPTIONS, f"{self._name}.options()")
        if "concurrency_groups" in options:  # as Ray: the groups belong to the class
            raise ValueError(
                f"Setting 'concurrency_groups' is not supported in '.options()': declare them on the class, "
                f"@remote(concurrency_groups=...) on {self._name}"
            )
        return _BoundOptions(self, {**self._options, **options})

    def bind(self, *args: Any, **kwargs: Any) -> Any:
        """A node of a task graph (raylite.dag) that creates this actor at execute()."""
        return self._bind(args, kwargs, {})

    def _bind(self, args: tuple[Any, ...], kwargs: dict[str, Any], options: dict[str, Any]) -> Any:
        from raylite.dag import ClassNode

        return ClassNode(self, args, kwargs, options)

    def _remote(self, args: tuple[Any, ...], kwargs: dict[str, Any], options: dict[str, Any]) -> ActorHandle:
        if self._init_signature is not None:
            try:
                self._init_signature.bind(None, *args, **kwargs)
            except TypeError as exc:
                raise TypeError(
                    f"{self._name}.remote() got arguments that do not fit {self._name}.__init__"
                    f"{self._init_signature}: {exc}"
                ) from None
        client = submit.current_client()
        name = options.get("name") or ""
        namespace = ""
        if name:
            if not isinstance(name, str):
                raise TypeError(f"{self._name}.options(name=...) takes a string, got {type(name).__name__}: {name!r}")
            namespace = options.get("namespace") or named_actors.current_namespace(client)
            handle = self._named(client, name, namespace, bool(options.get("get_if_exists")))
            if handle is not None:
                return handle
        elif options.get("get_if_exists"):
            raise ValueError(f"{self._name}.options(get_if_exists=True) needs a name= to look the actor up by")
        meta = self._meta_for(options)
        fid = submit.export(client, self._export_cache, self._cls)
        packed = submit.pack_arguments(client, args, kwargs, f"{self._name}.remote()")
        spec = submit.build_spec(
            client,
            kind=common_pb2.ACTOR_CREATION,
            name=f"{self._name}.__init__",
            function_id=fid,
            payload=packed.payload,
            deps=packed.deps,
            borrowed=packed.borrowed,
            options={**options, "max_retries": 0},
            default_cpus=0.0,
        )
        # Like Ray: an actor needs 1 CPU free to be placed unless told otherwise,
        # and holds only what it explicitly asked for.
        held = dict(spec.resources)
        spec.placement.update(held if held or options.get("num_cpus") is not None else {"CPU": 1.0})
        spec.actor_name = name
        spec.detached = options.get("lifetime") == "detached"
        spec.max_concurrency = int(options.get("max_concurrency") or (1000 if self._meta.is_async else 1))
        spec.actor_namespace = namespace
        spec.actor_meta = cloudpickle.dumps(meta)
        spec.max_restarts = int(options.get("max_restarts", 0))
        spec.max_task_retries = int(options.get("max_task_retries", 0))
        handle = ActorHandle(spec.task_id, meta)  # its ref is held before the head hears of the actor
        client.submit(spec)
        return handle

    def _named(self, client: Any, name: str, namespace: str, get_if_exists: bool) -> ActorHandle | None:
        """The live actor of that name when get_if_exists; ActorAlreadyExistsError when it is taken."""
        existing = named_actors.lookup(client, name, namespace)
        if existing is None:
            return None
        if get_if_exists:
            return existing
        raise exceptions.ActorAlreadyExistsError(named_actors.taken_message(name, namespace))

    def _meta_for(self, options: dict[str, Any]) -> ActorMeta:
        """The class's handle metadata with the options of this creation that callers and the actor read."""
        groups = options.get("concurrency_groups") or {}
        if not isinstance(groups, dict) or not all(
            isinstance(k, str) and k and isinstance(v, int) and v >= 1 for k, v in groups.items()
        ):
            raise ValueError(
                f"{self._name}: concurrency_groups must map group names to a number of concurrent calls >= 1, "
                f"got {groups!r}"
            )
        for method_name, marked in self._meta.method_options.items():
            group = marked.get("concurrency_group")
            if group is not None and group not in groups:
                raise ValueError(
                    f"{self._name}.{method_name} is in concurrency group {group!r}, which {self._name} does not "
                    f"declare; declare it with @remote(concurrency_groups={{{group!r}: N}})"
                )
        pending = options.get("max_pending_calls", -1)
        if not isinstance(pending, int) or pending == 0 or pending < -1:
            raise ValueError(f"{self._name}: max_pending_calls must be -1 (no limit) or >= 1, got {pending!r}")
        return dataclasses.replace(
            self._meta,
            concurrency_groups=dict(groups),
            max_pending_calls=pending,
            max_task_retries=int(options.get("max_task_retries", 0)),
        )


class ActorHandle:
    """A reference to a live actor; pickles, so it can be passed to tasks and actors.

    Each handle holds an ObjectRef to the actor's creation result, so the
    cluster's reference counting sees every handle in every process (and inside
    stored values and queued tasks): when the last one goes, the head ends the
    actor, unless it is detached.
    """

    def __init__(self, actor_id: bytes, meta: ActorMeta, ref: ObjectRef | None = None) -> None:
        self._actor_id = actor_id
        self._meta = meta
        self._ref = ref if ref is not None else ObjectRef(object_id(actor_id, 0))
        self._spec_templates: dict[tuple[bytes, bytes, str, int], common_pb2.TaskSpec] = {}  # submit.method_spec
        self._arities: dict[str, int] = {}  # method -> remote_function.positional_arity of its signature

    def __getattr__(self, name: str) -> ActorMethod:
        if name.startswith("__") and name not in BUILTIN_METHODS:
            raise AttributeError(name)
        meta = self.__dict__.get("_meta")
        if meta is None or name not in meta.methods:
            known = ", ".join(sorted(m for m in meta.methods if m not in BUILTIN_METHODS)) if meta else ""
            raise AttributeError(
                f"actor class {meta.class_name if meta else '?'} has no method {name!r}; "
                f"call one of its methods: {known or '(it has none)'}"
            )
        return ActorMethod(self, name, meta.methods[name])

    def __reduce__(self) -> tuple[Any, ...]:
        return (ActorHandle, (self._actor_id, self._meta, self._ref))

    def __repr__(self) -> str:
        return f"Actor({self._meta.class_name}, {self._actor_id.hex()[:16]})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ActorHandle) and other._actor_id == self._actor_id

    def __hash__(self) -> int:
        return hash(self._actor_id)


class ActorMethod:
    def __init__(self, handle: ActorHandle, name: str, num_returns: Any) -> None:
        self._handle = handle
        self._name = name
        self._num_returns = num_returns

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            f"Actor methods cannot be called directly. Instead of 'actor.{self._name}()', "
            f"use 'actor.{self._name}.remote()' (on the handle of the {self._handle._meta.class_name} actor)."
        )

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        return self._remote(args, kwargs, {})

    def options(self, **options: Any) -> _BoundOptions:
        submit.check_options(options, METHOD_OPTIONS, f"{self._handle._meta.class_name}.{self._name}.options()")
        return _BoundOptions(self, options)

    def bind(self, *args: Any, **kwargs: Any) -> Any:
        """A node of a task graph (raylite.dag) that calls this method at execute()."""
        return self._bind(args, kwargs, {})

    def _bind(self, args: tuple[Any, ...], kwargs: dict[str, Any], options: dict[str, Any]) -> Any:
        from raylite.dag import ClassMethodNode

        return ClassMethodNode(self._handle, self._name, args, kwargs, options)

    def _remote(self, args: tuple[Any, ...], kwargs: dict[str, Any], options: dict[str, Any]) -> Any:
        full_name = f"{self._handle._meta.class_name}.{self._name}"
        signature = self._handle._meta.signatures.get(self._name)
        arity = self._handle._arities.get(self._name)
        if arity is None and signature is not None:
            arity = self._handle._arities[self._name] = positional_arity(signature)
        if signature is not None and (kwargs or len(args) != arity):
            try:
                signature.bind(*args, **kwargs)
            except TypeError as exc:
                raise TypeError(
                    f"{full_name}.remote() got arguments that do not fit {full_name}{signature}: {exc}"
                ) from None
        meta = self._handle._meta
        options = {**meta.method_options.get(self._name, {}), **options}
        client = submit.current_client()
        limit = meta.max_pending_calls
        if limit > 0 and client.pending_calls.count(self._handle._actor_id) >= limit:
            raise exceptions.PendingCallsLimitExceeded(
                f"The call {full_name} could not be submitted to {self._handle!r}: {limit} calls made from this "
                f"process are still unfinished on it, its max_pending_calls. Wait for some (get) before calling "
                f"again, or raise the limit with the max_pending_calls actor option."
            )
        packed = submit.pack_arguments(client, args, kwargs, f"{full_name}.remote()")
        wanted = options.get("num_returns", self._num_returns)
        generator_kind = generator.kind_of(None, wanted, full_name)
        num_returns = 1 if generator_kind else int(wanted)
        spec = submit.method_spec(
            client,
            self._handle._spec_templates,
            name=full_name,
            actor_id=self._handle._actor_id,
            payload=self._name.encode() + b"\0" + packed.payload,
            deps=packed.deps,
            # a call keeps its actor alive until it is done, even if no handle is left
            borrowed=[*packed.borrowed, self._handle._ref.binary()],
            num_returns=max(1, num_returns),
        )
        group = options.get("concurrency_group")
        if group:
            spec.concurrency_group = group
        if options.get("retry_exceptions"):
            spec.retry_exceptions = _retry_exceptions_blob(options["retry_exceptions"], f"{full_name}.options()")
            spec.max_retries = int(options.get("max_task_retries", meta.max_task_retries))
        spec.generator = generator_kind
        if generator_kind:
            refs, spec = generator.returns_of(client, spec, wanted, options)
        else:
            if getattr(client, "direct_on", False):  # (a test's stand-in client has no direct calls)
                client.expect_direct(spec)  # (raylite/client/direct.py)
            refs = return_refs(spec.task_id, num_returns)  # held before the head hears of the call
        if limit > 0:
            client.pending_calls.made(self._handle._actor_id, spec.task_id)
        client.submit(spec)
        return refs if num_returns else None  # num_returns=0: None, as a task's (remote_function.py)


def _method_signature(cls: type, name: str, fn: Any) -> inspect.Signature | None:
    """A method's parameters as callers pass them (no self), with defaults and
    annotations left out so that the signature pickles with the handle."""
    signature = _signature(fn)
    if signature is None:
        return None
    params = list(signature.parameters.values())
    if not isinstance(inspect.getattr_static(cls, name, None), (staticmethod, classmethod)) and params:
        params = params[1:]  # self (a classmethod came bound, without cls)
    return inspect.Signature(
        [p.replace(annotation=p.empty, default=p.empty if p.default is p.empty else _DEFAULT) for p in params]
    )
