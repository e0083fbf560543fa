#!/usr/bin/env bash
# seed.sh — (re)writes the seed inputs of the fuzz corpora from the unit tests' cases:
#   fuzz-api          routes of src/api/routes.c, JSON bodies quoted in tests/unit/api/*.c
#   fuzz-http         the same routes as raw HTTP, and the limits of tests/unit/api/test-api-http.c
#   fuzz-fc-api       the request tables of tests/unit/compat/test-compat-router.c
#   fuzz-agent-frames the guest scripts of tests/unit/vmm/test-vsock.c, as byte streams
#   fuzz-exec-decode  the EXEC payloads of tests/unit/test-proto.c (good and hostile)
#   fuzz-vhost        the scenarios of tests/unit/vhost/test-vhost-device.c, as step lists
# Seeds are named seed-<hash> and replace the previous seed-* files; other files of a corpus
# (crash-*: regression inputs of findings) are kept.
#
# Usage: tests/fuzz/seed.sh                  rewrite tests/fuzz/corpus/*/seed-*
#        tests/fuzz/seed.sh --suite-out DIR  only write DIR/fuzz-api/ from the JSONTestSuite
#            (../shared/testdata/jsontestsuite relative to the repository; nothing when it is
#            absent). Never committed: `make fuzz` puts them in its working corpus.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec /usr/bin/python3 - "$@" <<'PY'
import glob, hashlib, os, re, struct, sys

SUITE = os.path.join("..", "shared", "testdata", "jsontestsuite")
SEP = b"\n%%\n"

def c_strings(text):
    """Every C string expression of a source: adjacent literals joined, escapes decoded."""
    lit = r'"(?:[^"\\\n]|\\.)*"'
    for m in re.finditer(r'(%s)(?:\s*%s)*' % (lit, lit), text):
        yield c_unescape(m.group(0))

def c_unescape(expr):
    out = bytearray()
    for part in re.findall(r'"((?:[^"\\\n]|\\.)*)"', expr):
        i = 0
        while i < len(part):
            ch = part[i]
            if ch != "\\":
                out += ch.encode()
                i += 1
                continue
            nxt = part[i + 1]
            simple = {"n": b"\n", "t": b"\t", "r": b"\r", "0": b"\0", "\\": b"\\", '"': b'"', "'": b"'"}
            if nxt == "x":
                m = re.match(r"[0-9a-fA-F]{1,2}", part[i + 2:])
                out.append(int(m.group(0), 16))
                i += 2 + len(m.group(0))
            elif nxt in simple:
                out += simple[nxt]
                i += 2
            else:
                out += nxt.encode()
                i += 2
    return bytes(out)

class Corpus:
    def __init__(self, root, name, clean=True):
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir, exist_ok=True)
        if clean:
            for f in glob.glob(os.path.join(self.dir, "seed-*")):
                os.unlink(f)
        self.n = 0

    def add(self, data):
        name = "seed-" + hashlib.sha1(data).hexdigest()[:16]
        with open(os.path.join(self.dir, name), "wb") as f:
            f.write(data)
        self.n += 1

def req(method, path, body=None):
    return method.encode() + b" " + path.encode() + (b"\n" + body if body is not None else b"")

def seq(*reqs):
    return SEP.join(reqs)

# ---- fuzz-api ----

CREATE = req("POST", "/sandboxes", b'{"language_pack":"python"}')

