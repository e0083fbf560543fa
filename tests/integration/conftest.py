"""Integration fixtures: one real emberd (process engine) per module, and an autouse check
that every test leaves nothing behind (processes, sandbox dirs, mounts, loop devices)."""
import sys
import pathlib

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "lib"))
import ember_client as ec  # noqa: E402


@pytest.fixture(scope="module")
def ember():
    e = ec.Emberd(vmm="process")
    yield e
    rc, log = e.stop()
    e.cleanup()
    assert rc == 0, f"emberd exited with {rc}:\n{log[-4000:]}"


@pytest.fixture
def api(ember):
    return ember.client


@pytest.fixture(autouse=True)
def nothing_left_behind(request):
    yield
    if "ember" not in request.fixturenames:
        return
    ec.assert_nothing_left(request.getfixturevalue("ember"))


@pytest.fixture
def sandbox(api):
    sb = api.create("python")
    yield sb
    api.delete(sb["id"])
