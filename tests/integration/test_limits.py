"""Per-exec limits and verdicts with hostile code, through the whole stack on ember-vmm's
process engine. That engine shares the host's kernel and cgroups, so the guest applies no
per-exec cgroup (limits_enforced is false) and the verdict comes from the timeout, the output
cap or a host-side cap the test puts around the sandbox (HostCap, standing in for the host
cgroups a jailer sets: without it a fork bomb here would be a fork bomb on the host). Then a
hostile guest agent (fake_agent.py): garbage, silence, an endless flood, forged exit
records, no answer at all. Every case checks that the host stays healthy, that the result
says what happened, and (conftest) that nothing is left behind."""
import os
import pathlib
import subprocess
import time

import pytest

import ember_client as ec

FAKE_AGENT = pathlib.Path(__file__).resolve().parent / "fake_agent.py"
MIB = 1 << 20
# EXIT record flags (src/proto/proto.h)
TIMED_OUT, STDOUT_TRUNC, STDERR_TRUNC, OOM, PIDS_LIMIT, ENFORCED = 1, 2, 4, 8, 16, 32


def host_can_fork():
    return subprocess.run(["true"], timeout=30).returncode == 0


# ---- verdicts of ordinary outcomes ----

def test_verdict_fields(api, sandbox):
    r = api.exec(sandbox["id"], code="print(6*7)")
    assert r["status"] == "ok" and r["exit_code"] == 0
    assert r["limits_enforced"] is False  # the process engine: no cgroup in the guest
    assert isinstance(r["cpu_time_ms"], int) and r["cpu_time_ms"] >= 0
    assert r["peak_memory_kib"] > 1000  # a python interpreter's resident size
    assert api.exec(sandbox["id"], argv=["sh", "-c", "exit 3"])["status"] == "exit_nonzero"
    assert api.exec(sandbox["id"], argv=["sh", "-c", "kill -SEGV $$"])["status"] == "signal"


def test_limits_are_checked_against_the_server_maxima(api, sandbox):
    sid = sandbox["id"]
    for body, sub in [({"memory_limit_mib": 0}, "memory_limit_mib must be an integer"),
                      ({"pids_limit": 4097}, "pids_limit must be an integer between 1 and 4096"),
                      ({"pids_limit": "8"}, "pids_limit")]:
        r = api.request("POST", f"/sandboxes/{sid}/exec", {"argv": ["true"], **body})
        assert r.status == 400 and r.error_code() == "invalid_field", r
        assert sub in r.json["error"]["message"]
    r = api.exec(sid, argv=["true"], memory_limit_mib=64, pids_limit=16)
    assert r["status"] == "ok" and r["limits_enforced"] is False  # accepted, not applied here


# ---- hostile programs ----

def test_yes_flood_is_output_limit(api, sandbox):
    r = api.request("POST", f"/sandboxes/{sandbox['id']}/exec",
                    {"argv": ["sh", "-c", "yes | head -c 20000000"]})
    assert r.status == 200 and len(r.raw) < 3 * MIB, "the response stays bounded"
    j = r.json
    assert j["status"] == "output_limit" and j["exit_code"] == 0 and j["timed_out"] is False
    assert j["stdout_truncated"] is True and len(j["stdout"]) == MIB
    # an endless one runs into the timeout, which takes precedence
    j = api.exec(sandbox["id"], argv=["yes"], timeout_ms=500)
    assert j["status"] == "timeout" and j["stdout_truncated"] is True


def test_sleep_forever_is_timeout(api, sandbox):
    r = api.exec(sandbox["id"], argv=["sleep", "infinity"], timeout_ms=300)
    assert r["status"] == "timeout" and r["timed_out"] is True
    assert r["signal"] == 9 and r["exit_code"] is None
    assert api.exec(sandbox["id"], argv=["echo", "after"])["stdout"] == "after\n"


def test_closing_stdout_early(api, sandbox):
    sid = sandbox["id"]
    r = api.exec(sid, argv=["sh", "-c", "exec >&-; sleep 0.2; echo lost; echo err >&2; exit 3"])
    assert r["stdout"] == "" and "err\n" in r["stderr"]
    assert r["exit_code"] == 3 and r["status"] == "exit_nonzero"
    r = api.exec(sid, argv=["sh", "-c", "exec >&- 2>&-; sleep 0.2; exit 0"])
    assert (r["stdout"], r["stderr"], r["status"]) == ("", "", "ok")
    # closed output, and the program then waits for stdin that arrives after a while
    r = api.exec(sid, code="import os, sys\nos.close(1)\nprint(len(sys.stdin.read()), file=sys.stderr)",
                 stdin="x" * 300000)
    assert r["stderr"] == "300000\n" and r["status"] == "ok"


