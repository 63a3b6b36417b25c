"""Run a command whose stdout is a NON-BLOCKING pipe that nobody reads until
the command has exited or has filled the pipe and waited on it for 2 s (a
child sharing the pipe can leave it non-blocking: QEMU's stdio does). Prints
the byte count and whether the bytes are one JSON document. Used by
stdoutDrain.test.ts."""
import array, fcntl, json, os, subprocess, sys, termios, time

r, w = os.pipe()
fcntl.fcntl(w, fcntl.F_SETFL, fcntl.fcntl(w, fcntl.F_GETFL) | os.O_NONBLOCK)
p = subprocess.Popen(sys.argv[1:], stdout=w, stderr=subprocess.DEVNULL)
os.close(w)
full_since = None
while p.poll() is None:
    n = array.array("i", [0])
    fcntl.ioctl(r, termios.FIONREAD, n)
    if n[0] >= 65536:
        full_since = full_since or time.monotonic()
        if time.monotonic() - full_since > 2:
            break
    time.sleep(0.05)
data = b""
while True:
    b = os.read(r, 65536)
    if not b:
        break
    data += b
p.wait()
try:
    json.loads(data)
    print(len(data), "json")
except ValueError:
    print(len(data), "truncated")