def api_seeds(c):
    routes = re.findall(r'\{"(GET|POST|DELETE)", "([^"]+)", handle_', open("src/api/routes.c").read())
    for method, pattern in routes:
        path = pattern.replace("{id}", "sb-0001")
        c.add(seq(CREATE, req(method, path)))
        c.add(req(method, path))
    bodies = set()
    for f in sorted(glob.glob("tests/unit/api/test-api-*.c")):
        for s in c_strings(open(f).read()):
            if s.startswith(b"{") and len(s) < 4096 and SEP not in s:
                bodies.add(s)
    for b in sorted(bodies):
        c.add(req("POST", "/sandboxes", b))
        c.add(seq(CREATE, req("POST", "/sandboxes/sb-0001/exec", b)))
    # exec results: raw output bytes (invalid UTF-8, NUL), signals, timeouts
    run = req("POST", "/sandboxes/sb-0001/exec", b'{"code":"print(1)"}')
    c.add(seq(req("OUT", "", b"ok\xff\xfe\xc3(\x00\xe2\x82\n"), req("ERR", "", b"\xed\xa0\x80"),
              req("RES", "", b"\x02\x00\x00"), CREATE, run))
    c.add(seq(req("RES", "", b"\x00\x09\x01"), CREATE, run, req("GET", "/metrics")))
    c.add(seq(CREATE, CREATE, CREATE, CREATE, CREATE, req("GET", "/sandboxes"),
              req("DELETE", "/sandboxes/sb-0002"), req("GET", "/sandboxes/sb-0002"),
              req("GET", "/healthz"), req("GET", "/metrics")))
    c.add(req("PUT", "/sandboxes", b"{}"))
    c.add(req("GET", "/sandboxes/" + "x" * 300))

def api_suite_seeds(c):
    if not os.path.isdir(SUITE):
        print("seed.sh: %s not found: no JSONTestSuite seeds" % SUITE, file=sys.stderr)
        return
    for f in sorted(os.listdir(SUITE)):
        if not f.endswith(".json"):
            continue
        body = open(os.path.join(SUITE, f), "rb").read()
        if SEP in body:
            continue
        c.add(req("POST", "/sandboxes", body))
        c.add(seq(CREATE, req("POST", "/sandboxes/sb-0001/exec", body)))

# ---- fuzz-http ----

def http(method, path, body=None, token=b"fuzz-token", extra=b"", version=b"HTTP/1.1"):
    h = method.encode() + b" " + path.encode() + b" " + version + b"\r\nHost: ember\r\n"
    if token is not None:
        h += b"Authorization: Bearer " + token + b"\r\n"
    if body is not None:
        h += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
    return h + extra + b"\r\n" + (body or b"")

