"""A @record class behaves as the @dataclass it stands for: built, compared, shown, frozen,
copied and described alike."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle

import pytest

from queuectl import records
from queuectl.models import Job, QueueSettings, WorkerInfo

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


@records.record(frozen=True, slots=True)
class Point:
    x: int
    y: int = 2
    tags: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class DataPoint:
    x: int
    y: int = 2
    tags: tuple[str, ...] = ()


@records.record
class Bag:
    name: str
    items: list[int] = records.field(default_factory=list)


@dataclasses.dataclass
class DataBag:
    name: str
    items: list[int] = dataclasses.field(default_factory=list)


def _shown(obj: object) -> str:
    return repr(obj).replace("DataPoint", "Point").replace("DataBag", "Bag")


@pytest.mark.parametrize("args", [(1,), (1, 5), (1, 5, ("a",))])
def test_a_frozen_record_is_built_compared_and_shown_as_its_dataclass(args: Any) -> None:
    point, twin = Point(*args), DataPoint(*args)
    assert _shown(point) == _shown(twin)
    assert point == Point(*args) and hash(point) == hash(Point(*args))
    assert point != Point(args[0] + 1)
    assert point.__eq__(twin) is NotImplemented  # another class is never equal
    assert Point(x=1, tags=("b",)) == Point(1, 2, ("b",))
    assert Point.__match_args__ == DataPoint.__match_args__ == Point.__slots__
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'x'"):
        point.x = 3  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'y'"):
        del point.y
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]


def test_a_mutable_record_makes_each_default_anew_and_is_not_hashable() -> None:
    bag, other = Bag("a"), Bag("a")
    bag.items.append(1)
    assert other.items == [] and bag != other and _shown(bag) == _shown(DataBag("a", [1]))
    bag.name = "b"
    assert bag == Bag("b", [1])
    with pytest.raises(TypeError):
        hash(bag)
    assert "items" not in Bag.__dict__  # as a dataclass: a factory leaves no class default


def test_records_copy_and_pickle_as_dataclasses_do() -> None:
    for value in (Point(1, 3, ("t",)), Bag("a", [1, 2])):
        assert pickle.loads(pickle.dumps(value)) == value
        assert copy.copy(value) == value and copy.deepcopy(value) == value


def test_inspect_shows_a_record_class_as_its_dataclass() -> None:
    assert str(inspect.signature(_fresh())) == str(inspect.signature(DataFresh))
    assert str(inspect.signature(Point)) == str(inspect.signature(DataPoint))
    assert not hasattr(Point(1), "__signature__")


def test_dataclasses_sees_a_record_as_a_dataclass() -> None:
    point = Point(1)
    assert dataclasses.is_dataclass(point) and dataclasses.is_dataclass(Bag)
    assert [(f.name, f.type, f.default) for f in dataclasses.fields(Point)] == [
        (f.name, f.type, f.default) for f in dataclasses.fields(DataPoint)]
    assert dataclasses.replace(point, y=7) == records.replace(point, y=7) == Point(1, 7)
    assert dataclasses.asdict(Bag("a", [3])) == {"name": "a", "items": [3]}
    assert dataclasses.fields(Bag)[1].default_factory is list
    with pytest.raises(TypeError):
        records.replace(point, z=1)  # type: ignore[call-arg]


def test_the_models_are_records_and_still_dataclasses_to_their_users() -> None:
    # The Python API documents Job as a frozen dataclass.
    assert dataclasses.is_dataclass(Job) and dataclasses.fields(Job)[0].name == "id"
    assert QueueSettings("q", paused=True) == dataclasses.replace(QueueSettings("q"), paused=True)
    factories = {f.name: f.default_factory for f in dataclasses.fields(WorkerInfo)}
    assert factories["queues"] is list and factories["gpus"] is list


@dataclasses.dataclass(frozen=True)
class DataFresh:
    x: int
    y: int = 2
    items: list[int] = dataclasses.field(default_factory=list)


def _fresh() -> type[Any]:
    """A new record class, so that its first instances are made by the interpreted
    __init__ (each class counts its own)."""

    @records.record(frozen=True)
    class Fresh:
        x: int
        y: int = 2
        items: list[int] = records.field(default_factory=list)

    return Fresh


@pytest.mark.parametrize("made_before", [0, records.COMPILE_AFTER])
def test_the_interpreted_and_the_compiled_init_build_and_refuse_alike(made_before: int) -> None:
    cls = _fresh()
    for _ in range(made_before):  # past this, the class has compiled its __init__
        cls(0)
    assert (cls(1).x, cls(1).y, cls(1, 3).y, cls(y=4, x=1).y) == (1, 2, 3, 4)
    first, second = cls(1), cls(1)
    assert first.items == [] and first.items is not second.items
    assert cls(1, items=[5]).items == [5]
    refusals: list[tuple[tuple[Any, ...], dict[str, Any], str]] = [
        ((), {}, "missing 1 required positional argument: 'x'"),
        ((1,), {"x": 2}, "got multiple values for argument 'x'"),
        ((1,), {"z": 2}, "got an unexpected keyword argument 'z'"),
        ((1, 2, [], 4), {}, "takes from 2 to 4 positional arguments")]
    for args, kwargs, words in refusals:
        with pytest.raises(TypeError, match=words):
            cls(*args, **kwargs)
