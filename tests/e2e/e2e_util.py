"""Helpers of the e2e suite (imported by its conftest and tests): the KVM verdict, the
tiers' emberd arguments, and the leak checks that spare the sandboxes a module shares."""
import os
import pathlib
import shutil
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "lib"))
import ember_client as ec  # noqa: E402


def ember_vmm():
    return ec.build_dir() / "src/compat/ember-vmm"


def kvm_verdict():
    """ember-vmm's own verdict (a probe boot of the real kernel, cached): /dev/kvm existing
    proves nothing. Returns (usable, the line it printed)."""
    imgs = ec.images_dir()
    try:
        p = subprocess.run([str(ember_vmm()), "--probe-kvm", "--kernel", str(imgs / "vmlinux"),
                            "--initrd", str(imgs / "initramfs.img")],
                           capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as ex:
        return False, f"kvm probe failed: {ex}"
    return p.returncode == 0, (p.stdout.strip() or p.stderr.strip())


def firecracker_bin():
    return os.environ.get("EMBER_FIRECRACKER") or shutil.which("firecracker")


def firecracker_missing():
    if not firecracker_bin():
        return "no firecracker binary (set EMBER_FIRECRACKER or put it in PATH)"
    usable, line = kvm_verdict()
    if not usable:
        return f"no usable KVM ({line})"
    return None


def vmm_args(vmm):
    """emberd arguments of a tier (the firecracker tier names its binary)."""
    return ["--firecracker-bin", firecracker_bin()] if vmm == "firecracker" else []


def processes_naming(words):
    """Live processes whose command line contains one of words (bytes): a VMM or QEMU of
    a sandbox names its id (ember-vmm --id, qemu -name, firecracker --id)."""
    found = []
    for p in pathlib.Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            cmd = (p / "cmdline").read_bytes()
        except OSError:
            continue
        if any(w in cmd for w in words):
            found.append((int(p.name), cmd.replace(b"\0", b" ")[:200]))
    return found


def leftovers_except(ember, keep):
    """What ec.leftovers() reports (emberd's child processes, sandbox dirs, mounts, loop
    devices), minus what the kept sandboxes own: their VMM process trees and dirs."""
    kept = {pid for pid, _ in processes_naming([k.encode() for k in keep])} if keep else set()
    kept |= {d for k in kept for d in ec.descendants(k)}
    found = []
    kids = [p for p in ec.descendants(ember.proc.pid) if p not in kept]
    if kids:
        found.append(f"processes: {kids}")
    sbdir = ember.dir / "state" / "sandboxes"
    dirs = [p.name for p in sbdir.iterdir() if p.name not in keep] if sbdir.exists() else []
    if dirs:
        found.append(f"sandbox dirs: {dirs}")
    mounts = [l for l in pathlib.Path("/proc/self/mountinfo").read_text().splitlines()
              if str(ember.dir) in l]
    if mounts:
        found.append(f"mounts: {mounts}")
    loops = ec.image_loops() - ember.loop_baseline
    if loops:
        found.append(f"loop devices: {sorted(loops)}")
    return found


def wait_clean_except(ember, keep, timeout=15.0):
    """Teardown is asynchronous (a VMM is reaped after its guest reboots): settle, report."""
    deadline = time.time() + timeout
    while True:
        left = leftovers_except(ember, keep)
        if not left or time.time() > deadline:
            return left
        time.sleep(0.1)


def start_emberd(**kw):
    """ec.Emberd, once its API answers: the socket file appears at bind(), a moment before
    listen(), and a connect() in between is refused."""
    e = ec.Emberd(**kw)
    deadline = time.time() + 20
    while True:
        try:
            e.client.request("GET", "/healthz", timeout=20)
            return e
        except ConnectionRefusedError:
            if time.time() > deadline or e.proc.poll() is not None:
                e.stop()
                e.cleanup()
                raise
            time.sleep(0.02)
