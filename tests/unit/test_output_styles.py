"""Every state the model knows is coloured in tables: a new state cannot be left plain."""

from queuectl.models import State
from queuectl.output import STATE_STYLES


def test_every_state_has_a_style() -> None:
    assert set(STATE_STYLES) == {str(state) for state in State}