def test_disk_fill_gets_enospc_inside():
    # a small upper layer (ember.overlay_size) so the fill is quick; the guest's tmpfs lives
    # in its own mount namespace: nothing reaches the host's disks
    e = ec.Emberd(vmm="process", config={"boot_args": "ember.overlay_size=16m"})
    try:
        sb = e.client.create("python")
        sid = sb["id"]
        r = e.client.exec(sid, argv=["dd", "if=/dev/zero", "of=/root/fill", "bs=1M", "count=64"])
        assert "No space left on device" in r["stderr"], r
        assert r["exit_code"] == 1 and r["status"] == "exit_nonzero"
        r = e.client.exec(sid, argv=["sh", "-c", "echo more > /root/x"])
        assert r["exit_code"] != 0 and r["stderr"], r  # ENOSPC, or EIO from the overlay
        r = e.client.exec(sid, argv=["sh", "-c", "rm /root/fill && echo ok > /root/x && cat /root/x"])
        assert r["stdout"] == "ok\n", r  # freed space is usable again
        assert e.client.delete(sid).status == 204
        assert not ec.wait_clean(e)
    finally:
        rc, log = e.stop()
        e.cleanup()
    assert rc == 0, log[-3000:]


# ---- host-side caps for the process engine ----

def _own_cgroup(controller):
    """This process's cgroup path for a v1 controller ("" for the unified hierarchy)."""
    for line in pathlib.Path("/proc/self/cgroup").read_text().splitlines():
        _, ctrls, path = line.split(":", 2)
        if controller in ctrls.split(",") or (controller == "" and ctrls == ""):
            return path
    return None


class HostCap:
    """A host cgroup (v1 pids/memory nested under this process's own, or a v2 child of the
    root) that a sandbox's emberd-init and everything it starts afterwards are moved into."""

    def __init__(self, pids_max=None, memory_bytes=None):
        self.dirs = []
        knobs = [(c, k, v) for c, k, v in (("pids", "pids.max", pids_max),
                                           ("memory", "memory.limit_in_bytes", memory_bytes))
                 if v is not None]
        tag = f"ember-test-{os.getpid()}-{time.monotonic_ns()}"
        try:
            if all(os.path.exists(f"/sys/fs/cgroup/{c}/cgroup.procs") for c, _, _ in knobs):
                for ctl, knob, value in knobs:  # cgroup v1, nested: never above our own limits
                    d = pathlib.Path(f"/sys/fs/cgroup/{ctl}{_own_cgroup(ctl).rstrip('/')}/{tag}")
                    d.mkdir()
                    self.dirs.append(d)
                    (d / knob).write_text(str(value))
            elif self._v2_root_has(c for c, _, _ in knobs):
                d = pathlib.Path("/sys/fs/cgroup") / tag
                d.mkdir()
                self.dirs.append(d)
                for ctl, knob, value in knobs:
                    (d / ("memory.max" if ctl == "memory" else knob)).write_text(str(value))
            else:
                pytest.skip("no host cgroup to cap a fork bomb or memory hog in the process engine")
        except OSError as err:
            self.close()
            pytest.skip(f"no host cgroup cap available here: {err}")

    @staticmethod
    def _v2_root_has(ctls):
        p = pathlib.Path("/sys/fs/cgroup/cgroup.subtree_control")
        return p.exists() and all(c in p.read_text().split() for c in ctls)

    def add(self, pid):
        for d in self.dirs:
            (d / "cgroup.procs").write_text(str(pid))

    def close(self):
        for d in self.dirs:
            deadline = time.time() + 10
            while d.exists():
                try:
                    d.rmdir()
                except OSError:
                    assert time.time() < deadline, f"host cap {d} still busy"
                    time.sleep(0.05)
        self.dirs = []


def vmm_of(sid):
    """The ember-vmm running with --id sid (a child of emberd, or of a jailer), or None."""
    for p in pathlib.Path("/proc").iterdir():
        try:
            argv = (p / "cmdline").read_bytes().split(b"\0") if p.name.isdigit() else []
        except OSError:
            continue
        if argv and argv[0].endswith(b"ember-vmm") and b"--id" in argv and sid.encode() in argv:
            return int(p.name)  # a zombie has an empty cmdline
    return None


def guest_init_pid(ember, sid):
    """emberd-init of sandbox sid: the child of its ember-vmm."""
    vmm = vmm_of(sid)
    assert vmm, f"no VMM for {sid}"
    kids = pathlib.Path(f"/proc/{vmm}/task/{vmm}/children").read_text().split()
    assert len(kids) == 1, kids
    return int(kids[0])


@pytest.fixture
def capped(api, ember, request):
    """A python sandbox whose guest runs under a host cap (param: pids_max, memory_bytes)."""
    cap = HostCap(**request.param)
    sb = None
    try:
        sb = api.create("python")
        cap.add(guest_init_pid(ember, sb["id"]))
        yield sb
    finally:
        if sb:
            api.delete(sb["id"])
        ec.wait_clean(ember)
        cap.close()  # even when the create failed: no cgroup of ours stays on the host


FORK_BOMB = """
import os, time
while True:
    try:
        os.fork()
    except OSError:
        time.sleep(0.01)
"""


