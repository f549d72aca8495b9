#!/usr/bin/env python3
"""The boot demo (scripts/demo): earlymod as the initramfs's /init on
Debian's 6.1 kernel under QEMU, with a module list on the kernel command
line. Shows earlymod's log lines and what the root filesystem's init saw.

Usage: tests/boot/demo.py EARLYMOD [MODULE,MODULE...]"""

import os
import re
import shutil
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import images  # noqa: E402
import qemu  # noqa: E402


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    earlymod = os.path.abspath(sys.argv[1])
    modules = (sys.argv[2] if len(sys.argv) > 2 else "virtio_pci,virtio_blk,xfs,btrfs").split(",")
    try:
        images.require_tools()
        kernel = images.fetch_kernel("generic")
    except images.Unavailable as e:
        print(f"demo: cannot boot: {e}", file=sys.stderr)
        return 1
    work = tempfile.mkdtemp(prefix="earlymod-demo.")
    try:
        initrd = os.path.join(work, "initrd.gz")
        disk = os.path.join(work, "root.img")
        mods = images.build_initramfs(initrd, kernel, earlymod, modules,
                                      modprobe=[earlymod, "modprobe"], workdir=work)
        images.build_root_disk(disk, workdir=work)
        size = os.path.getsize(initrd)
        print(f"initramfs: {size} bytes: /init = earlymod, {len(mods)} module files, the index files")
        append = f"rd.modules_load={','.join(modules)} root=/dev/vda rootfstype=ext4"
        print(f"booting linux {kernel.kver} under QEMU (software emulation, ~15 s) with:")
        print(f"  {append}\n")
        boot = qemu.Boot(kernel, initrd, disk, append, os.path.join(work, "serial.log"))
        deadline = time.monotonic() + 180
        shown = 0
        in_modules = False
        done = False
        while time.monotonic() < deadline and not done:
            time.sleep(0.2)
            lines = boot.lines[shown:]
            shown += len(lines)
            for line in lines:
                if "Run /init" in line or "earlymod:" in line:
                    print("  " + line)
                elif images.MARK_REACHED in line:
                    print("\n  root's /sbin/init says: " + line)
                elif images.MARK_MODULES_BEGIN in line:
                    in_modules = True
                    print("  /proc/modules:")
                elif images.MARK_MODULES_END in line:
                    in_modules = False
                elif in_modules:
                    print("    " + " ".join(line.split()[:1]))
                elif re.search(r"Kernel panic|Oops", line):
                    print("  " + line)
            if not boot.running:
                done = True
        boot.kill()
        reached = any(images.MARK_REACHED in l for l in boot.lines)
        print("\nroot reached: yes" if reached else "\nroot reached: NO (serial log kept at " + work + ")")
        if not reached:
            work = None
            return 1
        return 0
    finally:
        if work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
