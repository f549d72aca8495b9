// The load engine (load_engine.h) as `earlymod load`, coldplug and init
// use it: the blacklist on listed names, one outcome per module per run,
// names submitted while loads run, and the cause of a failure as data.
#include <doctest/doctest.h>

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "../../src/cli/commands.h"
#include "earlymod/boot/boot.h"
#include "earlymod/engine/load_engine.h"
#include "fake_kernel.h"
#include "tree.h"
#include "watchdog.h"

using namespace earlymod;
using fixture::capture;
using fixture::FakeKernel;

namespace {

// `earlymod load -n` over the fixture tree, with this kernel command line
// (ROOT/proc/cmdline) and modprobe.d text added.
fixture::Captured load_dry_run(const std::string& cmdline, const std::string& conf = "") {
    fixture::TempDir root;
    fixture::write_module_tree(root, true);
    root.write("proc/cmdline", cmdline + "\n");
    if (!conf.empty()) root.write("etc/modprobe.d/extra.conf", conf);
    return capture(earlymod::run_load, {"load", "-n", "--sysroot", root.path(), "-S", "1.0"});
}

// Every report of a run, in order, as "module outcome".
struct Reports {
    std::mutex lock;
    std::vector<std::string> lines;
    std::map<std::string, Report> last;
    static void on_report(void* self, const Report& r) {
        auto* rs = static_cast<Reports*>(self);
        static const char* const names[] = {"loaded", "present", "failed", "skipped", "blacklisted"};
        std::lock_guard<std::mutex> g(rs->lock);
        rs->lines.push_back(std::string(r.module->name) + " " + names[static_cast<int>(r.outcome)]);
        rs->last[std::string(r.module->name)] = r;
    }
    size_t count(const std::string& module) {
        size_t n = 0;
        for (auto& l : lines)
            if (l.substr(0, l.find(' ')) == module) ++n;
        return n;
    }
};

// A run over the tree at root (release 1.0, no kernel command line) with
// a fake kernel, its reports recorded.
Options tree_options(const fixture::TempDir& root, FakeKernel& kernel, Reports& reports) {
    Options opt;
    opt.sysroot = root.path();
    opt.kernel_release = "1.0";
    opt.cmdline = nullptr;
    opt.kernel = &kernel;
    opt.on_report = Reports::on_report;
    opt.report_context = &reports;
    return opt;
}

struct Run {
    fixture::TempDir root;
    FakeKernel kernel;
    Reports reports;
    Options opt = tree_options(root, kernel, reports);
    Context ctx;
    Run() { fixture::write_module_tree(root, false); }
    void open() { REQUIRE(ctx.open(opt).ok()); }
};

} // namespace

TEST_CASE("load engine: a listed module blacklisted on the command line or in modprobe.d is not loaded") {
    // systemd-modules-load applies the blacklist to the names it is given
    // (libkmod's KMOD_PROBE_APPLY_BLACKLIST); earlymod load did not.
    auto r = load_dry_run("rd.modules_load=xfs,e1000e modprobe.blacklist=xfs");
    CHECK(r.status == 0);
    CHECK(r.err.find("would load xfs") == std::string::npos);
    CHECK(r.err.find("xfs is blacklisted") != std::string::npos);
    CHECK(r.err.find("would load e1000e") != std::string::npos);

    auto r2 = load_dry_run("rd.modules_load=e1000e,ahci", "blacklist e1000e\n");
    CHECK(r2.err.find("would load e1000e") == std::string::npos);
    CHECK(r2.err.find("e1000e is blacklisted") != std::string::npos);
    CHECK(r2.err.find("would load ahci") != std::string::npos);

    // A blacklisted module that another listed module needs still loads
    // as its dependency (kmod: the blacklist is for the names asked for).
    auto r3 = load_dry_run("rd.modules_load=ahci", "blacklist libahci\n");
    CHECK(r3.err.find("would load libahci") != std::string::npos);
    CHECK(r3.err.find("would load ahci") != std::string::npos);

    // modprobe keeps kmod's rule: without -b, a name given directly loads.
    fixture::TempDir root;
    fixture::write_module_tree(root, true);
    root.write("etc/modprobe.d/extra.conf", "blacklist e1000e\n");
    auto m = capture(earlymod::run_modprobe, {"modprobe", "--sysroot", root.path(), "-S", "1.0", "-n", "-v", "e1000e"});
    CHECK(m.out.find("e1000e.ko") != std::string::npos);
    auto mb = capture(earlymod::run_modprobe,
                      {"modprobe", "--sysroot", root.path(), "-S", "1.0", "-n", "-v", "-b", "e1000e"});
    CHECK(mb.out.find("e1000e.ko") == std::string::npos);
}

