"""Initramfs images made by the generators people use, with and without
earlymod: Debian's dracut and initramfs-tools, and scripts/mkinitramfs.
Used by tests/generators/run (boots them) and scripts/bench-images
(compares their sizes).

Nothing touches the build host's /boot or /lib/modules:
  - dracut takes the kernel's module tree with --kmoddir, and its modules
    from a copy of its own directory (dracutbasedir) with earlymod's module
    beside them;
  - initramfs-tools' mkinitramfs reads /lib/modules/KVER and /boot/config-KVER
    only, so it runs in a private mount namespace (unshare -m, as root) where
    an overlay over /usr/lib holds the kernel's tree at that path and /boot is
    the kernel package's; the host sees none of it.
"""

import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "boot"))
import images  # noqa: E402

DRACUT_MODULE = os.path.join(REPO, "initramfs", "dracut", "90earlymod")
ITOOLS_DIR = os.path.join(REPO, "initramfs", "initramfs-tools")
MKINITRAMFS = os.path.join(REPO, "scripts", "mkinitramfs")
# The modules the test images carry: the root disk's drivers and
# filesystem, and xfs for rd.modules_load=xfs.
TEST_MODULES = ("virtio_pci", "virtio_blk", "ext4", "xfs")


class Unavailable(Exception):
    """A generator or a right it needs is missing."""


def _tool(name, package):
    p = shutil.which(name, path=os.environ.get("PATH", "") + ":/sbin:/usr/sbin")
    if not p:
        raise Unavailable(f"{name} is missing (Debian package {package})")
    return p


def _run(cmd, log_path, env=None):
    with open(log_path, "w") as log:
        r = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    if r.returncode != 0:
        with open(log_path, errors="replace") as f:
            tail = "".join(f.readlines()[-20:])
        raise RuntimeError(f"{' '.join(cmd)} exited {r.returncode} (log {log_path}):\n{tail}")


def dracut_image(kernel, out, workdir, earlymod=None, modules=TEST_MODULES):
    """A dracut image for KERNEL at OUT. With EARLYMOD (the binary), dracut's
    earlymod module is added; without, it is the same image with kmod.
    MODULES: --drivers (only these and what they need), or None for dracut's
    default module set (every driver a generic image carries)."""
    dracut = _tool("dracut", "dracut-core")
    base = os.path.join(workdir, "dracut-base")
    if not os.path.isdir(base):
        shutil.copytree("/usr/lib/dracut", base, symlinks=True)
        os.symlink(DRACUT_MODULE, os.path.join(base, "modules.d", "90earlymod"))
    confdir = os.path.join(workdir, "dracut.conf.d")
    os.makedirs(confdir, exist_ok=True)
    env = dict(os.environ, dracutbasedir=base)
    cmd = [dracut, "--force", "--no-hostonly", "--conf", "/dev/null", "--confdir", confdir,
           "--tmpdir", workdir, "--kmoddir", images.modules_dir(kernel)]
    if modules is not None:
        cmd += ["--drivers", " ".join(modules)]
    if earlymod:
        env["EARLYMOD_BINARY"] = earlymod
        cmd += ["--add", "earlymod"]
    else:
        cmd += ["--omit", "earlymod"]
    cmd += [out, kernel.kver]
    _run(cmd, out + ".log", env)
    return out


def initramfs_tools_image(kernel, out, workdir, earlymod=None, modules=TEST_MODULES):
    """An initramfs-tools image for KERNEL at OUT (MODULES=list with MODULES,
    or MODULES=most when MODULES is None). With EARLYMOD, earlymod's hook and
    init-top script are in the configuration directory."""
    mkinitramfs = _tool("mkinitramfs", "initramfs-tools-core")
    _tool("unshare", "util-linux")
    if os.geteuid() != 0:
        raise Unavailable("initramfs-tools images are built in a mount namespace: run as root")
    conf = tempfile.mkdtemp(prefix="itools-conf.", dir=workdir)
    for d in ("conf.d", "hooks", "scripts/init-top"):
        os.makedirs(os.path.join(conf, d), exist_ok=True)
    with open(os.path.join(conf, "initramfs.conf"), "w") as f:
        f.write(f"MODULES={'most' if modules is None else 'list'}\nBUSYBOX=auto\nCOMPRESS=gzip\n")
    with open(os.path.join(conf, "modules"), "w") as f:
        f.write("".join(m + "\n" for m in (modules or ())))
    env = dict(os.environ, TMPDIR=workdir)
    if earlymod:
        shutil.copy2(os.path.join(ITOOLS_DIR, "hooks", "earlymod"), os.path.join(conf, "hooks"))
        shutil.copy2(os.path.join(ITOOLS_DIR, "scripts", "init-top", "earlymod"),
                     os.path.join(conf, "scripts", "init-top"))
        env["EARLYMOD_BINARY"] = earlymod
    ns = tempfile.mkdtemp(prefix="itools-ns.", dir=workdir)
    moddir = f"/usr/lib/modules/{kernel.kver}"
    script = f"""set -e
mount -t tmpfs tmpfs '{ns}'
mkdir -p '{ns}/upper' '{ns}/work'
mount -t overlay overlay -o 'lowerdir=/usr/lib,upperdir={ns}/upper,workdir={ns}/work' /usr/lib
mkdir -p '{moddir}'
mount --bind '{images.modules_dir(kernel)}' '{moddir}'
mount --bind '{os.path.join(kernel.root, "boot")}' /boot
exec '{mkinitramfs}' -d '{conf}' -o '{out}' '{kernel.kver}'
"""
    _run(["unshare", "-m", "--propagation", "private", "sh", "-c", script], out + ".log", env)
    return out


def earlymod_image(kernel, out, earlymod, modules=TEST_MODULES, modalias_file=None):
    """scripts/mkinitramfs's image: earlymod as /init, MODULES, and the
    modules for the modaliases in MODALIAS_FILE (not this host's)."""
    cmd = [sys.executable, MKINITRAMFS, "-o", out, "-b", kernel.root, "-k", kernel.kver,
           "--earlymod", earlymod, "--no-hardware", "-m", ",".join(modules)]
    if modalias_file:
        cmd += ["--modalias-file", modalias_file]
    _run(cmd, out + ".log")
    return out


def list_image(path):
    """The image's entries as lsinitrd/lsinitramfs show them ("ls -l" lines),
    for any image the generators write (early cpio + compressed main)."""
    lsinitramfs = _tool("lsinitramfs", "initramfs-tools-core")
    r = subprocess.run([lsinitramfs, "-l", path], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"lsinitramfs -l {path} exited {r.returncode}: {r.stdout[-2000:]}")
    return r.stdout.splitlines()
