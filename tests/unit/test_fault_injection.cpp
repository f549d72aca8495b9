// Fault injection through the kernel interface: the fake kernel's load
// call returns each errno a module load can meet, at chosen modules of a
// plan that has dependents and independent modules, loaded one at a time
// and with workers. For every module of the plan the test checks what
// became of it, then the summary counts and the exit status of
// `earlymod load`; every run is bounded by a watchdog, so a hang fails.
//
// The expectations come from the rules earlymod follows (boot.h):
//   EEXIST: already in the kernel, as kmod says; the module is present and
//     what needs it loads.
//   ENODEV, ENOENT (from the kernel), and EPERM for a module named in
//     module_blacklist=: not failures (systemd-modules-load's judgement);
//     what needs the module is skipped, and is not a failure either.
//   EPERM (otherwise), ENOEXEC, EKEYREJECTED, EBUSY, ENOMEM, EFAULT: a
//     failure; what needs the module is skipped, as a failure.
//   EINTR: the load is tried again (Context::max_interrupted_retries); a
//     load interrupted once loads, one interrupted every time fails.
//   A softdep that fails is ignored (kmod).
#include <doctest/doctest.h>

#include <errno.h>
#include <string.h>

#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "earlymod/boot/boot.h"
#include "earlymod/config/kernel_params.h"
#include "earlymod/util/output.h"
#include "fake_kernel.h"
#include "tree.h"
#include "watchdog.h"

using namespace earlymod;
using fixture::FakeKernel;

namespace {

// The plan: these names in the fixture tree (tests/unit/tree.cpp) give
//   xfs    -> libcrc32c (pre-softdeps crc32c_intel, crc32c_generic)
//   btrfs  -> libcrc32c, raid6_pq, xor
//   e1000e
//   ahci   -> libahci
const std::vector<std::string> wanted = {"xfs", "btrfs", "e1000e", "ahci"};
const std::vector<std::string> plan_modules = {"crc32c_intel", "crc32c_generic", "libcrc32c", "xfs",     "raid6_pq",
                                               "xor",          "btrfs",          "e1000e",    "libahci", "ahci"};

// The load engine with one worker (one module at a time) and with four.
enum class Mode { one_worker, workers };
const char* mode_name(Mode m) {
    switch (m) {
    case Mode::one_worker: return "1 worker";
    case Mode::workers: return "4 workers";
    }
    return "?";
}

// What the kernel does at the faulty module.
enum class Fault { loads, present, benign, fails };
struct Injection {
    int err;
    int times;                // -1: every call
    bool in_module_blacklist; // the module is in module_blacklist=
    Fault expect;
    unsigned attempts; // load calls per try of the module
};

std::string errno_label(const Injection& in) {
    std::string s = strerrorname_np(in.err) ? strerrorname_np(in.err) : std::to_string(in.err);
    if (in.times > 0) s += " once";
    if (in.in_module_blacklist) s += " with module_blacklist=";
    return s;
}

const unsigned retries = Context::max_interrupted_retries;
const std::vector<Injection> injections = {
    {EEXIST, -1, false, Fault::present, 1},     {ENOENT, -1, false, Fault::benign, 1},
    {ENODEV, -1, false, Fault::benign, 1},      {EPERM, -1, false, Fault::fails, 1},
    {EPERM, -1, true, Fault::benign, 1},        {ENOEXEC, -1, false, Fault::fails, 1},
    {EKEYREJECTED, -1, false, Fault::fails, 1}, {EBUSY, -1, false, Fault::fails, 1},
    {ENOMEM, -1, false, Fault::fails, 1},       {EINTR, -1, false, Fault::fails, 1 + retries},
    {EINTR, 1, false, Fault::loads, 2},         {EFAULT, -1, false, Fault::fails, 1},
};

// Where the fault is injected, and what becomes of each module when that
// module fails (it is then "failed"; modules not listed load).
// One outcome per module per run: a module that failed is not tried
// again for the next name that needs it (libcrc32c and crc32c_generic are
// reached by both xfs and btrfs), and only what needs it is skipped
// (btrfs's raid6_pq and xor load).
struct Site {
    std::string module;
    bool required;                    // a hard dependency or a target
    std::vector<std::string> skipped; // they need it
};
const std::vector<Site> sites = {
    {"libcrc32c", true, {"xfs", "btrfs"}},
    {"libahci", true, {"ahci"}},
    {"xfs", true, {}},
    {"crc32c_generic", false, {}}, // a softdep: its failure is ignored
};

struct Seen {
    Outcome outcome;
    std::string cause; // skipped: the module that failed
    int reports = 0;
};

// Records the first report for each module, and passes every report on
// to the LoadLog (which counts and logs them).
struct Recorder {
    ReportFunction forward = nullptr;
    void* forward_context = nullptr;
    std::mutex lock;
    std::map<std::string, Seen> seen;
    static void on_report(void* self, const Report& r) {
        auto* rec = static_cast<Recorder*>(self);
        {
            std::lock_guard<std::mutex> g(rec->lock);
            Seen& s = rec->seen[std::string(r.module->name)];
            if (s.reports++ == 0) {
                s.outcome = r.outcome;
                s.cause = r.cause ? std::string(r.cause->name) : "";
            }
        }
        rec->forward(rec->forward_context, r);
    }
};

struct RunResult {
    LoadTotals totals;
    int exit_status; // what `earlymod load` returns for these totals
    std::map<std::string, Seen> seen;
};

// The fixture tree, written once: a run only reads it.
const fixture::TempDir& tree() {
    static fixture::TempDir root;
    static bool written = false;
    if (!written) fixture::write_module_tree(root, false);
    written = true;
    return root;
}

RunResult run(FakeKernel& k, Mode mode, const std::string& cmdline, const std::string& what) {
    const fixture::TempDir& root = tree();
    KernelParams params;
    params.parse(cmdline.c_str());
    Options opt;
    opt.sysroot = root.path();
    opt.kernel_release = "1.0";
    opt.cmdline = nullptr;
    opt.kernel = &k;
    LoadLog log(&params);
    log.attach(opt);
    Recorder rec;
    rec.forward = opt.on_report;
    rec.forward_context = opt.report_context;
    opt.on_report = Recorder::on_report;
    opt.report_context = &rec;
    Context ctx;
    REQUIRE(ctx.open(opt).ok());
    Arena a;
    Vec<std::string_view> names;
    for (auto& n : wanted) names.push(a.dup(n));
    RunResult r;
    {
        fixture::Watchdog watchdog(what, 30);
        r.totals = load_modules(ctx, log, names, mode == Mode::workers ? 4 : 1);
    }
    r.exit_status = r.totals.ok() ? 0 : 1; // as run_load() in src/cli/load.cpp
    r.seen = rec.seen;
    return r;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
    for (auto& x : v)
        if (x == s) return true;
    return false;
}

const char* outcome_name(Outcome o) {
    static const char* const names[] = {"loaded", "present", "failed", "skipped", "blacklisted"};
    return names[static_cast<int>(o)];
}

} // namespace

