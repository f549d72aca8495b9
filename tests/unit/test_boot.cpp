// Boot pieces: the kernel's command line splitting, modules-load.d, root=
// forms and filesystem identity, how load outcomes are judged, and the
// init to start on the new root.
#include <doctest/doctest.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "earlymod/boot/boot.h"
#include "earlymod/boot/root_device.h"
#include "earlymod/config/kernel_params.h"
#include "earlymod/config/modules_load.h"
#include "earlymod/util/output.h"
#include "fake_kernel.h"
#include "fixture.h"
#include "tree.h"

using namespace earlymod;
using fixture::FakeKernel;

TEST_CASE("kernel parameters: yes/no keys read as systemd reads booleans, the last one wins") {
    KernelParams p;
    p.parse("earlymod.debug earlymod.coldplug=off a=0 b=no c=false d=1 e=yes f=anything g=1 g=0");
    CHECK(p.flag("earlymod.debug", false)); // bare key: on
    CHECK_FALSE(p.flag("earlymod.coldplug", true));
    CHECK_FALSE(p.flag("a", true));
    CHECK_FALSE(p.flag("b", true));
    CHECK_FALSE(p.flag("c", true));
    CHECK(p.flag("d", false));
    CHECK(p.flag("e", false));
    CHECK(p.flag("f", false));
    CHECK_FALSE(p.flag("g", true)); // the last value wins
    CHECK(p.flag("absent", true));
    CHECK_FALSE(p.flag("absent", false));
    p.parse("earlymod.debug=0");
    CHECK_FALSE(p.flag("earlymod.debug", false));
}

TEST_CASE("kernel parameters: quotes, values, the last value wins, '--' ends them") {
    KernelParams p;
    p.parse("root=/dev/vda ro \"quoted=a b\" k=\"v w\" rd.modules_load=a,b rd.modules-load=c flag -- init args=1\n");
    std::string_view v;
    REQUIRE(p.get("root", &v));
    CHECK(v == "/dev/vda");
    CHECK(p.has("ro"));
    CHECK(p.has("flag"));
    REQUIRE(p.get("quoted", &v));
    CHECK(v == "a b");
    REQUIRE(p.get("k", &v));
    CHECK(v == "v w");
    CHECK_FALSE(p.has("args"));
    Vec<std::string_view> mods;
    p.list("rd.modules_load", mods); // '-' and '_' are equal in keys
    REQUIRE(mods.size() == 3);
    CHECK(mods[2] == "c");
    p.parse("root=/dev/vdb");
    REQUIRE(p.get("root", &v));
    CHECK(v == "/dev/vdb");
}

TEST_CASE("wanted modules: command line keys first, then modules-load.d; duplicates once; masks") {
    fixture::TempDir root;
    root.write("proc/cmdline",
               "quiet rd.modules_load=xfs,virtio_blk modules-load=btrfs rd.driver.pre=ahci "
               "rdloaddriver=nvme earlymodules=xfs\n");
    root.write("etc/cmdline.d/10-extra.conf", "rd.driver.pre=first\n");
    root.write("etc/modules-load.d/b.conf", "# comment\n; also a comment\n  loop  \nxfs\n");
    root.write("usr/lib/modules-load.d/a.conf", "dummy\n");
    root.write("usr/lib/modules-load.d/b.conf", "shadowed_by_etc\n");
    root.write("lib/modules-load.d/c.conf", "masked_module\n");
    root.mkdir("etc/modules-load.d");
    std::string link = root.path() + "/etc/modules-load.d/c.conf";
    REQUIRE(symlink("/dev/null", link.c_str()) == 0);
    FsRoot fs(root.path());
    KernelParams params;
    params.load(fs);
    WantedModules w;
    w.add_from_cmdline(params);
    w.add_from_dirs(fs);
    std::string all;
    for (std::string_view n : w.names()) all += std::string(n) + " ";
    CHECK(all == "first xfs virtio_blk btrfs ahci nvme dummy loop ");
}

