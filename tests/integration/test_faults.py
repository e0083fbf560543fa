"""Fault injection through the whole stack on the process engine: the VMM killed (-9) during
an exec and while idle, a guest agent that stops answering (SIGSTOP), a refused vsock dial,
a full disk under the state dir, and slow or idle clients that must not hold up others.
Each case checks what the client is told, that the sandbox's resources are gone at once
(a failed sandbox stays listed, holding nothing), and that nothing is left at the end."""
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

import ember_client as ec


def vmm_pid(ember, sid):
    pids = [p for p, s in ec.vmms_of(ember).items() if s == sid]
    assert len(pids) == 1, (sid, pids)
    return pids[0]


def wait_for(cond, timeout=20.0, what="condition"):
    """An event wait with a generous bound, not a timing assertion."""
    deadline = time.time() + timeout
    while not cond():
        assert time.time() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def state(api, sid):
    r = api.request("GET", f"/sandboxes/{sid}")
    return r.json["state"] if r.status == 200 else r.status


def holds_nothing(ember, sid):
    """A failed sandbox: no VMM or guest process, no directory, jail or host cgroup."""
    left = []
    if sid in ec.vmms_of(ember).values():
        left.append("VMM")
    if (ember.dir / "state" / "sandboxes" / sid).exists():
        left.append("directory")
    if list((ember.dir / "state" / "jail").glob(f"*/{sid}")):
        left.append("jail")
    if ec.host_cgroups([sid]):
        left.append("host cgroup")
    return left


def assert_failed_and_clean(api, ember, sid):
    assert state(api, sid) == "failed"
    wait_for(lambda: not holds_nothing(ember, sid), what=f"{sid} to hold nothing")
    r = api.request("POST", f"/sandboxes/{sid}/exec", {"argv": ["true"]})
    assert r.status == 502 and "has failed" in r.json["error"]["message"], r
    assert api.delete(sid).status == 204


# ---- the VMM dies ----

def test_vmm_killed_during_an_exec(api, ember):
    sid = api.create("python")["id"]
    vmm = vmm_pid(ember, sid)
    out = {}
    body = {"argv": ["sleep", "600"], "timeout_ms": 600000}
    t = threading.Thread(target=lambda: out.update(
        r=api.request("POST", f"/sandboxes/{sid}/exec", body, timeout=120)))
    t.start()
    wait_for(lambda: any("sleep 600" in ec.cmdline(p) for p in ec.descendants(vmm)),
             what="the exec to run")
    os.kill(vmm, signal.SIGKILL)
    t.join(timeout=120)  # the exec's own timeout is 10 minutes: it must end long before
    assert not t.is_alive()
    r = out["r"]
    assert r.status == 502 and r.error_code() == "vmm_error", r
    assert "VMM" in r.json["error"]["message"] and "while running" in r.json["error"]["message"]
    assert_failed_and_clean(api, ember, sid)


def test_vmm_killed_while_idle_is_noticed(api, ember):
    sid = api.create("shell")["id"]
    os.kill(vmm_pid(ember, sid), signal.SIGKILL)
    wait_for(lambda: state(api, sid) == "failed", what="the reaper to notice")
    assert_failed_and_clean(api, ember, sid)


# ---- the agent stops answering ----

def test_agent_that_stops_answering_meets_the_host_deadline(api, ember):
    sid = api.create("shell")["id"]
    guest = ec.descendants(vmm_pid(ember, sid))
    assert guest
    for p in guest:
        os.kill(p, signal.SIGSTOP)
    try:
        r = api.request("POST", f"/sandboxes/{sid}/exec", {"argv": ["true"], "timeout_ms": 300},
                        timeout=120)
        assert r.status == 502 and r.error_code() == "agent_unresponsive", r
        assert_failed_and_clean(api, ember, sid)
    finally:
        for p in guest:
            try:
                os.kill(p, signal.SIGCONT)
            except ProcessLookupError:
                pass


# ---- a refused vsock dial ----

@pytest.fixture
def own_emberd():
    """Emberds of a test's own (a configuration of their own); stopped and checked after."""
    made = []

    def make(**kw):
        e = ec.Emberd(vmm="process", **kw)
        made.append(e)
        return e
    yield make
    for e in made:
        try:
            if e.proc is not None and e.proc.poll() is None:
                ec.assert_nothing_left(e)
        finally:
            rc, log = e.stop() if e.proc is not None else (0, "")
            e.cleanup()
        assert rc == 0, log[-3000:]