TEST_CASE("fault injection: every errno at chosen modules, with one worker and with four") {
    // Keep the log quiet: hundreds of runs, each logging every module.
    int saved_verbosity = logger().verbosity;
    logger().verbosity = log_crit;
    for (const Site& site : sites) {
        for (const Injection& in : injections) {
            for (Mode mode : {Mode::one_worker, Mode::workers}) {
                std::string what = errno_label(in) + " at " + site.module + ", " + mode_name(mode);
                CAPTURE(what);
                FakeKernel k;
                k.fail(site.module, in.err, in.times);
                std::string cmdline = in.in_module_blacklist ? "module_blacklist=" + site.module : "";
                RunResult r = run(k, mode, cmdline, what);

                // What each module should have come to.
                bool site_fails = in.expect == Fault::benign || in.expect == Fault::fails;
                LoadTotals want;
                for (const std::string& m : plan_modules) {
                    Outcome expect = Outcome::loaded;
                    if (m == site.module) {
                        expect = in.expect == Fault::present ? Outcome::present
                                 : site_fails                ? Outcome::failed
                                                             : Outcome::loaded;
                    } else if (site_fails && site.required && contains(site.skipped, m)) {
                        expect = Outcome::skipped;
                    }
                    // Every module of the plan counts once in the summary
                    // (the site's softdep failure and benign failures, and
                    // skips they cause, as "benign").
                    bool real_failure = in.expect == Fault::fails && site.required;
                    switch (expect) {
                    case Outcome::loaded: ++want.loaded; break;
                    case Outcome::present: ++want.present; break;
                    default: ++(real_failure ? want.failed : want.benign); break;
                    }

                    CAPTURE(m);
                    auto it = r.seen.find(m);
                    REQUIRE_MESSAGE(it != r.seen.end(), what << ": " << m << " was never reported");
                    CHECK_MESSAGE(it->second.outcome == expect, what << ": " << m << " is "
                                                                     << outcome_name(it->second.outcome) << ", want "
                                                                     << outcome_name(expect));
                    if (expect == Outcome::skipped)
                        CHECK_MESSAGE(it->second.cause == site.module,
                                      what << ": " << m << " skipped because of '" << it->second.cause << "'");
                    // Kernel calls: none for what was skipped; one try of
                    // each other module, the faulty one `attempts` calls
                    // (EINTR retries) in its one try.
                    unsigned want_calls = expect == Outcome::skipped ? 0 : 1;
                    if (m == site.module) want_calls = in.attempts;
                    CHECK_MESSAGE(k.calls(m) == want_calls,
                                  what << ": " << m << " loaded " << k.calls(m) << " times, want " << want_calls);
                }
                CHECK_MESSAGE(r.totals.loaded == want.loaded, what << ": loaded " << r.totals.loaded);
                CHECK_MESSAGE(r.totals.present == want.present, what << ": present " << r.totals.present);
                CHECK_MESSAGE(r.totals.failed == want.failed, what << ": failed " << r.totals.failed);
                CHECK_MESSAGE(r.totals.benign == want.benign, what << ": benign " << r.totals.benign);
                int want_status = want.failed ? 1 : 0;
                CHECK_MESSAGE(r.exit_status == want_status, what << ": exit status " << r.exit_status);
                CHECK_MESSAGE(k.overlapping().empty(), what << ": a module was loaded twice at the same time");
            }
        }
    }
    logger().verbosity = saved_verbosity;
}

