"""The modprobe cases of the differential test on Debian's kernel trees
(tests/differential/run runs them all against kmod; tests/valgrind/run
runs a sample under memcheck): cases 1-4 from a tree's indexes, case 5 from
modprobe.d files written for the test, and the tree copies some of them
also run on.

    import kernel_tree_cases as cases
    conf = cases.write_configs(tmp)
    cases.tree_cases(tree, cases.module_names(tree.moddir), queries)
    cases.config_cases(conf)
    cases.make_stripped(tree, tmp), cases.make_text_only(tree, tmp)
"""

import os

import aliasgen
from case_args import many as chunked, slug
from kernel_trees import Tree
from tree_variants import (MODULE_SUFFIXES, copy_moddir, keep_stripped,
                           keep_text_only)

# Single lookups run on every tree (names missing from a tree are fine: both
# programs must then fail the same way).
INTERESTING = ["btrfs", "xfs", "ext4", "libcrc32c", "crc32c", "virtio_blk",
               "virtio-blk", "snd-hda-intel", "snd_hda_intel", "fs-xfs",
               "crypto-crc32c"]


def strip_suffix(base):
    """Module name of a module file name (xfs.ko.xz -> xfs)."""
    for suf in MODULE_SUFFIXES:
        if base.endswith(suf):
            return base[:-len(suf)]
    return base


def module_names(moddir):
    """Module names of modules.dep, in file order."""
    names = []
    with open(os.path.join(moddir, "modules.dep"), encoding="utf-8",
              errors="surrogateescape") as f:
        for line in f:
            path = line.split(":", 1)[0].strip()
            if not path:
                continue
            names.append(strip_suffix(os.path.basename(path)))
    return names


def swap_dash(name):
    return name.translate(str.maketrans("-_", "_-"))


