"""Restart recovery: emberd killed with -9 at any moment and restarted on the same state dir
re-adopts every sandbox whose VMM is alive and whose agent answers (same id, times, env and
guest state; exec and delete work), and cleans everything else — no VMM, jailer, socket,
directory, jail, mount, loop device or host cgroup is left. The last test does it 50 times
with random kill points, requests in flight, and kills during recovery itself."""
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import threading
import time

import pytest

import ember_client as ec

ID_RE = re.compile(rb"sb-[0-9a-f]{16}")


@pytest.fixture
def emberd():
    """An emberd of its own (this module kills it); at the end every sandbox is deleted
    through the API and nothing of any sandbox it ever had may remain."""
    e = ec.Emberd(vmm="process")
    yield e
    try:
        if e.proc.poll() is None:
            ec.assert_nothing_left(e, timeout=10)
    finally:
        rc, log = e.stop()
        ec.reap_orphans()
        left = gone_everywhere(e, every_id(e))
        e.cleanup()
    assert rc == 0, f"emberd exited with {rc}:\n{log[-4000:]}"
    assert not left, left


def every_id(e):
    """Every sandbox id emberd ever logged or the client saw, in any of its runs."""
    ids = {m.decode() for m in ID_RE.findall(e.log_path.read_bytes())}
    return ids | e.client.created


def listed(e):
    r = e.client.request("GET", "/sandboxes")
    assert r.status == 200, r
    return {s["id"]: s for s in r.json["sandboxes"]}


def record(e, sid):
    return e.dir / "state" / "sandboxes" / sid / "sandbox.json"


def vmm_pid(e, sid):
    pids = [p for p, s in ec.vmms_of(e).items() if s == sid]
    assert len(pids) == 1, (sid, pids)
    return pids[0]


def traces(e, ids):
    """What is left of sandboxes ids: VMMs (and jailers), dirs, jails, loop devices backed
    by files in their jails, host cgroups."""
    ids = set(ids)
    found = []
    procs = {p: s for p, s in ec.vmms_of(e).items() if s in ids}
    if procs:
        found.append(f"processes: {[(p, ec.cmdline(p)) for p in procs]}")
    for what, d in (("dirs", e.dir / "state" / "sandboxes"), ("jails", None)):
        names = ({p.name for p in d.iterdir()} if d.exists() else set()) if d else \
            {p.name for p in (e.dir / "state" / "jail").glob("*/sb-*")}
        if names & ids:
            found.append(f"{what}: {sorted(names & ids)}")
    loops = [l for l in ec.image_loops(e.dir) if any(i in l for i in ids)]
    if loops:
        found.append(f"loop devices: {loops}")
    cgroups = ec.host_cgroups(ids)
    if cgroups:
        found.append(f"host cgroups: {cgroups}")
    return found


def gone_everywhere(e, ids, timeout=10.0):
    """[] once nothing of sandboxes ids is left, else what is, with emberd's log about them."""
    deadline = time.time() + timeout
    while True:
        ec.reap_orphans()
        left = traces(e, ids)
        if not left or time.time() > deadline:
            break
        time.sleep(0.05)
    if left:
        left.append(log_about(e, [i for i in ids if i in " ".join(left)]))
    return left


def log_about(e, ids):
    named = [l for l in e.log_path.read_text(errors="replace").splitlines()
             if any(i in l for i in ids)]
    return "emberd's log about them:\n" + "\n".join(named[-40:])


def test_live_sandboxes_are_readopted(emberd):
    e = emberd
    a = e.client.create("python", env={"GREETING": "hi"})
    b = e.client.create("shell", ttl_s=600)
    e.client.exec(a["id"], code="open('/tmp/mark', 'w').write('kept')")
    pids = {s["id"]: vmm_pid(e, s["id"]) for s in (a, b)}
    e.kill()
    e.start()
    now = listed(e)
    assert set(now) == {a["id"], b["id"]}
    for old in (a, b):
        new = now[old["id"]]
        for k in ("language_pack", "state", "vcpus", "memory_mib", "ttl_s", "created_at",
                  "expires_at", "vmm", "timings"):
            assert new[k] == old[k], (k, old, new)
        assert vmm_pid(e, old["id"]) == pids[old["id"]]  # the same VMM, not a new boot
    r = e.client.exec(a["id"], code="import os; print(os.environ['GREETING'], open('/tmp/mark').read())")
    assert r["stdout"] == "hi kept\n", r
    assert e.client.exec(b["id"], code="echo ok")["stdout"] == "ok\n"
    for s in (a, b):
        assert e.client.delete(s["id"]).status == 204
    assert not gone_everywhere(e, [a["id"], b["id"]])


