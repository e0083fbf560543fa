#!/usr/bin/env python3
"""qemu_bench.py — ember on ember-vmm's qemu engine, beside a bare QEMU in the same run.

  boot to ready  POST /sandboxes until 201 (emberd spawns ember-vmm, configures it through
                 the Firecracker API, QEMU boots, the agent answers a ping over vsock), beside
                 a bare QEMU started by hand with the same machine, kernel, initramfs, pack
                 and kernel command line (read from ember's own QEMU), timed from its spawn to
                 emberd-init's "ready" line on the serial console. ratio = ember's overhead.
  first exec     print(6*7) right after boot (cold page cache in the guest).
  exec round trip on one booted VM: argv ["true"] and print(6*7), sequential.
  vsock          raw stream throughput through the vhost-user backend, guest -> host and
                 host -> guest (python in the guest, AF_VSOCK to CID 2; the host side is the
                 hybrid socket's <uds_path>_<port> listener), and exec stdout through the
                 whole stack (agent protocol, emberd) with the output cap raised.
Prints figures and how they were made; asserts nothing.

Usage: bench/qemu_bench.py [-n BOOTS] [-r EXECS] [--mib MIB] [--build build]"""
import argparse
import os
import pathlib
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "lib"))
import ember_client as ec  # noqa: E402

PORT_G2H, PORT_H2G = 5000, 5001


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def row(name, xs, unit="ms"):
    print(f"  {name:<38} p50 {pct(xs, 50):9.1f} {unit}  p90 {pct(xs, 90):9.1f} {unit}  "
          f"min {min(xs):9.1f} {unit}  (n={len(xs)})")


def timed(fn):
    t = time.perf_counter()
    r = fn()
    return (time.perf_counter() - t) * 1000, r