def first_symbols(moddir, n):
    """A few symbol:NAME aliases from modules.symbols, spread over the file."""
    path = os.path.join(moddir, "modules.symbols")
    syms = []
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 3 and fields[0] == "alias":
                    syms.append(fields[1])
    except OSError:
        return []
    if not syms:
        return []
    step = max(1, len(syms) // n)
    return syms[::step][:n]


def builtin_names(moddir):
    """A plain builtin module and one with '-' in its name, if any."""
    out = []
    try:
        with open(os.path.join(moddir, "modules.builtin"),
                  encoding="utf-8", errors="surrogateescape") as f:
            names = [strip_suffix(os.path.basename(l.strip()))
                     for l in f if l.strip()]
    except OSError:
        return out
    if names:
        out.append(names[0])
    dashed = [n for n in names if "-" in n]
    if dashed:
        out.append(dashed[0])
    return out


def builtin_aliases(moddir, n=2):
    """Aliases of builtin modules, from modules.builtin.modinfo."""
    out = []
    try:
        with open(os.path.join(moddir, "modules.builtin.modinfo"), "rb") as f:
            data = f.read()
    except OSError:
        return out
    for rec in data.split(b"\0"):
        key, _, val = rec.partition(b"=")
        if key.endswith(b".alias") and val and b"*" not in val:
            s = val.decode("utf-8", "surrogateescape")
            if aliasgen.usable(s) and s not in out:
                out.append(s)
                if len(out) >= n:
                    break
    return out

def copy_tree(tree, tmp, label, keep):
    """Copy of the tree's modules dir with the index files for which
    keep(name) is true (copied) and the module files (symlinked)."""
    root = os.path.join(tmp, label + "-" + tree.kind)
    copy_moddir(tree.moddir, os.path.join(root, "lib", "modules", tree.kver),
                keep, link_modules=True)
    return root


def make_stripped(tree, tmp):
    """Copy of the tree as an initramfs keeps it: modules.*.bin,
    modules.softdep, modules.devname and the module files (symlinked)."""
    root = copy_tree(tree, tmp, "stripped", keep_stripped)
    return Tree(tree.kind + "-stripped", root, tree.kver)


def make_text_only(tree, tmp):
    """Copy of the tree with the text indexes only (no *.bin) and the
    module files (symlinked); kmod keeps running on the original."""
    root = copy_tree(tree, tmp, "textonly", keep_text_only)
    return Tree(tree.kind + "-textonly", root, tree.kver, kmod_tree=tree)


def is_showconfig(case):
    return any(a in ("-c", "--showconfig", "--show-config") for a in case.args)


# --------------------------------------------------------------------------
# Configuration files for the -C cases (modprobe.d(5) syntax)

BASIC_CONF = r"""# Comment in column 0: ignored.
   # '#' not in column 0: kmod takes this for a bad line (ignored with an error)
alias myfs xfs
alias myfs-alt* btrfs
alias my-dash-alias xfs
alias fs-wild[0-9] loop
alias fs-neg[!a-z]x loop
alias fs-q?? nbd
# An alias shadowing a real module name: ext4 now means xfs.
alias ext4 xfs
# An alias shadowing an alias of modules.alias.
alias crc32c libcrc32c
alias pci:v0000DEADd* virtio_blk
alias two-targets xfs
alias two-targets btrfs
alias a b c
options xfs opt1=1
options	xfs	opt2=2		opt3="x y"
options myfs viaalias=1
options my_dash_alias dashed=1
options snd-pcsp index=-3
options btrfs \
	cont1=1 \
   cont2=2
options xfs trailing=1 # not a comment: kept in the options
# A comment that ends in a backslash swallows the next line \
alias swallowed xfs

frobnicate xfs
alias onlyone
options
options lonely
blacklist
install
remove
softdep
softdep nbd
"""

CMDS_CONF = r"""# install / remove / blacklist / softdep
install virtio_blk /bin/echo inst $CMDLINE_OPTS; /sbin/modprobe --ignore-install virtio_blk $CMDLINE_OPTS
remove virtio_blk /bin/echo removing virtio_blk
install nbd /bin/echo nbd-install [$CMDLINE_OPTS] [$CMDLINE_OPTS]
install zram /bin/true
remove zram /bin/false
options nbd nbds_max=4
# A dependency with an install command (libcrc32c is needed by xfs).
install libcrc32c /bin/echo libcrc32c-install
# A dependency (of virtio_blk) with an install command and options: used
# even with -i, which only concerns the module asked for.
install virtio_ring /bin/echo ring $CMDLINE_OPTS
options virtio_ring r=1
# Blacklist: applies to aliases always, to plain names only with -b.
blacklist dummy
alias dumdum dummy
blacklist isofs
blacklist raid1
# A blacklisted hard dependency (of zram) is still loaded.
blacklist zsmalloc
# Soft dependencies, with a cycle ifb -> loop -> ifb.
softdep ifb pre: dummy post: loop
softdep loop pre: ifb
softdep fuse pre: nosuchmodule post: fs-iso9660
softdep vfat pre: msdos msdos post:
softdep msdos post: fat isofs
# softdep wins over an install command of the same module.
softdep zram pre: loop
softdep dm-crypt pre: dm-mod post: nbd
install dm_crypt /bin/false
"""

DIR_FILES = {
    "10-alias.conf": "alias dirfs xfs\noptions xfs from=10\n",
    "20-options.conf": "options xfs from=20\nalias dirfs btrfs\n",
    "05-first.conf": "options xfs from=05\nblacklist loop\n"
                     "alias dirloop loop\n",
    "30-empty.conf": "",
    "40-noeol.conf": "alias noeol nbd",
    "notes.txt": "alias fromtxt xfs\n",
    "50-backup.conf.bak": "alias frombak xfs\n",
    ".hidden.conf": "alias fromhidden xfs\n",
}
DIR2_FILES = {
    "10-alias.conf": "alias dirfs ext4\noptions xfs from=dir2\n",
    "60-more.conf": "alias dir2only isofs\n",
}


def write_configs(tmp):
    cfg = os.path.join(tmp, "conf")
    os.makedirs(cfg)
    paths = {}
    for name, text in (("basic.conf", BASIC_CONF), ("cmds.conf", CMDS_CONF)):
        p = os.path.join(cfg, name)
        with open(p, "w") as f:
            f.write(text)
        paths[name] = p
    d = os.path.join(cfg, "dir.d")
    os.makedirs(os.path.join(d, "sub.conf"))
    with open(os.path.join(d, "sub.conf", "inner.conf"), "w") as f:
        f.write("alias frominner xfs\n")
    for name, text in DIR_FILES.items():
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    d2 = os.path.join(cfg, "dir2.d")
    os.makedirs(d2)
    for name, text in DIR2_FILES.items():
        with open(os.path.join(d2, name), "w") as f:
            f.write(text)
    paths["dir.d"] = d
    paths["dir2.d"] = d2
    return paths


CONF_NAMES = {
    "basic": ["myfs", "myfs-alt-x", "myfs_alt", "my-dash-alias",
              "my_dash_alias", "fs-wild7", "fs-wildx", "fs-neg1x", "fs-negax",
              "fs-qab", "fs-q1", "ext4", "crc32c", "pci:v0000DEADd00001234",
              "two-targets", "a", "swallowed", "xfs", "btrfs", "onlyone",
              "lonely", "nbd", "snd-pcsp"],
    "cmds": ["virtio_blk", "virtio-blk", "virtio_ring", "nbd", "zram", "xfs", "libcrc32c",
             "dummy", "dumdum", "isofs", "fs-iso9660", "raid1", "md-level-1",
             "ifb", "loop", "fuse", "vfat", "msdos", "dm-crypt", "dm_mod"],
    "dir": ["dirfs", "dirloop", "loop", "noeol", "fromtxt", "frombak",
            "fromhidden", "frominner", "dir2only", "xfs"],
}


# --------------------------------------------------------------------------
# Cases

class Case:
    def __init__(self, name, args, raw=False):
        self.name = name
        self.args = args
        self.raw = raw    # args already hold -d/-S (else they are prepended)

def many(name, flags, words):
    """Cases running flags over words (several when the list is long)."""
    return chunked(name, flags, words,
                   lambda n, f, w: Case(n, f + w))


def tree_cases(tree, names, queries):
    """Cases 1-4: they need only the indexes (so they also run stripped)."""
    cases = []
    # 1. every module, then with '-' and '_' swapped
    cases += many("all-modules:-a,-D", ["-a", "-D"], names)
    cases += many("all-modules:-a,-R", ["-a", "-R"], names)
    swapped = [swap_dash(n) for n in names if ("-" in n or "_" in n)]
    cases += many("all-modules-swapped:-a,-D", ["-a", "-D"], swapped)

    # 2. alias queries instantiated from modules.alias
    cases += many(f"alias-queries({len(queries)}):-a,-D", ["-a", "-D"],
                  queries)
    cases += many(f"alias-queries({len(queries)}):-a,-R", ["-a", "-R"],
                  queries)
    unknown = ["pci:vFFFFFFFFdFFFFFFFFsvXsdXbcXscXiX", "usb:nomatch",
               "nosuch-alias", "platform:nosuchdevice"]
    cases += [Case("alias-unknown:-a,-D", ["-a", "-D"] + unknown),
              Case("alias-unknown:-a,-R", ["-a", "-R"] + unknown)]

    # 3. single lookups
    moddir = tree.moddir
    single = list(INTERESTING)
    single += first_symbols(moddir, 2)
    single += builtin_names(moddir)
    single += builtin_aliases(moddir)
    single += ["symbol:nosuchsymbol_xyz"]
    for n in single:
        for flags in (["-D"], ["-R"], ["-b", "-D"], ["-i", "-D"],
                      ["-q", "-D"], ["-b", "-R"]):
            cases.append(Case("lookup:" + slug(flags + [n]), flags + [n]))
    extra = [
        ["-D", "xfs", "foo=1", "bar=a b"],
        ["-D", "xfs", "q=\"x y\"", "flag", "e="],
        ["-D", "fs-xfs", "p=1"],
        ["-D", "btrfs", "x=1", "y='single quoted'"],
        ["-R", "xfs", "foo=1"],
        ["-D", "nosuchmodule"],
        ["-R", "nosuchmodule"],
        ["-q", "-R", "nosuchmodule"],
        ["-D", "nosuchmodule", "p=1"],
        ["-a", "-D", "xfs", "nosuch", "btrfs"],
        ["-a", "-R", "xfs", "nosuch", "btrfs"],
        ["-a", "-D", "nosuch"],
        ["-a", "-q", "-D", "nosuch", "xfs"],
        ["-a", "-D", "xfs", "xfs", "fs-xfs"],
        ["-a", "-D", "xfs", "foo=1"],
        ["-D", "foo]"],
        ["-R", "pci:v["],
        ["-D", ""],
        ["-D"],
        ["-R"],
        ["-D", "xfs", "btrfs"],
        ["--show-depends", "ext4"],
        ["--resolve-alias", "fs-ext4"],
        ["--use-blacklist", "--show-depends", "fs-btrfs"],
        ["--ignore-install", "--show-depends", "libcrc32c"],
        ["-D", "--", "xfs"],
    ]
    for a in extra:
        cases.append(Case("lookup:" + slug(a), a))
    cases.append(Case("lookup:--dirname,--set-version,--show-depends,btrfs",
                      ["--dirname", tree.root, "--set-version", tree.kver,
                       "--show-depends", "btrfs"], raw=True))
    cases.append(Case("lookup:--dirname=,--set-version=,-R,fs-btrfs",
                      ["--dirname=" + tree.root, "--set-version=" + tree.kver,
                       "-R", "fs-btrfs"], raw=True))

    # 4. showconfig
    cases.append(Case("showconfig:-c", ["-c"]))
    cases.append(Case("showconfig:--showconfig", ["--showconfig"]))
    cases.append(Case("showconfig:--show-config,-b,-i", ["--show-config",
                                                       "-b", "-i"]))
    return cases


def config_cases(conf):
    """Case 5: -C with modprobe.d files written for the test."""
    cases = []
    sets = [
        ("basic", ["-C", conf["basic.conf"]], CONF_NAMES["basic"]),
        ("cmds", ["-C", conf["cmds.conf"]], CONF_NAMES["cmds"]),
        ("dir", ["-C", conf["dir.d"]], CONF_NAMES["dir"]),
        ("dir+dir2", ["-C", conf["dir.d"], "-C", conf["dir2.d"]],
         CONF_NAMES["dir"]),
        ("basic+cmds", ["-C", conf["basic.conf"], "-C", conf["cmds.conf"]],
         ["myfs", "ext4", "nbd", "xfs", "crc32c", "dumdum", "ifb"]),
    ]
    for label, cflags, names in sets:
        cases.append(Case(f"conf-{label}:-c", cflags + ["-c"]))
        for n in names:
            for flags in (["-D"], ["-R"], ["-b", "-D"], ["-i", "-D"],
                          ["-b", "-R"]):
                cases.append(Case(f"conf-{label}:" + slug(flags + [n]),
                                  cflags + flags + [n]))
    b, c = ["-C", conf["basic.conf"]], ["-C", conf["cmds.conf"]]
    extra = [
        ("basic", b, ["-D", "myfs", "cli=1", "s=a b"]),
        ("basic", b, ["-D", "ext4", "cli=1"]),
        ("basic", b, ["-a", "-D", "myfs", "my-dash-alias", "two-targets"]),
        ("basic", b, ["-a", "-R", "myfs", "nosuch", "two-targets"]),
        ("cmds", c, ["-D", "virtio_blk", "x=1", "y=a b"]),
        ("cmds", c, ["-D", "nbd", "x=1"]),
        ("cmds", c, ["-i", "-D", "nbd", "x=1"]),
        ("cmds", c, ["-D", "xfs", "x=1"]),
        ("cmds", c, ["-a", "-D", "nbd", "virtio_ring", "virtio_blk"]),
        ("cmds", c, ["-a", "-D", "dumdum", "dummy", "ifb"]),
        ("cmds", c, ["-a", "-b", "-D", "dumdum", "dummy", "xfs"]),
        ("cmds", c, ["-a", "-b", "-R", "dumdum", "dummy", "xfs"]),
        ("cmds", c, ["-q", "-b", "-D", "dummy"]),
        ("cmds", c, ["-b", "-i", "-D", "zram"]),
    ]
    for label, cflags, a in extra:
        cases.append(Case(f"conf-{label}:" + slug(a), cflags + a))
    # Missing config path: kmod goes on without it.
    cases.append(Case("conf-missing:-D,xfs",
                      ["-C", conf["basic.conf"] + ".missing", "-D", "xfs"]))
    cases.append(Case("conf-missing:-c",
                      ["-C", conf["basic.conf"] + ".missing", "-c"]))
    return cases
