#!/usr/bin/python3
"""elfinfo.py — answers the few questions the image build asks about ELF files:
is it a 64-bit x86_64 ELF, is it static (no PT_INTERP), does it carry the Xen PVH entry
note that lets Firecracker and QEMU boot a vmlinux directly, which files of an image tree
are dynamically linked programs or libraries. Reads headers only; it must never execute
or modify a file.

usage: elfinfo.py check-vmlinux FILE | check-static FILE | list-dynamic ROOT
"""
import os
import struct
import sys

PT_INTERP, PT_NOTE = 3, 4
EM_X86_64 = 62
XEN_ELFNOTE_PHYS32_ENTRY = 18  # Linux arch/x86/platform/pvh/head.S, CONFIG_PVH


class ElfError(Exception):
    pass


def read_header(f):
    f.seek(0)
    ident = f.read(64)
    if len(ident) < 64 or ident[:4] != b"\x7fELF":
        raise ElfError("not an ELF file")
    if ident[4] != 2 or ident[5] != 1:
        raise ElfError("not a 64-bit little-endian ELF")
    e_type, e_machine = struct.unpack_from("<HH", ident, 16)
    if e_machine != EM_X86_64:
        raise ElfError(f"machine {e_machine}, want x86_64 ({EM_X86_64})")
    e_phoff, = struct.unpack_from("<Q", ident, 32)
    e_phentsize, e_phnum = struct.unpack_from("<HH", ident, 54)
    if e_phnum > 4096 or e_phentsize < 56:
        raise ElfError("implausible program header table")
    return e_type, e_phoff, e_phentsize, e_phnum


def program_headers(f):
    _, phoff, phentsize, phnum = read_header(f)
    for i in range(phnum):
        f.seek(phoff + i * phentsize)
        p_type, _flags, p_offset, _va, _pa, p_filesz = struct.unpack("<IIQQQQ", f.read(40))
        yield p_type, p_offset, p_filesz


def notes(f, offset, size):
    f.seek(offset)
    data = f.read(min(size, 1 << 20))
    pos = 0
    while pos + 12 <= len(data):
        namesz, descsz, ntype = struct.unpack_from("<III", data, pos)
        pos += 12
        name = data[pos:pos + namesz].rstrip(b"\0")
        pos += (namesz + 3) & ~3
        pos += (descsz + 3) & ~3
        yield name, ntype


def has_pvh_note(f):
    for p_type, off, size in list(program_headers(f)):
        if p_type == PT_NOTE and any(n == b"Xen" and t == XEN_ELFNOTE_PHYS32_ENTRY
                                     for n, t in notes(f, off, size)):
            return True
    return False


def check_vmlinux(f):
    if not has_pvh_note(f):
        raise ElfError("no Xen PVH entry note (kernel built without CONFIG_PVH?)")
    return "ELF64 x86_64 vmlinux with PVH entry note"


def check_static(f):
    if any(p_type == PT_INTERP for p_type, _, _ in program_headers(f)):
        raise ElfError("dynamically linked (has PT_INTERP); the guest init must be static")
    return "static ELF64 x86_64"


def list_dynamic(root):
    """Paths (relative to root) of regular files that are dynamically linked ELF
    executables or shared objects, i.e. the ones the dynamic linker must resolve."""
    for top, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(top, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            try:
                with open(path, "rb") as f:
                    e_type = read_header(f)[0]
                    dynamic = e_type in (2, 3) and any(
                        t == 2 for t, _, _ in program_headers(f))  # ET_EXEC/ET_DYN, PT_DYNAMIC
            except (OSError, ElfError, struct.error):
                continue
            if dynamic:
                print(os.path.relpath(path, root))
    return None


COMMANDS = {"check-vmlinux": check_vmlinux, "check-static": check_static,
            "list-dynamic": list_dynamic}


def main(argv):
    if len(argv) != 3 or argv[1] not in COMMANDS:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    try:
        if argv[1] == "list-dynamic":
            return list_dynamic(argv[2]) or 0
        with open(argv[2], "rb") as f:
            print(f"{argv[2]}: {COMMANDS[argv[1]](f)}")
    except (OSError, ElfError, struct.error) as e:
        print(f"{argv[2]}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