TEST_CASE("fault injection: the figures for one case, written out") {
    // The rules above, checked on a case by hand so that a mistake shared
    // by the rules and the code shows: ENOEXEC at libcrc32c, 4 workers.
    int saved_verbosity = logger().verbosity;
    logger().verbosity = log_crit;
    FakeKernel k;
    k.fail("libcrc32c", ENOEXEC);
    RunResult r = run(k, Mode::workers, "", "ENOEXEC at libcrc32c, 4 workers");
    CHECK(r.totals.loaded == 7); // crc32c x2, raid6_pq, xor, e1000e, libahci, ahci
    CHECK(r.totals.failed == 3); // libcrc32c, and xfs and btrfs that need it
    CHECK(r.totals.present == 0);
    CHECK(r.exit_status == 1);
    CHECK(k.calls("libcrc32c") == 1); // tried once, though xfs and btrfs both need it
    // One worker: the same outcomes, one module at a time.
    FakeKernel k1;
    k1.fail("libcrc32c", ENOEXEC);
    RunResult r1 = run(k1, Mode::one_worker, "", "ENOEXEC at libcrc32c, 1 worker");
    CHECK(r1.totals.loaded == 7);
    CHECK(r1.totals.failed == 3);
    CHECK(k1.calls("libcrc32c") == 1);
    CHECK(k1.peak() == 1);
    // ENODEV there instead: the same skips, none a failure.
    FakeKernel k2;
    k2.fail("libcrc32c", ENODEV);
    RunResult r2 = run(k2, Mode::workers, "", "ENODEV at libcrc32c, 4 workers");
    CHECK(r2.totals.benign == 3);
    CHECK(r2.exit_status == 0);
    logger().verbosity = saved_verbosity;
}

TEST_CASE("fault injection: a slow load does not hold up independent modules") {
    int saved_verbosity = logger().verbosity;
    logger().verbosity = log_crit;
    for (int err : {0, ENOEXEC}) {
        std::string what = std::string("libcrc32c taking 1.5 s and ") + (err ? "failing" : "loading");
        CAPTURE(what);
        FakeKernel k;
        k.delay("libcrc32c", 1500);
        if (err) k.fail("libcrc32c", err);
        uint64_t t0 = monotonic_ns();
        RunResult r = run(k, Mode::workers, "", what);
        uint64_t took = monotonic_ns() - t0;
        uint64_t slow_end = k.end_ns("libcrc32c");
        REQUIRE(slow_end != 0);
        // What does not need libcrc32c finished while it was loading.
        for (const char* m : {"crc32c_intel", "crc32c_generic", "raid6_pq", "xor", "e1000e", "libahci", "ahci"}) {
            CAPTURE(m);
            CHECK(k.end_ns(m) != 0);
            CHECK(k.end_ns(m) < slow_end);
        }
        // What needs it waited for it (and was skipped when it failed).
        for (const char* m : {"xfs", "btrfs"}) {
            CAPTURE(m);
            if (err)
                CHECK(k.calls(m) == 0);
            else
                CHECK(k.end_ns(m) > slow_end);
        }
        CHECK(r.exit_status == (err ? 1 : 0));
        CHECK(took < 10000000000ull);
    }
    logger().verbosity = saved_verbosity;
}

TEST_CASE("fake kernel: notices the same module loaded twice at once") {
    // The parallel checks above rely on this detector: make it fire.
    FakeKernel k;
    k.delay("xfs", 200);
    // The loads' own results do not matter here, only their overlap.
    std::thread other([&] { (void)k.load("/m/kernel/fs/xfs.ko", "", "", 0); });
    (void)k.load("/m/kernel/fs/xfs.ko", "", "", 0);
    other.join();
    CHECK(k.overlapping() == std::vector<std::string>{"xfs"});
    CHECK(k.calls("xfs") == 2);
    CHECK(k.peak() == 2);
    // One after the other is not an overlap.
    FakeKernel k2;
    (void)k2.load("/m/kernel/fs/xfs.ko", "", "", 0);
    (void)k2.load("/m/kernel/fs/xfs.ko", "", "", 0);
    CHECK(k2.overlapping().empty());
}
