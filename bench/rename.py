"""Micro-benchmark: the archive writer's temporary files in one shared folder or beside
their targets, four threads writing 10,000 files into 200 folders (as a pass does).

A rename across folders takes a lock of the whole file system; one in the same folder
does not.  Prints wall and kernel time of each, three rounds.  Asserts nothing.

    python bench/rename.py /work
"""

import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor

base = sys.argv[1] if len(sys.argv) > 1 else "."
N = 10000
data = b"x" * 4000


def run(kind):
    root = os.path.join(base, f"tb-{kind}")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(os.path.join(root, "tmp"))
    for d in range(200):
        os.makedirs(os.path.join(root, "a", str(d)))
    os.sync()

    def batch(d):
        for i in range(N // 200):
            target = os.path.join(root, "a", str(d), f"{i}.md")
            tmp = (
                os.path.join(root, "tmp", f"{d}-{i}.tmp")
                if kind == "tmpdir"
                else os.path.join(root, "a", str(d), f".{i}.tmp")
            )
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.write(fd, data)
            os.close(fd)
            os.replace(tmp, target)

    t = time.perf_counter()
    c = os.times()
    with ThreadPoolExecutor(4) as ex:
        list(ex.map(batch, range(200)))
    e = os.times()
    w = time.perf_counter() - t
    fd = os.open(root, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    os.sync()
    print(
        kind,
        f"wall {w:.2f} (+sync {time.perf_counter() - t - w:.2f}) sys {e.system - c.system:.2f}",
    )
    shutil.rmtree(root)


for _ in range(3):
    run("tmpdir")
    run("samedir")