def test_refused_vsock_dial_fails_the_create(own_emberd):
    # the guest agent listens on 53 (the operator's boot_args come last and win in the
    # guest) while emberd dials 52: the VMM refuses each CONNECT, as Firecracker does when
    # nothing listens; the boot's dial loop retries until the boot timeout
    e = own_emberd(config={"boot_args": "ember.port=53", "boot_timeout_ms": 1500})
    r = e.client.request("POST", "/sandboxes", {"language_pack": "shell"}, timeout=120)
    assert r.status == 502 and r.error_code() == "vm_boot_failed", r
    msg = r.json["error"]["message"]
    assert "did not answer within 1500 ms (vsock handshake" in msg, msg
    assert e.client.request("GET", "/sandboxes").json["sandboxes"] == []


# ---- a full disk under the state dir ----

def fill(path):
    """Writes zeros to path until the filesystem is full (unbuffered: every byte lands)."""
    with open(path, "wb", buffering=0) as f:
        for size in (65536, 1):
            try:
                while f.write(b"\0" * size):
                    pass
            except OSError:
                pass


def test_full_state_dir_is_507_and_heals(own_emberd):
    # the jails stay on the big disk (hard links to the images); only the state dir is small
    jail_base = pathlib.Path(tempfile.mkdtemp(prefix="emb-jail-", dir="/tmp"))
    e = own_emberd(start=False, extra_args=["--chroot-base", str(jail_base)])
    state_dir = e.dir / "state"
    state_dir.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "ember-test-full",
                    str(state_dir)], check=True)
    e.own_mounts.add("ember-test-full")
    try:
        e.start()
        sid = e.client.create("shell")["id"]  # fine while there is room
        assert e.client.delete(sid).status == 204
        fill(state_dir / "filler")
        r = e.client.request("POST", "/sandboxes", {"language_pack": "shell"}, timeout=120)
        assert r.status == 507 and r.error_code() == "insufficient_storage", r
        assert "No space left on device" in r.json["error"]["message"], r
        assert e.client.request("GET", "/sandboxes").json["sandboxes"] == []
        assert not ec.wait_clean(e), "nothing half-made is left"
        assert not list(jail_base.glob("*/sb-*"))
        (state_dir / "filler").unlink()
        sid = e.client.create("shell")["id"]  # space is back: so is create
        assert e.client.exec(sid, argv=["echo", "ok"])["stdout"] == "ok\n"
        assert e.client.delete(sid).status == 204
        assert not ec.wait_clean(e)
        rc, log = e.stop()
        assert rc == 0, log[-3000:]
    finally:
        if e.proc is not None and e.proc.poll() is None:
            e.stop()
        subprocess.run(["umount", str(state_dir)], check=False)
        shutil.rmtree(jail_base, ignore_errors=True)


# ---- slow and idle clients ----

def test_slowloris_and_idle_connections_do_not_block_others(api, ember):
    sid = api.create("shell")["id"]
    idle = []
    stop = threading.Event()

    def slowloris():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(ember.sock)
        idle.append(s)
        for ch in b"POST /sandboxes HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{":
            if stop.wait(0.2):
                return
            try:
                s.send(bytes([ch]))
            except OSError:
                return
    try:
        for _ in range(300):  # connected and silent
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(ember.sock)
            idle.append(s)
        for _ in range(5):  # half a request, a byte at a time
            threading.Thread(target=slowloris, daemon=True).start()
        time.sleep(0.5)
        # everyone else is served as usual, and promptly (the bound is the client timeout)
        assert api.request("GET", "/healthz", timeout=20).status == 200
        assert api.request("GET", "/sandboxes", timeout=20).status == 200
        r = api.request("POST", f"/sandboxes/{sid}/exec", {"argv": ["echo", "hi"]}, timeout=20)
        assert r.status == 200 and r.json["stdout"] == "hi\n", r
        other = api.request("POST", "/sandboxes", {"language_pack": "shell"}, timeout=60)
        assert other.status == 201, other
        assert api.delete(other.json["id"]).status == 204
    finally:
        stop.set()
        for s in idle:
            s.close()
    assert api.delete(sid).status == 204
