"""Boot images for the QEMU boot tests and the boot benchmark.

Builds, without root rights:
  - an earlymod initramfs: /init = the earlymod binary, the kernel tree's
    index files and the closure of the module files for a module list
    (build_initramfs);
  - the kmod comparison initramfs: /init = a busybox sh script that runs
    Debian's kmod modprobe on the same list (build_kmod_initramfs);
  - an ext4 root disk whose /sbin/init reports what it sees and powers off
    (build_root_disk), and the same root as partition 1 of a GPT disk with
    4096-byte blocks (build_gpt_root_disk);
  - the benchmark's floor initramfs: /init = tests/boot/floor-init.c, a
    static C program that loads a module list fixed at build time with
    finit_module() and switches root (build_floor_initramfs).

An initramfs is a cpio archive in newc format, written here by Python
(CpioWriter), compressed with gzip. Python 3 standard library only; the
external programs used are modprobe (kmod, or earlymod's modprobe), depmod,
mkfs.ext4, xz, zstd and ldd, busybox from the busybox-static package, and
musl-gcc (musl-tools) for the floor image only.
"""

import gzip
import os
import re
import shutil
import stat
import subprocess
import tempfile
from collections import namedtuple

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FETCH = os.path.join(REPO, "scripts", "fetch-kernels")

# Root disk identity (root=LABEL=... and root=UUID=... cases).
ROOT_LABEL = "earlymod-root"
ROOT_UUID = "6c0a4d1e-93b2-4f5a-8e1d-2b7c9f0e5a31"
ROOT_SIZE = "64M"

# Lines the root disk's /sbin/init prints (parsed by tests/boot/run and
# scripts/bench-boot).
MARK_UPTIME = "EARLYMOD-ROOT-UPTIME"        # followed by /proc/uptime's first field
# Written to /dev/kmsg as the root init's first act: its kernel log timestamp
# ends the initramfs phase on printk's clock, the clock of the kernel's
# `Run /init as init process` line (/proc/uptime runs on another, in 10 ms
# steps). When the initramfs left no /dev, the line is written once the root
# init has mounted devtmpfs itself, followed by " late".
MARK_KMSG = "EARLYMOD-ROOT-KMSG"
MARK_REACHED = "EARLYMOD-ROOT-REACHED"
MARK_MODULES_BEGIN = "EARLYMOD-MODULES-BEGIN"
MARK_MODULES_END = "EARLYMOD-MODULES-END"
MARK_MOUNTS_BEGIN = "EARLYMOD-MOUNTS-BEGIN"
MARK_MOUNTS_END = "EARLYMOD-MOUNTS-END"
MARK_SELF_MOUNTED = "EARLYMOD-ROOT-MOUNTED"   # followed by what the root init had to mount itself
MARK_DONE = "EARLYMOD-ROOT-DONE"
MARK_TIMINGS_BEGIN = "EARLYMOD-TIMINGS-BEGIN"  # between these: TIMINGS_PATH, if any
MARK_TIMINGS_END = "EARLYMOD-TIMINGS-END"

# Where init mode leaves its load timings (JSON, scripts/plot-timings reads
# it); /run is moved into the root, so the root's init finds it there.
TIMINGS_PATH = "/run/earlymod/timings.json"
PLOT_TIMINGS = os.path.join(REPO, "scripts", "plot-timings")

# What the kmod comparison /init logs to /dev/kmsg.
KMOD_INIT_TAG = "kmod-init"

MODULE_SUFFIXES = (".ko.xz", ".ko.zst", ".ko.gz", ".ko")

Kernel = namedtuple("Kernel", "kind root kver vmlinuz")


class Unavailable(Exception):
    """A kernel or a tool the images need cannot be had (tests skip)."""


# --------------------------------------------------------------------------
# Kernels and tools

