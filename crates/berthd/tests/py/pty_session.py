"""Interactive docker CLI sessions under a real pseudo-terminal.

Usage: pty_session.py HOST CASE   (CASE: shell | detach | ctrlc)
"""
import os
import pty
import select
import sys
import time

host, case = sys.argv[1], sys.argv[2]


def spawn(args):
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp("docker", ["docker", "-H", host] + args)
    return pid, fd


def read_until(fd, needle, secs=20):
    buf = b""
    deadline = time.time() + secs
    while needle not in buf:
        left = deadline - time.time()
        if left <= 0:
            raise AssertionError(f"timeout waiting for {needle!r}; got {buf!r}")
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
    if needle not in buf:
        raise AssertionError(f"{needle!r} not in {buf!r}")
    return buf


def wait_exit(pid, secs=20):
    deadline = time.time() + secs
    while time.time() < deadline:
        p, st = os.waitpid(pid, os.WNOHANG)
        if p:
            return os.waitstatus_to_exitcode(st)
        time.sleep(0.05)
    os.kill(pid, 9)
    raise AssertionError("docker did not exit")


if case == "shell":
    pid, fd = spawn(["run", "-it", "--rm", "busybox", "sh"])
    read_until(fd, b"# ")
    os.write(fd, b"echo $((6*7)); tty\r")
    out = read_until(fd, b"/dev/pts/0")
    assert b"42" in out, out
    os.write(fd, b"stty size\r")
    read_until(fd, b"\n")
    os.write(fd, b"exit 3\r")
    code = wait_exit(pid)
    assert code == 3, code
elif case == "detach":
    pid, fd = spawn(["run", "-it", "--name", "det", "busybox", "sh"])
    read_until(fd, b"# ")
    os.write(fd, b"\x10\x11")  # ctrl-p ctrl-q: the session ends, the container runs on
    code = wait_exit(pid)
    assert code == 0, code
elif case == "ctrlc":
    pid, fd = spawn(["run", "-it", "--rm", "busybox", "sh", "-c", "trap 'echo got-int; exit 130' INT; echo ready; while true; do sleep 0.1; done"])
    read_until(fd, b"ready")
    os.write(fd, b"\x03")
    read_until(fd, b"got-int")
    code = wait_exit(pid)
    assert code == 130, code
print("pty case ok:", case)
