#!/usr/bin/python3
"""fake_agent.py — a hostile stand-in for emberd-init, for tests only: ember-vmm's process
engine runs it (EMBER_INIT) as PID 1 of fresh namespaces exactly like emberd-init, with
`--process-engine --cmdline "<boot args>" --agent-fd N ...`. It answers PING with PONG, so
the sandbox becomes ready, and then does to each EXEC what the EXEC's argv[0] asks:

  garbage             bytes that are no frame at all, then close
  silent              read everything, answer nothing, never close
  flood               STDOUT frames without end, never an EXIT
  exit FLAGS CODE SIG one STDOUT frame "fake\\n", then an EXIT record with these values

With `fake_agent=mute` on the command line it answers nothing at all, not even PING.
It mounts nothing and writes no file; ember-vmm kills it with the sandbox."""
import socket
import struct
import sys
import threading

PING, PONG, EXEC, STDOUT, EXIT = 1, 2, 3, 6, 8


def frame(ftype, payload=b""):
    return struct.pack("<BBHI", 1, ftype, 0, len(payload)) + payload


def read_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def read_frame(conn):
    _, ftype, _, length = struct.unpack("<BBHI", read_exact(conn, 8))
    return ftype, read_exact(conn, length)


def exec_argv(payload):
    argv, off = [], 0
    while off + 8 <= len(payload):
        tag, _, length = struct.unpack_from("<HHI", payload, off)
        off += 8
        if tag == 1:
            argv.append(payload[off:off + length].rstrip(b"\0").decode())
        off += length
    return argv


def drain(conn):
    """Reads and drops everything until the host closes: an answer never comes."""
    while conn.recv(65536):
        pass


def exit_record(flags, code, sig):
    return struct.pack("<iiIQQQQQ", code, sig, flags, 1000, 500, 1024, 5, 0)


def serve(conn, mute):
    try:
        ftype, payload = read_frame(conn)
        if mute:
            drain(conn)
        if ftype == PING:
            conn.sendall(frame(PONG))
            return
        argv = exec_argv(payload) if ftype == EXEC else []
        what = argv[0] if argv else "garbage"
        if what == "garbage":
            conn.sendall(b"\xff" * 64)
        elif what == "silent":
            drain(conn)
        elif what == "flood":
            chunk = frame(STDOUT, b"y" * 65536)
            while True:
                conn.sendall(chunk)
        elif what == "exit":
            flags, code, sig = (int(x) for x in argv[1:4])
            conn.sendall(frame(STDOUT, b"fake\n") + frame(EXIT, exit_record(flags, code, sig)))
            conn.shutdown(socket.SHUT_WR)
            drain(conn)
    except (EOFError, OSError):
        pass
    finally:
        conn.close()


def main():
    args = sys.argv[1:]
    fd = int(args[args.index("--agent-fd") + 1])
    cmdline = args[args.index("--cmdline") + 1].split()
    mute = "fake_agent=mute" in cmdline
    listener = socket.socket(fileno=fd)
    print("fake_agent: ready", "(mute)" if mute else "", flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn, mute), daemon=True).start()


if __name__ == "__main__":
    main()
