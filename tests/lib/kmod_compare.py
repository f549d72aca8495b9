"""Running kmod's modprobe and `earlymod modprobe` with the same arguments
on a module tree, and what a FAIL report says when their stdout or exit
status differ. Used by tests/differential/run (Debian's kernel trees) and
tests/depmod-fixture/run (trees depmod indexes for the test).

    import kmod_compare
    kmod = kmod_compare.find_kmod(args.kmod)
    env = kmod_compare.modprobe_env()
    r = kmod_compare.run_on_tree(tree, ["-d", tree.root, "-S", tree.kver,
                                        "-D", "xfs"], kmod, earlymod, env, 120)
    if not kmod_compare.same(*r):
        print(kmod_compare.differences(*r))

tree is a kernel_trees.Tree: when its kmod_tree is set (a copy holding only
the text indexes, which kmod cannot read), kmod runs on that tree instead
and its modules dir is replaced by the copy's in kmod's stdout.
"""

import os
import shutil
import sys

from output_diff import short_diff
from program_run import describe_status, run_one


def find_kmod(explicit):
    """kmod's modprobe: explicit, else $KMOD_MODPROBE, else modprobe from
    PATH and the sbin folders; None when there is none."""
    cand = explicit or os.environ.get("KMOD_MODPROBE")
    if cand:
        return cand
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin:/usr/bin:/bin"
    return shutil.which("modprobe", path=path)


def earlymod_binary(arg):
    """The earlymod binary named on the command line as an absolute path
    (a bare name looked up in PATH), or None after an error message when it
    is not an executable file."""
    earlymod = os.path.abspath(arg) if os.sep in arg \
        else (shutil.which(arg) or arg)
    if not (os.path.isfile(earlymod) and os.access(earlymod, os.X_OK)):
        print(f"error: {arg} is not an executable file", file=sys.stderr)
        return None
    return earlymod


def modprobe_env():
    """The environment both programs run in: this one without
    MODPROBE_OPTIONS, in the C locale."""
    env = {k: v for k, v in os.environ.items() if k != "MODPROBE_OPTIONS"}
    env["LC_ALL"] = "C"
    return env


def run_on_tree(tree, args, kmod, earlymod, env, timeout):
    """(kmod stdout, kmod status, earlymod stdout, earlymod status) of
    `KMOD ARGS` and `EARLYMOD modprobe ARGS`; args name tree (-d ROOT)."""
    kt = tree.kmod_tree
    if kt is None:
        ko, kr = run_one([kmod] + args, env, timeout)
    else:
        # kmod on the original tree; its paths shown as the copy's.
        kargs = [a.replace(tree.root, kt.root) for a in args]
        ko, kr = run_one([kmod] + kargs, env, timeout)
        ko = ko.replace(os.fsencode(kt.moddir), os.fsencode(tree.moddir))
    eo, er = run_one([earlymod, "modprobe"] + args, env, timeout)
    return ko, kr, eo, er


def same(ko, kr, eo, er):
    """Whether the two runs of run_on_tree agree."""
    return ko == eo and kr == er


def differences(ko, kr, eo, er):
    """What a FAIL report says of two runs that differ (not indented): the
    short diff of their stdout, then both exit statuses."""
    parts = []
    if ko != eo:
        d = short_diff(ko, eo)
        parts.append(d if d else "(stdout differs)\n")
    parts.append(f"exit status: kmod {describe_status(kr)}, "
                 f"earlymod {describe_status(er)}\n")
    return "".join(parts)
