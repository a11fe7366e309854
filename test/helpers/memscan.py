# SPDX-License-Identifier: MIT
"""memscan.py PID NEEDLE: prints how many times NEEDLE occurs in the memory
of process PID (every readable mapping of /proc/PID/mem), and where."""
import re
import sys


def main():
    pid, needle = sys.argv[1], sys.argv[2].encode()
    found = 0
    with open(f"/proc/{pid}/maps") as maps, \
            open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            f = line.split()
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            if "r" not in f[1] or (len(f) > 5 and f[5] == "[vvar]"):
                continue
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except (OSError, ValueError, OverflowError):
                continue
            for m in re.finditer(re.escape(needle), data):
                found += 1
                print(f"at {lo + m.start():#x} in {' '.join(f[5:]) or 'anon'}",
                      file=sys.stderr)
    print(found)


main()