TEST_CASE("load engine: one outcome per module per run, across names submitted later") {
    Run run;
    run.kernel.fail("libcrc32c", ENOEXEC);
    run.open();
    fixture::Watchdog watchdog("one outcome per module", 30);
    LoadEngine engine(run.ctx);
    engine.start(2);
    CHECK(engine.submit("xfs", Origin::wanted));
    CHECK(engine.wait(0));
    // libcrc32c failed for xfs; btrfs, submitted after, is skipped because
    // of it without a second try, and its other dependencies load.
    CHECK(engine.submit("btrfs", Origin::wanted));
    CHECK(engine.submit("xfs", Origin::wanted)); // decided: not again
    CHECK(engine.wait(0));
    CHECK(run.kernel.calls("libcrc32c") == 1);
    CHECK(run.kernel.calls("xfs") == 0);
    CHECK(run.kernel.calls("btrfs") == 0);
    CHECK(run.kernel.calls("raid6_pq") == 1);
    CHECK(run.reports.count("libcrc32c") == 1);
    CHECK(run.reports.count("xfs") == 1);
    REQUIRE(run.reports.last.count("btrfs"));
    const Report& b = run.reports.last["btrfs"];
    CHECK(b.outcome == Outcome::skipped);
    REQUIRE(b.cause);
    CHECK(b.cause->name == "libcrc32c");
    CHECK(engine.last_failure().code() != 0);
}

TEST_CASE("load engine: names submitted while loads run join the same plan") {
    Run run;
    run.kernel.delay("libcrc32c", 300);
    run.open();
    fixture::Watchdog watchdog("submit while running", 30);
    LoadEngine engine(run.ctx);
    engine.start(4);
    CHECK(engine.submit("xfs", Origin::wanted));
    engine.pump(); // libcrc32c's prerequisites start
    CHECK(engine.submit("btrfs", Origin::device));
    CHECK_FALSE(engine.submit("nosuchmodule", Origin::device));
    CHECK(engine.wait(0));
    for (const char* m : {"crc32c_intel", "crc32c_generic", "libcrc32c", "xfs", "raid6_pq", "xor", "btrfs"}) {
        CAPTURE(m);
        CHECK(run.kernel.calls(m) == 1);
    }
    CHECK(run.kernel.overlapping().empty());
    // btrfs needs libcrc32c: it ended after it.
    CHECK(run.kernel.end_ns("btrfs") > run.kernel.end_ns("libcrc32c"));
    CHECK(run.reports.last["btrfs"].origin == Origin::device);
    CHECK(run.reports.last["xfs"].origin == Origin::wanted);
    CHECK(engine.loaded() == 7);
}

TEST_CASE("load engine: the stage of a failure travels in the report") {
    Run run;
    run.kernel.fail("e1000e", ENODEV);
    run.open();
    // A file modules.dep names but the tree lacks: the real kernel
    // interface cannot open it (Stage::open), whatever the message says.
    run.root.write("lib/modules/1.0/kernel/drivers/libahci.ko", "");
    REQUIRE(unlink((run.root.path() + "/lib/modules/1.0/kernel/drivers/libahci.ko").c_str()) == 0);
    LinuxKernel real(FsRoot(run.root.path()));
    Error e = real.load((run.root.path() + "/lib/modules/1.0/kernel/drivers/libahci.ko").c_str(),
                        "/lib/modules/1.0/kernel/drivers/libahci.ko", "", 0);
    CHECK(e.code() == ENOENT);
    CHECK(e.stage() == Stage::open);
    LoadEngine engine(run.ctx);
    engine.start(1);
    CHECK(engine.submit("e1000e", Origin::wanted));
    CHECK(engine.wait(0));
    CHECK(run.reports.last["e1000e"].error.stage() == Stage::kernel);
    CHECK(run.reports.last["e1000e"].error.code() == ENODEV);
}

