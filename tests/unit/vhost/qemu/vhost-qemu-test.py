#!/usr/bin/env python3
"""vhost-qemu-test.py - the vhost-user vsock backend against a real QEMU 7.2 guest.

Boots QEMU (TCG, q35, memfd RAM, vhost-user-vsock-pci behind a pcie-root-port) with
the Debian cloud kernel and a tiny initramfs whose /init is vsock-guest-init (static
musl), runs the backend in vhost-vsock-run, and checks the Firecracker hybrid-vsock
behaviour end to end: CONNECT/OK, small and large echo with checksums, one-way
throughput, 100+ concurrent connections, guest -> host via <uds_path>_<port>, refused
ports, QMP stop/cont, vsock unplug/replug with a new front-end connection, and a clean
exit of QEMU and the backend. Prints figures (never asserts on time).
Exit 77 (skip) when qemu, the kernel, its modules or the guest init are missing.
Kernel: $EMBER_KERNEL (default <source>/build/images/vmlinux). Modules, which must match
it: $EMBER_MODULES (a directory searched recursively for the .ko files), by default
modules/ beside the kernel, else the .ko files inside initramfs.img beside it.
"""
import argparse
import gzip
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib

SKIP = 77
MODULES = ["virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev",
           "virtio_pci", "vsock", "vmw_vsock_virtio_transport_common",
           "vmw_vsock_virtio_transport"]
GUEST_CID = 3
ECHO, DIAL, SINK, SOURCE = 1234, 1235, 1236, 1237
BIG = 32 << 20
CONCURRENT = 128
FAILURES = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILURES.append(what)
    return cond


def skip(why):
    print("SKIP: " + why, flush=True)
    sys.exit(SKIP)


def find_modules_dir(root):
    """name -> bytes of the wanted .ko files under root (recursive)."""
    found = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            if f.endswith(".ko") and f[:-3] in MODULES and f[:-3] not in found:
                with open(os.path.join(dirpath, f), "rb") as fh:
                    found[f[:-3]] = fh.read()
    return found


def cpio_files(data):
    """name -> bytes of the regular files in a newc cpio archive."""
    out, off = {}, 0
    while off + 110 <= len(data) and data[off:off + 6] == b"070701":
        f = [int(data[off + 6 + 8 * i:off + 14 + 8 * i], 16) for i in range(13)]
        filesize, namesize = f[6], f[11]
        name = data[off + 110:off + 110 + namesize - 1].decode(errors="replace")
        off = (off + 110 + namesize + 3) & ~3
        if name == "TRAILER!!!":
            break
        out[name] = data[off:off + filesize]
        off = (off + filesize + 3) & ~3
    return out


def find_modules_initramfs(path):
    with open(path, "rb") as fh:
        data = fh.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    found = {}
    for name, body in cpio_files(data).items():
        base = os.path.basename(name)
        if base.endswith(".ko") and base[:-3] in MODULES:
            found.setdefault(base[:-3], body)
    return found


def find_modules(kernel):
    """Modules matching the kernel: $EMBER_MODULES, else modules/ beside the kernel (the
    images cache layout), else the .ko files inside initramfs.img beside it (build/images)."""
    here = os.path.dirname(os.path.abspath(kernel))
    env = os.environ.get("EMBER_MODULES")
    candidates = [("dir", env)] if env else [
        ("dir", os.path.join(here, "modules")), ("initramfs", os.path.join(here, "initramfs.img"))]
    for kind, where in candidates:
        if kind == "dir" and os.path.isdir(where):
            found = find_modules_dir(where)
        elif kind == "initramfs" and os.path.isfile(where):
            found = find_modules_initramfs(where)
        else:
            continue
        missing = [m for m in MODULES if m not in found]
        if not missing:
            return found, where, []
        if env:
            return found, where, missing
    return {}, " or ".join(w for _, w in candidates), MODULES


def cpio_newc(entries):
    """entries: (name, mode, data bytes or None, (rdevmajor, rdevminor))"""
    out = bytearray()

    def pad(b):
        b.extend(b"\0" * (-len(b) % 4))

    for ino, (name, mode, data, rdev) in enumerate(entries + [("TRAILER!!!", 0, None, (0, 0))]):
        data = data or b""
        nm = name.encode() + b"\0"
        fields = [ino + 1, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(nm), 0]
        out += b"070701" + b"".join(b"%08x" % f for f in fields) + nm
        pad(out)
        out += data
        pad(out)
    return bytes(out)


