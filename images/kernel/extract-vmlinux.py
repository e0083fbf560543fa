#!/usr/bin/python3
"""extract-vmlinux.py BZIMAGE OUT — turn a Debian bzImage into the ELF vmlinux that
Firecracker (x86_64 ELF loader only) and QEMU's PVH path boot.

The payload is located from the boot-protocol header (Documentation/arch/x86/boot.rst):
setup_sects at 0x1f1, payload_offset at 0x248, payload_length at 0x24c; it starts at
(setup_sects + 1) * 512 + payload_offset and ends with a little-endian 32-bit word holding
the uncompressed size, which is stripped before decompressing and checked afterwards.
Decompression is left to the standard tools; this script must not guess: an unknown
format or a size mismatch is an error.
"""
import os
import struct
import subprocess
import sys

# magic prefix -> decompressor argv (reads stdin, writes stdout)
DECOMPRESSORS = [
    (b"\x02\x21\x4c\x18", ["lz4", "-dc"]),          # LZ4 legacy frame (CONFIG_KERNEL_LZ4)
    (b"\x1f\x8b", ["gzip", "-dc"]),
    (b"\x28\xb5\x2f\xfd", ["zstd", "-dcq"]),
    (b"\xfd7zXZ\x00", ["xz", "-dc"]),
]
MAX_VMLINUX = 512 << 20


def payload(image):
    if image[0x202:0x206] != b"HdrS":
        raise ValueError("no 'HdrS' boot header: not a bzImage")
    version, = struct.unpack_from("<H", image, 0x206)
    if version < 0x208:
        raise ValueError(f"boot protocol {version:#x} < 2.08 has no payload fields")
    setup_sects = image[0x1f1] or 4
    offset, length = struct.unpack_from("<II", image, 0x248)
    start = (setup_sects + 1) * 512 + offset
    if length < 8 or start + length > len(image):
        raise ValueError(f"payload {start}+{length} outside the {len(image)}-byte image")
    data = image[start:start + length]
    size, = struct.unpack_from("<I", data, len(data) - 4)
    return data[:-4], size


def decompress(data):
    for magic, argv in DECOMPRESSORS:
        if data.startswith(magic):
            r = subprocess.run(argv, input=data, capture_output=True, check=False)
            if r.returncode != 0:
                raise ValueError(f"{argv[0]} failed ({r.returncode}): {r.stderr.decode(errors='replace').strip()}")
            return argv[0], r.stdout
    raise ValueError(f"unknown payload compression (magic {data[:6].hex()})")


def main(argv):
    if len(argv) != 3:
        print("usage: extract-vmlinux.py BZIMAGE OUT", file=sys.stderr)
        return 2
    with open(argv[1], "rb") as f:
        image = f.read()
    try:
        data, size = payload(image)
        tool, vmlinux = decompress(data)
        if size > MAX_VMLINUX or len(vmlinux) != size:
            raise ValueError(f"decompressed {len(vmlinux)} bytes, size word says {size}")
        if not vmlinux.startswith(b"\x7fELF"):
            raise ValueError("payload is not an ELF image")
    except (ValueError, struct.error) as e:
        print(f"{argv[1]}: {e}", file=sys.stderr)
        return 1
    tmp = argv[2] + ".part"
    with open(tmp, "wb") as f:
        f.write(vmlinux)
    os.rename(tmp, argv[2])
    print(f"{argv[1]}: {tool} payload of {len(data) + 4} bytes -> {len(vmlinux)} bytes ELF")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
