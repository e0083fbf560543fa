#!/usr/bin/python3
"""Unit tests for the image build helpers that need no network and no kernel package:
bzImage payload extraction, ELF checks, recipe hashing and lists (lib/common.sh), the
mmdebstrap extract hook's exclusion and manifest. Run: python3 test_images.py, or through
meson (suite unit). Everything happens in temporary directories."""
import gzip
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

IMAGES = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "images"))
PY = sys.executable


def run(*argv, **kw):
    return subprocess.run(list(argv), capture_output=True, text=True, check=False, **kw)


def bzimage(payload, setup_sects=2, version=0x20f):
    """A file shaped like a bzImage: boot header fields + payload, nothing else."""
    img = bytearray((setup_sects + 1) * 512 + 64)
    img[0x1f1] = setup_sects
    img[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", img, 0x206, version)
    struct.pack_into("<II", img, 0x248, 64, len(payload))
    return bytes(img) + payload


def elf(notes=(), interp=False, dynamic=False, machine=62):
    """A minimal ELF64 header + program headers (PT_NOTE/PT_INTERP/PT_DYNAMIC)."""
    phdrs, blobs, off = [], [], 64 + 56 * (len(notes) + interp + dynamic)
    for name, ntype in notes:
        n = name + b"\0"
        blob = struct.pack("<III", len(n), 4, ntype) + n.ljust((len(n) + 3) & ~3, b"\0") + b"\0" * 4
        phdrs.append(struct.pack("<IIQQQQQQ", 4, 4, off, 0, 0, len(blob), len(blob), 4))
        blobs.append(blob)
        off += len(blob)
    if interp:
        phdrs.append(struct.pack("<IIQQQQQQ", 3, 4, off, 0, 0, 0, 0, 1))
    if dynamic:
        phdrs.append(struct.pack("<IIQQQQQQ", 2, 4, off, 0, 0, 0, 0, 8))
    ident = b"\x7fELF" + bytes([2, 1, 1]) + b"\0" * 9
    hdr = ident + struct.pack("<HHIQQQIHHHHHH", 3, machine, 1, 0, 64, 0, 0, 64, 56, len(phdrs), 0, 0, 0)
    return hdr + b"".join(phdrs) + b"".join(blobs)


class Tmp(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ember-images-test.")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def write(self, name, data, mode=0o644):
        path = os.path.join(self.tmp, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        os.chmod(path, mode)
        return path


class ExtractVmlinux(Tmp):
    tool = os.path.join(IMAGES, "kernel", "extract-vmlinux.py")
    kernel = elf(notes=[(b"Xen", 18)]) + b"\0" * 4096

    def extract(self, image):
        src = self.write("bzImage", image)
        return run(PY, self.tool, src, os.path.join(self.tmp, "vmlinux"))

    def test_gzip_payload_with_size_word(self):
        payload = gzip.compress(self.kernel) + struct.pack("<I", len(self.kernel))
        r = self.extract(bzimage(payload))
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(self.tmp, "vmlinux"), "rb") as f:
            self.assertEqual(f.read(), self.kernel)

    def test_size_word_mismatch_is_an_error(self):
        payload = gzip.compress(self.kernel) + struct.pack("<I", len(self.kernel) + 1)
        r = self.extract(bzimage(payload))
        self.assertEqual(r.returncode, 1)
        self.assertIn("size word", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "vmlinux")))

    def test_unknown_compression(self):
        r = self.extract(bzimage(b"NOPE" * 8))
        self.assertEqual(r.returncode, 1)
        self.assertIn("unknown payload compression", r.stderr)

    def test_not_a_bzimage(self):
        r = self.extract(b"\0" * 4096)
        self.assertEqual(r.returncode, 1)
        self.assertIn("HdrS", r.stderr)

    def test_payload_outside_image(self):
        img = bytearray(bzimage(b"x" * 16))
        struct.pack_into("<I", img, 0x24c, 1 << 20)
        r = self.extract(bytes(img))
        self.assertEqual(r.returncode, 1)
        self.assertIn("outside", r.stderr)


