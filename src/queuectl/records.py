"""Data classes that cost nothing to define: ``@record`` is ``@dataclass``, built on demand.

``@dataclass`` writes and compiles ``__init__``, ``__repr__``, ``__eq__`` (and for a frozen
class ``__setattr__``, ``__delattr__`` and ``__hash__``) for every class as its module is
imported, and ``import dataclasses`` brings ``inspect`` with ``ast``, ``dis`` and
``tokenize``: measured, over a fifth of what `queuectl status` imported, for classes of
which a command builds two or three. A ``@record`` class gets the same methods, with the
same behaviour, and none is compiled at import: ``__init__`` binds its arguments itself
for the class's first instances (a command makes a handful), then compiles the one
@dataclass writes, for a class that makes many; the others need no compiling. It stays a
dataclass to whoever asks: ``dataclasses.fields()``, ``replace()``, ``asdict()`` and
``is_dataclass()`` see its fields (described the first time they are asked for), and
assigning to a frozen one raises ``FrozenInstanceError``.

Type checkers see ``dataclasses.dataclass``, ``field`` and ``replace`` themselves (the
``TYPE_CHECKING`` branch at the end), so every constructor's signature is known to them.
Only what queuectl's classes use is supported: ``frozen``, ``slots`` and
``field(default_factory=...)``; annotations must be strings (``from __future__ import
annotations``).
"""

from __future__ import annotations

from operator import attrgetter

TYPE_CHECKING = False  # not typing's: importing typing would cost every call
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    T = TypeVar("T")

_set = object.__setattr__


class _Factory:
    """A field's default made anew for each instance (``field(default_factory=...)``)."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], object]) -> None:
        self.make = make


class _FactoryMark:
    """The default a parameter with a factory shows (as a dataclass's: ``<factory>``)."""

    def __repr__(self) -> str:
        return "<factory>"


_HAS_FACTORY = _FactoryMark()


def _field(*, default_factory: Callable[[], object]) -> Any:
    return _Factory(default_factory)


def _record(cls: type[T] | None = None, /, *, frozen: bool = False,
            slots: bool = False) -> Any:
    if cls is None:
        return lambda cls: _build(cls, frozen, slots)
    return _build(cls, frozen, slots)


def _replace(obj: T, /, **changes: Any) -> T:
    """``dataclasses.replace`` for a record: a new one, built by its own ``__init__``."""
    values = {name: getattr(obj, name) for name in type(obj).__match_args__}  # type: ignore[attr-defined]
    values.update(changes)
    return type(obj)(**values)


def _build(cls: type[T], frozen: bool, slots: bool) -> type[T]:
    names = tuple(name for name, kind in cls.__dict__.get("__annotations__", {}).items()
                  if not kind.startswith(("ClassVar", "typing.ClassVar")))
    defaults = {name: cls.__dict__[name] for name in names if name in cls.__dict__}
    if slots:
        body = {key: value for key, value in cls.__dict__.items()
                if key not in defaults and key not in ("__dict__", "__weakref__")}
        body["__slots__"] = names
        remade: type[T] = type(cls.__name__, cls.__bases__, body)  # as dataclasses does
        cls = remade
    else:
        for name, value in defaults.items():
            if isinstance(value, _Factory):  # as a dataclass: no class attribute for it
                delattr(cls, name)
    values = attrgetter(*names) if len(names) > 1 else (lambda obj: (getattr(obj, names[0]),))
    methods: dict[str, Any] = {
        "__init__": _lazy_init(cls, names, defaults, frozen),
        "__repr__": _repr_of(names),
        "__eq__": _eq_of(values),
        "__match_args__": names,
        "__dataclass_fields__": _Described("__dataclass_fields__", names, defaults, frozen),
        "__dataclass_params__": _Described("__dataclass_params__", names, defaults, frozen),
        "__signature__": _Signature(names, defaults, frozen),
    }
    if frozen:
        methods.update(__setattr__=_frozen_setattr(cls, names),
                       __delattr__=_frozen_delattr(cls, names),
                       __hash__=lambda self: hash(values(self)))
        if slots:  # pickle and copy set slots through __setattr__, which refuses
            methods.update(__getstate__=lambda self: list(values(self)),
                           __setstate__=lambda self, state: [
                               _set(self, name, value)
                               for name, value in zip(names, state, strict=True)])
    else:
        methods["__hash__"] = None  # mutable and compared by value: unhashable, as a dataclass
    for name, method in methods.items():
        # What the class writes itself it keeps (a __hash__ of None is Python's own, for
        # a class that defines __eq__).
        if cls.__dict__.get(name) is None:
            setattr(cls, name, method)
    return cls


# Instances a class makes with the interpreted __init__ before it compiles its own: compiling
# one (~370 us, 12 fields, loaded machine) costs what some twenty interpreted calls lose to
# compiled ones (36 against 15 us there), and a command makes a handful of each class.
COMPILE_AFTER = 16


def _lazy_init(cls: type, names: tuple[str, ...], defaults: dict[str, object],
               frozen: bool) -> Callable[..., None]:
    """An ``__init__`` that binds the arguments itself for a class's first instances, then
    compiles the one @dataclass would write and puts it in its place. A call it cannot bind
    (a missing, unknown or repeated argument) goes to the compiled one, whose TypeError is
    Python's own."""
    index = {name: n for n, name in enumerate(names)}
    missing = object()
    fill = [defaults.get(name, missing) for name in names]
    put = _set if frozen else setattr
    made = 0

    def compiled(self: object, args: tuple[object, ...], kwargs: dict[str, object]) -> None:
        init = _compiled_init(cls, names, defaults, frozen)
        type.__setattr__(cls, "__init__", init)
        init(self, *args, **kwargs)

    def __init__(self: object, *args: object, **kwargs: object) -> None:
        nonlocal made
        made += 1
        if made > COMPILE_AFTER or len(args) > len(names):
            return compiled(self, args, kwargs)
        values = [*args, *fill[len(args):]]
        for name, value in kwargs.items():
            n = index.get(name, -1)
            if n < len(args):  # unknown, or given by position too
                return compiled(self, args, kwargs)
            values[n] = value
        if any(value is missing for value in values):
            return compiled(self, args, kwargs)
        for name, value in zip(names, values, strict=True):
            put(self, name, value.make() if isinstance(value, _Factory) else value)
        return None

    return __init__


def _compiled_init(cls: type, names: tuple[str, ...], defaults: dict[str, object],
                   frozen: bool) -> Callable[..., None]:
    """The ``__init__`` that @dataclass writes: the fields as parameters, in order, with
    their defaults; a factory's default is made for each call."""
    params, lines = [], []
    for name in names:
        default = defaults.get(name, _Factory)  # _Factory itself: no default
        value = name
        if isinstance(default, _Factory):
            value = f"_defaults[{name!r}].make() if {name} is _HAS_FACTORY else {name}"
            params.append(f"{name}=_HAS_FACTORY")
        elif default is not _Factory:
            params.append(f"{name}=_defaults[{name!r}]")
        else:
            params.append(name)
        lines.append(f"    _set(self, {name!r}, {value})" if frozen
                     else f"    self.{name} = {value}")
    source = f"def __init__(self, {', '.join(params)}):\n" + "\n".join(lines or ["    pass"])
    scope: dict[str, Any] = {"_defaults": defaults, "_HAS_FACTORY": _HAS_FACTORY, "_set": _set}
    exec(source, scope)  # noqa: S102 - our own field names, as dataclasses does
    init: Callable[..., None] = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__annotations__ = {**{name: cls.__annotations__[name] for name in names},
                            "return": None}
    return init


def _repr_of(names: tuple[str, ...]) -> Callable[[object], str]:
    def __repr__(self: object) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__qualname__}({fields})"

    return __repr__