TEST_CASE("root= forms") {
    RootSpec s;
    REQUIRE(parse_root_spec("/dev/vda1", &s));
    CHECK(s.kind == RootSpec::path);
    REQUIRE(parse_root_spec("UUID=0a1b", &s));
    CHECK(s.kind == RootSpec::uuid);
    CHECK(s.value == "0a1b");
    REQUIRE(parse_root_spec("LABEL=root", &s));
    CHECK(s.kind == RootSpec::label);
    REQUIRE(parse_root_spec("PARTUUID=1234abcd-01", &s));
    CHECK(s.kind == RootSpec::partuuid);
    REQUIRE(parse_root_spec("8:1", &s));
    CHECK(s.number == makedev(8, 1));
    REQUIRE(parse_root_spec("0x801", &s));
    CHECK(s.number == makedev(8, 1));
    CHECK_FALSE(parse_root_spec("", &s));
    CHECK_FALSE(parse_root_spec("bogus!", &s));
    // MAJ:MIN past the kernel's 12 and 20 bits is refused, not cut to
    // another device (4294967304:0 was read as 8:0).
    REQUIRE(parse_root_spec("4095:1048575", &s));
    CHECK(s.number == makedev(4095, 1048575));
    CHECK_FALSE(parse_root_spec("4294967304:0", &s));
    CHECK_FALSE(parse_root_spec("4096:0", &s));
    CHECK_FALSE(parse_root_spec("8:1048576", &s));
    CHECK_FALSE(parse_root_spec("UUID=", &s));
}

TEST_CASE("filesystem identity from an ext4 image made by mkfs.ext4") {
    fixture::TempDir dir;
    std::string img = dir.path() + "/fs.img";
    std::string cmd =
        "mkfs.ext4 -q -F -L testroot -U 0d6f6b3c-2a1e-4c55-9e0a-2f6e3b1c7d88 '" + img + "' 4M >/dev/null 2>&1";
    if (system(cmd.c_str()) != 0) {
        MESSAGE("mkfs.ext4 unavailable: identity check not run");
        return;
    }
    FsIdentity id;
    REQUIRE(read_fs_identity(img.c_str(), &id));
    CHECK(std::string(id.type) == "ext4");
    CHECK(std::string(id.uuid) == "0d6f6b3c-2a1e-4c55-9e0a-2f6e3b1c7d88");
    CHECK(std::string(id.label) == "testroot");
    FsIdentity none;
    std::string junk = dir.path() + "/junk";
    dir.write("junk", std::string(70000, 'x'));
    CHECK_FALSE(read_fs_identity(junk.c_str(), &none));
}

namespace {

LoadTotals run_load(FakeKernel& k, std::vector<std::string> names, const char* cmdline = "") {
    fixture::TempDir root;
    fixture::write_module_tree(root, false);
    KernelParams params;
    params.parse(cmdline);
    Options opt;
    opt.sysroot = root.path();
    opt.kernel_release = "1.0";
    opt.cmdline = nullptr;
    opt.kernel = &k;
    LoadLog log(&params);
    log.attach(opt);
    Context ctx;
    REQUIRE(ctx.open(opt).ok());
    Arena a;
    Vec<std::string_view> v;
    for (auto& n : names) v.push(a.dup(n));
    return load_modules(ctx, log, v);
}

} // namespace

TEST_CASE("load outcomes: benign errors, failures reach only dependents, counts") {
    {
        FakeKernel k;
        LoadTotals t = run_load(k, {"xfs", "btrfs"});
        CHECK(t.ok());
        CHECK(t.loaded == 7); // crc32c x2 + libcrc32c + xfs, then raid6_pq + xor + btrfs
        // btrfs's load finds crc32c x2 and libcrc32c live, loaded for xfs
        // just before: each module counts once.
        CHECK(t.present == 0);
        CHECK(k.calls("libcrc32c") == 1);
    }
    {
        // ENODEV on a softdep (crc32c_intel without SSE4.2): siblings go on.
        FakeKernel k;
        k.fail("crc32c_intel", ENODEV);
        LoadTotals t = run_load(k, {"xfs"});
        CHECK(t.ok());
        CHECK(t.benign == 1);
        CHECK(k.loaded() == std::vector<std::string>{"crc32c_generic", "libcrc32c", "xfs"});
    }
    {
        // A hard dependency fails: its user is skipped, an independent
        // module still loads, and the run fails.
        FakeKernel k;
        k.fail("libcrc32c", ENOEXEC);
        LoadTotals t = run_load(k, {"xfs", "e1000e"});
        CHECK_FALSE(t.ok());
        CHECK(t.failed == 2); // libcrc32c failed, xfs skipped
        CHECK(k.loaded().back() == "e1000e");
    }
    {
        // EPERM for a module in module_blacklist=: blocked by kernel, benign.
        FakeKernel k;
        k.fail("xfs", EPERM);
        LoadTotals t = run_load(k, {"xfs"}, "module_blacklist=xfs");
        CHECK(t.ok());
        CHECK(t.benign == 1);
        // Without the kernel parameter, EPERM is a failure.
        FakeKernel k2;
        k2.fail("xfs", EPERM);
        CHECK_FALSE(run_load(k2, {"xfs"}).ok());
    }
    {
        // Unknown names fail, the others continue; builtin counts as present.
        FakeKernel k;
        LoadTotals t = run_load(k, {"nosuchmodule", "ext4", "e1000e"});
        CHECK(t.failed == 1);
        CHECK(t.present == 1);
        CHECK(t.loaded == 1);
    }
}

