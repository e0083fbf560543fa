#!/usr/bin/env python3
"""fake-vmm.py — a tiny stand-in for a VMM, for the sandbox manager's unit test only.

It serves the few Firecracker API calls emberd makes on --api-sock (HTTP/1.1, no reason
phrase, 204 without a body, 400 + fault_message), the hybrid vsock CONNECT/OK handshake on
the PUT /vsock uds_path, and a fake agent speaking src/proto's frames. Behaviour is chosen
by "fake.*" keys in boot_args:
  fake.exit=N           exit with status N at InstanceStart, after a console line
  fake.agent=none       refuse every CONNECT (the agent never comes up)
  fake.boot_delay_ms=N  refuse CONNECTs for N ms after InstanceStart
Fake programs (argv[0]): echo ARGS, env, cat (stdin), sleep S, exit N, die (the VMM exits 7);
code execs answer "argv=<a,b> name=<code_name> code=<code>".
"""
import os
import socket
import struct
import sys
import threading
import time

state = {"config": {}, "started": False, "boot_args": "", "vsock": None, "t0": 0.0}
lock = threading.Lock()


def console(msg):
    sys.stdout.write(msg + "\n")
    sys.stdout.flush()


def fake_opts():
    opts = {}
    for word in state["boot_args"].split():
        if word.startswith("fake.") and "=" in word:
            k, v = word[5:].split("=", 1)
            opts[k] = v
        if word.startswith("ember.port="):
            opts["port"] = word.split("=", 1)[1]
    return opts


# ---- HTTP API ----

def answer(conn, status, body=None):
    head = "HTTP/1.1 %d \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n" % status
    if body is None:
        conn.sendall((head + "\r\n").encode())
    else:
        data = body.encode()
        head += "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(data)
        conn.sendall(head.encode() + data)


def fault(conn, msg):
    import json
    answer(conn, 400, json.dumps({"fault_message": msg}))


def handle_put(conn, path, body):
    import json
    try:
        obj = json.loads(body)
    except ValueError as e:
        return fault(conn, "An error occurred when deserializing the json body of a request: %s" % e)
    if path == "/boot-source":
        for key in ("kernel_image_path", "initrd_path"):
            if key in obj and not os.path.exists(obj[key]):
                what = "kernel" if key.startswith("kernel") else "initrd"
                return fault(conn, "The %s file cannot be opened: No such file or directory (os error 2)" % what)
        state["boot_args"] = obj.get("boot_args", "")
    if path == "/vsock":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.bind(obj["uds_path"])
        except OSError as e:
            return fault(conn, "Cannot create backend for vsock device: %s" % e)
        s.listen(64)
        state["vsock"] = s
    if path == "/actions":
        action = obj.get("action_type")
        if action == "SendCtrlAltDel":
            answer(conn, 204)
            os._exit(0)
        if action != "InstanceStart":
            return fault(conn, "unsupported action")
        opts = fake_opts()
        if "exit" in opts:
            console("fake: kernel panic, exiting %s" % opts["exit"])
            os._exit(int(opts["exit"]))
        state["started"] = True
        state["t0"] = time.monotonic()
        threading.Thread(target=vsock_loop, daemon=True).start()
    state["config"][path] = obj
    answer(conn, 204)


def api_conn(conn):
    buf = b""
    while True:
        while b"\r\n\r\n" not in buf:
            data = conn.recv(65536)
            if not data:
                return
            buf += data
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        method, path, _ = lines[0].split(" ")
        length = 0
        for line in lines[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "content-length":
                length = int(v)
        while len(buf) < length:
            data = conn.recv(65536)
            if not data:
                return
            buf += data
        body, buf = buf[:length], buf[length:]
        if method == "PUT":
            handle_put(conn, path, body)
        elif method == "GET" and path == "/":
            answer(conn, 200, '{"id":"fake","state":"%s"}' % ("Running" if state["started"] else "Not started"))
        else:
            fault(conn, "Invalid request method and/or path: %s %s." % (method, path))


# ---- vsock + agent ----

HDR = struct.Struct("<BBHI")


def send_frame(c, typ, payload=b""):
    c.sendall(HDR.pack(1, typ, 0, len(payload)) + payload)


def recv_exact(c, n):
    buf = b""
    while len(buf) < n:
        d = c.recv(n - len(buf))
        if not d:
            raise EOFError
        buf += d
    return buf


def recv_frame(c):
    ver, typ, flags, n = HDR.unpack(recv_exact(c, 8))
    return typ, recv_exact(c, n) if n else b""


def parse_exec(p):
    x = {"argv": [], "env": [], "code": None, "code_name": None}
    off = 0
    while off < len(p):
        tag, _, n = struct.unpack_from("<HHI", p, off)
        off += 8
        v = p[off:off + n]
        off += n
        if tag == 1:
            x["argv"].append(v[:-1].decode())
        elif tag == 2:
            x["env"].append(v[:-1].decode())
        elif tag == 4:
            x["timeout_ms"] = struct.unpack("<I", v)[0]
        elif tag == 7:
            x["code"] = v
        elif tag == 8:
            x["code_name"] = v[:-1].decode()
    return x


def exit_frame(code, signal=0, flags=0):
    return struct.pack("<iiIQQQQQ", code, signal, flags, 1000, 0, 0, 0, 0)


def run_exec(c, x):
    stdin = b""
    while True:
        typ, p = recv_frame(c)
        if typ == 4:
            stdin += p
        elif typ == 5:
            break
    argv = x["argv"]
    if x["code"] is not None:
        out = "argv=%s name=%s code=%s" % (",".join(argv), x["code_name"], x["code"].decode())
        send_frame(c, 6, out.encode())
        return send_frame(c, 8, exit_frame(0))
    prog = argv[0]
    if prog == "die":
        os._exit(7)
    if prog == "sleep":
        time.sleep(float(argv[1]))
    if prog == "echo":
        send_frame(c, 6, (" ".join(argv[1:]) + "\n").encode())
    if prog == "env":
        send_frame(c, 6, "".join(e + "\n" for e in x["env"]).encode())
    if prog == "cat":
        send_frame(c, 6, stdin)
    code = int(argv[1]) if prog == "exit" else 0
    send_frame(c, 8, exit_frame(code))


def agent_conn(c):
    try:
        typ, p = recv_frame(c)
        if typ == 1:
            send_frame(c, 2, struct.pack("<HHII", 1, 0, 4, 1))
        elif typ == 3:
            run_exec(c, parse_exec(p))
    except (EOFError, OSError):
        pass
    finally:
        c.close()


def vsock_conn(c):
    line = b""
    while not line.endswith(b"\n") and len(line) < 32:
        d = c.recv(1)
        if not d:
            c.close()
            return
        line += d
    opts = fake_opts()
    words = line.decode().split()
    delay = int(opts.get("boot_delay_ms", "0")) / 1000.0
    up = time.monotonic() - state["t0"] >= delay
    if len(words) != 2 or words[0] != "CONNECT" or words[1] != opts.get("port") or \
            opts.get("agent") == "none" or not up:
        c.close()
        return
    c.sendall(b"OK 1073741824\n")
    agent_conn(c)


def vsock_loop():
    while True:
        c, _ = state["vsock"].accept()
        threading.Thread(target=vsock_conn, args=(c,), daemon=True).start()


def main():
    args = sys.argv[1:]
    api_sock = args[args.index("--api-sock") + 1]
    console("fake-vmm: %s" % " ".join(args))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(api_sock)
    s.listen(10)
    while True:
        c, _ = s.accept()
        threading.Thread(target=api_conn, args=(c,), daemon=True).start()


if __name__ == "__main__":
    main()
