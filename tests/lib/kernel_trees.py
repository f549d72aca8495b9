"""The Debian kernel module trees the tests run on, as scripts/fetch-kernels
downloads them (once, into a cache folder) and names them.

    import kernel_trees
    for tree in kernel_trees.fetch(["generic", "cloud"]):
        tree.kind, tree.root, tree.kver, tree.moddir

fetch() exits the test with status 77 (skipped) when the package archive
cannot be reached, and 1 when fetch-kernels fails otherwise."""

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FETCH = os.path.join(REPO, "scripts", "fetch-kernels")
SKIP = 77
KINDS = ["generic", "cloud"]


class Tree:
    def __init__(self, kind, root, kver, kmod_tree=None):
        self.kind = kind          # label printed in result lines
        self.root = root
        self.kver = kver
        self.moddir = os.path.join(root, "lib", "modules", kver)
        # The tree kmod runs on instead of this one (text-only copies:
        # kmod reads only the .bin indexes).
        self.kmod_tree = kmod_tree


def fetch(kinds=KINDS):
    """One Tree per kind, in order."""
    try:
        p = subprocess.run([FETCH] + list(kinds), stdout=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, text=True)
    except OSError as e:
        print(f"error: cannot run scripts/fetch-kernels: {e}", file=sys.stderr)
        sys.exit(1)
    if p.returncode == 2:
        print("SKIP: package archive unreachable (scripts/fetch-kernels exited 2)")
        sys.exit(SKIP)
    if p.returncode != 0:
        print(f"error: scripts/fetch-kernels exited {p.returncode}", file=sys.stderr)
        sys.exit(1)
    trees = []
    for line in p.stdout.splitlines():
        f = line.split()
        if len(f) < 4:
            continue
        # KIND ROOT KVER VMLINUZ (ROOT could hold spaces)
        kind, kver = f[0], f[-2]
        root = line.split(None, 1)[1].rsplit(None, 2)[0]
        trees.append(Tree(kind, root, kver))
    if len(trees) != len(kinds):
        print("error: unexpected output from scripts/fetch-kernels", file=sys.stderr)
        sys.exit(1)
    return trees
