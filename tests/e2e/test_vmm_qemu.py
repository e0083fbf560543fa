"""ember-vmm's qemu engine alone, driven through the Firecracker API as emberd drives it:
the process contract Firecracker has (exit 0 on Ctrl-Alt-Del and on a guest panic, the
hybrid vsock answering, QEMU dying with ember-vmm, a start that cannot hang) and nothing
left behind. Real kernel, initramfs and the shell pack (the smallest) under QEMU."""
import json
import os
import pathlib
import signal
import socket
import subprocess
import tempfile
import time

import pytest

import ember_client as ec
from e2e_util import ember_vmm, processes_naming

BOOT_WAIT_S = 120  # generous: four TCG guests may share two cores


class Vmm:
    """One ember-vmm --engine qemu in a private directory."""

    def __init__(self, vm_id, extra=()):
        self.id = vm_id
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="evq-", dir="/tmp"))
        self.api = str(self.dir / "api.sock")
        self.vsock = str(self.dir / "v.sock")
        self.out = open(self.dir / "console.log", "wb")
        self.proc = subprocess.Popen([str(ember_vmm()), "--api-sock", self.api, "--id", vm_id,
                                      "--engine", "qemu", *extra],
                                     stdin=subprocess.DEVNULL, stdout=self.out, stderr=self.out)
        deadline = time.time() + 20
        while not os.path.exists(self.api):
            assert self.proc.poll() is None and time.time() < deadline, self.console()
            time.sleep(0.02)

    def put(self, path, body):
        c = ec.UnixHTTPConnection(self.api, timeout=60)
        try:
            c.request("PUT", path, body=json.dumps(body).encode(),
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def configure(self, boot_args, rootfs="shell.squashfs"):
        imgs = ec.images_dir()
        steps = [("/logger", {"log_path": str(self.dir / "vmm.log"), "level": "Info"}),
                 ("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}),
                 ("/boot-source", {"kernel_image_path": str(imgs / "vmlinux"),
                                   "initrd_path": str(imgs / "initramfs.img"),
                                   "boot_args": boot_args}),
                 ("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": str(imgs / rootfs),
                                     "is_root_device": True, "is_read_only": True}),
                 ("/vsock", {"guest_cid": 3, "uds_path": self.vsock}),
                 ("/entropy", {})]
        for path, body in steps:
            st, raw = self.put(path, body)
            assert st == 204, (path, st, raw)

    def start(self):
        return self.put("/actions", {"action_type": "InstanceStart"})

    def console(self):
        self.out.flush()
        return (self.dir / "console.log").read_text(errors="replace")

    def log(self):
        p = self.dir / "vmm.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def wait_console(self, text, timeout=BOOT_WAIT_S):
        deadline = time.time() + timeout
        while text not in self.console():
            assert self.proc.poll() is None, self.console()[-3000:]
            assert time.time() < deadline, self.console()[-3000:]
            time.sleep(0.1)

    def wait_exit(self, timeout=BOOT_WAIT_S):
        return self.proc.wait(timeout=timeout)

    def qemu(self):
        return [p for p, cmd in processes_naming([b"-name\0" + self.id.encode()])]

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.out.close()
        subprocess.run(["rm", "-rf", str(self.dir)])


@pytest.fixture
def vmm(request):
    made = []

    def make(vm_id, extra=()):
        v = Vmm(vm_id, extra)
        made.append(v)
        return v

    yield make
    for v in made:
        v.close()
        deadline = time.time() + 10
        while v.qemu() and time.time() < deadline:
            time.sleep(0.05)
        assert not v.qemu(), f"QEMU of {v.id} outlived its test"


BOOT = "console=ttyS0 reboot=k panic=1 ember.root=/dev/vda ember.port=52"


def hybrid_connect(path, port, timeout=BOOT_WAIT_S):
    """Firecracker's host-initiated vsock handshake, retried until the guest listens."""
    deadline = time.time() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.connect(path)
            s.sendall(b"CONNECT %d\n" % port)
            ack = s.recv(64)
            if ack.startswith(b"OK "):
                return s, ack
        except OSError:
            pass
        s.close()
        assert time.time() < deadline, "the guest agent never accepted"
        time.sleep(0.2)


def test_boot_vsock_and_ctrl_alt_del_exit_zero(vmm):
    v = vmm("evq-cad")
    v.configure(BOOT)
    st, raw = v.start()
    assert st == 204, raw
    s, ack = hybrid_connect(v.vsock, 52)
    assert int(ack.split()[1]) >= 1 << 30 and ack.endswith(b"\n"), ack  # Firecracker's numbering
    s.close()
    assert v.qemu(), "no QEMU process names the instance"
    # the vhost-user socket had its name removed once QEMU was connected
    assert sorted(p.name for p in v.dir.iterdir()) == ["api.sock", "console.log", "v.sock", "vmm.log"]
    st, raw = v.put("/actions", {"action_type": "SendCtrlAltDel"})
    assert st == 204, raw
    assert v.wait_exit() == 0, v.log()[-3000:]
    assert "ready in" in v.console()
    assert "accelerator" in v.log()


def test_guest_panic_exits_zero(vmm):
    v = vmm("evq-panic")
    v.configure(BOOT + " rdinit=/no-such-init")  # the kernel panics: no init
    assert v.start()[0] == 204
    assert v.wait_exit() == 0
    assert "Kernel panic" in v.console()


def test_vmm_death_takes_qemu_down(vmm):
    v = vmm("evq-kill")
    v.configure(BOOT)
    assert v.start()[0] == 204
    assert v.qemu()
    v.proc.send_signal(signal.SIGKILL)
    v.proc.wait()
    deadline = time.time() + 10
    while v.qemu() and time.time() < deadline:
        time.sleep(0.05)
    assert not v.qemu(), "QEMU survived ember-vmm"


def fake_qemu(tmp_path, body):
    p = tmp_path / "qemu"
    p.write_text("#!/bin/sh\n" + body + "\n")
    p.chmod(0o755)
    return str(p)


def test_qemu_failing_at_start_is_a_400_with_its_reason(vmm, tmp_path):
    q = fake_qemu(tmp_path, "echo 'qemu-system-x86_64: -device x: no such device' >&2; exit 1")
    v = vmm("evq-fail", ["--qemu-bin", q, "--accel", "tcg"])
    v.configure(BOOT)
    st, raw = v.start()
    assert st == 400, raw
    msg = json.loads(raw)["fault_message"]
    assert "no such device" in msg and "exited with status 1" in msg, msg
    assert v.proc.poll() is None  # like Firecracker: the process stays, the start failed
    assert not ec.descendants(v.proc.pid)
    assert sorted(p.name for p in v.dir.iterdir()) == ["api.sock", "console.log", "v.sock", "vmm.log"]


def test_qemu_that_never_answers_cannot_hang_the_start(vmm, tmp_path):
    q = fake_qemu(tmp_path, "exec sleep 600")  # e.g. blocked on a vhost-user backend
    v = vmm("evq-hang", ["--qemu-bin", q, "--accel", "tcg"])
    v.configure(BOOT)
    st, raw = v.start()
    assert st == 400, raw
    assert "no answer in time" in json.loads(raw)["fault_message"]
    assert not ec.descendants(v.proc.pid), "the hung QEMU was not killed"


def test_qemu_killed_is_a_vmm_failure_with_its_reason(vmm):
    # e.g. the host's OOM killer: not a guest reboot, so not exit 0; the console says why
    v = vmm("evq-oom")
    v.configure(BOOT)
    assert v.start()[0] == 204
    pids = v.qemu()
    assert pids
    os.kill(pids[0], signal.SIGKILL)
    assert v.wait_exit() == 1
    assert "ember-vmm: QEMU was killed by signal 9 (KILL)" in v.console()
