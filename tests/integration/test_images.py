"""The guest boot path of the process engine with the real pack images: squashfs on a loop
device as the read-only lower layer, a tmpfs upper, overlay, pivot_root, emberd-init as
PID 1 — and the failures of a missing or corrupt image."""
import hashlib
import os
import pathlib

import pytest

import ember_client as ec

ROOTFS_TYPE = "import sys; print([l.split()[2] for l in open('/proc/mounts') if l.split()[1] == '/'][-1])"


def pack_image(name):
    return ec.images_dir() / f"{name}.squashfs"


def test_python_pack_runs_its_own_interpreter(api):
    sb = api.create("python")
    try:
        r = api.exec(sb["id"], code=ROOTFS_TYPE)
        assert r["stdout"] == "overlay\n"
        # the host has a compiler and tools the minimal pack does not
        r = api.exec(sb["id"], code="import shutil; print(shutil.which('gcc'), shutil.which('node'))")
        assert r["stdout"] == "None None\n"
        r = api.exec(sb["id"], argv=["cat", "/etc/ember-pack"])
        assert r["stdout"].startswith("python"), r
    finally:
        api.delete(sb["id"])


def test_shell_pack(api):
    sb = api.create("shell")
    try:
        r = api.exec(sb["id"], code="echo hello | tr a-z A-Z; command -v python3 || echo no-python")
        assert r["stdout"] == "HELLO\nno-python\n", r
        r = api.exec(sb["id"], argv=["cat", "/etc/ember-pack"])
        assert r["stdout"].startswith("shell"), r
    finally:
        api.delete(sb["id"])


def test_node_pack(api):
    if not pack_image("node").exists():
        pytest.skip("node image not built")
    sb = api.create("node")
    try:
        r = api.exec(sb["id"], code="console.log(6*7)")
        assert r["stdout"] == "42\n", r
    finally:
        api.delete(sb["id"])


def test_lower_is_read_only_upper_is_writable_and_image_unchanged(api):
    img = pack_image("python").resolve()
    before = hashlib.sha256(img.read_bytes()).hexdigest()
    sb = api.create("python")
    try:
        r = api.exec(sb["id"], argv=["sh", "-c", "echo changed > /usr/bin/python3 && echo x > /etc/newfile && cat /etc/newfile"])
        assert r["exit_code"] == 0 and r["stdout"] == "x\n", r
        r = api.exec(sb["id"], argv=["sh", "-c", "grep ' /run/ember/lower\\| squashfs ' /proc/mounts || true"])
        for line in r["stdout"].splitlines():
            assert " ro," in line or " ro " in line, line
    finally:
        api.delete(sb["id"])
    assert hashlib.sha256(img.read_bytes()).hexdigest() == before


def test_writes_vanish_with_the_sandbox_and_sandboxes_are_apart(api):
    a = api.create("python")
    b = api.create("python")
    try:
        api.exec(a["id"], argv=["sh", "-c", "echo secret > /root/a.txt"])
        r = api.exec(b["id"], argv=["sh", "-c", "cat /root/a.txt 2>&1 || echo absent"])
        assert "absent" in r["stdout"]
    finally:
        api.delete(a["id"])
        api.delete(b["id"])
    c = api.create("python")
    try:
        r = api.exec(c["id"], argv=["sh", "-c", "ls /root"])
        assert "a.txt" not in r["stdout"]
    finally:
        api.delete(c["id"])


def test_upper_layer_is_size_limited(api):
    sb = api.create("python")
    try:
        r = api.exec(sb["id"], argv=["sh", "-c", "dd if=/dev/zero of=/root/fill bs=1M count=4096 2>&1; echo rc=$?"],
                     timeout_ms=60000)
        assert "No space left" in r["stdout"], r
        assert api.exec(sb["id"], code="print('alive')")["stdout"] == "alive\n"
    finally:
        api.delete(sb["id"])


@pytest.fixture(scope="module")
def broken_ember(tmp_path_factory):
    d = tmp_path_factory.mktemp("imgs")
    corrupt = d / "corrupt.squashfs"
    corrupt.write_bytes(os.urandom(1 << 20))
    cfg = {"language_packs": [
        {"name": "python", "rootfs": "python.squashfs", "interpreter": ["python3"], "code_file": "main.py",
         "vcpus": 1, "memory_mib": 256, "description": "Python 3"},
        {"name": "corrupt", "rootfs": str(corrupt), "interpreter": ["sh"], "code_file": "main.sh",
         "vcpus": 1, "memory_mib": 128, "description": "random bytes"},
        {"name": "missing", "rootfs": str(d / "nope.squashfs"), "interpreter": ["sh"], "code_file": "main.sh",
         "vcpus": 1, "memory_mib": 128, "description": "no such file"},
    ]}
    e = ec.Emberd(vmm="process", config=cfg)
    yield e
    rc, log = e.stop()
    e.cleanup()
    assert rc == 0, log[-4000:]


@pytest.mark.parametrize("pack,words", [("missing", ["nope.squashfs"]), ("corrupt", ["FATAL"])])
def test_bad_image_fails_create_with_502_and_leaves_nothing(broken_ember, pack, words):
    r = broken_ember.client.request("POST", "/sandboxes", {"language_pack": pack})
    assert r.status == 502, r
    e = r.json["error"]
    assert e["code"] == "vm_boot_failed"
    for w in words:
        assert w in e["message"], e
    assert broken_ember.client.request("GET", "/sandboxes").json["sandboxes"] == []
    assert not ec.wait_clean(broken_ember)
    # the daemon is fine afterwards
    sb = broken_ember.client.create("python")
    assert broken_ember.client.exec(sb["id"], code="print(1)")["stdout"] == "1\n"
    broken_ember.client.delete(sb["id"])