def build_initramfs(path, init_bin, modules):
    entries = [("dev", 0o40755, None, (0, 0)), ("dev/console", 0o20600, None, (5, 1)),
               ("proc", 0o40755, None, (0, 0)), ("modules", 0o40755, None, (0, 0)),
               ("init", 0o100755, open(init_bin, "rb").read(), (0, 0))]
    for m in MODULES:
        entries.append(("modules/%s.ko" % m, 0o100644, modules[m], (0, 0)))
    with open(path, "wb") as f:
        f.write(cpio_newc(entries))


class Qmp:
    def __init__(self, path, timeout=30):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.s.connect(path)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.f = self.s.makefile("rb")
        self.events = []
        json.loads(self.f.readline())  # greeting
        self.execute("qmp_capabilities")

    def execute(self, cmd, **args):
        msg = {"execute": cmd}
        if args:
            msg["arguments"] = args
        self.s.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            line = self.f.readline()
            if not line:
                raise EOFError("QMP closed")
            r = json.loads(line)
            if "event" in r:
                self.events.append(r)
            elif "return" in r or "error" in r:
                return r

    def wait_event(self, name, timeout=15):
        deadline = time.monotonic() + timeout
        while not any(e["event"] == name for e in self.events):
            if time.monotonic() > deadline:
                return False
            self.s.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                line = self.f.readline()
            except socket.timeout:
                return False
            if line:
                r = json.loads(line)
                if "event" in r:
                    self.events.append(r)
        self.s.settimeout(30)
        return True


def readline(s, limit=64):
    buf = b""
    while len(buf) < limit:
        c = s.recv(1)
        if not c:
            break
        buf += c
        if c == b"\n":
            break
    return buf


