"""Copies of a module tree that keep only some of its index files: what an
initramfs keeps (the .bin indexes, `stripped`) or the text indexes only
(`textonly`, no *.bin). Used by tests/differential/run on Debian's kernel
trees and by tests/depmod-fixture/run on the trees it builds.

    import tree_variants
    tree_variants.copy_moddir(src_moddir, dst_moddir,
                              tree_variants.keep_stripped, link_modules=True)
"""

import os
import shutil

MODULE_SUFFIXES = (".ko.xz", ".ko.zst", ".ko.gz", ".ko")

TEXT_INDEXES = ("modules.dep", "modules.alias", "modules.symbols",
                "modules.builtin", "modules.softdep", "modules.order",
                "modules.builtin.modinfo", "modules.devname")


def keep_stripped(entry):
    """Index files an initramfs keeps: modules.*.bin, modules.softdep and
    modules.devname."""
    return ((entry.startswith("modules.") and entry.endswith(".bin"))
            or entry in ("modules.softdep", "modules.devname"))


def keep_text_only(entry):
    """The text indexes (earlymod reads them when there is no *.bin)."""
    return entry in TEXT_INDEXES


def copy_moddir(src, dst, keep, link_modules):
    """Copy of the modules dir src at dst (created) with the files of its
    top level for which keep(name) is true, and its subfolders: with
    link_modules, only their module files, as symlinks (a kernel tree's
    modules are large), else copied whole."""
    os.makedirs(dst)
    for entry in sorted(os.listdir(src)):
        p = os.path.join(src, entry)
        if os.path.isdir(p):
            if not link_modules:
                shutil.copytree(p, os.path.join(dst, entry))
                continue
            for dirpath, _dirs, files in os.walk(p):
                rel = os.path.relpath(dirpath, src)
                os.makedirs(os.path.join(dst, rel), exist_ok=True)
                for fn in files:
                    if fn.endswith(MODULE_SUFFIXES):
                        os.symlink(os.path.join(dirpath, fn),
                                   os.path.join(dst, rel, fn))
        elif keep(entry):
            shutil.copy2(p, os.path.join(dst, entry))
