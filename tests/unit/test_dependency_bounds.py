"""The lower bounds pyproject.toml declares are the ones tested.

.ci/lowest installs the project with exactly the pins of .ci/lowest-constraints.txt and runs
the tests; that proves the declared ranges only while the pins equal the lower bounds.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
CONSTRAINTS = ROOT / ".ci" / "lowest-constraints.txt"
TESTED_EXTRAS = ("test",)  # the dev tools (ruff, mypy) are not part of that run


def declared() -> dict[NormalizedName, Version]:
    """Every runtime and test dependency with its lower bound."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = [*project["dependencies"]]
    for extra in TESTED_EXTRAS:
        lines += project["optional-dependencies"][extra]
    return {canonicalize_name(req.name): lower_bound(req) for req in map(Requirement, lines)}


def lower_bound(req: Requirement) -> Version:
    floors = [Version(spec.version) for spec in req.specifier if spec.operator == ">="]
    assert len(floors) == 1, f"{req}: give it one '>=' lower bound, so that it is tested"
    return floors[0]


def pinned() -> dict[NormalizedName, Version]:
    """The constraints file's pins, one `name==version` a line."""
    pins: dict[NormalizedName, Version] = {}
    for line in CONSTRAINTS.read_text().splitlines():
        text = line.partition("#")[0].strip()
        if not text:
            continue
        req = Requirement(text)
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"{text}: pin with '=='"
        assert canonicalize_name(req.name) not in pins, f"{req.name} is pinned twice"
        pins[canonicalize_name(req.name)] = Version(specs[0].version)
    return pins


def test_the_lowest_run_pins_exactly_the_declared_lower_bounds() -> None:
    assert pinned() == declared()
