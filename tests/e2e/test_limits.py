"""Per-exec limits and verdicts in a real microVM (the guest kernel's cgroup v2): a fork bomb
ends as pids_limit, a memory hog as oom (with and without a per-exec limit), a setsid
escapee dies with its exec, the program cannot lift its own limits, a disk fill meets
ENOSPC; and after each, the same VM still runs code. One python sandbox is shared, on
purpose: surviving what came before is part of every case."""
import pytest

BOMB = """
import os
def bomb():
    while True:          # every process forks until its first refused fork
        try:
            os.fork()
        except OSError:
            return
bomb()
print("refused", flush=True)
"""

HOG = """
chunks = []
while True:
    chunks.append(bytearray(8 << 20))
"""

COUNT = "cat /proc/[0-9]*/comm 2>/dev/null | grep -c -x -e python3 -e sleep || true"


@pytest.fixture(scope="module")
def py(ember):
    """This module's own python sandbox, kept across its tests (conftest's ember.shared)."""
    sb = ember.client.create("python")
    ember.shared.add(sb["id"])
    yield sb
    ember.shared.discard(sb["id"])
    assert ember.client.delete(sb["id"]).status == 204


def still_usable(api, py):
    r = api.exec(py["id"], code="print(6*7)")
    assert r["stdout"] == "42\n" and r["status"] == "ok", r
    left = api.exec(py["id"], argv=["sh", "-c", COUNT])["stdout"].strip()
    assert left == "0", f"{left} processes of earlier execs are still running"


def test_limits_are_enforced(api, py):
    r = api.exec(py["id"], code="print('hi')")
    assert r["status"] == "ok" and r["limits_enforced"] is True
    assert r["cpu_time_ms"] > 0 and r["peak_memory_kib"] > 1000


def test_fork_bomb_is_pids_limit(api, py):
    r = api.exec(py["id"], code=BOMB, pids_limit=32, timeout_ms=120000)
    assert r["status"] == "pids_limit", r
    assert r["limits_enforced"] is True and r["timed_out"] is False
    assert "refused" in r["stdout"]
    still_usable(api, py)


def test_memory_hog_is_oom(api, py):
    r = api.exec(py["id"], code=HOG, memory_limit_mib=64, timeout_ms=120000)
    assert r["status"] == "oom" and r["signal"] == 9, r
    assert r["peak_memory_kib"] <= 64 * 1024
    still_usable(api, py)


def test_setsid_escapee_dies_with_its_exec(api, py):
    r = api.exec(py["id"], argv=["sh", "-c", "setsid sleep 1000 & echo $!"])
    pid = int(r["stdout"])
    r = api.exec(py["id"], argv=["sh", "-c", f"kill -0 {pid} 2>/dev/null && echo alive || echo gone"])
    assert r["stdout"] == "gone\n"
    r = api.exec(py["id"], argv=["sh", "-c", "setsid sleep 1000 & sleep 1000"], timeout_ms=1000)
    assert r["status"] == "timeout"
    still_usable(api, py)


def test_the_program_cannot_lift_its_limits(api, py):
    script = ("for f in /sys/fs/cgroup/ember/exec-*/pids.max; do echo max > $f 2>/dev/null && echo RAISED; done; "
              "echo $$ > /sys/fs/cgroup/cgroup.procs 2>/dev/null && echo ESCAPED; "
              "i=0; while [ $i -lt 12 ]; do sleep 5 & i=$((i+1)); done 2>/dev/null; echo forked")
    r = api.exec(py["id"], argv=["sh", "-c", script], pids_limit=8)
    assert "RAISED" not in r["stdout"] and "ESCAPED" not in r["stdout"], r
    assert r["status"] == "pids_limit", r
    still_usable(api, py)


def test_disk_fill_gets_enospc(api, py):
    r = api.exec(py["id"], argv=["dd", "if=/dev/zero", "of=/root/fill", "bs=1M", "count=1024"],
                 timeout_ms=120000)
    assert "No space left on device" in r["stderr"], r
    assert r["status"] in ("ok", "exit_nonzero")  # dd's own exit status; no OOM, no timeout
    r = api.exec(py["id"], argv=["sh", "-c", "rm /root/fill && echo ok > /root/x && cat /root/x && rm /root/x"])
    assert r["stdout"] == "ok\n", r
    still_usable(api, py)


def test_memory_hog_without_a_limit_is_oom(api, py):
    # no per-exec limit: the hog meets the limit on all execs together (the guest's memory
    # minus a reserve for PID 1, the agent and the kernel), so the VM never thrashes and the
    # agent answers; the host side (a jailer's cgroup around the VMM) must leave room for a
    # guest using nearly all of its memory. Last in this module: a VM lost here would fail
    # the cases after it.
    r = api.exec(py["id"], code=HOG, timeout_ms=120000)
    assert r["status"] == "oom" and r["signal"] == 9, r
    r = api.request("POST", f"/sandboxes/{py['id']}/exec", {"code": "print(6*7)"})
    assert r.status == 200, ("the VM died after its guest used all of its memory: is the host "
                             "cgroup's cgroup_memory_overhead_mib too small for the VMM? " + repr(r))
    still_usable(api, py)