def _eq_of(values: Callable[[Any], object]) -> Callable[[object, object], Any]:
    def __eq__(self: object, other: object) -> Any:
        if other.__class__ is self.__class__:
            return values(self) == values(other)
        return NotImplemented

    return __eq__


def _frozen_setattr(cls: type, names: tuple[str, ...]) -> Callable[[object, str, object], None]:
    def __setattr__(self: object, name: str, value: object) -> None:
        if type(self) is cls or name in names:
            from dataclasses import FrozenInstanceError

            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        _set(self, name, value)

    return __setattr__


def _frozen_delattr(cls: type, names: tuple[str, ...]) -> Callable[[object, str], None]:
    def __delattr__(self: object, name: str) -> None:
        if type(self) is cls or name in names:
            from dataclasses import FrozenInstanceError

            raise FrozenInstanceError(f"cannot delete field {name!r}")
        object.__delattr__(self, name)

    return __delattr__


class _Signature:
    """The class's signature as inspect (help(), IDEs) asks for it: its compiled __init__'s,
    compiled for the asking if it has not been yet, as for a dataclass."""

    def __init__(self, names: tuple[str, ...], defaults: dict[str, object],
                 frozen: bool) -> None:
        self.names, self.defaults, self.frozen = names, defaults, frozen

    def __get__(self, instance: object, owner: type) -> Any:
        if instance is not None:  # an instance has none, as a dataclass's has none
            raise AttributeError("__signature__")
        import inspect

        init = _compiled_init(owner, self.names, self.defaults, self.frozen)
        signature = inspect.signature(init)
        return signature.replace(parameters=list(signature.parameters.values())[1:])


class _Described:
    """``__dataclass_fields__`` or ``__dataclass_params__``, made when first read: the
    dataclasses module describes a twin of the class and the class keeps its description."""

    def __init__(self, attribute: str, names: tuple[str, ...], defaults: dict[str, object],
                 frozen: bool) -> None:
        self.attribute, self.names, self.defaults, self.frozen = attribute, names, defaults, frozen

    def __get__(self, instance: object, owner: type) -> Any:
        import dataclasses

        specs: list[Any] = []
        for name in self.names:
            kind = owner.__annotations__[name]
            default = self.defaults.get(name, dataclasses.MISSING)
            if isinstance(default, _Factory):
                specs.append((name, kind, dataclasses.field(default_factory=default.make)))
            elif default is dataclasses.MISSING:
                specs.append((name, kind))
            else:
                specs.append((name, kind, dataclasses.field(default=default)))
        twin = dataclasses.make_dataclass(owner.__name__, specs, frozen=self.frozen)
        for attribute in ("__dataclass_fields__", "__dataclass_params__"):
            type.__setattr__(owner, attribute, getattr(twin, attribute))
        return getattr(owner, self.attribute)


if TYPE_CHECKING:
    from dataclasses import dataclass as record
    from dataclasses import field as field
    from dataclasses import replace as replace
else:
    record, field, replace = _record, _field, _replace

__all__ = ["field", "record", "replace"]
