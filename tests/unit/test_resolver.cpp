// Resolution through the library API on a fixture tree: lookup order,
// dependencies, softdeps, options, blacklist, install commands; with the
// text indexes and again with the binary ones.
#include <doctest/doctest.h>

#include <stdlib.h>

#include <string>
#include <vector>

#include "earlymod/engine/context.h"
#include "earlymod/util/output.h"
#include "fake_kernel.h"
#include "tree.h"

using namespace earlymod;

namespace {

struct Recorder {
    std::vector<std::string> lines;
    static void on_action(void* ctx, Action a, const Module& m, std::string_view text, std::string_view params) {
        auto* r = static_cast<Recorder*>(ctx);
        const char* names[] = {"insmod", "builtin", "install", "rmmod", "remove"};
        std::string line = names[static_cast<int>(a)];
        line += " ";
        line += a == Action::builtin || a == Action::rmmod ? std::string(m.name) : std::string(text);
        if (a == Action::insmod || a == Action::install) line += " " + std::string(params);
        r->lines.push_back(line);
    }
};

// Dry-run loads of names on a fresh context; returns what would be done.
struct Run {
    fixture::TempDir root;
    Options opt;
    Recorder rec;
    Context ctx;
    explicit Run(bool with_bin, bool ignore_commands = false, bool use_blacklist = false) {
        fixture::write_module_tree(root, with_bin);
        opt.sysroot = root.path();
        opt.kernel_release = "1.0";
        opt.cmdline = nullptr;
        opt.dry_run = true;
        opt.ignore_status = true;
        opt.ignore_commands = ignore_commands;
        opt.use_blacklist = use_blacklist;
        opt.on_action = Recorder::on_action;
        opt.action_context = &rec;
        REQUIRE(ctx.open(opt).ok());
    }
    std::vector<std::string> load(const char* name, const char* params = "") {
        rec.lines.clear();
        last = ctx.load(name, params);
        return rec.lines;
    }
    Error last;
};

const std::string M = "/lib/modules/1.0/";

} // namespace

TEST_CASE("resolution, with text and with binary indexes") {
    for (bool with_bin : {false, true}) {
        CAPTURE(with_bin);
        Run r(with_bin);

        // Hard deps, and the softdep of a dependency (libcrc32c pre: crc32c,
        // an alias of two modules), each resolved in full.
        CHECK(r.load("xfs") == std::vector<std::string>{
                                   "insmod " + M + "kernel/arch/crc32c-intel.ko ",
                                   "insmod " + M + "kernel/crypto/crc32c_generic.ko ",
                                   "insmod " + M + "kernel/lib/libcrc32c.ko ",
                                   "insmod " + M + "kernel/fs/xfs.ko debug=1 ",
                               });
        // Through an alias: the alias's options apply too. Caller params
        // go to the target only.
        CHECK(r.load("fs-xfs", "p=1").back() == "insmod " + M + "kernel/fs/xfs.ko debug=1 via_alias=1 p=1");
        // Dependencies in load order (modules.dep lists users first).
        std::vector<std::string> btrfs = r.load("btrfs");
        REQUIRE(btrfs.size() == 6);
        CHECK(btrfs[2] == "insmod " + M + "kernel/lib/libcrc32c.ko ");
        CHECK(btrfs[3] == "insmod " + M + "kernel/lib/raid6_pq.ko ");
        CHECK(btrfs[4] == "insmod " + M + "kernel/lib/xor.ko ");
        // Wildcard aliases: every match, by priority.
        CHECK(r.load("pci:v00008086d00002922sv00001028sd00000001bc01sc06i01") ==
              std::vector<std::string>{"insmod " + M + "kernel/drivers/e1000e.ko ",
                                       "insmod " + M + "kernel/drivers/libahci.ko ",
                                       "insmod " + M + "kernel/drivers/ahci.ko "});
        // symbol:, builtin, install-only pseudo modules, config aliases.
        CHECK(r.load("symbol:raid6_call") == std::vector<std::string>{"insmod " + M + "kernel/lib/raid6_pq.ko "});
        CHECK(r.load("ext4") == std::vector<std::string>{"builtin ext4"});
        CHECK(r.load("dummy-install") == std::vector<std::string>{"install /bin/true "});
        CHECK(r.load("myalias").back() == "insmod " + M + "kernel/fs/btrfs.ko ");
        // A softdep loop is broken by the visited mark.
        CHECK(r.load("ping") ==
              std::vector<std::string>{"insmod " + M + "kernel/test/ping.ko ", "insmod " + M + "kernel/test/pong.ko "});
        // A cycle in modules.dep terminates.
        CHECK(r.load("a").size() == 2);
        // The blacklist applies to a module reached through an alias only.
        CHECK(r.load("pcspkr").empty());
        CHECK(r.last.ok());
        CHECK(r.load("snd-pcsp").size() == 1);
        // Unknown names.
        CHECK(r.load("nosuchmodule").empty());
        CHECK(r.last.code() == ENOENT);
        CHECK(r.ctx.last_not_found());
    }
}

TEST_CASE("-b applies the blacklist to every name; -i skips the target's softdeps and install command") {
    Run b(false, false, true);
    CHECK(b.load("snd_pcsp").empty());
    Run i(false, true, false);
    CHECK(i.load("libcrc32c") == std::vector<std::string>{"insmod " + M + "kernel/lib/libcrc32c.ko "});
    CHECK(i.load("xfs").size() == 4); // softdeps of dependencies stay
}

