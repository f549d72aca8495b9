// Boot: turning the wanted module list into loaded modules, and init mode.
//
// load_modules() is `earlymod load`'s work and the first step of init
// mode. Its log has one line per module (outcome and time) and a summary,
// following systemd-modules-load's judgement of what is a failure:
//   - a name that resolves to nothing: error, the others continue;
//   - ENODEV or ENOENT from the kernel: a warning, not a failure (a driver
//     for hardware that is not there, such as crc32c-intel without SSE4.2);
//   - EPERM for a module named in module_blacklist=: "blocked by kernel";
//   - already loaded, builtin, or blacklisted in modprobe.d: fine;
//   - anything else: a failure; modules that need it are skipped with
//     that reason, independent ones continue. A module skipped because
//     what it needs failed for a benign reason is not a failure either
//     (systemd judges modprobe's result, the dependency's errno).
// Softdeps that fail are reported and ignored, as kmod ignores them.
// Each module counts once in the totals, however many wanted names lead
// to it.
#pragma once

#include <stdint.h>

#include <string_view>

#include "earlymod/earlymod.h"
#include "earlymod/kernel_params.h"
#include "earlymod/memory.h"

namespace earlymod {

struct LoadTotals {
    unsigned loaded = 0;
    unsigned present = 0;   // already loaded or builtin
    unsigned failed = 0;
    unsigned benign = 0;    // skipped for a benign reason (no device, blocked)
    uint64_t elapsed_ns = 0;
    bool ok() const { return failed == 0; }
};

// Collects what a Context reports about each module, logs it, and counts.
// Give it to the Context's options before opening it (attach()).
class LoadLog {
public:
    explicit LoadLog(const KernelParams* params) : params_(params) {}
    void attach(Options& options);
    // A name that resolved to nothing.
    void not_found(std::string_view name, const Error& why);
    void summary(uint64_t elapsed_ns);
    LoadTotals& totals() { return totals_; }
    // Where times are measured from (the start of the load).
    void set_origin(uint64_t ns) { origin_ns_ = ns; }
    // Coldplug mode: most devices have builtin drivers, and an initramfs
    // holds only some modules: "already present" and missing module files
    // are said only with -v, and a driver that fails is a warning (the
    // boot goes on without that device).
    void set_quiet_present(bool quiet) { quiet_present_ = quiet; }
    // The JSON timing report: {"jobs": N, "total_ms": T, "modules": [{"module",
    // "start_ms", "end_ms", "outcome", "worker"}...]}, times in ms since the
    // start of the load.
    Error write_timings(const char* path, unsigned jobs) const;

private:
    static void on_report(void* self, const Report& r);
    void handle(const Report& r);
    bool kernel_blacklisted(std::string_view name) const;
    bool failed_benignly(const Module* m) const;

    struct Timing {
        std::string_view module;
        uint64_t start_ns, end_ns;
        Outcome outcome;
        int worker;
    };
    const KernelParams* params_;
    LoadTotals totals_;
    bool dry_run_ = false;
    bool quiet_present_ = false;
    uint64_t origin_ns_ = 0;
    Vec<Timing> timings_;
    StrMap<bool> counted_;         // modules already in the totals
    StrMap<bool> benign_failure_;  // failed modules: whether benignly
};

// Loads each name (module or alias) through ctx, with `jobs` workers
// (1: one module at a time, in modprobe's order); returns the totals.
LoadTotals load_modules(Context& ctx, LoadLog& log, const Vec<std::string_view>& names, unsigned jobs = 1);

// The default number of workers: the online CPUs, at most Context::max_jobs.
unsigned default_jobs();

// Coldplug (see coldplug.cpp): loads the modules for the devices present,
// repeating until no new device shows up, for at most timeout_ms.
struct ColdplugResult {
    unsigned devices = 0;     // devices with a modalias
    unsigned modaliases = 0;  // distinct modaliases tried
    unsigned loaded = 0;
    uint64_t elapsed_ns = 0;
};
ColdplugResult coldplug(Context& ctx, LoadLog& log, unsigned jobs, unsigned timeout_ms);
constexpr unsigned default_coldplug_timeout_ms = 10000;

// Init mode: earlymod as the initramfs's /init. Never returns.
[[noreturn]] void run_init(int argc, char** argv);

} // namespace earlymod