@pytest.mark.parametrize("capped", [{"pids_max": 64}], indirect=True)
def test_fork_bomb_process_engine(api, capped):
    r = api.exec(capped["id"], code=FORK_BOMB, pids_limit=32, timeout_ms=2000)
    assert r["status"] == "timeout" and r["limits_enforced"] is False
    assert host_can_fork()
    r = api.exec(capped["id"], code="print('alive')")
    assert r["stdout"] == "alive\n" and r["status"] == "ok"


MEMORY_HOG = """
chunks = []
while True:
    chunks.append(bytearray(16 << 20))
"""


@pytest.mark.parametrize("capped", [{"memory_bytes": 256 * MIB}], indirect=True)
def test_memory_hog_process_engine(api, capped):
    r = api.exec(capped["id"], code=MEMORY_HOG, memory_limit_mib=64, timeout_ms=20000)
    # the host cap's OOM killer, or the timeout: either way a clear verdict, never "ok"
    assert r["status"] in ("signal", "timeout"), r
    assert r["signal"] == 9 and r["limits_enforced"] is False
    assert host_can_fork()
    assert api.exec(capped["id"], code="print('alive')")["stdout"] == "alive\n"


# ---- a hostile agent ----

@pytest.fixture(scope="module")
def fake_init(tmp_path_factory):
    """fake_agent.py under emberd-init's file name (a jailer copies the init by its name)."""
    path = tmp_path_factory.mktemp("fake") / "emberd-init"
    path.write_bytes(FAKE_AGENT.read_bytes())
    path.chmod(0o755)
    return path


@pytest.fixture(scope="module")
def fake(fake_init):
    e = ec.Emberd(vmm="process", init=fake_init)
    yield e
    rc, log = e.stop()
    e.cleanup()
    assert rc == 0, log[-4000:]


@pytest.fixture
def fake_sb(fake):
    sb = fake.client.create("python")
    yield sb
    fake.client.delete(sb["id"])
    assert not ec.wait_clean(fake)


def test_agent_answering_garbage(fake, fake_sb):
    c = fake.client
    r = c.request("POST", f"/sandboxes/{fake_sb['id']}/exec", {"argv": ["garbage"]})
    assert r.status == 502 and r.error_code() == "vmm_error", r
    assert "agent protocol error" in r.json["error"]["message"]
    assert host_can_fork()


@pytest.mark.parametrize("what", ["silent", "flood"])
def test_agent_answering_nothing_gets_its_vm_killed(fake, fake_sb, what):
    c, sid = fake.client, fake_sb["id"]
    t0 = time.monotonic()
    r = c.request("POST", f"/sandboxes/{sid}/exec", {"argv": [what], "timeout_ms": 200})
    assert r.status == 502 and r.error_code() == "agent_unresponsive", r
    assert "VM was killed" in r.json["error"]["message"]
    assert time.monotonic() - t0 < 60
    assert c.request("GET", f"/sandboxes/{sid}").json["state"] == "failed"
    assert vmm_of(sid) is None, "the VM must be gone before the sandbox is deleted"
    r = c.request("POST", f"/sandboxes/{sid}/exec", {"argv": ["true"]})
    assert r.status == 502, r  # a failed sandbox runs nothing
    assert host_can_fork()


@pytest.mark.parametrize("flags, code, sig, status", [
    (ENFORCED, 0, 0, "ok"),
    (ENFORCED, 2, 0, "exit_nonzero"),
    (ENFORCED, -1, 11, "signal"),
    (ENFORCED | STDERR_TRUNC, 0, 0, "output_limit"),
    (ENFORCED | PIDS_LIMIT | STDOUT_TRUNC, 1, 0, "pids_limit"),
    (ENFORCED | OOM | PIDS_LIMIT, -1, 9, "oom"),
    (ENFORCED | TIMED_OUT | OOM, -1, 9, "timeout"),
    (OOM, -1, 9, "oom"),
])
def test_verdict_of_an_exit_record(fake, fake_sb, flags, code, sig, status):
    r = fake.client.exec(fake_sb["id"], argv=["exit", str(flags), str(code), str(sig)])
    assert r["status"] == status and r["stdout"] == "fake\n"
    assert r["limits_enforced"] is bool(flags & ENFORCED)
    assert r["timed_out"] is bool(flags & TIMED_OUT)
    assert (r["cpu_time_ms"], r["peak_memory_kib"]) == (0, 1024)


def test_forged_exit_record_is_refused(fake, fake_sb):
    r = fake.client.request("POST", f"/sandboxes/{fake_sb['id']}/exec", {"argv": ["exit", "0", "300", "0"]})
    assert r.status == 502 and "malformed exit record" in r.json["error"]["message"], r


def test_agent_that_never_answers_fails_the_create(fake_init):
    e = ec.Emberd(vmm="process", init=fake_init,
                  config={"boot_args": "fake_agent=mute", "boot_timeout_ms": 1000})
    try:
        r = e.client.request("POST", "/sandboxes", {"language_pack": "python"})
        assert r.status == 502, r
        assert "did not answer" in r.json["error"]["message"]
        assert e.client.request("GET", "/sandboxes").json["sandboxes"] == []
        assert not ec.wait_clean(e)
    finally:
        rc, log = e.stop()
        e.cleanup()
    assert rc == 0, log[-3000:]
