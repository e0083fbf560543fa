"""emberd with --jailer-bin build/src/jailer/ember-jailer: the whole exec path through the
jail (FACTS §5 layout, new pid and network namespaces, the files linked in, the host
cgroup and its limits), seccomp filters on emberd and the VMM, a jailer that fails, and
nothing left afterwards: no chroot dir, no cgroup dir, no process."""
import os
import pathlib
import stat
import subprocess

import pytest

import ember_client as ec

JAILER = ec.build_dir() / "src/jailer/ember-jailer"


@pytest.fixture(scope="module")
def ember():
    e = ec.Emberd(vmm="process", extra_args=["--jailer-bin", str(JAILER)])
    yield e
    rc, log = e.stop()
    e.cleanup()
    assert rc == 0, f"emberd exited with {rc}:\n{log[-4000:]}"


def vmm_pid(ember, sid):
    pids = [p for p, s in ec.vmms_of(ember).items() if s == sid]
    assert len(pids) == 1, (sid, ec.vmms_of(ember))
    return pids[0]


def status_field(pid, name, task=None):
    path = f"/proc/{pid}/task/{task}/status" if task else f"/proc/{pid}/status"
    for line in pathlib.Path(path).read_text().splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].split()
    return None


def cgroup_of(pid, controller):
    """The cgroup path of pid: the v1 hierarchy of controller, else the v2 one."""
    lines = [l.split(":", 2) for l in pathlib.Path(f"/proc/{pid}/cgroup").read_text().splitlines()]
    for _, ctrls, path in lines:
        if controller in ctrls.split(","):
            return path
    return next((path for h, _, path in lines if h == "0"), None)


def limit_file(controller, path, v1, v2):
    """The limit knob of a cgroup, v1 first (this host), else v2."""
    p1 = pathlib.Path(f"/sys/fs/cgroup/{controller}{path}/{v1}")
    return p1 if p1.exists() else pathlib.Path(f"/sys/fs/cgroup{path}/{v2}")


def test_jailed_exec_path(ember, api):
    sb = api.create("python")
    sid = sb["id"]
    pid = vmm_pid(ember, sid)
    jail = ember.dir / "state" / "jail" / "ember-vmm" / sid
    chroot = jail / "root"
    # the chroot layout and the VMM inside it (FACTS §5)
    # (another mount namespace: readlink shows "/", so compare the directory itself)
    root, mine = os.stat(f"/proc/{pid}/root"), chroot.stat()
    assert (root.st_dev, root.st_ino) == (mine.st_dev, mine.st_ino)
    cmd = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert cmd[:3] == [b"/ember-vmm", b"--id", sid.encode()]
    assert b"--start-time-us" in cmd and ec.arg_after(b"\0".join(cmd), b"--api-sock") == "/run/firecracker.socket"
    assert stat.S_ISSOCK((chroot / "run" / "firecracker.socket").stat().st_mode)
    assert stat.S_ISSOCK((chroot / "v.sock").stat().st_mode)
    assert (chroot / "ember-vmm.pid").read_text().strip() == str(pid)
    # kernel, initrd and rootfs hard-linked (same inode), the exec file copied
    for name in ("vmlinux", "initramfs.img", "python.squashfs"):
        assert (chroot / name).stat().st_ino == (ec.images_dir() / name).stat().st_ino, name
    assert (chroot / "ember-vmm").stat().st_ino != (ec.build_dir() / "src/compat/ember-vmm").stat().st_ino
    # a new pid namespace (the VMM is its PID 1) and a network namespace of its own
    assert status_field(pid, "NSpid")[-1] == "1"
    assert os.readlink(f"/proc/{pid}/ns/net") != os.readlink(f"/proc/{ember.proc.pid}/ns/net")
    assert os.readlink(f"/proc/{pid}/ns/mnt") != os.readlink(f"/proc/{ember.proc.pid}/ns/mnt")
    # the host cgroup and its limits: memory = guest + overhead, pids, cpu per vcpu
    path = cgroup_of(pid, "memory")
    assert path == f"/ember/{sid}", path
    mem = limit_file("memory", path, "memory.limit_in_bytes", "memory.max")
    assert int(mem.read_text()) == (256 + 128) << 20
    assert limit_file("pids", cgroup_of(pid, "pids"), "pids.max", "pids.max").read_text().strip() == "1024"
    # the exec path through the jail
    r = api.exec(sid, code="print(6*7)")
    assert r["stdout"] == "42\n" and r["exit_code"] == 0, r
    assert api.delete(sid).status == 204
    assert not ec.wait_clean(ember)
    assert not jail.exists()
    assert not ec.host_cgroups([sid])
    assert ec.proc_stat(pid) is None or ec.proc_stat(pid)[0] == "Z"


def test_seccomp_filters(ember, api):
    """emberd: every thread filtered but one, the spawner (children inherit a filter);
    the jailed VMM: filtered."""
    if "a sanitizer build" in ember.log_path.read_text(errors="replace"):
        pytest.skip("sanitizer builds install no seccomp filter (LeakSanitizer needs ptrace)")
    threads = sorted(os.listdir(f"/proc/{ember.proc.pid}/task"))
    modes = [status_field(ember.proc.pid, "Seccomp", t)[0] for t in threads]
    assert modes.count("0") == 1 and modes.count("2") == len(modes) - 1, modes
    sb = api.create("shell")
    try:
        assert status_field(vmm_pid(ember, sb["id"]), "Seccomp") == ["2"]
        # the guest inherits ember-vmm's filter: the kernel's admin calls are out of reach
        r = api.exec(sb["id"], code="grep ^Seccomp: /proc/self/status")
        assert r["stdout"].split() == ["Seccomp:", "2"], r
    finally:
        api.delete(sb["id"])


def test_concurrent_jailed_sandboxes(ember, api):
    from concurrent.futures import ThreadPoolExecutor

    def one(i):
        sb = api.create("shell")
        try:
            return api.exec(sb["id"], code=f"echo {i}")["stdout"]
        finally:
            assert api.delete(sb["id"]).status == 204

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(one, range(8))) == [f"{i}\n" for i in range(8)]


def test_failing_jailer_is_a_502_and_leaves_nothing(tmp_path):
    fake = tmp_path / "bad-jailer"
    fake.write_text("#!/bin/sh\necho 'ember-jailer: cgroups: no such controller' >&2\nexit 1\n")
    fake.chmod(0o755)
    e = ec.Emberd(vmm="process", extra_args=["--jailer-bin", str(fake)])
    try:
        r = e.client.request("POST", "/sandboxes", {"language_pack": "shell"})
        assert r.status == 502, r
        msg = r.json["error"]["message"]
        assert "the jailer exited with status 1" in msg and "no such controller" in msg, msg
        assert not ec.wait_clean(e)
        assert not list((e.dir / "state" / "jail").glob("*/sb-*"))
    finally:
        rc, log = e.stop()
        e.cleanup()
    assert rc == 0, log[-3000:]


def test_ember_jailer_alone_refuses_bad_arguments(tmp_path):
    r = subprocess.run([str(JAILER), "--id", "a/b", "--exec-file", "/bin/true", "--uid", "0",
                        "--gid", "0", "--chroot-base-dir", str(tmp_path)],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1 and "Invalid instance ID" in r.stderr
    r = subprocess.run([str(JAILER), "--id", "x", "--exec-file", "/nonexistent", "--uid", "0",
                        "--gid", "0", "--chroot-base-dir", str(tmp_path)],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1 and "canonicalize" in r.stderr
    assert not list(tmp_path.iterdir())