namespace {

struct ParallelRunResult {
    LoadTotals totals;
    std::vector<std::string> order;
};

ParallelRunResult run_parallel(FakeKernel& k, std::vector<std::string> names, unsigned jobs) {
    fixture::TempDir root;
    fixture::write_module_tree(root, true);
    Options opt;
    opt.sysroot = root.path();
    opt.kernel_release = "1.0";
    opt.cmdline = nullptr;
    opt.kernel = &k;
    LoadLog log(nullptr);
    log.attach(opt);
    Context ctx;
    REQUIRE(ctx.open(opt).ok());
    Arena a;
    Vec<std::string_view> v;
    for (auto& n : names) v.push(a.dup(n));
    ParallelRunResult r{load_modules(ctx, log, v, jobs), {}};
    r.order = k.loaded();
    return r;
}

size_t index_of(const std::vector<std::string>& v, const char* s) {
    return static_cast<size_t>(std::find(v.begin(), v.end(), s) - v.begin());
}

} // namespace

TEST_CASE("parallel loading: same modules as one at a time, dependencies first") {
    FakeKernel seq, par;
    auto a = run_parallel(seq, {"xfs", "btrfs", "e1000e", "ahci"}, 1);
    auto b = run_parallel(par, {"xfs", "btrfs", "e1000e", "ahci"}, 4);
    std::vector<std::string> sa = a.order, sb = b.order;
    std::sort(sa.begin(), sa.end());
    std::sort(sb.begin(), sb.end());
    CHECK(sa == sb);
    CHECK(b.totals.ok());
    // Hard dependencies and pre-softdeps before their users.
    CHECK(index_of(b.order, "libcrc32c") < index_of(b.order, "xfs"));
    CHECK(index_of(b.order, "crc32c_generic") < index_of(b.order, "libcrc32c"));
    CHECK(index_of(b.order, "raid6_pq") < index_of(b.order, "btrfs"));
    CHECK(index_of(b.order, "libahci") < index_of(b.order, "ahci"));
}

TEST_CASE("parallel loading: a slow module does not hold up independent ones") {
    FakeKernel k;
    k.delay("e1000e", 1500);
    uint64_t t0 = monotonic_ns();
    auto r = run_parallel(k, {"e1000e", "xfs", "ahci"}, 3);
    CHECK(r.totals.ok());
    CHECK(k.peak() >= 2);
    // Everything else finished while e1000e was still loading.
    CHECK(r.order.back() == "e1000e");
    CHECK(monotonic_ns() - t0 < 15000000000ull);
}

TEST_CASE("parallel loading: a failure skips only what needs it") {
    FakeKernel k;
    k.fail("libcrc32c", ENOEXEC);
    auto r = run_parallel(k, {"xfs", "btrfs", "e1000e"}, 2);
    CHECK_FALSE(r.totals.ok());
    CHECK(index_of(r.order, "xfs") == r.order.size());   // skipped
    CHECK(index_of(r.order, "btrfs") == r.order.size()); // skipped: needs libcrc32c too
    CHECK(index_of(r.order, "e1000e") < r.order.size()); // independent: loaded
    CHECK(r.totals.failed == 3);                         // libcrc32c, xfs, btrfs
}

TEST_CASE("parallel loading: softdep loops and dependency cycles finish") {
    FakeKernel k;
    auto r = run_parallel(k, {"ping", "a"}, 2);
    CHECK(index_of(r.order, "ping") < r.order.size());
    CHECK(index_of(r.order, "pong") < r.order.size());
    CHECK(index_of(r.order, "a") < r.order.size());
    CHECK(index_of(r.order, "b") < r.order.size());
}

// Init's choice of the program to start on the new root (pick_init), made
// before the initramfs is deleted; the new root here is a temporary
// directory, as /root is before the switch.
namespace {

struct NewRoot {
    fixture::TempDir dir;
    int fd = -1;
    NewRoot() { fd = open(dir.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC); }
    ~NewRoot() {
        if (fd >= 0) close(fd);
    }
    void program(const std::string& rel, mode_t mode = 0755) const {
        dir.write(rel, "#!/bin/sh\n");
        REQUIRE(chmod((dir.path() + "/" + rel).c_str(), mode) == 0);
    }
    void link(const std::string& rel, const std::string& target) const {
        std::string p = dir.path() + "/" + rel;
        size_t slash = rel.rfind('/');
        if (slash != std::string::npos) dir.mkdir(rel.substr(0, slash));
        REQUIRE(symlink(target.c_str(), p.c_str()) == 0);
    }
    std::string resolve(const std::string& path) const {
        char out[PATH_MAX];
        errno = 0;
        if (!resolve_in_root(fd, path, out, sizeof out)) return std::string("error: ") + strerror(errno);
        return out;
    }
};

std::string picked(const NewRoot& r, std::string_view init_param, std::string* tried = nullptr) {
    InitChoice c;
    bool ok = pick_init(r.fd, init_param, &c);
    if (tried) *tried = c.tried;
    return ok ? std::string(c.path) : std::string("none");
}

} // namespace