class ElfInfo(Tmp):
    tool = os.path.join(IMAGES, "lib", "elfinfo.py")

    def check(self, cmd, data):
        return run(PY, self.tool, cmd, self.write("f", data))

    def test_pvh_note(self):
        self.assertEqual(self.check("check-vmlinux", elf(notes=[(b"Xen", 18)])).returncode, 0)
        self.assertEqual(self.check("check-vmlinux", elf(notes=[(b"Xen", 17)])).returncode, 1)
        self.assertEqual(self.check("check-vmlinux", elf(notes=[(b"GNU", 18)])).returncode, 1)

    def test_static(self):
        self.assertEqual(self.check("check-static", elf()).returncode, 0)
        r = self.check("check-static", elf(interp=True))
        self.assertEqual(r.returncode, 1)
        self.assertIn("PT_INTERP", r.stderr)

    def test_rejects_other_machines_and_non_elf(self):
        self.assertEqual(self.check("check-static", elf(machine=183)).returncode, 1)
        self.assertEqual(self.check("check-static", b"#!/bin/sh\n").returncode, 1)

    def test_list_dynamic(self):
        self.write("root/bin/dyn", elf(dynamic=True), 0o755)
        self.write("root/bin/static", elf(), 0o755)
        self.write("root/bin/script", "#!/bin/sh\n", 0o755)
        os.symlink("dyn", os.path.join(self.tmp, "root/bin/link"))
        r = run(PY, self.tool, "list-dynamic", os.path.join(self.tmp, "root"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split(), ["bin/dyn"])


class CommonSh(Tmp):
    def sh(self, script, **env):
        return run("bash", "-c", f'set -euo pipefail; . "{IMAGES}/lib/common.sh"; {script}',
                   env={**os.environ, "EMBER_CACHE": self.tmp, **env})

    def test_read_list_drops_comments_and_blanks(self):
        path = self.write("list", "# head\nalpha   # why\n\n  \nbeta\n")
        r = self.sh(f"read_list {path}")
        self.assertEqual(r.stdout.split("\n"), ["alpha", "beta", ""])

    def test_recipe_hash_follows_content_not_mtime(self):
        d = os.path.join(self.tmp, "recipe")
        self.write("recipe/packages", "python3\n")
        h1 = self.sh(f"recipe_hash {d}").stdout.strip()
        os.utime(os.path.join(d, "packages"), (0, 0))
        self.write("recipe/packages~", "editor backup\n")
        self.assertEqual(self.sh(f"recipe_hash {d}").stdout.strip(), h1)
        self.assertEqual(len(h1), 16)
        self.write("recipe/packages", "python3\nbusybox\n")
        self.assertNotEqual(self.sh(f"recipe_hash {d}").stdout.strip(), h1)
        self.assertNotEqual(self.sh(f"recipe_hash --extra x {d}").stdout.strip(), h1)

    def test_step_reports_failure_with_log_tail(self):
        logs = os.path.join(self.tmp, "logs")
        os.mkdir(logs)
        r = self.sh("f() { echo first; false; echo never; }; step demo f",
                    STEP_LOG_DIR=logs, ARTIFACT="test")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("demo", r.stderr)
        self.assertIn("FAILED", r.stderr)
        self.assertIn("first", r.stderr)
        with open(os.path.join(logs, "demo.log")) as f:
            self.assertEqual(f.read(), "first\n")  # set -e stopped the function


@unittest.skipUnless(shutil.which("dpkg-deb"), "needs dpkg-deb")
class ExtractHook(Tmp):
    def deb(self, name, version, files):
        tree = os.path.join(self.tmp, "pkg-" + name)
        os.makedirs(os.path.join(tree, "DEBIAN"))
        with open(os.path.join(tree, "DEBIAN", "control"), "w") as f:
            f.write(f"Package: {name}\nVersion: {version}\nArchitecture: all\n"
                    "Maintainer: t <t@example.org>\nDescription: test\n")
        for path in files:
            self.write(os.path.join("pkg-" + name, path), name)
        archives = os.path.join(self.tmp, "root/var/cache/apt/archives")
        os.makedirs(archives, exist_ok=True)
        out = os.path.join(archives, f"{name}_{version}_all.deb")
        subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", tree, out],
                       check=True, capture_output=True)
        for path in files:  # as if mmdebstrap had extracted it
            self.write(os.path.join("root", path), name)

    def test_excluded_files_removed_and_manifest_exact(self):
        self.deb("keep", "1.0-1", ["usr/bin/keep"])
        self.deb("drop", "2:3.4", ["usr/bin/drop", "usr/share/drop/data"])
        exclude = self.write("exclude", "drop\n")
        manifest = os.path.join(self.tmp, "manifest")
        r = run(os.path.join(IMAGES, "packs", "common", "extract-hook.sh"),
                os.path.join(self.tmp, "root"), manifest, exclude)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(manifest) as f:
            self.assertEqual(f.read(), "keep 1.0-1\n")
        root = os.path.join(self.tmp, "root")
        self.assertTrue(os.path.exists(os.path.join(root, "usr/bin/keep")))
        self.assertFalse(os.path.exists(os.path.join(root, "usr/bin/drop")))
        self.assertFalse(os.path.exists(os.path.join(root, "usr/share/drop/data")))
        self.assertTrue(os.path.isdir(os.path.join(root, "usr/share/drop")))  # dirs stay


if __name__ == "__main__":
    unittest.main(verbosity=2)
