"""Lazy task graphs, as ray.dag: `f.bind(...)` builds a node; `node.execute()` runs it.

A node is a call not yet made: a remote function with its arguments
(FunctionNode), an actor to create (ClassNode), a method call on such an
actor or on a live actor handle (ClassMethodNode), the arguments given to
execute() (InputNode and its fields), or a list of outputs (MultiOutputNode).
Arguments may be nodes themselves, at the top level or inside lists, tuples
and dicts.

execute() walks the graph depth first and submits each node once, in the
order a depth-first walk of the arguments reaches them: a node's value is
what its call returned (an ObjectRef, a list of them for num_returns > 1, an
actor handle for a ClassNode), put where the node stood. The usual task
rules then apply: a ref given at the top level of a call arrives as its
value, a ref nested in a list stays a ref. Within one execute() a node
shared by several others runs once; every execute() runs the whole graph
again, creating new actors for its ClassNodes. Method calls bound on one
ClassNode are submitted in the order they were bound (a call bound earlier
runs first, even if the graph reaches it later, and even if it is not an
output of the graph), so that the actor sees them in that order.
"""

from __future__ import annotations

import itertools
from typing import Any

_ids = itertools.count()


class DAGNode:
    """A call not made yet: bind() builds one, execute() makes it (and those it needs)."""

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any], options: dict[str, Any]) -> None:
        self._bound_args = tuple(args)
        self._bound_kwargs = dict(kwargs)
        self._bound_options = dict(options)
        self._stable_id = next(_ids)

    def get_args(self) -> tuple[Any, ...]:
        return self._bound_args

    def get_kwargs(self) -> dict[str, Any]:
        return self._bound_kwargs

    def get_options(self) -> dict[str, Any]:
        return self._bound_options

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        """Runs the graph that ends at this node, with args/kwargs as the InputNode's value.

        Returns what the node's call returns: an ObjectRef (a list for
        num_returns > 1 or a MultiOutputNode), or an actor handle for a ClassNode.
        """
        run = _Execution(self, args, kwargs)
        return run.value(self)

    def _run(self, run: _Execution) -> Any:
        raise NotImplementedError

    def _dependencies(self) -> list[Any]:
        """What must be resolved before this node (its arguments, and more for some nodes)."""
        return [self._bound_args, self._bound_kwargs]

    def __reduce__(self) -> Any:
        raise TypeError(
            f"{type(self).__name__} cannot be passed to .remote() or pickled: build the graph with .bind() "
            "and run it with .execute()"
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._describe()})"

    def _describe(self) -> str:
        return ""


class FunctionNode(DAGNode):
    """remote_function.bind(*args, **kwargs)."""

    def __init__(self, function: Any, args: tuple[Any, ...], kwargs: dict[str, Any], options: dict[str, Any]) -> None:
        super().__init__(args, kwargs, options)
        self._function = function

    def _run(self, run: _Execution) -> Any:
        args, kwargs = run.resolve(self._bound_args), run.resolve(self._bound_kwargs)
        return self._function.options(**self._bound_options).remote(*args, **kwargs)

    def _describe(self) -> str:
        return self._function._name


class ClassNode(DAGNode):
    """ActorClass.bind(*args, **kwargs): an actor made at each execute(); its methods bind too."""

    def __init__(
        self, actor_class: Any, args: tuple[Any, ...], kwargs: dict[str, Any], options: dict[str, Any]
    ) -> None:
        super().__init__(args, kwargs, options)
        self._actor_class = actor_class
        self._last_call: ClassMethodNode | None = None  # the method call bound last, for ordering

    def _run(self, run: _Execution) -> Any:
        args, kwargs = run.resolve(self._bound_args), run.resolve(self._bound_kwargs)
        return self._actor_class.options(**self._bound_options).remote(*args, **kwargs)

    def __getattr__(self, name: str) -> _UnboundMethod:
        if name.startswith("_"):
            raise AttributeError(name)
        methods = self.__dict__["_actor_class"]._meta.methods
        if name not in methods:
            raise AttributeError(
                f"actor class {self._actor_class._name} has no method {name!r}; "
                f"bind one of its methods: {', '.join(sorted(methods)) or '(it has none)'}"
            )
        return _UnboundMethod(self, name, {})

    def _describe(self) -> str:
        return self._actor_class._name


class _UnboundMethod:
    """class_node.method: .bind(...) or .options(...).bind(...) makes a ClassMethodNode."""

    def __init__(self, parent: ClassNode, name: str, options: dict[str, Any]) -> None:
        self._parent = parent
        self._name = name
        self._options = options

    def options(self, **options: Any) -> _UnboundMethod:
        return _UnboundMethod(self._parent, self._name, {**self._options, **options})

    def bind(self, *args: Any, **kwargs: Any) -> ClassMethodNode:
        node = ClassMethodNode(self._parent, self._name, args, kwargs, self._options, self._parent._last_call)
        self._parent._last_call = node
        return node


