# SPDX-License-Identifier: MIT
"""memscan.py PID NEEDLE: prints how many times NEEDLE occurs in the memory
of process PID (every readable mapping of /proc/PID/mem), and where.

Mappings are read a piece at a time, pieces overlapping by the needle's
length.  Mappings larger than BIG are passed over with a note: they are
address space reserved in bulk (AddressSanitizer's shadow), not data a
program wrote."""
import re
import sys

PIECE = 1 << 20
BIG = 1 << 36


def scan(mem, lo, hi, needle, where):
    found = 0
    pat = re.compile(re.escape(needle))
    pos = lo
    while pos < hi:
        end = min(hi, pos + PIECE)
        try:
            mem.seek(pos)
            data = mem.read(min(hi, end + len(needle) - 1) - pos)
        except (OSError, ValueError, OverflowError):
            pos = end
            continue
        for m in pat.finditer(data):
            if pos + m.start() < end:
                found += 1
                print(f"at {pos + m.start():#x} in {where}", file=sys.stderr)
        pos = end
    return found


def main():
    pid, needle = sys.argv[1], sys.argv[2].encode()
    found = 0
    with open(f"/proc/{pid}/maps") as maps, \
            open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            f = line.split()
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            where = " ".join(f[5:]) or "anon"
            if "r" not in f[1] or where == "[vvar]":
                continue
            if hi - lo > BIG:
                print(f"passed over {hi - lo:#x} bytes at {lo:#x} ({where})",
                      file=sys.stderr)
                continue
            found += scan(mem, lo, hi, needle, where)
    print(found)


main()