TEST_CASE("pick_init: init= first, then /sbin/init, /etc/init, /bin/init, /bin/sh") {
    NewRoot r;
    REQUIRE(r.fd >= 0);
    std::string tried;
    CHECK(picked(r, "", &tried) == "none");
    CHECK(tried == "/sbin/init: missing, /etc/init: missing, /bin/init: missing, /bin/sh: missing");
    r.program("bin/sh");
    CHECK(picked(r, "") == "/bin/sh");
    r.program("bin/init");
    CHECK(picked(r, "") == "/bin/init");
    r.program("sbin/init");
    CHECK(picked(r, "") == "/sbin/init");
    r.program("usr/lib/systemd/systemd");
    CHECK(picked(r, "/usr/lib/systemd/systemd") == "/usr/lib/systemd/systemd");
    // An init= that cannot start: the fallbacks, and why it was passed over.
    CHECK(picked(r, "/nonexistent", &tried) == "/sbin/init");
    CHECK(tried == "/nonexistent: missing");
}

TEST_CASE("pick_init: not executable, not a file, or a dangling link is not usable") {
    NewRoot r;
    r.program("sbin/init", 0644);
    r.dir.mkdir("etc/init");
    r.link("bin/init", "nowhere");
    std::string tried;
    CHECK(picked(r, "", &tried) == "none");
    CHECK(tried == "/sbin/init: not executable, /etc/init: not a file, /bin/init: missing, /bin/sh: missing");
}

TEST_CASE("pick_init: an absolute symlink resolves inside the new root, not in the initramfs") {
    NewRoot r;
    // /sbin/init -> /bin/sh exists in the initramfs (and on this machine),
    // not in this root: not usable, and nothing else is.
    r.link("sbin/init", "/bin/sh");
    std::string tried;
    CHECK(picked(r, "", &tried) == "none");
    CHECK(tried.find("/sbin/init: missing") == 0);
    // Once the root has its own target, the link is usable.
    r.program("lib/systemd/systemd");
    REQUIRE(unlink((r.dir.path() + "/sbin/init").c_str()) == 0);
    r.link("sbin/init", "/lib/systemd/systemd");
    CHECK(picked(r, "") == "/sbin/init");
    CHECK(r.resolve("/sbin/init") == "lib/systemd/systemd");
}

TEST_CASE("resolve_in_root: relative links, '..' and links through directories stay inside the root") {
    NewRoot r;
    r.program("usr/bin/busybox");
    r.link("bin", "usr/bin"); // a relative directory link
    r.link("usr/bin/sh", "busybox");
    r.link("sbin/init", "../../../../bin/sh"); // climbs past the root: stays at it
    r.link("etc/init", "/usr/bin/../bin/./sh");
    CHECK(r.resolve("/bin/sh") == "usr/bin/busybox");
    CHECK(r.resolve("/sbin/init") == "usr/bin/busybox");
    CHECK(r.resolve("/etc/init") == "usr/bin/busybox");
    CHECK(r.resolve("/../../usr//bin/") == "usr/bin");
    CHECK(r.resolve("/") == "");
    CHECK(r.resolve("relative/missing") == std::string("error: ") + strerror(ENOENT));
    CHECK(r.resolve("/usr/bin/busybox/x") == std::string("error: ") + strerror(ENOTDIR));
    CHECK(picked(r, "") == "/sbin/init");
}

TEST_CASE("resolve_in_root: a symlink loop ends with ELOOP after at most 40 links") {
    NewRoot r;
    r.link("a", "b");
    r.link("b", "/a");
    CHECK(r.resolve("/a") == std::string("error: ") + strerror(ELOOP));
    std::string tried;
    CHECK(picked(r, "/a", &tried) == "none");
    CHECK(tried.find(std::string("/a: ") + strerror(ELOOP)) == 0);
    // A chain of 40 links resolves; 41 do not.
    r.program("target");
    for (int i = 0; i < 41; ++i) r.link("l" + std::to_string(i), i == 0 ? "/target" : "l" + std::to_string(i - 1));
    CHECK(r.resolve("/l39") == "target");
    CHECK(r.resolve("/l40") == std::string("error: ") + strerror(ELOOP));
}
