"""Pull progress as the docker clients see it (issue 6).

Usage: pull_progress.py HOST IMAGE

Against one daemon (berthd or Debian's dockerd, the same checks), with the
image not in its store:
1. docker-py's low-level pull stream: each layer goes through dockerd's
   statuses in dockerd's order (Pulling fs layer, Downloading, Verifying
   Checksum, Download complete, Extracting, Pull complete; repeated
   progress messages counted once), every Downloading and Extracting
   message carries progressDetail {current, total} with total the blob's
   size and current never going back, Extracting ends at 100%, and the
   "progress" text is Docker's bar.
2. the image is removed again, and the docker CLI pulls it under a real
   pseudo-terminal: it draws the Extracting bar ("Extracting [==...>")
   and ends with Pull complete for the layer.
Prints "all checks passed" at the end.
"""
import fcntl
import os
import pty
import re
import select
import struct
import sys
import termios
import time

import docker

host, image = sys.argv[1], sys.argv[2]
# "reference": the daemon is Debian's dockerd. Its transfer broadcaster
# hands a watcher that is behind only the latest progress message, so
# under load a layer's intermediate statuses (seen: Verifying Checksum)
# can be skipped; there the statuses seen must be in ORDER's order, from
# the first to the last. berthd sends every status: all of ORDER.
reference = len(sys.argv) > 3 and sys.argv[3] == "reference"
repo, tag = image.rsplit(":", 1)
api = docker.APIClient(base_url=host, timeout=120)

ORDER = ["Pulling fs layer", "Downloading", "Verifying Checksum",
         "Download complete", "Extracting", "Pull complete"]

msgs = list(api.pull(repo, tag=tag, stream=True, decode=True))
errors = [m for m in msgs if "error" in m]
assert not errors, errors
layers = []
for m in msgs:
    if m.get("status") == "Pulling fs layer":
        layers.append(m["id"])
assert layers, msgs
for lid in layers:
    mine = [m for m in msgs if m.get("id") == lid]
    seq = []
    for m in mine:
        if not seq or seq[-1] != m["status"]:
            seq.append(m["status"])
    if reference:
        it = iter(ORDER)
        in_order = all(st in it for st in seq)
        assert in_order and seq[0] == ORDER[0] and seq[-1] == ORDER[-1], (lid, seq)
    else:
        assert seq == ORDER, (lid, seq)
    for status in ("Downloading", "Extracting"):
        steps = [m for m in mine if m["status"] == status]
        totals = {m["progressDetail"]["total"] for m in steps}
        assert len(totals) == 1, (lid, status, totals)
        cur = [m["progressDetail"]["current"] for m in steps]
        assert cur == sorted(cur), (lid, status, cur)
        for m in steps:
            assert re.match(r"^\[=*>? *\] +[0-9.]+[kMG]?B/[0-9.]+[kMG]?B$", m["progress"]), m
    ext = [m for m in mine if m["status"] == "Extracting"]
    last = ext[-1]["progressDetail"]
    assert last["current"] == last["total"], (lid, last)
    # A bar that moves: steps before the end (dockerd extracts after the
    # download; berthd extracts during it, and reports what is left once
    # the last byte is in: ~20% of this 50 MB layer on loopback).
    assert ext[0]["progressDetail"]["current"] < last["total"], (lid, ext[0])
    cur = [m["progressDetail"]["current"] for m in ext]
    assert len(set(cur)) == len(cur), ("repeated Extracting steps", lid, cur)
    dl = [m for m in mine if m["status"] == "Downloading"]
    assert dl[0]["progressDetail"]["total"] == last["total"], (lid, dl[0], last)
print("stream:", {lid: len([m for m in msgs if m.get("id") == lid]) for lid in layers})

api.remove_image(image)


def pty_pull():
    pid, fd = pty.fork()
    if pid == 0:
        # A wide terminal: the CLI draws bars only when it is over 110
        # columns (moby's jsonmessage).
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        os.execvp("docker", ["docker", "-H", host, "pull", image])
    buf = b""
    deadline = time.time() + 120
    while time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 1)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
    _, st = os.waitpid(pid, 0)
    assert os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0, (st, buf)
    return buf.decode("utf-8", "replace")


out = pty_pull()
assert re.search(r"Extracting \[=*> *\]", out), out[-3000:]
assert re.search(r"Downloading \[=*> *\]", out) or "Download complete" in out, out[-3000:]
for lid in layers:
    assert lid + ": Pull complete" in out, (lid, out[-3000:])
print("pty: Extracting bar drawn")
print("all checks passed")