TEST_CASE("dependencies() lists the files in load order") {
    Run r(true);
    Vec<std::string_view> paths;
    REQUIRE(r.ctx.dependencies("xfs", paths).ok());
    REQUIRE(paths.size() == 4);
    CHECK(paths[3] == M + "kernel/fs/xfs.ko");
    Vec<std::string_view> none;
    CHECK(r.ctx.dependencies("nosuch", none).code() == ENOENT);
}

namespace {
struct LoadLog {
    std::vector<std::string> calls;
    int fail_on = -1;
    static Error load(void* ctx, const Module& m, const char*, std::string_view params, unsigned) {
        auto* l = static_cast<LoadLog*>(ctx);
        l->calls.push_back(std::string(m.name) + "(" + std::string(params) + ")");
        if (static_cast<int>(l->calls.size()) - 1 == l->fail_on)
            return Error::make(ENOEXEC, "could not insert '%.*s': Exec format error", int(m.name.size()),
                               m.name.data());
        return {};
    }
};
} // namespace

TEST_CASE("a caller-provided load function replaces the kernel call; softdep failures are ignored") {
    fixture::TempDir root;
    fixture::write_module_tree(root, false);
    LoadLog log;
    fixture::FakeKernel kernel;
    Options opt;
    opt.sysroot = root.path();
    opt.kernel_release = "1.0";
    opt.cmdline = nullptr;
    opt.kernel = &kernel;
    opt.load_function = LoadLog::load;
    opt.load_context = &log;
    Context ctx;
    REQUIRE(ctx.open(opt).ok());
    CHECK(ctx.load("xfs", "").ok());
    CHECK(log.calls == std::vector<std::string>{"crc32c_intel()", "crc32c_generic()", "libcrc32c()", "xfs(debug=1 )"});
    CHECK(kernel.started().empty()); // the kernel's own load was not called

    // A softdep (crc32c_intel) failing does not stop the others.
    log.calls.clear();
    log.fail_on = 0;
    Context ctx2;
    REQUIRE(ctx2.open(opt).ok());
    CHECK(ctx2.load("xfs", "").ok());
    CHECK(log.calls.size() == 4);

    // A hard dependency failing stops the module that needs it.
    log.calls.clear();
    log.fail_on = 2;
    Context ctx3;
    REQUIRE(ctx3.open(opt).ok());
    Error e = ctx3.load("xfs", "");
    CHECK(e.code() == ENOEXEC);
    CHECK(log.calls.size() == 3);
}

TEST_CASE("a missing modules directory or index is an error naming it") {
    fixture::TempDir root;
    Options opt;
    opt.sysroot = root.path();
    opt.kernel_release = "9.9";
    opt.cmdline = nullptr;
    Context ctx;
    REQUIRE(ctx.open(opt).ok());
    Error e = ctx.load("xfs", "");
    CHECK(e.code() == ENOENT);
    CHECK(std::string(e.message()).find("/lib/modules/9.9") != std::string::npos);

    root.mkdir("lib/modules/9.9");
    Context ctx2;
    REQUIRE(ctx2.open(opt).ok());
    Error e2 = ctx2.load("xfs", "");
    CHECK(std::string(e2.message()).find("modules.dep") != std::string::npos);
}

TEST_CASE("paths leading outside the modules directory are refused") {
    fixture::TempDir root;
    root.write("lib/modules/1.0/modules.dep",
               "/etc/passwd.ko:\n"
               "kernel/ok.ko: ../../../../etc/shadow.ko\n"
               "kernel/fine.ko:\n");
    Options opt;
    opt.sysroot = root.path();
    opt.kernel_release = "1.0";
    opt.cmdline = nullptr;
    opt.dry_run = true;
    opt.ignore_status = true;
    Recorder rec;
    opt.on_action = Recorder::on_action;
    opt.action_context = &rec;
    Context ctx;
    REQUIRE(ctx.open(opt).ok());
    CHECK_FALSE(ctx.load("passwd", "").ok());
    CHECK_FALSE(ctx.load("ok", "").ok());
    CHECK(rec.lines.empty());
    CHECK(ctx.load("fine", "").ok());
    CHECK(rec.lines == std::vector<std::string>{"insmod /lib/modules/1.0/kernel/fine.ko "});
}

TEST_CASE("install commands run through /bin/sh, and runaway nesting is stopped") {
    fixture::TempDir root;
    fixture::write_module_tree(root, false);
    fixture::FakeKernel kernel;
    Options opt;
    opt.sysroot = root.path();
    opt.kernel_release = "1.0";
    opt.cmdline = nullptr;
    opt.kernel = &kernel;
    Context ctx;
    unsetenv("EARLYMOD_COMMAND_DEPTH");
    REQUIRE(ctx.open(opt).ok());
    CHECK(ctx.load("dummy_install", "").ok()); // install dummy_install /bin/true
    // Started by a command 8 deep: the depth is read at open.
    setenv("EARLYMOD_COMMAND_DEPTH", "8", 1);
    Context deep;
    REQUIRE(deep.open(opt).ok());
    unsetenv("EARLYMOD_COMMAND_DEPTH");
    Error e = deep.load("dummy_install", "");
    CHECK(e.code() == ELOOP);
}
