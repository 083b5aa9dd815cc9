import copy
from typing import Any

import pytest

from lkps.rules import ENVIRONMENTS, Environment
from tests.support.harness import stack_config

pytest_plugins = ["tests.support.ocelot_fixtures"]


@pytest.fixture(params=ENVIRONMENTS)
def environment(request: pytest.FixtureRequest) -> Environment:
    env: Environment = request.param
    return env


@pytest.fixture
def np_config() -> dict[str, Any]:
    return copy.deepcopy(stack_config("np"))


@pytest.fixture
def prod_config() -> dict[str, Any]:
    return copy.deepcopy(stack_config("prod"))