def qemu_cmdline(sandbox_id):
    """ember's QEMU for that sandbox (it names the id with -name), as an argv list."""
    for p in pathlib.Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                argv = (p / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"-name" in argv and sandbox_id.encode() in argv:
                return [a.decode() for a in argv if a]
    raise RuntimeError(f"no QEMU names {sandbox_id}")


def opt(argv, name):
    return argv[argv.index(name) + 1]


def bare_boot(template, pack):
    """QEMU with ember's machine, memory, accelerator and kernel command line, but started
    by hand: serial on a pipe, the pack as a read-only virtio disk, virtio-rng, no vsock,
    no QMP. ms from spawn to emberd-init's ready line."""
    imgs = ec.images_dir()
    accel = opt(template, "-accel")
    cmd = ["qemu-system-x86_64", "-nodefaults", "-no-user-config", "-display", "none",
           "-no-reboot", "-accel", accel] + (["-cpu", "host"] if accel == "kvm" else []) + [
        "-object", opt(template, "-object"), "-machine", opt(template, "-machine"),
        "-m", opt(template, "-m"), "-smp", opt(template, "-smp"),
        "-kernel", str(imgs / "vmlinux"), "-initrd", str(imgs / "initramfs.img"),
        "-append", opt(template, "-append"),
        "-drive", f"if=none,id=d0,file={imgs / (pack + '.squashfs')},format=raw,readonly=on,cache=unsafe",
        "-device", "virtio-blk-pci,drive=d0",
        "-object", "rng-builtin,id=rng0", "-device", "virtio-rng-pci,rng=rng0",
        "-serial", "stdio"]
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    dt = None
    try:
        for line in p.stdout:
            if b"emberd-init[info] ready in" in line:
                dt = (time.perf_counter() - t) * 1000
                break
    finally:
        p.kill()
        p.wait()
        p.stdout.close()
    if dt is None:
        raise RuntimeError("bare QEMU never reached the ready line")
    return dt


GUEST_G2H = """
import socket, time
s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
s.connect((2, {port}))
buf = b"x" * (1 << 18)
for _ in range({mib} * 4):
    s.sendall(buf)
s.close()
"""

GUEST_H2G = """
import socket
s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
s.connect((2, {port}))
n = 0
while True:
    b = s.recv(1 << 18)
    if not b:
        break
    n += len(b)
print(n)
"""


def hybrid_socket(e, sandbox_id):
    """The VMM's vsock uds_path on the host: in the sandbox dir, or in its jail's root."""
    for p in (e.dir / "state").rglob("*"):
        if p.is_socket() and sandbox_id in p.parts and p.name in ("vsock.sock", "v.sock"):
            return str(p)
    raise RuntimeError(f"no vsock socket of {sandbox_id} under {e.dir}")


def vsock_throughput(e, sb, mib, direction):
    """MiB/s of one guest-initiated stream: the guest connects to CID 2, the vhost backend
    connects to <uds_path>_<port>, where this process listens."""
    port = PORT_G2H if direction == "g2h" else PORT_H2G
    path = f"{hybrid_socket(e, sb['id'])}_{port}"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    os.chmod(path, 0o777)  # a jailed VMM runs as another user
    srv.listen(1)
    srv.settimeout(120)
    result = {}

    def host_side():
        c, _ = srv.accept()
        c.settimeout(120)
        t = time.perf_counter()
        n = 0
        if direction == "g2h":
            while True:
                b = c.recv(1 << 18)
                if not b:
                    break
                n += len(b)
        else:
            buf = b"y" * (1 << 18)
            for _ in range(mib * 4):
                c.sendall(buf)
                n += len(buf)
            c.shutdown(socket.SHUT_WR)
            while c.recv(4096):
                pass
        result["s"] = time.perf_counter() - t
        result["n"] = n
        c.close()

    th = threading.Thread(target=host_side)
    th.start()
    code = (GUEST_G2H if direction == "g2h" else GUEST_H2G).format(port=port, mib=mib)
    r = e.client.exec(sb["id"], code=code, timeout_ms=300000)
    th.join()
    srv.close()
    os.unlink(path)
    if r["exit_code"] != 0 or result.get("n") != mib << 20:
        raise RuntimeError(f"vsock {direction}: {r} {result}")
    return mib / result["s"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=5, help="boots of each kind")
    ap.add_argument("-r", type=int, default=20, help="exec round trips")
    ap.add_argument("--mib", type=int, default=32, help="MiB per vsock stream")
    ap.add_argument("--build", default="build")
    a = ap.parse_args()
    os.environ["EMBER_BUILD"] = a.build
    out_cap = 16 << 20
    e = ec.Emberd(vmm="qemu", extra_args=["--log-level", "warn", "--output-cap", str(out_cap)])
    api = e.client
    try:
        health = api.request("GET", "/healthz").json
        create, ready, first, bare = [], [], [], []
        template = None
        for _ in range(a.n):  # interleaved, so that load on the host hits both alike
            t, sb = timed(lambda: api.create("python"))
            create.append(t)
            ready.append(sb["timings"]["ready_ms"])
            template = template or qemu_cmdline(sb["id"])
            t, r = timed(lambda: api.exec(sb["id"], code="print(6*7)"))
            assert r["stdout"] == "42\n", r
            first.append(t)
            api.delete(sb["id"])
            bare.append(bare_boot(template, "python"))

        sb = api.create("python")
        api.exec(sb["id"], code="print(6*7)")  # warm
        ex_true = [timed(lambda: api.exec(sb["id"], argv=["true"]))[0] for _ in range(a.r)]
        ex_py = [timed(lambda: api.exec(sb["id"], code="print(6*7)"))[0] for _ in range(a.r)]
        g2h = [vsock_throughput(e, sb, a.mib, "g2h") for _ in range(3)]
        h2g = [vsock_throughput(e, sb, a.mib, "h2g") for _ in range(3)]
        stdout_rate = []
        for _ in range(3):
            # one big write in the guest: the figure is the transport's, not busybox yes's
            t, r = timed(lambda: api.exec(sb["id"], code="import sys; sys.stdout.buffer.write("
                                          f"b'y' * {out_cap})", timeout_ms=300000))
            assert len(r["stdout"]) == out_cap and not r["stdout_truncated"], len(r["stdout"])
            stdout_rate.append((out_cap >> 20) / (t / 1000))
        api.delete(sb["id"])
    finally:
        e.stop()
        e.cleanup()

    qemu_v = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True,
                            text=True).stdout.splitlines()[0]
    print(f"ember on ember-vmm's qemu engine: vmm={health.get('vmm')} accel={health.get('accel')}, "
          f"pack=python (1 vCPU, {opt(template, '-m')} RAM)")
    print(f"host: {os.cpu_count()} cpus, {os.uname().release}, load avg {os.getloadavg()[0]:.1f} "
          f"at the end; {qemu_v}; build: {a.build}")
    print(f"kernel command line: {opt(template, '-append')}")
    print("boot (each run: ember create, first exec, delete, then one bare QEMU boot):")
    row("ember: POST /sandboxes (to agent ready)", create)
    row("ember: ready_ms reported by emberd", ready)
    row("bare QEMU: spawn to ready line", bare)
    ratio = pct(create, 50) / pct(bare, 50)
    print(f"  {'ember / bare (p50)':<38} {ratio:9.2f} x  "
          f"(+{pct(create, 50) - pct(bare, 50):.0f} ms: ember-vmm, API, vsock, agent ping)")
    row("ember: first exec print(6*7)", first)
    print(f"on one booted VM ({a.r} sequential execs each):")
    row("exec argv=[true]", ex_true)
    row("exec code=print(6*7)", ex_py)
    print(f"vsock throughput ({a.mib} MiB per stream, python in the guest, 3 runs):")
    row("guest -> host", g2h, "MiB/s")
    row("host -> guest", h2g, "MiB/s")
    row(f"exec stdout, {out_cap >> 20} MiB through emberd", stdout_rate, "MiB/s")


if __name__ == "__main__":
    main()