def test_what_cannot_be_readopted_is_cleaned(emberd):
    e = emberd
    ids = [e.client.create("shell")["id"] for _ in range(6)]
    keep, dead, torn, lost, expired, alien = ids
    dead_pid = vmm_pid(e, dead)
    e.kill()
    os.kill(dead_pid, signal.SIGKILL)                      # its VMM died while emberd was down
    text = record(e, torn).read_text()
    record(e, torn).write_text(text[: len(text) // 2])      # a torn record
    record(e, lost).unlink()                                # no record at all
    rec = json.loads(record(e, expired).read_text())
    rec["expires_at_ms"] = int(time.time() * 1000) - 1000   # its TTL ran out while emberd was down
    record(e, expired).write_text(json.dumps(rec))
    rec = json.loads(record(e, alien).read_text())
    rec["vm"]["start_time"] += 1                            # a recycled pid: not this VMM
    record(e, alien).write_text(json.dumps(rec))
    alien_pid = vmm_pid(e, alien)
    e.start()
    assert set(listed(e)) == {keep}
    assert not gone_everywhere(e, [dead, torn, lost, expired, alien])
    assert e.client.exec(keep, code="echo still here")["stdout"] == "still here\n"
    st = ec.proc_stat(alien_pid)
    assert st is None or st[0] == "Z", "a VMM with no usable record was left running"
    assert e.client.delete(keep).status == 204


def test_an_agent_that_does_not_answer_is_not_readopted(emberd):
    e = emberd
    frozen = e.client.create("shell")["id"]
    fine = e.client.create("shell")["id"]
    guest = ec.descendants(vmm_pid(e, frozen))
    assert guest
    for p in guest:
        os.kill(p, signal.SIGSTOP)
    try:
        e.kill()
        e.start()
        assert set(listed(e)) == {fine}
        assert not gone_everywhere(e, [frozen])
    finally:
        for p in guest:
            try:
                os.kill(p, signal.SIGCONT)
            except ProcessLookupError:
                pass
    assert e.client.delete(fine).status == 204


def test_a_jailed_vmm_whose_jail_and_directory_are_gone_is_killed(emberd):
    # as a recovery killed after it removed them but before it killed the VMM would leave it
    e = emberd
    sid = e.client.create("shell")["id"]
    jails = list((e.dir / "state" / "jail").glob(f"*/{sid}"))
    if not jails:
        assert e.client.delete(sid).status == 204
        pytest.skip("emberd runs its VMMs unjailed here")
    pid = vmm_pid(e, sid)
    e.kill()
    for d in jails + [e.dir / "state" / "sandboxes" / sid]:
        shutil.rmtree(d)
    e.start()
    assert listed(e) == {}
    assert not gone_everywhere(e, [sid])
    st = ec.proc_stat(pid)
    assert st is None or st[0] == "Z"


def test_another_emberds_sandboxes_are_never_touched(emberd):
    """Its VMMs share the host, the disk and the VMM binary, not the state dir."""
    other = ec.Emberd(vmm="process")
    try:
        theirs = other.client.create("shell")["id"]
        pid = vmm_pid(other, theirs)
        e = emberd
        mine = e.client.create("shell")["id"]
        e.kill()
        shutil.rmtree(e.dir / "state" / "sandboxes" / mine)  # no record: found by a scan
        e.start()
        assert listed(e) == {}
        assert not gone_everywhere(e, [mine])
        assert vmm_pid(other, theirs) == pid
        assert other.client.exec(theirs, argv=["echo", "fine"])["stdout"] == "fine\n"
        assert other.client.delete(theirs).status == 204
        ec.assert_nothing_left(other)
    finally:
        rc, log = other.stop()
        other.cleanup()
    assert rc == 0, log[-3000:]


def test_ttl_keeps_counting_across_a_restart(emberd):
    e = emberd
    sb = e.client.create("shell", ttl_s=2)
    e.kill()
    e.start()
    assert listed(e)[sb["id"]]["expires_at"] == sb["expires_at"]
    deadline = time.time() + 30  # an event wait, not a timing assertion
    while sb["id"] in listed(e) and time.time() < deadline:
        time.sleep(0.1)
    assert sb["id"] not in listed(e)
    assert not gone_everywhere(e, [sb["id"]])


def test_one_emberd_per_state_dir(emberd):
    e = emberd
    sb = e.client.create("shell")
    second = subprocess.run(e.args, env=e.env, capture_output=True, text=True, timeout=60)
    assert second.returncode != 0
    assert "in use by another emberd" in second.stdout + second.stderr
    assert e.client.exec(sb["id"], code="echo alive")["stdout"] == "alive\n"
    assert e.client.delete(sb["id"]).status == 204


# ---- 50 kills at random points ----

class Book:
    """What the API confirmed about each sandbox, and which worker owns it."""

    def __init__(self):
        self.lock = threading.Lock()
        self.state, self.owner = {}, {}

    def set(self, sid, state, owner=None):
        with self.lock:
            self.state[sid] = state
            if owner is not None:
                self.owner[sid] = owner

    def owned(self, owner):
        with self.lock:
            return [s for s, st in self.state.items() if st == "ready" and self.owner.get(s) == owner]

    def ready(self):
        with self.lock:
            return [s for s, st in self.state.items() if st == "ready"]


class Worker(threading.Thread):
    """Creates, execs in, deletes and lists its own sandboxes until told to stop; records
    what the API confirmed. Connection errors are expected: emberd is killed under it."""

    def __init__(self, e, rnd, book, idx):
        super().__init__(daemon=True)
        self.e, self.rnd, self.book, self.idx = e, rnd, book, idx
        self.stop = threading.Event()
        self.failures = []

    def step(self):
        c, rnd, mine = self.e.client, self.rnd, self.book.owned(self.idx)
        op = rnd.random()
        if op < 0.35 and len(mine) < 3:
            pack = rnd.choice(["shell", "python"])
            r = c.request("POST", "/sandboxes", {"language_pack": pack}, timeout=60)
            if r.status == 201:
                self.book.set(r.json["id"], "ready", self.idx)
            elif r.status != 503:
                self.failures.append(("create", r))
        elif op < 0.75 and mine:
            sid = rnd.choice(mine)
            r = c.request("POST", f"/sandboxes/{sid}/exec", {"argv": ["echo", "x"]}, timeout=60)
            if r.status != 200 or r.json["stdout"] != "x\n":
                self.failures.append(("exec", sid, r))
        elif op < 0.9 and mine:
            sid = rnd.choice(mine)
            self.book.set(sid, "deleting")  # a kill may cut it short: then either is right
            if c.request("DELETE", f"/sandboxes/{sid}", timeout=60).status == 204:
                self.book.set(sid, "deleted")
        else:
            c.request("GET", "/sandboxes", timeout=60)

    def run(self):
        while not self.stop.is_set():
            try:
                self.step()
            except (OSError, http.client.HTTPException):
                time.sleep(0.01)  # emberd is down


def check_after_restart(e, book):
    """Confirmed-ready sandboxes are back and work; nothing of any other sandbox is left."""
    now = listed(e)
    for sid in book.ready():
        assert sid in now, f"{sid} was ready and not deleted, but was not re-adopted"
    for sid, st in list(book.state.items()):
        if st == "deleted":
            assert sid not in now, f"{sid} was deleted, yet came back"
        if st == "deleting":  # cut short by the kill: gone, or back
            book.set(sid, "ready" if sid in now else "deleted")
    for sid, s in now.items():
        assert s["state"] == "ready", (s, log_about(e, [sid]))
        r = e.client.request("POST", f"/sandboxes/{sid}/exec", {"argv": ["true"]}, timeout=60)
        assert r.status == 200, (sid, r, log_about(e, [sid]))
        book.set(sid, "ready")  # also one whose create was cut short after its record
    left = gone_everywhere(e, every_id(e) - set(now))
    assert not left, left
    assert set(ec.vmms_of(e).values()) <= set(now), ec.vmms_of(e)
    return now


def test_fifty_kills_at_random_points(emberd):
    e = emberd
    seed = int(os.environ.get("EMBER_RECOVERY_SEED", time.time()))
    rnd, book = random.Random(seed), Book()
    for i in range(50):
        for n, sid in enumerate(sorted(book.ready())):  # survivors are shared out again
            book.set(sid, "ready", n % 3)
        workers = [Worker(e, random.Random(rnd.random()), book, n) for n in range(3)]
        for w in workers:
            w.start()
        time.sleep(rnd.uniform(0.05, 0.8))
        e.kill()
        for w in workers:
            w.stop.set()
        for w in workers:
            w.join(timeout=120)
            assert not w.failures, (f"seed {seed}, iteration {i}", w.failures)
        if rnd.random() < 0.25:  # killed again while it is still recovering
            e.start(wait=False)
            time.sleep(rnd.uniform(0, 0.1))
            e.kill()
        e.start()
        now = check_after_restart(e, book)
        for sid in list(now)[: max(0, len(now) - 6)]:  # a small population keeps it fast
            assert e.client.delete(sid).status == 204
            book.set(sid, "deleted")
    for sid in listed(e):
        assert e.client.delete(sid).status == 204