def fetch_kernel(kind):
    """The kernel of KIND (generic or cloud) from scripts/fetch-kernels."""
    try:
        r = subprocess.run([FETCH, kind], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise Unavailable(f"scripts/fetch-kernels {kind}: {e}")
    if r.returncode != 0:
        raise Unavailable(f"scripts/fetch-kernels {kind} exited {r.returncode}: "
                          + r.stderr.strip())
    parts = r.stdout.split()
    if len(parts) != 4 or parts[0] != kind:
        raise Unavailable(f"scripts/fetch-kernels {kind}: unexpected output {r.stdout!r}")
    k = Kernel(*parts)
    if not os.path.isfile(k.vmlinuz):
        raise Unavailable(f"no kernel image {k.vmlinuz}")
    return k


def modules_dir(kernel):
    return os.path.join(kernel.root, "lib", "modules", kernel.kver)


def busybox_path():
    """A statically linked busybox (Debian package busybox-static)."""
    for p in ("/bin/busybox", "/usr/bin/busybox"):
        if os.path.isfile(p):
            try:
                out = subprocess.run(["ldd", p], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True).stdout
            except OSError:
                out = "not a dynamic executable"
            if "not a dynamic executable" in out or "statically linked" in out:
                return p
    raise Unavailable("no static busybox (install the Debian package busybox-static)")


def kmod_path():
    for p in ("/usr/bin/kmod", "/bin/kmod"):
        if os.path.isfile(p):
            return p
    raise Unavailable("no kmod (install the Debian package kmod)")


def require_tools():
    """Raise Unavailable when a program the images need is missing."""
    for tool, pkg in (("mkfs.ext4", "e2fsprogs"), ("mkfs.btrfs", "btrfs-progs"),
                      ("mkswap", "util-linux"), ("depmod", "kmod"),
                      ("modprobe", "kmod"), ("xz", "xz-utils"), ("zstd", "zstd"),
                      ("ldd", "libc-bin")):
        if not shutil.which(tool, path=os.environ.get("PATH", "") + ":/sbin:/usr/sbin"):
            raise Unavailable(f"{tool} is missing (Debian package {pkg})")
    busybox_path()
    kmod_path()


def _which(tool):
    return shutil.which(tool, path=os.environ.get("PATH", "") + ":/sbin:/usr/sbin") or tool


def _run(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {r.returncode}: "
                           + r.stderr.decode(errors="replace").strip())
    return r.stdout


# --------------------------------------------------------------------------
# cpio (newc) writer

class CpioWriter:
    """Writes a cpio archive in the newc format the kernel unpacks."""

    def __init__(self, fileobj):
        self.f = fileobj
        self.ino = 1
        self.pos = 0

    def _write(self, data):
        self.f.write(data)
        self.pos += len(data)

    def _pad4(self):
        if self.pos % 4:
            self._write(b"\0" * (4 - self.pos % 4))

    def entry(self, name, mode, data=b"", nlink=1, rdevmajor=0, rdevminor=0, mtime=0):
        name = name.lstrip("/") or "."
        nameb = name.encode() + b"\0"
        fields = (self.ino, mode, 0, 0, nlink, mtime, len(data), 0, 0,
                  rdevmajor, rdevminor, len(nameb), 0)
        self.ino += 1
        self._write(b"070701" + b"".join(b"%08X" % v for v in fields))
        self._write(nameb)
        self._pad4()
        self._write(data)
        self._pad4()

    def directory(self, name, perm=0o755):
        self.entry(name, stat.S_IFDIR | perm, nlink=2)

    def file(self, name, data, perm=0o644):
        self.entry(name, stat.S_IFREG | perm, data)

    def symlink(self, name, target):
        self.entry(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name, major, minor, perm=0o600):
        self.entry(name, stat.S_IFCHR | perm, rdevmajor=major, rdevminor=minor)

    def add_tree(self, top):
        """Every file, dir and symlink under TOP, paths relative to TOP,
        parents first, in sorted order."""
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            rel = os.path.relpath(dirpath, top)
            if rel != ".":
                st = os.lstat(dirpath)
                self.directory(rel, stat.S_IMODE(st.st_mode))
            for name in sorted(filenames + [d for d in dirnames
                                            if os.path.islink(os.path.join(dirpath, d))]):
                path = os.path.join(dirpath, name)
                relp = os.path.normpath(os.path.join(rel, name))
                st = os.lstat(path)
                if stat.S_ISLNK(st.st_mode):
                    self.symlink(relp, os.readlink(path))
                elif stat.S_ISREG(st.st_mode):
                    with open(path, "rb") as f:
                        self.file(relp, f.read(), stat.S_IMODE(st.st_mode))
            # os.walk would descend into symlinked dirs only with followlinks.

    def close(self):
        self.entry("TRAILER!!!", 0, nlink=1)
        if self.pos % 512:
            self._write(b"\0" * (512 - self.pos % 512))


def pack_initramfs(staging, out, console_node=False, level=6):
    """STAGING as a gzip-compressed newc cpio at OUT. With console_node, a
    /dev/console device entry (c 5 1) is added (the kernel's built-in
    initramfs has one already)."""
    with open(out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb",
                                                compresslevel=level, mtime=0) as gz:
        w = CpioWriter(gz)
        w.add_tree(staging)
        if console_node:
            if not os.path.isdir(os.path.join(staging, "dev")):
                w.directory("dev")
            w.chardev("dev/console", 5, 1)
        w.close()
    return out


# --------------------------------------------------------------------------
# Module closure

def module_closure(kernel, names, modprobe=None):
    """Paths (relative to the kernel root, e.g. lib/modules/KVER/kernel/...)
    of every module `modprobe -a -D NAMES` would insert, in order, without
    repeats. MODPROBE is a command list (default: kmod's modprobe); names
    that do not resolve are left out (modprobe -a goes on past them)."""
    return [rel for rel, _params in module_plan(kernel, names, modprobe)]


def module_plan(kernel, names, modprobe=None):
    """As module_closure, with each module's parameters: (path, params)
    pairs, params being the text after the path on `modprobe -a -D`'s
    `insmod PATH PARAMS` line ("" for none). modprobe -D reads the options
    of the modprobe.d of the machine it runs on (as module_closure's
    resolution does): the images hold no modprobe.d, so for the usual
    module lists the params are all empty."""
    cmd = list(modprobe or [_which("modprobe")])
    cmd += ["-d", kernel.root, "-S", kernel.kver, "-a", "-D"] + list(names)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    root = os.path.normpath(kernel.root) + "/"
    plan, seen = [], set()
    for line in r.stdout.splitlines():
        parts = line.split(None, 2)
        if len(parts) >= 2 and parts[0] == "insmod":
            p = os.path.normpath(parts[1])
            if not p.startswith(root):
                raise RuntimeError(f"{' '.join(cmd)}: module path outside the tree: {p}")
            rel = p[len(root):]
            if rel not in seen:
                seen.add(rel)
                plan.append((rel, parts[2].strip() if len(parts) > 2 else ""))
    if r.returncode != 0 and not plan:
        # Every name unknown is fine (nothing to copy); anything else is not.
        if "not found" not in r.stderr:
            raise RuntimeError(f"{' '.join(cmd)} exited {r.returncode}: {r.stderr.strip()}")
    return plan


def _module_name(path):
    base = os.path.basename(path)
    for suf in MODULE_SUFFIXES:
        if base.endswith(suf):
            return base[:-len(suf)]
    return base


def _copy_indexes(kernel, dest_moddir):
    src = modules_dir(kernel)
    for name in sorted(os.listdir(src)):
        if name.startswith("modules.") and os.path.isfile(os.path.join(src, name)):
            shutil.copy2(os.path.join(src, name), os.path.join(dest_moddir, name))


def _decompress(path):
    if path.endswith(".ko.xz"):
        return _run(["xz", "-dc", path])
    if path.endswith(".ko.zst"):
        return _run(["zstd", "-dcq", path])
    if path.endswith(".ko.gz"):
        with gzip.open(path, "rb") as f:
            return f.read()
    with open(path, "rb") as f:
        return f.read()


def _recompress(staging, kernel, rel_paths, fmt):
    """Recompress the staged modules REL_PATHS (relative to STAGING) as
    .ko.zst or .ko.gz and rewrite the index files. Returns the new paths."""
    moddir_rel = os.path.join("lib", "modules", kernel.kver)
    moddir = os.path.join(staging, moddir_rel)
    if fmt == "gz":
        # Debian's kmod is built without zlib: its depmod does not read .ko.gz.
        # Index the staged modules as they are (.ko.xz, the same length as
        # .ko.gz), then rename the paths in modules.dep and modules.dep.bin
        # (the only index that holds paths; same-length rename keeps every
        # offset of the .bin trie valid).
        _run([_which("depmod"), "-b", staging, kernel.kver])
    new_paths = []
    for rel in rel_paths:
        src = os.path.join(staging, rel)
        data = _decompress(src)
        stem = src[:-len(next(s for s in MODULE_SUFFIXES if src.endswith(s)))]
        os.unlink(src)
        if fmt == "zst":
            dst = stem + ".ko.zst"
            with open(dst, "wb") as f:
                subprocess.run(["zstd", "-q", "-19", "-c"], input=data, stdout=f, check=True)
        elif fmt == "gz":
            dst = stem + ".ko.gz"
            with open(dst, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb",
                                                        compresslevel=9, mtime=0) as gz:
                gz.write(data)
        else:
            raise ValueError(f"unknown compression {fmt!r} (want zst or gz)")
        new_paths.append(os.path.relpath(dst, staging))
    if fmt == "zst":
        _run([_which("depmod"), "-b", staging, kernel.kver])
    else:
        for name in ("modules.dep", "modules.dep.bin"):
            p = os.path.join(moddir, name)
            with open(p, "rb") as f:
                data = f.read()
            if b".ko.xz" not in data and rel_paths:
                # The tree had plain .ko (generic kernel): lengths differ.
                raise RuntimeError("gz recompression needs a .ko.xz tree (the cloud kernel)")
            with open(p, "wb") as f:
                f.write(data.replace(b".ko.xz", b".ko.gz"))
    return new_paths


def corrupt_file(path, size=4096, pattern=b"\xa5"):
    """Overwrite SIZE bytes in the middle of PATH with a fixed pattern. Debian
    signs its modules: the kernel then rejects a plain .ko (signature check
    failure is fatal even when signatures are not enforced); a compressed
    one fails to decompress."""
    n = os.path.getsize(path)
    size = min(size, max(1, n // 4))
    with open(path, "r+b") as f:
        f.seek(n // 2 - size // 2)
        f.write((pattern * size)[:size])


def _stage_modules(staging, kernel, names, modprobe, recompress, corrupt):
    """Index files and module closure into STAGING. Returns the staged
    module paths (relative to STAGING)."""
    moddir_rel = os.path.join("lib", "modules", kernel.kver)
    os.makedirs(os.path.join(staging, moddir_rel), exist_ok=True)
    closure = module_closure(kernel, list(names) + ["fs-ext4"], modprobe)
    for rel in closure:
        dst = os.path.join(staging, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(os.path.join(kernel.root, rel), dst)
    if recompress:
        # The index files depmod needs besides the modules (builtin, order).
        src = modules_dir(kernel)
        for name in ("modules.builtin", "modules.builtin.modinfo", "modules.order"):
            if os.path.isfile(os.path.join(src, name)):
                shutil.copy2(os.path.join(src, name),
                             os.path.join(staging, moddir_rel, name))
        closure = _recompress(staging, kernel, closure, recompress)
    else:
        _copy_indexes(kernel, os.path.join(staging, moddir_rel))
    for name in corrupt or ():
        hits = [p for p in closure if _module_name(p) == name]
        if not hits:
            raise RuntimeError(f"cannot corrupt {name}: not in the image")
        for p in hits:
            corrupt_file(os.path.join(staging, p))
    return closure


def _add_busybox(staging, applets):
    os.makedirs(os.path.join(staging, "bin"), exist_ok=True)
    shutil.copy2(busybox_path(), os.path.join(staging, "bin", "busybox"))
    for a in applets:
        link = os.path.join(staging, "bin", a)
        if not os.path.lexists(link):
            os.symlink("busybox", link)


def _base_dirs(staging):
    for d in ("dev", "proc", "sys", "run", "root"):
        os.makedirs(os.path.join(staging, d), exist_ok=True)


# --------------------------------------------------------------------------
# (a) earlymod initramfs

def _add_extra_files(staging, extra_files):
    """extra_files: (path inside the image, kind, data) triples; kind is
    "text" (data: the file's text), "exec" (the same, mode 0755), "link"
    (data: the symlink's target) or "copy" (data: a file on this machine)."""
    for rel, kind, data in extra_files:
        dest = os.path.join(staging, rel.lstrip("/"))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if kind == "link":
            if os.path.lexists(dest):
                os.unlink(dest)
            os.symlink(data, dest)
        elif kind == "copy":
            shutil.copy2(data, dest)
        else:
            with open(dest, "w") as f:
                f.write(data)
            os.chmod(dest, 0o755 if kind == "exec" else 0o644)


def build_initramfs(out, kernel, init, modules, *, modprobe=None, recompress=None,
                    corrupt=(), busybox=False, console_node=False, workdir=None,
                    extra_files=()):
    """An initramfs at OUT: /init = INIT (a file), the index files of KERNEL's
    tree and the module closure of MODULES plus fs-ext4.

    modprobe: command list computing the closure (`CMD -d ROOT -S KVER -a -D`),
        e.g. [EARLYMOD, "modprobe"]; default kmod's modprobe.
    recompress: None, "zst" or "gz" (modules re-packed, indexes rewritten).
    corrupt: module names whose file gets garbage in the middle.
    busybox: add /bin/busybox and /bin/sh (the rescue-shell cases).
    extra_files: more files (see _add_extra_files), added last.
    Returns the list of module paths in the image."""
    staging = tempfile.mkdtemp(prefix="initramfs.", dir=workdir)
    try:
        _base_dirs(staging)
        shutil.copyfile(init, os.path.join(staging, "init"))
        os.chmod(os.path.join(staging, "init"), 0o755)
        mods = _stage_modules(staging, kernel, modules, modprobe, recompress, corrupt)
        if busybox:
            _add_busybox(staging, ["sh"])
        _add_extra_files(staging, extra_files)
        pack_initramfs(staging, out, console_node=console_node)
        return mods
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# --------------------------------------------------------------------------
# (c) kmod comparison initramfs

KMOD_INIT = r"""#!/bin/sh
# The kmod comparison /init: loads the kernel command line's module list
# with Debian's kmod modprobe, mounts the root and switches to it.
# (busybox sh runs its own applets first: kmod is called by its path.)
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
log() { echo "<6>@TAG@: $*" > /dev/kmsg; }

list=""; root=""; fstype=""; flags=""; rwmode=ro; timeout=30
for arg in $(cat /proc/cmdline); do
	case $arg in
	rd.modules_load=*|modules_load=*|rd.driver.pre=*) list="$list ${arg#*=}" ;;
	root=*) root=${arg#root=} ;;
	rootfstype=*) fstype=${arg#rootfstype=} ;;
	rootflags=*) flags=${arg#rootflags=} ;;
	ro) rwmode=ro ;;
	rw) rwmode=rw ;;
	earlymod.roottimeout=*) timeout=${arg#earlymod.roottimeout=} ;;
	esac
done
list=$(echo $list | tr , ' ')
[ -n "$fstype" ] || fstype=ext4

log "modprobe -a $list fs-$fstype"
/bin/modprobe -a $list "fs-$fstype" || log "modprobe exited $?"
log "modules loaded"

dev=""
tries=$((timeout * 10))
while [ $tries -gt 0 ]; do
	case $root in
	LABEL=*|UUID=*|PARTUUID=*) dev=$(findfs "$root" 2>/dev/null) ;;
	*) [ -b "$root" ] && dev=$root ;;
	esac
	[ -n "$dev" ] && break
	sleep 0.1
	tries=$((tries - 1))
done
if [ -z "$dev" ]; then
	log "root device $root did not appear"
	if [ -e /etc/rescue-shell ]; then
		log "starting /bin/sh"
		exec sh
	fi
	log "waiting forever"
	while :; do sleep 3600; done
fi

opts=$rwmode
[ -n "$flags" ] && opts="$opts,$flags"
mount -t "$fstype" -o "$opts" "$dev" /root || { log "mount $dev failed"; while :; do sleep 3600; done; }
for d in dev proc sys run; do mount --move /$d /root/$d; done
log "switching root"
exec switch_root /root /sbin/init
"""

KMOD_APPLETS = ["sh", "mount", "cat", "echo", "tr", "sleep", "findfs", "switch_root"]


def _ldd_files(binary):
    """Shared libraries and the loader BINARY needs, as ldd names them."""
    out = _run(["ldd", binary]).decode()
    files = []
    for line in out.splitlines():
        m = re.search(r"=>\s*(/\S+)", line) or re.match(r"\s*(/\S+)", line)
        if m:
            files.append(m.group(1))
    return files


def build_kmod_initramfs(out, kernel, modules, *, recompress=None, corrupt=(),
                         rescue_shell=False, console_node=False, workdir=None):
    """The kmod comparison initramfs: busybox, Debian's kmod as /bin/modprobe
    (not /sbin/modprobe: the kernel's own request_module calls must fail
    the same way as in the earlymod image, which has no /sbin/modprobe),
    its shared libraries and loader, the same indexes and module closure
    as build_initramfs, and KMOD_INIT as /init."""
    staging = tempfile.mkdtemp(prefix="initramfs-kmod.", dir=workdir)
    try:
        _base_dirs(staging)
        with open(os.path.join(staging, "init"), "w") as f:
            f.write(KMOD_INIT.replace("@TAG@", KMOD_INIT_TAG))
        os.chmod(os.path.join(staging, "init"), 0o755)
        mods = _stage_modules(staging, kernel, modules, None, recompress, corrupt)
        _add_busybox(staging, KMOD_APPLETS)
        kmod = kmod_path()
        shutil.copyfile(kmod, os.path.join(staging, "bin", "kmod"))
        os.chmod(os.path.join(staging, "bin", "kmod"), 0o755)
        os.symlink("kmod", os.path.join(staging, "bin", "modprobe"))
        for lib in _ldd_files(kmod):
            dst = os.path.join(staging, lib.lstrip("/"))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copyfile(os.path.realpath(lib), dst)
            os.chmod(dst, 0o755)
        os.makedirs(os.path.join(staging, "etc"), exist_ok=True)
        if rescue_shell:
            open(os.path.join(staging, "etc", "rescue-shell"), "w").close()
        pack_initramfs(staging, out, console_node=console_node)
        return mods
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# --------------------------------------------------------------------------
# (f) the floor initramfs (scripts/bench-boot)

FLOOR_SOURCE = os.path.join(HERE, "floor-init.c")
FLOOR_LIST = "etc/floor-modules"   # in the image; floor-init.c reads /etc/floor-modules


def build_floor_init(out):
    """tests/boot/floor-init.c compiled to OUT with musl-gcc, static."""
    cc = shutil.which("musl-gcc")
    if not cc:
        raise Unavailable("musl-gcc is missing (Debian package musl-tools)")
    _run([cc, "-static", "-Os", "-s", "-o", out, FLOOR_SOURCE])
    return out


def build_floor_initramfs(out, kernel, modules, *, rootfstype="ext4", modprobe=None,
                          console_node=False, workdir=None):
    """The floor image: /init = floor-init.c (static, musl), the module
    files of kmod's `modprobe -a -D MODULES fs-ROOTFSTYPE` in that order,
    and that order with each module's params in /etc/floor-modules (one
    "/lib/modules/KVER/... PARAMS" line each). No index files and no
    modprobe: nothing is resolved at boot. The module set is the one
    build_initramfs and build_kmod_initramfs stage (for rootfstype ext4).
    Returns the module paths in the image, in load order."""
    staging = tempfile.mkdtemp(prefix="initramfs-floor.", dir=workdir)
    try:
        _base_dirs(staging)
        os.makedirs(os.path.join(staging, "etc"), exist_ok=True)
        build_floor_init(os.path.join(staging, "init"))
        plan = module_plan(kernel, list(modules) + [f"fs-{rootfstype}"], modprobe)
        lines = []
        for rel, params in plan:
            dst = os.path.join(staging, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copyfile(os.path.join(kernel.root, rel), dst)
            if " " in rel or "\n" in rel:
                raise RuntimeError(f"module path with a space: {rel!r}")
            lines.append(("/" + rel + (" " + params if params else "")) + "\n")
        with open(os.path.join(staging, FLOOR_LIST), "w") as f:
            f.write("".join(lines))
        pack_initramfs(staging, out, console_node=console_node)
        return [rel for rel, _ in plan]
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def plot_timings_module():
    """scripts/plot-timings as a Python module: the timings format's key
    names (KEY_*), its outcomes (OUTCOMES) and render()."""
    import importlib.machinery
    import importlib.util
    loader = importlib.machinery.SourceFileLoader("plot_timings", PLOT_TIMINGS)
    spec = importlib.util.spec_from_loader("plot_timings", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


# --------------------------------------------------------------------------
# (b) root disk

ROOT_INIT = r"""#!/bin/sh
# earlymod boot-test root: report what the initramfs left, then power off.
export PATH=/bin
# First act: the kernel log line that timestamps the end of the initramfs
# phase (scripts/bench-boot). A shell builtin test and echo: nothing forks.
kmsg=""
[ -c /dev/kmsg ] && echo "<6>@KMSG@" > /dev/kmsg && kmsg=1
self=""
[ -r /proc/uptime ] || { mount -t proc proc /proc; self="$self proc"; }
read up rest < /proc/uptime
[ -c /dev/console ] || { mount -t devtmpfs devtmpfs /dev; self="$self dev"; }
[ -n "$kmsg" ] || { [ -c /dev/kmsg ] && echo "<6>@KMSG@ late" > /dev/kmsg; }
exec </dev/console >/dev/console 2>&1
echo "@UPTIME@ $up"
echo 1 > /proc/sys/kernel/printk
echo "@REACHED@"
echo "@SELF@$self"
echo "@MODB@"
cat /proc/modules
echo "@MODE@"
echo "@MNTB@"
cat /proc/mounts
echo "@MNTE@"
echo "@TIMB@"
[ -r @TIMINGS@ ] && cat @TIMINGS@
echo
echo "@TIME@"
read up rest < /proc/uptime
echo "@DONE@ $up"
sync
poweroff -f
"""

ROOT_APPLETS = ["sh", "mount", "cat", "echo", "sync", "poweroff", "sleep", "swapon"]

# /sbin/hibernate on the root disk (init= of the hibernation case): swap on
# the second disk, hibernate, and, once the hibernated system is back,
# say so and go on as /sbin/init. If the kernel refuses to hibernate, the
# write fails at once and the marker comes in the same boot, with the
# status.
HIBERNATE_INIT = r"""#!/bin/sh
export PATH=/bin
exec </dev/console >/dev/console 2>&1
swapon /dev/vdb || echo "@FAIL@ swapon /dev/vdb"
echo "@GOING@"
echo disk > /sys/power/state
echo "@BACK@ $?"
exec /sbin/init
"""
MARK_HIBERNATING = "EARLYMOD-HIBERNATING"
MARK_HIBERNATE_BACK = "EARLYMOD-HIBERNATE-RETURNED"   # followed by the write's status
MARK_HIBERNATE_FAIL = "EARLYMOD-HIBERNATE-FAILED"


def build_root_disk(out, label=ROOT_LABEL, uuid=ROOT_UUID, size=ROOT_SIZE, workdir=None,
                    block_size=None, with_init=True):
    """An ext4 image at OUT with LABEL and UUID whose /sbin/init is ROOT_INIT
    (BLOCK_SIZE: the filesystem's, else mkfs.ext4's choice).

    with_init=False: a root no init can start from (the boot cases where
    init must keep the initramfs): no busybox, no /bin/sh, and /sbin/init an
    absolute symlink to /init, which only the initramfs has (resolved
    outside the new root it would look usable)."""
    staging = tempfile.mkdtemp(prefix="rootfs.", dir=workdir)
    try:
        for d in ("dev", "proc", "sys", "run", "tmp", "sbin", "etc", "root"):
            os.makedirs(os.path.join(staging, d), exist_ok=True)
        # systemd's switch-root (dracut's images) refuses a root without
        # os-release: "does not seem to be an OS tree".
        with open(os.path.join(staging, "etc", "os-release"), "w") as f:
            f.write('NAME="earlymod test root"\nID=earlymod-test\n')
        if not with_init:
            os.symlink("/init", os.path.join(staging, "sbin", "init"))
            if os.path.exists(out):
                os.unlink(out)
            _run([_which("mkfs.ext4"), "-q", "-F", "-L", label, "-U", uuid,
                  "-E", "root_owner=0:0", "-d", staging, out, size])
            return out
        _add_busybox(staging, ROOT_APPLETS)
        init = (ROOT_INIT.replace("@UPTIME@", MARK_UPTIME)
                .replace("@KMSG@", MARK_KMSG)
                .replace("@REACHED@", MARK_REACHED)
                .replace("@SELF@", MARK_SELF_MOUNTED)
                .replace("@MODB@", MARK_MODULES_BEGIN)
                .replace("@MODE@", MARK_MODULES_END)
                .replace("@MNTB@", MARK_MOUNTS_BEGIN)
                .replace("@MNTE@", MARK_MOUNTS_END)
                .replace("@TIMB@", MARK_TIMINGS_BEGIN)
                .replace("@TIME@", MARK_TIMINGS_END)
                .replace("@TIMINGS@", TIMINGS_PATH)
                .replace("@DONE@", MARK_DONE))
        with open(os.path.join(staging, "sbin", "init"), "w") as f:
            f.write(init)
        os.chmod(os.path.join(staging, "sbin", "init"), 0o755)
        with open(os.path.join(staging, "sbin", "hibernate"), "w") as f:
            f.write(HIBERNATE_INIT.replace("@GOING@", MARK_HIBERNATING)
                    .replace("@BACK@", MARK_HIBERNATE_BACK).replace("@FAIL@", MARK_HIBERNATE_FAIL))
        os.chmod(os.path.join(staging, "sbin", "hibernate"), 0o755)
        if os.path.exists(out):
            os.unlink(out)
        bs = ["-b", str(block_size)] if block_size else []
        _run([_which("mkfs.ext4"), "-q", "-F", "-L", label, "-U", uuid, *bs,
              "-E", "root_owner=0:0", "-d", staging, out, size])
        return out
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# --------------------------------------------------------------------------
# (b2) a GPT disk holding the root as its partition 1 (root=PARTUUID= cases)

GPT_PART_UUID = "9d3b6e0f-42c1-4a57-b8e2-7f05c1d4a6e3"   # partition 1's unique GUID
GPT_DISK_UUID = "5e8a1f37-0c2d-4b96-a4f1-d83e2b07c5a9"
GPT_ROOT_UUID = "b4f07c2e-6a19-4d83-9e5b-12c8f3a0d7e6"   # the ext4 filesystem's
GPT_ROOT_LABEL = "earlymod-gpt"
_LINUX_FS_TYPE = "0fc63daf-8483-4772-8e79-3d69d8477de4"


def _gpt_header(block, my_lba, other_lba, first, last, entries_lba, entries):
    import struct
    import uuid
    import zlib
    hdr = struct.pack("<8sIIIIQQQQ16sQIII", b"EFI PART", 0x00010000, 92, 0, 0,
                      my_lba, other_lba, first, last, uuid.UUID(GPT_DISK_UUID).bytes_le,
                      entries_lba, len(entries) // 128, 128, zlib.crc32(entries))
    hdr = hdr[:16] + struct.pack("<I", zlib.crc32(hdr)) + hdr[20:]
    return hdr.ljust(block, b"\0")


def build_gpt_root_disk(out, block=4096, workdir=None):
    """A GPT disk at OUT laid out for BLOCK-byte logical blocks (give QEMU's
    virtio-blk-pci logical_block_size=BLOCK): protective MBR, both headers
    and entry arrays with their CRCs, and partition 1 (GUID GPT_PART_UUID)
    holding build_root_disk's ext4 root (GPT_ROOT_UUID, GPT_ROOT_LABEL,
    BLOCK-byte filesystem blocks: a filesystem block cannot be smaller than
    the device's). Written here, not by sgdisk: no further package."""
    import struct
    import uuid
    fs = build_root_disk(out + ".fs", label=GPT_ROOT_LABEL, uuid=GPT_ROOT_UUID,
                         workdir=workdir, block_size=max(block, 1024))
    try:
        fs_bytes = os.path.getsize(fs)
        fs_blocks = -(-fs_bytes // block)
        start = (1 << 20) // block                      # partition 1 at 1 MiB
        array_blocks = -(-128 * 128 // block)           # 128 entries of 128 bytes
        total = start + fs_blocks + start               # 1 MiB after it for the backup
        last = total - 1
        entry = (uuid.UUID(_LINUX_FS_TYPE).bytes_le + uuid.UUID(GPT_PART_UUID).bytes_le
                 + struct.pack("<QQQ", start, start + fs_blocks - 1, 0)
                 + "root".encode("utf-16-le").ljust(72, b"\0"))
        entries = entry.ljust(128 * 128, b"\0")
        first_usable = 2 + array_blocks
        last_usable = last - 1 - array_blocks
        mbr = bytearray(512)
        mbr[446:462] = struct.pack("<B3sB3sII", 0, b"\x00\x02\x00", 0xEE, b"\xff\xff\xff",
                                   1, min(total - 1, 0xFFFFFFFF))
        mbr[510:512] = b"\x55\xaa"
        with open(out, "wb") as f:
            f.truncate(total * block)
            f.write(bytes(mbr))
            f.seek(block)
            f.write(_gpt_header(block, 1, last, first_usable, last_usable, 2, entries))
            f.seek(2 * block)
            f.write(entries)
            f.seek((last - array_blocks) * block)
            f.write(entries)
            f.write(_gpt_header(block, last, 1, first_usable, last_usable, last - array_blocks,
                                entries))
            f.seek(start * block)
            with open(fs, "rb") as src:
                shutil.copyfileobj(src, f, 1 << 20)
        return out
    finally:
        os.unlink(fs)


# --------------------------------------------------------------------------
# (b3) a swap disk (resume= cases) and a btrfs filesystem on two disks

SWAP_UUID = "3f6d2c81-5a0e-4b7d-9c12-e48a7b0f6d25"
SWAP_LABEL = "earlymod-swap"
SWAP_SIZE = 512 << 20   # room for the hibernation image of a 1 GiB guest


def build_swap_disk(out, size=SWAP_SIZE):
    """A raw disk at OUT holding one swap area (SWAP_UUID, SWAP_LABEL) made
    by util-linux's mkswap, for 4 KiB pages."""
    with open(out, "wb") as f:
        f.truncate(size)
    _run([_which("mkswap"), "-U", SWAP_UUID, "-L", SWAP_LABEL, "-p", "4096", out])
    return out


BTRFS_UUID = "0c2b9a33-7c55-4e0b-9d1f-2a6f6e1c5b10"
BTRFS_LABEL = "earlymod-raid1"
BTRFS_SIZE = 256 << 20


def build_btrfs_raid1_disks(out1, out2):
    """Two raw disks holding one btrfs filesystem (BTRFS_UUID), data and
    metadata raid1: it mounts only with both members known to the kernel.
    Empty: mkfs.btrfs fills one only from a folder (--rootdir), and
    filling it here would mean mounting it on this machine."""
    for out in (out1, out2):
        with open(out, "wb") as f:
            f.truncate(BTRFS_SIZE)
    _run([_which("mkfs.btrfs"), "-q", "-f", "-d", "raid1", "-m", "raid1", "-U", BTRFS_UUID,
          "-L", BTRFS_LABEL, out1, out2])
    return out1, out2


# --------------------------------------------------------------------------
# (d) a damaged module tree (tests/boot/run's PID 1 safety cases)

def damage_module_tree(moddir, level, seed=6):
    """Damage the index files in MODDIR (fixed pseudo-random bytes, so that
    every run sees the same damage).

    level "bin": every modules.*.bin is broken a different way: dep.bin is
        garbage of the same size (bad magic), alias.bin and builtin.bin are
        cut short (sound header, offsets past the end), symbols.bin is
        empty; modules.dep keeps its lines but ends with a line of binary
        junk and a path cut off in the middle, without a newline.
    level "all": as "bin", and modules.dep, modules.alias and
        modules.symbols are replaced by 2 KiB of garbage (a few dozen bad
        lines each, each of which earlymod reports): no name resolves."""
    if level not in ("bin", "all"):
        raise ValueError(f"unknown damage level {level!r} (want bin or all)")
    state = [seed * 2654435761 % 2**32 or 1]

    def garbage(n):
        # xorshift32: the same bytes on every run, no import needed.
        out = bytearray()
        x = state[0]
        for _ in range(n):
            x ^= (x << 13) & 0xFFFFFFFF
            x ^= x >> 17
            x ^= (x << 5) & 0xFFFFFFFF
            out.append(x & 0xFF)
        state[0] = x
        return bytes(out)

    def path(name):
        return os.path.join(moddir, name)

    def cut(name, keep):
        with open(path(name), "r+b") as f:
            f.truncate(keep)

    size = os.path.getsize(path("modules.dep.bin"))
    with open(path("modules.dep.bin"), "wb") as f:
        f.write(garbage(size))
    cut("modules.alias.bin", os.path.getsize(path("modules.alias.bin")) // 2)
    cut("modules.builtin.bin", 64)
    cut("modules.symbols.bin", 0)
    with open(path("modules.dep"), "ab") as f:
        f.write(garbage(200).replace(b"\n", b" ") + b"\nkernel/drivers/net/ethern")
    if level == "all":
        for name in ("modules.dep", "modules.alias", "modules.symbols"):
            n = os.path.getsize(path(name))
            with open(path(name), "wb") as f:
                f.write(garbage(min(n, 2048)))


def build_broken_tree_initramfs(out, kernel, init, modules, *, level, missing=(),
                                workdir=None):
    """As build_initramfs (no busybox), then the index files damaged
    (damage_module_tree LEVEL) and the files of the modules named in MISSING
    removed (modules.dep still lists them). Returns the module paths left."""
    staging = tempfile.mkdtemp(prefix="initramfs-broken.", dir=workdir)
    try:
        _base_dirs(staging)
        shutil.copyfile(init, os.path.join(staging, "init"))
        os.chmod(os.path.join(staging, "init"), 0o755)
        mods = _stage_modules(staging, kernel, modules, None, None, ())
        for name in missing:
            hits = [p for p in mods if _module_name(p) == name]
            if not hits:
                raise RuntimeError(f"cannot remove {name}: not in the image")
            for p in hits:
                os.unlink(os.path.join(staging, p))
                mods.remove(p)
        damage_module_tree(os.path.join(staging, "lib", "modules", kernel.kver), level)
        pack_initramfs(staging, out)
        return mods
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# --------------------------------------------------------------------------
# (e) an initramfs laid out as mkinitcpio makes them (tests/mkinitcpio/run)

# mkinitcpio's initialize_buildroot: everything lives in /usr; these are links.
MKINITCPIO_LINKS = (("bin", "usr/bin"), ("sbin", "usr/bin"), ("lib", "usr/lib"),
                    ("lib64", "usr/lib"), ("usr/sbin", "bin"), ("usr/lib64", "lib"))

# The index files mkinitcpio's install_modules keeps after running depmod on
# the image (it deletes every other modules.* file).
MKINITCPIO_KEPT_INDEX = re.compile(r"^modules\.(.*\.bin|softdep|devname)$")


def build_mkinitcpio_initramfs(out, kernel, tree, init, config, modules, applets,
                               workdir=None):
    """An initramfs laid out as mkinitcpio builds one: TREE (a build root
    that build hooks filled) copied in, INIT (text) as /init, CONFIG (text)
    as /config, a static busybox with APPLETS in /usr/bin (a name TREE
    already has stays TREE's), and the closure of MODULES plus fs-ext4 under
    /usr/lib/modules/KVER, indexed as mkinitcpio does: depmod run on the
    image, then only modules.*.bin, modules.softdep and modules.devname
    kept. Returns the module paths (relative to the image root)."""
    staging = tempfile.mkdtemp(prefix="initramfs-mkinitcpio.", dir=workdir)
    try:
        for d in ("usr/bin", "usr/lib", "usr/local/bin", "etc", "tmp", "var"):
            os.makedirs(os.path.join(staging, d), exist_ok=True)
        for link, target in MKINITCPIO_LINKS:
            os.symlink(target, os.path.join(staging, link))
        # The root is mounted on /new_root, a link to /sysroot.
        os.makedirs(os.path.join(staging, "sysroot"))
        os.symlink("sysroot", os.path.join(staging, "new_root"))
        _base_dirs(staging)
        shutil.copytree(tree, staging, symlinks=True, dirs_exist_ok=True)
        mods = _stage_modules(staging, kernel, modules, None, None, ())
        _run([_which("depmod"), "-b", staging, kernel.kver])
        moddir = os.path.join(staging, "usr", "lib", "modules", kernel.kver)
        for name in os.listdir(moddir):
            if name.startswith("modules.") and not MKINITCPIO_KEPT_INDEX.match(name):
                os.unlink(os.path.join(moddir, name))
        for name, text, perm in (("init", init, 0o755), ("config", config, 0o644)):
            with open(os.path.join(staging, name), "w") as f:
                f.write(text)
            os.chmod(os.path.join(staging, name), perm)
        _add_busybox(staging, applets)
        pack_initramfs(staging, out)
        return mods
    finally:
        shutil.rmtree(staging, ignore_errors=True)
