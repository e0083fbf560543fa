"""Integration fixtures: one real emberd (process engine) per module, and an autouse check
that every test leaves nothing behind (processes, sandbox dirs, jails, mounts, loop
devices, host cgroups, and emberd's open file descriptors as they were before the test),
and no new sanitizer report from any process when the run collects them (scripts/test.sh:
the integration tier is the suite's LeakSanitizer run)."""
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


@pytest.fixture(scope="session", autouse=True)
def subreaper():
    """VMMs orphaned by a killed emberd come to this process, which reaps them (PID 1 of
    some containers does not)."""
    ec.become_subreaper()
    yield
    ec.reap_orphans()


@pytest.fixture(autouse=True)
def nothing_left_behind(request):
    e = request.getfixturevalue("ember") if "ember" in request.fixturenames else None
    fds = ec.fd_kinds(e.proc.pid) if e else None
    reports = ec.sanitizer_reports()
    yield
    ec.reap_orphans()
    if e:
        ec.assert_nothing_left(e, fds_before=fds)
    ec.assert_no_new_sanitizer_reports(reports)


@pytest.fixture
def sandbox(api):
    sb = api.create("python")
    yield sb
    api.delete(sb["id"])
