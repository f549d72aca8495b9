"""One QEMU boot with its serial console captured (tests/boot/run and
scripts/bench-boot). Python 3 standard library only.

Every boot runs under TCG (no -enable-kvm; icount=True adds -icount), with
-no-reboot, no network device, the root disk opened with snapshot=on (the
image file is never written, so boots can share it), and a hard timeout
enforced by the caller through wait_* deadlines and kill().
"""

import os
import re
import shutil
import signal
import subprocess
import threading
import time

QEMU = "qemu-system-x86_64"
TS_RE = re.compile(r"^\[\s*(\d+\.\d+)\]\s?")

# -icount shift=0: the guest clock advances 1 ns per guest instruction, not
# with host time, so a busy host no longer moves the guest's timestamps;
# sleep=on lets idle guest time (timers, sleeps) pass as real time. TCG's
# translation cost becomes invisible, and all vCPUs run on one host thread.
ICOUNT_ARGS = ("-icount", "shift=0,sleep=on")

_live = set()
_live_lock = threading.Lock()
_remove_on_signal = []


def remove_on_signal(path):
    """A work folder to delete when a signal ends the harness."""
    _remove_on_signal.append(path)


def kill_all():
    """Kill every guest still running (on the harness's own way out)."""
    with _live_lock:
        procs = [b.proc for b in _live]
    for p in procs:
        try:
            p.kill()
        except OSError:
            pass


def end_guests_on_signals():
    """SIGTERM, SIGINT and SIGHUP kill the running guests, then the harness
    (exit status 128 + the signal), so that no QEMU outlives it."""
    def handler(sig, _frame):
        kill_all()
        for path in _remove_on_signal:
            shutil.rmtree(path, ignore_errors=True)
        os._exit(128 + sig)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, handler)


def qemu_available():
    return shutil.which(QEMU) is not None


def qemu_command(kernel, initrd, disk, append, smp=1, memory=1024, extra_args=(), icount=False):
    """EXTRA_ARGS: more QEMU arguments (devices: ["-device", "virtio-rng-pci"]).
    ICOUNT: add ICOUNT_ARGS (the guest clock counts instructions)."""
    if icount:
        extra_args = list(ICOUNT_ARGS) + list(extra_args)
    return [QEMU, "-m", str(memory), "-smp", str(smp),
            "-nographic", "-nodefaults", "-serial", "stdio", "-nic", "none",
            "-no-reboot",
            "-kernel", kernel.vmlinuz, "-initrd", initrd,
            "-drive", f"file={disk},if=virtio,format=raw,snapshot=on"] + list(extra_args) + [
            "-append", "console=ttyS0 panic=-1 " + append]


class Boot:
    """A running guest. Serial console lines are appended to LOG_PATH and
    kept in .lines (\\r stripped)."""

    def __init__(self, kernel, initrd, disk, append, log_path, smp=1, memory=1024,
                 extra_args=(), icount=False):
        self.cmd = qemu_command(kernel, initrd, disk, append, smp, memory, extra_args,
                                icount=icount)
        self.log_path = log_path
        self.lines = []
        self.cond = threading.Condition()
        self.started = time.monotonic()
        self.ended = None
        self.killed = False
        self.log = open(log_path, "w", encoding="utf-8", errors="replace")
        self.log.write("# " + " ".join(self.cmd) + "\n")
        self.log.flush()
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        with _live_lock:
            _live.add(self)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n").replace("\r", "")
            with self.cond:
                self.lines.append(line)
                self.log.write(line + "\n")
                self.log.flush()
                self.cond.notify_all()
        self.proc.wait()
        with self.cond:
            self.ended = time.monotonic()
            self.cond.notify_all()

    @property
    def running(self):
        return self.ended is None

    def wait_for(self, pattern, deadline, start=0):
        """Index of the first line at or after START matching PATTERN (a
        compiled regex, searched), or None when the guest ends or the
        DEADLINE (time.monotonic()) passes first."""
        with self.cond:
            i = start
            while True:
                while i < len(self.lines):
                    if pattern.search(self.lines[i]):
                        return i
                    i += 1
                if self.ended is not None:
                    return None
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(min(left, 1.0))

    def wait_exit(self, deadline):
        """True when the guest ended (power off, reboot, crash) before DEADLINE."""
        with self.cond:
            while self.ended is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 1.0))
            return True

    def send(self, text):
        try:
            self.proc.stdin.write(text.encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass

    def cpu_seconds(self):
        """User + system CPU time of the QEMU process so far (Linux /proc)."""
        try:
            with open(f"/proc/{self.proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return None

    def kill(self):
        if self.proc.poll() is None:
            self.killed = True
            self.proc.kill()
        self.finish()

    def finish(self):
        """Wait for the process and the reader; close the log."""
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(timeout=30)
        with _live_lock:
            _live.discard(self)
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        with self.cond:
            if not self.log.closed:
                self.log.close()

    @property
    def elapsed(self):
        return (self.ended or time.monotonic()) - self.started


def kernel_time(line):
    """The kernel timestamp of a console line, or None."""
    m = TS_RE.match(line)
    return float(m.group(1)) if m else None


def kernel_time_of(lines, text):
    """The kernel timestamp of the first line of LINES holding TEXT right
    after a timestamp (`[   3.141592] TEXT`), or None. The pair may sit
    anywhere in the line: the console can interleave a userspace write with
    a kernel line."""
    pat = re.compile(r"\[\s*(\d+\.\d+)\]\s?" + re.escape(text))
    for line in lines:
        if text in line:
            m = pat.search(line)
            if m:
                return float(m.group(1))
    return None


def strip_time(line):
    return TS_RE.sub("", line, count=1)