def http_seeds(c):
    routes = re.findall(r'\{"(GET|POST|DELETE)", "([^"]+)", handle_', open("src/api/routes.c").read())
    create = http("POST", "/sandboxes", b'{"language_pack":"python"}')
    for method, pattern in routes:
        c.add(create + http(method, pattern.replace("{id}", "sb-0001"),
                            b'{"code":"print(1)"}' if pattern.endswith("/exec") else None))
    c.add(http("GET", "/healthz", token=None))
    c.add(http("GET", "/healthz", token=b"wrong"))
    c.add(http("POST", "/sandboxes", b"x" * 100, token=b"wrong"))
    c.add(http("POST", "/sandboxes", b"{" * 5000))                     # over the body limit
    c.add(http("POST", "/sandboxes", b"{}", extra=b"Expect: 100-continue\r\n"))
    c.add(http("POST", "/sandboxes", None, extra=b"Content-Length: 9999999\r\nExpect: 100-continue\r\n"))
    c.add(http("POST", "/sandboxes", None, extra=b"Transfer-Encoding: chunked\r\n") +
          b"1a\r\n{\"language_pack\":\"python\"}\r\n0\r\n\r\n")
    c.add(http("POST", "/sandboxes", None, extra=b"Transfer-Encoding: chunked\r\n") +
          (b"1000\r\n" + b"a" * 4096 + b"\r\n") * 3 + b"0\r\n\r\n")
    c.add(http("GET", "/sandboxes", version=b"HTTP/1.0"))
    c.add(b"GET /healthz\r\n\r\n")
    c.add(b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n")
    c.add(http("GET", "/" + "a" * 3000))
    c.add(http("GET", "/healthz", extra=b"X-Long: " + b"h" * 9000 + b"\r\n"))

# ---- fuzz-fc-api ----

def fc_seeds(c):
    text = open("tests/unit/compat/test-compat-router.c").read()
    lit = r'"(?:[^"\\\n]|\\.)*"'
    row = re.compile(r'\{\s*"(GET|PUT|PATCH|DELETE|POST)"\s*,\s*(%s)\s*,\s*(NULL|(?:%s\s*)+),\s*\d+' % (lit, lit))
    tables = re.split(r"static const Case ", text)[1:]
    for table in tables:
        reqs = []
        for m in row.finditer(table):
            path = c_unescape(m.group(2)).decode().replace("$D/", "").replace("$D", "")
            body = None if m.group(3) == "NULL" else c_unescape(m.group(3)).replace(b"$D/", b"").replace(b"$D", b"")
            r = req(m.group(1), path, body)
            reqs.append(r)
            c.add(r)
        c.add(seq(*reqs))  # the table in order: its state carries over, as in the test
    boot = [req("PUT", "/boot-source", b'{"kernel_image_path": "kernel", "boot_args": "console=ttyS0 ember.root=/dev/vda"}'),
            req("PUT", "/drives/rootfs", b'{"drive_id": "rootfs", "is_root_device": true, "path_on_host": "disk.img", "is_read_only": true}'),
            req("PUT", "/vsock", b'{"guest_cid": 3, "uds_path": "v.sock"}'),
            req("PUT", "/actions", b'{"action_type": "InstanceStart"}')]
    c.add(seq(*boot, req("PUT", "/actions", b'{"action_type": "FlushMetrics"}')))
    c.add(seq(boot[0].replace(b"console", b"fuzz.fail console"), boot[3]))

# ---- fuzz-agent-frames ----

def frame(t, payload=b"", version=1, flags=0):
    return struct.pack("<BBHI", version, t, flags, len(payload)) + payload

PING, PONG, EXEC, STDIN, STDIN_EOF, STDOUT, STDERR, EXIT, ERROR, KILL = range(1, 11)

def exit_rec(code=0, sig=0, flags=0):
    return struct.pack("<iiIQQQQQ", code, sig, flags, 1200, 800, 4096, 5, 3)

def agent_seeds(c):
    tlv = lambda tag, v: struct.pack("<HHI", tag, 0, len(v)) + v
    mode_exec = 0x0e | 0x70  # caps 3.5 KiB both
    c.add(bytes([1]) + frame(PONG, tlv(1, struct.pack("<I", 1)) + tlv(77, b"xyz") + tlv(2, struct.pack("<I", 99))))
    c.add(bytes([1]) + frame(STDOUT, b"hi"))
    c.add(bytes([1]) + frame(PONG, struct.pack("<HHI", 1, 0, 400)))
    c.add(bytes([mode_exec]) + frame(STDOUT, b"hello\n") + frame(STDERR, b"oops\n") + frame(EXIT, exit_rec()))
    c.add(bytes([0x02 | 0x10]) + frame(STDOUT, b"A" * 1000) * 3 + frame(EXIT, exit_rec(0, 0, 2)))
    c.add(bytes([0x80 | mode_exec]) + frame(STDOUT, b"chatty" * 100) + frame(EXIT, exit_rec()))
    c.add(bytes([mode_exec]) + frame(PONG, b""))
    c.add(bytes([mode_exec]) + frame(EXIT, exit_rec(300)))
    c.add(bytes([mode_exec]) + frame(EXIT, exit_rec(-1, 9)))
    c.add(bytes([mode_exec]) + frame(EXIT, exit_rec(-1, 0)))
    c.add(bytes([mode_exec]) + frame(STDOUT, b"partial"))
    c.add(bytes([mode_exec]) + frame(STDOUT, b"partial")[:10])
    c.add(bytes([mode_exec]) + frame(ERROR, struct.pack("<I", 2) + b"no such file\x01\n\xff"))
    c.add(bytes([mode_exec]) + frame(ERROR, struct.pack("<I", 99999)))
    c.add(bytes([mode_exec]) + frame(EXIT, exit_rec(0, 0, 6)))
    c.add(bytes([mode_exec]) + frame(STDOUT, b"x", version=2))
    c.add(bytes([mode_exec]) + frame(STDOUT, b"x", flags=1))
    c.add(bytes([mode_exec]) + struct.pack("<BBHI", 1, STDOUT, 0, 65537))
    c.add(bytes([mode_exec]) + frame(EXIT, exit_rec()[:40]))

# ---- fuzz-exec-decode ----

def tlv(tag, v, zero=0):
    return struct.pack("<HHI", tag, zero, len(v)) + v

ARG, ENV, CWD, TIMEOUT, OUTCAP, ERRCAP, CODE, CODE_NAME = range(1, 9)
u32 = lambda v: struct.pack("<I", v)

def exec_seeds(c):
    good = (tlv(ARG, b"python3\0") + tlv(ARG, b"-c\0") + tlv(ENV, b"A=1\0") + tlv(ENV, b"PATH=/x\0") +
            tlv(CWD, b"/tmp\0") + tlv(TIMEOUT, u32(5000)) + tlv(OUTCAP, u32(1 << 20)) + tlv(ERRCAP, u32(1 << 20)))
    c.add(good)
    c.add(good + tlv(CODE, b"print(6*7)\n") + tlv(CODE_NAME, b"main.py\0"))
    c.add(tlv(CODE, b"echo hi") + tlv(ENV, b"A=1\0") + tlv(ENV, b"A=2\0"))
    c.add(tlv(ARG, b"ls\0") + tlv(TIMEOUT, u32(1)) + tlv(TIMEOUT, u32(2)))      # duplicate scalar
    c.add(tlv(ARG, b"ls\0") + tlv(99, b"?"))                                    # unknown tag
    c.add(tlv(ARG, b"ls\0") + tlv(ENV, b"NOEQUALS\0"))
    c.add(tlv(ARG, b"ls\0") + tlv(ENV, b"=x\0"))
    c.add(tlv(CODE, b"x") + tlv(CODE_NAME, b"../evil\0"))
    c.add(tlv(CODE, b"x") + tlv(CODE_NAME, b"..\0"))
    c.add(tlv(ARG, b"ls\0") + tlv(CODE_NAME, b"main.py\0"))                    # name without code
    c.add(tlv(ARG, b"l\0s\0"))
    c.add(tlv(ARG, b"ls"))
    c.add(tlv(ARG, b"ls\0", zero=1))
    c.add(tlv(ARG, b"ls\0")[:6])
    c.add(tlv(TIMEOUT, u32(5)))                                                 # no argv, no code

# ---- fuzz-vhost ----

HANDSHAKE, RAW, MEMW, TX, RX, KICK, HCONN, HWRITE, HLINE, HCLOSE, HLISTEN, FERECONN, ROUNDS, HREAD = range(14)
P52, P1000, HOSTP0, GUESTP0 = 0, 1, 3, 4

def tx(op, src, dst, payload=b"", flags=0, layout=1, sel=0, src_cid=7, length=100000):
    """step_tx's encoding; sel bit 0 = raw src_cid, bit 2 = raw len (others unused here)."""
    b = bytes([TX, sel, layout]) + struct.pack("<H", len(payload))
    b += struct.pack("<Q", src_cid) if sel & 1 else b""
    b += bytes([src, dst])
    b += struct.pack("<I", length) if sel & 4 else b""
    return b + bytes([op, flags]) + payload

def rx(count=8, size=4052):
    return bytes([RX, count - 1]) + struct.pack("<H", size)

def raw(reqno, payload=b"", flags=1, size=None, fdspec=0):
    size = len(payload) if size is None else size
    return bytes([RAW, reqno, flags]) + struct.pack("<H", size) + bytes([fdspec]) + payload

def vhost_seeds(c):
    hs = bytes([HANDSHAKE, 6]) + rx()
    c.add(hs)
    # host-initiated: CONNECT 52, guest RESPONSE, data both ways, shutdown, RST
    c.add(hs + bytes([HCONN, 0, HLINE, 0, P52]) + tx(2, P52, HOSTP0) +
          tx(5, P52, HOSTP0, b"hello from the guest") + bytes([HWRITE, 0, 5]) + b"world" + rx() +
          tx(4, P52, HOSTP0, flags=3) + bytes([ROUNDS, 3]) + tx(3, P52, HOSTP0))
    # guest-initiated to a host listener on <uds_path>_1000, then the host closes
    c.add(hs + bytes([HLISTEN, 0]) + tx(1, GUESTP0, P1000) + tx(5, GUESTP0, P1000, b"ping") +
          bytes([HWRITE, 4, 4]) + b"pong" + rx() + bytes([HCLOSE, 4]) + bytes([ROUNDS, 3]))
    # a host that does not read: the guest's data waits in wbuf, then the host reads it
    big = b"g" * 4000
    c.add(hs + bytes([HCONN, 0, HLINE, 0, P52]) + tx(2, P52, HOSTP0) +
          tx(5, P52, HOSTP0, big) + tx(5, P52, HOSTP0, big) + tx(5, P52, HOSTP0, big) +
          bytes([HREAD, 0, ROUNDS, 2]) + tx(4, P52, HOSTP0, flags=2) + bytes([HREAD, 0]))
    # refused connect, credit requests and updates, unknown connections
    c.add(hs + tx(1, GUESTP0, P52) + tx(7, GUESTP0, P52) + tx(6, GUESTP0, HOSTP0) + tx(5, GUESTP0, HOSTP0, b"x"))
    # hostile headers: bad cids, type, oversize len, bad shutdown flags, split header
    c.add(hs + tx(5, P52, HOSTP0, b"abc", sel=0x01 | 0x04) + tx(1, GUESTP0, P1000, layout=2) +
          tx(4, GUESTP0, P1000, flags=7) + tx(5, GUESTP0, P1000, b"zz", layout=3))
    c.add(hs + bytes([HCONN, 1, HWRITE, 1, 12]) + b"CONNECT abc\n" + bytes([HCONN, 2, HWRITE, 2, 30]) + b"x" * 30)
    c.add(hs + bytes([FERECONN, KICK, 0]) + hs)
    # raw vhost-user messages, well-formed and not
    c.add(raw(1) + raw(15) + raw(17) + raw(24, struct.pack("<III", 0, 8, 0) + b"\0" * 8) +
          raw(24, struct.pack("<III", 4, 8, 0) + b"\0" * 8) + raw(25, struct.pack("<III", 0, 8, 0) + b"\0" * 8, flags=9))
    c.add(raw(5, struct.pack("<II", 1, 0) + struct.pack("<QQQQ", 0, 1 << 18, 0x7f0000000000, 0), fdspec=0x11))
    c.add(raw(5, struct.pack("<II", 1, 0) + struct.pack("<QQQQ", 0, 1 << 20, 0x7f0000000000, 0), fdspec=0x11))
    c.add(hs + raw(8, struct.pack("<II", 0, 3)) + raw(10, struct.pack("<II", 0, 7)) + raw(11, struct.pack("<II", 1, 0)))
    c.add(raw(12, struct.pack("<Q", 0x100)) + raw(13, struct.pack("<Q", 1), fdspec=1) + raw(99) + raw(1, size=300))
    c.add(hs + bytes([MEMW]) + struct.pack("<I", 0x4002) + bytes([2]) + b"\xff\x7f" + tx(5, GUESTP0, P52, b"x"))

def main():
    args = sys.argv[1:]
    if args[:1] == ["--suite-out"] and len(args) == 2:
        c = Corpus(args[1], "fuzz-api", clean=False)
        api_suite_seeds(c)
        print("%s: %d JSONTestSuite seeds" % (c.dir, c.n))
        return
    if args:
        sys.exit("usage: tests/fuzz/seed.sh [--suite-out DIR]")
    gens = {"fuzz-api": api_seeds, "fuzz-http": http_seeds, "fuzz-fc-api": fc_seeds, "fuzz-agent-frames": agent_seeds,
            "fuzz-exec-decode": exec_seeds, "fuzz-vhost": vhost_seeds}
    for name, gen in gens.items():
        c = Corpus("tests/fuzz/corpus", name)
        gen(c)
        print("%s: %d seeds" % (name, c.n))

main()
PY
