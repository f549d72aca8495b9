// Boot pieces: the kernel's command line splitting, modules-load.d, root=
// forms and filesystem identity, and how load outcomes are judged.
#include <doctest/doctest.h>

#include <errno.h>
#include <stdlib.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#include "earlymod/boot.h"
#include "earlymod/kernel_params.h"
#include "earlymod/modules_load.h"
#include "earlymod/output.h"
#include "earlymod/root_device.h"
#include "fixture.h"
#include "tree.h"

using namespace earlymod;

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
    p.list("rd.modules_load", mods);  // '-' and '_' are equal in keys
    REQUIRE(mods.size() == 3);
    CHECK(mods[2] == "c");
    p.parse("root=/dev/vdb");
    REQUIRE(p.get("root", &v));
    CHECK(v == "/dev/vdb");
}

TEST_CASE("wanted modules: command line keys first, then modules-load.d; duplicates once; masks") {
    fixture::TempDir root;
    root.write("proc/cmdline", "quiet rd.modules_load=xfs,virtio_blk modules-load=btrfs rd.driver.pre=ahci "
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
    CHECK_FALSE(parse_root_spec("UUID=", &s));
}

TEST_CASE("filesystem identity from an ext4 image made by mkfs.ext4") {
    fixture::TempDir dir;
    std::string img = dir.path() + "/fs.img";
    std::string cmd = "mkfs.ext4 -q -F -L testroot -U 0d6f6b3c-2a1e-4c55-9e0a-2f6e3b1c7d88 '" + img +
                      "' 4M >/dev/null 2>&1";
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

// A kernel that fails chosen modules with chosen errors, and remembers
// what it loaded (so that a second request finds the module live).
struct FaultyKernel : Kernel {
    std::vector<std::pair<std::string, int>> faults;
    std::vector<std::string> loaded;
    std::vector<std::string> live;
    Error load(const char* host, std::string_view, std::string_view, unsigned) override {
        std::string name = host;
        for (auto& [mod, err] : faults)
            if (name.find("/" + mod + ".ko") != std::string::npos) return Error::make(err, "%s", strerror(err));
        std::string file = name.substr(name.rfind('/') + 1);
        loaded.push_back(file);
        std::string mod = file.substr(0, file.find('.'));
        for (char& c : mod)
            if (c == '-') c = '_';
        live.push_back(mod);
        return {};
    }
    Error unload(std::string_view, bool) override { return {}; }
    ModuleState state(std::string_view name) override {
        for (auto& l : live)
            if (l == name) return ModuleState::live;
        return ModuleState::absent;
    }
    long refcount(std::string_view) override { return 0; }
};

LoadTotals run_load(FaultyKernel& k, std::vector<std::string> names, const char* cmdline = "") {
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
        FaultyKernel k;
        LoadTotals t = run_load(k, {"xfs", "btrfs"});
        CHECK(t.ok());
        CHECK(t.loaded == 7);  // crc32c x2 + libcrc32c + xfs, then raid6_pq + xor + btrfs
        CHECK(t.present == 3);  // btrfs finds crc32c x2 and libcrc32c live
    }
    {
        // ENODEV on a softdep (crc32c_intel without SSE4.2): siblings go on.
        FaultyKernel k;
        k.faults = {{"crc32c-intel", ENODEV}};
        LoadTotals t = run_load(k, {"xfs"});
        CHECK(t.ok());
        CHECK(t.benign == 1);
        CHECK(k.loaded == std::vector<std::string>{"crc32c_generic.ko", "libcrc32c.ko", "xfs.ko"});
    }
    {
        // A hard dependency fails: its user is skipped, an independent
        // module still loads, and the run fails.
        FaultyKernel k;
        k.faults = {{"libcrc32c", ENOEXEC}};
        LoadTotals t = run_load(k, {"xfs", "e1000e"});
        CHECK_FALSE(t.ok());
        CHECK(t.failed == 2);  // libcrc32c failed, xfs skipped
        CHECK(k.loaded.back() == "e1000e.ko");
    }
    {
        // EPERM for a module in module_blacklist=: blocked by kernel, benign.
        FaultyKernel k;
        k.faults = {{"xfs", EPERM}};
        LoadTotals t = run_load(k, {"xfs"}, "module_blacklist=xfs");
        CHECK(t.ok());
        CHECK(t.benign == 1);
        // Without the kernel parameter, EPERM is a failure.
        FaultyKernel k2;
        k2.faults = {{"xfs", EPERM}};
        CHECK_FALSE(run_load(k2, {"xfs"}).ok());
    }
    {
        // Unknown names fail, the others continue; builtin counts as present.
        FaultyKernel k;
        LoadTotals t = run_load(k, {"nosuchmodule", "ext4", "e1000e"});
        CHECK(t.failed == 1);
        CHECK(t.present == 1);
        CHECK(t.loaded == 1);
    }
}

namespace {

// A kernel whose loads take time and can fail, safe to call from several
// threads; records the peak number of loads in flight.
struct SlowKernel : Kernel {
    std::mutex lock;
    std::vector<std::pair<std::string, int>> faults;
    std::vector<std::pair<std::string, int>> delays_ms;
    std::vector<std::string> loaded;
    int in_flight = 0, peak = 0;
    Error load(const char* host, std::string_view, std::string_view, unsigned) override {
        std::string name = host;
        std::string file = name.substr(name.rfind('/') + 1);
        std::string mod = file.substr(0, file.find('.'));
        for (char& c : mod)
            if (c == '-') c = '_';
        int delay = 0, fault = 0;
        for (auto& [m, d] : delays_ms)
            if (m == mod) delay = d;
        for (auto& [m, e] : faults)
            if (m == mod) fault = e;
        {
            std::lock_guard<std::mutex> g(lock);
            peak = std::max(peak, ++in_flight);
        }
        if (delay) usleep(static_cast<useconds_t>(delay) * 1000);
        std::lock_guard<std::mutex> g(lock);
        --in_flight;
        if (fault) return Error::make(fault, "%s", strerror(fault));
        loaded.push_back(mod);
        return {};
    }
    Error unload(std::string_view, bool) override { return {}; }
    ModuleState state(std::string_view name) override {
        std::lock_guard<std::mutex> g(lock);
        for (auto& l : loaded)
            if (l == name) return ModuleState::live;
        return ModuleState::absent;
    }
    long refcount(std::string_view) override { return 0; }
};

struct ParallelRunResult {
    LoadTotals totals;
    std::vector<std::string> order;
};

ParallelRunResult run_parallel(SlowKernel& k, std::vector<std::string> names, unsigned jobs) {
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
    r.order = k.loaded;
    return r;
}

size_t index_of(const std::vector<std::string>& v, const char* s) {
    return static_cast<size_t>(std::find(v.begin(), v.end(), s) - v.begin());
}

} // namespace

TEST_CASE("parallel loading: same modules as one at a time, dependencies first") {
    SlowKernel seq, par;
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
    SlowKernel k;
    k.delays_ms = {{"e1000e", 1500}};
    uint64_t t0 = monotonic_ns();
    auto r = run_parallel(k, {"e1000e", "xfs", "ahci"}, 3);
    CHECK(r.totals.ok());
    CHECK(k.peak >= 2);
    // Everything else finished while e1000e was still loading.
    CHECK(r.order.back() == "e1000e");
    CHECK(monotonic_ns() - t0 < 15000000000ull);
}

TEST_CASE("parallel loading: a failure skips only what needs it") {
    SlowKernel k;
    k.faults = {{"libcrc32c", ENOEXEC}};
    auto r = run_parallel(k, {"xfs", "btrfs", "e1000e"}, 2);
    CHECK_FALSE(r.totals.ok());
    CHECK(index_of(r.order, "xfs") == r.order.size());    // skipped
    CHECK(index_of(r.order, "btrfs") == r.order.size());  // skipped: needs libcrc32c too
    CHECK(index_of(r.order, "e1000e") < r.order.size());  // independent: loaded
    CHECK(r.totals.failed == 3);                           // libcrc32c, xfs, btrfs
}

TEST_CASE("parallel loading: softdep loops and dependency cycles finish") {
    SlowKernel k;
    auto r = run_parallel(k, {"ping", "a"}, 2);
    CHECK(index_of(r.order, "ping") < r.order.size());
    CHECK(index_of(r.order, "pong") < r.order.size());
    CHECK(index_of(r.order, "a") < r.order.size());
    CHECK(index_of(r.order, "b") < r.order.size());
}