class Env:
    def __init__(self, tmp):
        self.tmp = tmp
        self.uds = os.path.join(tmp, "v.sock")
        self.vhost = os.path.join(tmp, "vhost.sock")

    def vconnect(self, port, timeout=60):
        """Hybrid vsock CONNECT; returns (socket, seconds to OK) or raises."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        t0 = time.monotonic()
        s.connect(self.uds)
        s.sendall(b"CONNECT %d\n" % port)
        line = readline(s)
        dt = time.monotonic() - t0
        if not line.startswith(b"OK ") or not line.endswith(b"\n"):
            s.close()
            raise ConnectionError("CONNECT %d: got %r" % (port, line))
        self.last_ok_port = int(line[3:])
        return s, dt


def recv_all(s, bufsize=1 << 20):
    crc, n = 0, 0
    while True:
        b = s.recv(bufsize)
        if not b:
            return n, crc
        crc = zlib.crc32(b, crc)
        n += len(b)


def echo_roundtrip(env, data, port=ECHO):
    """Sends data on a fresh connection while reading the echo; returns (ok, seconds)."""
    s, _ = env.vconnect(port)
    t0 = time.monotonic()
    res = {}

    def reader():
        res["got"] = recv_all(s)

    t = threading.Thread(target=reader)
    t.start()
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    t.join()
    dt = time.monotonic() - t0
    s.close()
    return res.get("got") == (len(data), zlib.crc32(data)), dt


def test_connect(env, figures):
    lat, ports = [], []
    for _ in range(20):
        s, dt = env.vconnect(ECHO)
        lat.append(dt * 1000)
        ports.append(env.last_ok_port)
        s.sendall(b"x")
        check(s.recv(1) == b"x", "echo of one byte") if len(lat) == 1 else s.recv(1)
        s.close()
    check(all(p >= 1 << 30 for p in ports) and len(set(ports)) == len(ports),
          "OK <hostport> from 2^30 upward, distinct: %d..%d" % (min(ports), max(ports)))
    figures["connect_ms_median"] = statistics.median(lat)
    figures["connect_ms_max"] = max(lat)


def test_echo(env, figures):
    ok, _ = echo_roundtrip(env, b"hello vsock\n")
    check(ok, "small echo")
    data = os.urandom(BIG)
    ok, dt = echo_roundtrip(env, data)
    check(ok, "echo of %d MiB each way, crc32 and length match" % (BIG >> 20))
    figures["echo_MiBps_each_way"] = (BIG >> 20) / dt


def test_one_way(env, figures):
    s, _ = env.vconnect(SINK)
    chunk = os.urandom(1 << 20)
    t0 = time.monotonic()
    for _ in range(BIG // len(chunk)):
        s.sendall(chunk)
    s.shutdown(socket.SHUT_WR)
    line = readline(s)
    dt = time.monotonic() - t0
    s.close()
    check(line == b"%d\n" % BIG, "guest sink counted %d MiB (%r)" % (BIG >> 20, line))
    figures["host_to_guest_MiBps"] = (BIG >> 20) / dt

    s, _ = env.vconnect(SOURCE)
    t0 = time.monotonic()
    s.sendall(b"%d\n" % BIG)
    n, good = 0, True
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        n += len(b)
        good = good and b.count(b"v") == len(b)
    dt = time.monotonic() - t0
    s.close()
    check(n == BIG and good, "guest source: %d MiB received intact" % (BIG >> 20))
    figures["guest_to_host_MiBps"] = (BIG >> 20) / dt


def test_concurrent(env, figures):
    results = [None] * CONCURRENT
    barrier = threading.Barrier(CONCURRENT)

    def worker(i):
        data = os.urandom(64 << 10)
        try:
            barrier.wait()
            results[i], _ = echo_roundtrip(env, data)
        except Exception as e:  # noqa: BLE001 - reported below
            results[i] = repr(e)

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(CONCURRENT)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bad = [r for r in results if r is not True]
    check(not bad, "%d concurrent connections echo 64 KiB each (failures: %s)"
          % (CONCURRENT, bad[:3]))
    figures["concurrent_%d_s" % CONCURRENT] = time.monotonic() - t0


def test_guest_to_host(env):
    path = env.uds + "_5000"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(4)
    srv.settimeout(30)
    ctl, _ = env.vconnect(DIAL)
    ctl.sendall(b"DIAL 5000\n")
    conn, _ = srv.accept()
    conn.settimeout(60)
    check(readline(ctl) == b"OK\n", "guest connect() to CID 2 port 5000 succeeded")
    data = os.urandom(4 << 20)
    res = {}
    t = threading.Thread(target=lambda: res.setdefault("got", recv_all(conn)))
    t.start()
    conn.sendall(data)
    conn.shutdown(socket.SHUT_WR)
    t.join()
    check(res.get("got") == (len(data), zlib.crc32(data)),
          "guest -> host stream via %s: 4 MiB echoed intact" % os.path.basename(path))
    conn.close()
    ctl.close()
    srv.close()
    os.unlink(path)
    ctl, _ = env.vconnect(DIAL)
    ctl.sendall(b"DIAL 5001\n")
    line = readline(ctl)
    check(line == b"ERR 104\n", "guest connect() to an unserved port: ECONNRESET (%r)" % line)
    ctl.close()


def test_refused(env):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(env.uds)
    s.sendall(b"CONNECT 4321\n")
    got = s.recv(64)
    check(got == b"", "CONNECT to a port nobody listens on: closed without OK (%r)" % got)
    s.close()


def test_stop_cont(env, qmp):
    s, _ = env.vconnect(ECHO)
    s.sendall(b"before\n")
    ok = readline(s) == b"before\n"
    check(qmp.execute("stop").get("return") == {}, "QMP stop")
    s.sendall(b"during\n")
    time.sleep(0.5)
    check(qmp.execute("cont").get("return") == {}, "QMP cont")
    ok = ok and readline(s) == b"during\n"
    s.sendall(b"after\n")
    ok = ok and readline(s) == b"after\n"
    check(ok, "a connection stays alive across stop/cont (data sent while stopped arrives)")
    s.close()


def test_replug(env, qmp):
    check("return" in qmp.execute("device_del", id="vsock0"), "device_del vsock0")
    check(qmp.wait_event("DEVICE_DELETED"), "DEVICE_DELETED")
    check("return" in qmp.execute("chardev-remove", id="vu0"), "chardev-remove (front-end gone)")
    r = qmp.execute("chardev-add", id="vu0", backend={"type": "socket", "data": {
        "addr": {"type": "unix", "data": {"path": env.vhost}}, "server": False}})
    check("return" in r, "chardev-add: a new front-end connection (%s)" % r)
    r = qmp.execute("device_add", driver="vhost-user-vsock-pci", chardev="vu0", id="vsock0",
                    bus="rp1")
    check("return" in r, "device_add vsock0 again (%s)" % r)
    deadline, ok = time.monotonic() + 30, False
    while not ok and time.monotonic() < deadline:
        try:
            ok, _ = echo_roundtrip(env, b"replugged\n")
        except (ConnectionError, OSError):
            time.sleep(0.2)
    check(ok, "after unplug/replug the same guest listener answers (same CID)")


def wait_console(path, token, timeout, proc):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if token in open(path, "rb").read():
                return True
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    return False


def start_runner(env, runner, log):
    p = subprocess.Popen([runner, env.vhost, env.uds, str(GUEST_CID)], stdout=subprocess.PIPE,
                         stderr=log)
    line = p.stdout.readline()
    if line != b"READY\n":
        raise RuntimeError("backend did not start: %r" % line)
    return p


def qemu_cmd(env, kernel, initrd):
    return ["qemu-system-x86_64", "-accel", "tcg", "-nodefaults", "-no-user-config",
            "-display", "none", "-no-reboot",
            "-object", "memory-backend-memfd,id=mem0,size=256M",
            "-machine", "q35,memory-backend=mem0", "-smp", "1",
            "-kernel", kernel, "-initrd", initrd,
            "-append", "console=ttyS0 panic=-1 quiet cryptomgr.notests mitigations=off "
                       "nokaslr no_timer_check",
            "-serial", "file:" + os.path.join(env.tmp, "console.log"),
            "-qmp", "unix:%s,server=on,wait=off" % os.path.join(env.tmp, "qmp.sock"),
            "-chardev", "socket,id=vu0,path=" + env.vhost,
            "-device", "pcie-root-port,id=rp1,chassis=1,slot=1",
            "-device", "vhost-user-vsock-pci,chardev=vu0,id=vsock0,bus=rp1"]


def stop_process(p, sig, timeout):
    if p.poll() is None:
        p.send_signal(sig)
    try:
        return p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return None


def run(args, kernel, modules):
    tmp = tempfile.mkdtemp(prefix="ember-vhost-qemu.")
    env = Env(tmp)
    initrd = os.path.join(tmp, "initrd.cpio")
    build_initramfs(initrd, args.init, modules)
    backend_log = open(os.path.join(tmp, "backend.log"), "wb")
    qemu_log = open(os.path.join(tmp, "qemu.log"), "wb")
    runner = qemu = None
    figures = {}
    try:
        runner = start_runner(env, args.runner, backend_log)
        t0 = time.monotonic()
        qemu = subprocess.Popen(qemu_cmd(env, kernel, initrd), stdout=qemu_log,
                                stderr=subprocess.STDOUT)
        qmp = Qmp(os.path.join(tmp, "qmp.sock"))
        booted = wait_console(os.path.join(tmp, "console.log"), b"EMBER-VSOCK-READY", 120, qemu)
        if not check(booted, "guest booted and listens on AF_VSOCK"):
            return
        figures["boot_to_listen_s"] = time.monotonic() - t0
        test_connect(env, figures)
        test_echo(env, figures)
        test_one_way(env, figures)
        test_concurrent(env, figures)
        test_guest_to_host(env)
        test_refused(env)
        test_stop_cont(env, qmp)
        test_replug(env, qmp)
        qmp.execute("quit")
        check(qemu.wait(30) == 0, "QEMU exited cleanly")
        check(stop_process(runner, signal.SIGTERM, 30) == 0, "backend exited cleanly (rc 0)")
        check(not os.path.exists(env.vhost), "backend removed its vhost-user socket")
        check(os.path.exists(env.uds), "uds_path left for its owner (Firecracker semantics)")
    finally:
        for p in (qemu, runner):
            if p is not None:
                stop_process(p, signal.SIGKILL, 10)
        for name, v in sorted(figures.items()):
            print("FIGURE %s = %.2f" % (name, v), flush=True)
        if FAILURES or args.keep:
            for log in ("console.log", "qemu.log", "backend.log"):
                try:
                    tail = open(os.path.join(tmp, log), "rb").read()[-3000:]
                    print("---- %s (tail) ----\n%s" % (log, tail.decode(errors="replace")))
                except FileNotFoundError:
                    pass
        if args.keep:
            print("kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runner", required=True)
    ap.add_argument("--init", required=True)
    ap.add_argument("--source-root", required=True)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    images = os.path.join(args.source_root, "build", "images")
    kernel = os.environ.get("EMBER_KERNEL") or os.path.join(images, "vmlinux")
    if not shutil.which("qemu-system-x86_64"):
        skip("qemu-system-x86_64 not found")
    if not os.path.isfile(kernel):
        skip("no kernel at %s (set EMBER_KERNEL, or run images/build.sh kernel)" % kernel)
    modules, where, missing = find_modules(kernel)
    if missing:
        skip("modules missing in %s: %s (set EMBER_MODULES)" % (where, ", ".join(missing)))
    print("kernel %s, modules from %s" % (kernel, where), flush=True)
    if not os.path.isfile(args.init):
        skip("guest init %s not built (musl-gcc missing?)" % args.init)
    run(args, kernel, modules)
    print("%d failure(s)" % len(FAILURES))
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
