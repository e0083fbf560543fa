"""End to end through real microVMs: the real kernel, initramfs and pack images, emberd's
unchanged Firecracker driver. Slow under TCG, so few and sharp: one python sandbox is
shared by the exec cases."""
import os
import pathlib
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import ember_client as ec
from e2e_util import firecracker_bin, kvm_verdict, processes_naming, start_emberd, vmm_args


def test_print_42(api, py):
    r = api.exec(py["id"], code="print(6*7)")
    assert r["stdout"] == "42\n" and r["exit_code"] == 0


def test_exit_code_stderr_stdin(api, py):
    r = api.exec(py["id"], code="import sys; d=sys.stdin.read(); print(d[::-1]); print('e', file=sys.stderr); sys.exit(4)",
                 stdin="abc")
    assert (r["stdout"], r["stderr"], r["exit_code"]) == ("cba\n", "e\n", 4)


def test_timeout_fires(api, py):
    r = api.exec(py["id"], argv=["sleep", "100"], timeout_ms=1000)
    assert r["timed_out"] is True and r["signal"] == 9
    assert api.exec(py["id"], argv=["echo", "ok"])["stdout"] == "ok\n"


def test_orphans_reaped(api, py):
    api.exec(py["id"], argv=["sh", "-c", "(sleep 0.2 &) ; exit 0"])
    deadline = time.time() + 20
    while True:
        r = api.exec(py["id"], argv=["sh", "-c", "cat /proc/[0-9]*/stat 2>/dev/null | awk '$3 == \"Z\"' | wc -l"])
        if r["stdout"].strip() == "0":
            break
        assert time.time() < deadline, r
        time.sleep(0.5)


def test_shell_pack(api):
    sb = api.create("shell")
    try:
        r = api.exec(sb["id"], code="echo hi | tr a-z A-Z")
        assert r["stdout"] == "HI\n"
    finally:
        api.delete(sb["id"])


def test_unknown_pack_rejected(api):
    r = api.request("POST", "/sandboxes", {"language_pack": "cobol"})
    assert r.status == 400 and r.json["error"]["code"] == "unknown_language_pack"


def test_corrupt_rootfs_is_502_with_console_reason(ember, tmp_path):
    bad = tmp_path / "bad.squashfs"
    bad.write_bytes(os.urandom(1 << 20))
    cfg = {"language_packs": [{"name": "bad", "rootfs": str(bad), "interpreter": ["sh"],
                               "code_file": "main.sh", "vcpus": 1, "memory_mib": 128,
                               "description": "corrupt"}]}
    e = start_emberd(vmm=ember.vmm, config=cfg, extra_args=vmm_args(ember.vmm))
    try:
        r = e.client.request("POST", "/sandboxes", {"language_pack": "bad"}, timeout=180)
        assert r.status == 502, r
        assert r.json["error"]["code"] == "vm_boot_failed"
        assert "FATAL" in r.json["error"]["message"], r.json
        assert not ec.wait_clean(e, timeout=15)
    finally:
        rc, log = e.stop()
        e.cleanup()
    assert rc == 0, log[-3000:]


def test_delete_leaves_no_vmm_and_four_at_once(api, ember):
    ids = []

    def one(i):
        sb = api.create("python")
        ids.append(sb["id"])
        try:
            return api.exec(sb["id"], code=f"print({i}+1)")["stdout"]
        finally:
            assert api.delete(sb["id"]).status == 204

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(one, range(4))) == ["1\n", "2\n", "3\n", "4\n"]
    # a deleted sandbox's VMM (ember-vmm --id, its QEMU -name, firecracker --id) is gone
    # at once, even one that would have outlived its parent
    assert len(ids) == 4
    assert not processes_naming([i.encode() for i in ids])


def test_healthz_names_the_vmm_and_accelerator(api, ember):
    h = api.request("GET", "/healthz").json
    assert h["vmm"] == ember.vmm
    assert h["accel"] in (("kvm", "tcg") if ember.vmm == "qemu" else ("kvm",)), h


def test_auto_follows_the_kvm_probe():
    """--vmm auto: Firecracker when it and a usable KVM exist, else the qemu engine with the
    accelerator the probe allows; the log and /healthz say which (no VM is booted here)."""
    usable, line = kvm_verdict()
    want = "firecracker" if usable and firecracker_bin() else "qemu"
    e = start_emberd(vmm="auto", extra_args=vmm_args("firecracker") if firecracker_bin() else [])
    try:
        h = e.client.request("GET", "/healthz").json
    finally:
        rc, log = e.stop()
        e.cleanup()
    assert (h["vmm"], h["accel"]) == (want, "kvm" if usable else "tcg"), (h, line)
    assert "vmm auto: " in log and line.split(" (")[0] in log, log[-2000:]