TEST_CASE("load engine: install commands on 16 workers each see their own module and depth") {
    // Each command got MODPROBE_MODULE and EARLYMOD_COMMAND_DEPTH through
    // setenv() around system(): with workers, commands saw each other's
    // names, and depths piled up ("nested 8 deep").
    fixture::TempDir root;
    fixture::TempDir out;
    std::string dep, conf;
    const int n = 24;
    for (int i = 0; i < n; ++i) {
        std::string m = "m" + std::to_string(100 + i);
        dep += "kernel/" + m + ".ko:\n";
        conf += "install " + m + " sleep 0.05; echo \"$MODPROBE_MODULE $EARLYMOD_COMMAND_DEPTH\" > " + out.path() +
                "/" + m + "\n";
        root.write("lib/modules/1.0/kernel/" + m + ".ko", "x");
    }
    root.write("lib/modules/1.0/modules.dep", dep);
    root.write("etc/modprobe.d/install.conf", conf);
    unsetenv("MODPROBE_MODULE");
    unsetenv("EARLYMOD_COMMAND_DEPTH");
    FakeKernel kernel;
    Reports reports;
    Options opt = tree_options(root, kernel, reports);
    Context ctx;
    REQUIRE(ctx.open(opt).ok());
    fixture::Watchdog watchdog("install commands on 16 workers", 60);
    {
        LoadEngine engine(ctx);
        engine.start(16);
        for (int i = 0; i < n; ++i) CHECK(engine.submit("m" + std::to_string(100 + i), Origin::wanted));
        CHECK(engine.wait(0));
        CHECK(engine.loaded() == static_cast<unsigned>(n));
        CHECK(engine.last_failure().ok());
    }
    for (int i = 0; i < n; ++i) {
        std::string m = "m" + std::to_string(100 + i);
        CAPTURE(m);
        CHECK(reports.last[m].outcome == Outcome::loaded);
        CHECK(out.read(m) == m + " 1\n");
    }
    // Nothing of it is left in this process's environment (init= inherits it).
    CHECK(getenv("MODPROBE_MODULE") == nullptr);
    CHECK(getenv("EARLYMOD_COMMAND_DEPTH") == nullptr);
    CHECK(kernel.calls("m100") == 0); // a command, not the kernel
}

TEST_CASE("load engine: a command that outlives the command timeout is killed and fails") {
    fixture::TempDir root;
    root.write("lib/modules/1.0/modules.dep", "kernel/slow.ko:\nkernel/quick.ko:\n");
    root.write("lib/modules/1.0/kernel/slow.ko", "x");
    root.write("lib/modules/1.0/kernel/quick.ko", "x");
    root.write("etc/modprobe.d/slow.conf", "install slow sleep 30\n");
    FakeKernel kernel;
    Reports reports;
    Options opt = tree_options(root, kernel, reports);
    opt.command_timeout_ms = 300;
    Context ctx;
    REQUIRE(ctx.open(opt).ok());
    fixture::Watchdog watchdog("command timeout", 30);
    uint64_t t0 = monotonic_ns();
    LoadEngine engine(ctx);
    engine.start(2);
    CHECK(engine.submit("slow", Origin::wanted));
    CHECK(engine.submit("quick", Origin::wanted));
    CHECK(engine.wait(0));
    CHECK(monotonic_ns() - t0 < 5000000000ull);
    CHECK(reports.last["slow"].outcome == Outcome::failed);
    CHECK(reports.last["slow"].error.code() == ETIMEDOUT);
    CHECK(reports.last["slow"].error.stage() == Stage::command);
    CHECK(reports.last["quick"].outcome == Outcome::loaded);
}