class ClassMethodNode(DAGNode):
    """A method call on a ClassNode's actor, or on a live actor handle (handle.method.bind(...))."""

    def __init__(
        self,
        parent: Any,
        method_name: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        options: dict[str, Any],
        previous: ClassMethodNode | None = None,
    ) -> None:
        super().__init__(args, kwargs, options)
        self._parent = parent  # a ClassNode, or an ActorHandle
        self._method_name = method_name
        self._previous = previous

    def _dependencies(self) -> list[Any]:
        before = [self._previous] if self._previous is not None else []
        return [*before, self._parent, self._bound_args, self._bound_kwargs]

    def _run(self, run: _Execution) -> Any:
        if self._previous is not None:
            run.value(self._previous)
        handle = run.resolve(self._parent)
        args, kwargs = run.resolve(self._bound_args), run.resolve(self._bound_kwargs)
        method = getattr(handle, self._method_name)
        if self._bound_options:
            return method.options(**self._bound_options).remote(*args, **kwargs)
        return method.remote(*args, **kwargs)

    def _describe(self) -> str:
        return self._method_name


class DAGInputData:
    """The InputNode's value when execute() got several arguments or keywords."""

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.args = args
        self.kwargs = kwargs

    def __getitem__(self, key: int | str) -> Any:
        return self.args[key] if isinstance(key, int) else self.kwargs[key]

    def __repr__(self) -> str:
        return f"DAGInputData(args={self.args!r}, kwargs={self.kwargs!r})"


class InputNode(DAGNode):
    """Stands for what execute() is given; use it inside `with InputNode() as inp:`.

    With one positional argument, `inp` is that value and `inp[k]` / `inp.k`
    index it or take its attribute. With several arguments or keywords,
    `inp[i]` is the i-th positional argument and `inp.k` / `inp["k"]` the
    keyword k.
    """

    def __init__(self) -> None:
        super().__init__((), {}, {})
        self._entered = False

    def __enter__(self) -> InputNode:
        self._entered = True
        return self

    def __exit__(self, *exc_info: Any) -> None:
        return None

    def _dependencies(self) -> list[Any]:
        return []

    def _run(self, run: _Execution) -> Any:
        if not self._entered:
            raise ValueError("InputNode must be used as a context manager: `with InputNode() as inp: ...`")
        if len(run.args) == 1 and not run.kwargs:
            return run.args[0]
        return DAGInputData(run.args, run.kwargs)

    def __getitem__(self, key: int | str) -> InputAttributeNode:
        return InputAttributeNode(self, key, "item")

    def __getattr__(self, name: str) -> InputAttributeNode:
        if name.startswith("_"):
            raise AttributeError(name)
        return InputAttributeNode(self, name, "attr")


class InputAttributeNode(DAGNode):
    """inp[key] or inp.name: one field of what execute() was given."""

    def __init__(self, input_node: InputNode, key: int | str, kind: str) -> None:
        super().__init__((), {}, {})
        self._input = input_node
        self._key = key
        self._kind = kind

    def _dependencies(self) -> list[Any]:
        return [self._input]

    def _run(self, run: _Execution) -> Any:
        value = run.value(self._input)
        if isinstance(value, DAGInputData):
            return value[self._key]
        if self._kind == "attr":
            return getattr(value, str(self._key))
        return value[self._key]

    def _describe(self) -> str:
        return repr(self._key)


class MultiOutputNode(DAGNode):
    """MultiOutputNode([node, ...]): execute() returns the list of their results."""

    def __init__(self, outputs: list[Any]) -> None:
        super().__init__((list(outputs),), {}, {})

    def _run(self, run: _Execution) -> Any:
        return list(run.resolve(self._bound_args[0]))


class _Execution:
    """One execute(): the values of the nodes reached so far, each computed once."""

    def __init__(self, root: DAGNode, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.args = args
        self.kwargs = kwargs
        self._values: dict[int, Any] = {}
        inputs = {id(n): n for n in _walk(root) if isinstance(n, InputNode)}
        if len(inputs) > 1:
            raise ValueError("a DAG may use only one InputNode; index it (inp[0], inp.x) for several inputs")

    def value(self, node: DAGNode) -> Any:
        """node's result, running first (in depth-first order) the nodes it needs that have
        not run yet; iterative, so that long chains do not exhaust Python's stack."""
        if id(node) not in self._values:
            for needed in _post_order(node, self._values):
                self._values[id(needed)] = needed._run(self)
        return self._values[id(node)]

    def resolve(self, value: Any) -> Any:
        """value with every node in it (top level, or in lists, tuples and dicts) replaced by its result."""
        if isinstance(value, DAGNode):
            return self.value(value)
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.resolve(v) for v in value)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        return value


def _nodes_in(value: Any) -> list[DAGNode]:
    """The nodes in value (a node, or lists, tuples and dicts holding some), in order."""
    out: list[DAGNode] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, DAGNode):
            out.append(item)
        elif isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
    return out


def _post_order(root: DAGNode, done: dict[int, Any]) -> list[DAGNode]:
    """The nodes root needs that are not in done, root last, each after what it needs."""
    order: list[DAGNode] = []
    finished: set[int] = set()
    stack: list[tuple[DAGNode, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if id(node) in done or id(node) in finished:
            continue
        if expanded:
            finished.add(id(node))
            order.append(node)
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(_nodes_in(node._dependencies())))
    return order


def _walk(root: DAGNode) -> list[DAGNode]:
    """Every node the graph reaches from root."""
    return _post_order(root, {})
