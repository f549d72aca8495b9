#include <errno.h>
#include <string.h>
#include <time.h>

#include "earlymod/boot.h"
#include "earlymod/output.h"

namespace earlymod {

uint64_t monotonic_ns() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

void LoadLog::attach(Options& options) {
    dry_run_ = options.dry_run;
    options.on_report = on_report;
    options.report_context = this;
}

void LoadLog::on_report(void* self, const Report& r) {
    static_cast<LoadLog*>(self)->handle(r);
}

bool LoadLog::kernel_blacklisted(std::string_view name) const {
    if (!params_) return false;
    Vec<std::string_view> list;
    params_->list("module_blacklist", list);
    for (std::string_view b : list)
        if (param_key_equal(b, name)) return true;
    return false;
}

void LoadLog::handle(const Report& r) {
    const Module& m = *r.module;
    int n = static_cast<int>(m.name.size());
    const char* name = m.name.data();
    double ms = r.end_ns > r.start_ns ? static_cast<double>(r.end_ns - r.start_ns) / 1e6 : 0.0;
    switch (r.outcome) {
    case Outcome::loaded:
        ++totals_.loaded;
        if (dry_run_) {
            log_message(log_notice, "would load %.*s", n, name);
            return;
        }
        log_message(log_notice, "loaded %.*s (%.1f ms)", n, name, ms);
        log_message(log_debug, "%.*s: started at %.3f ms since boot, took %.3f ms", n, name,
                    static_cast<double>(r.start_ns) / 1e6, ms);
        return;
    case Outcome::present:
        ++totals_.present;
        log_message(log_notice, "%.*s already present%s", n, name, m.builtin == 1 ? " (builtin)" : "");
        return;
    case Outcome::blacklisted:
        ++totals_.benign;
        log_message(log_notice, "%.*s is blacklisted (modprobe.d), skipped", n, name);
        return;
    case Outcome::skipped:
        if (r.required) ++totals_.failed;
        log_message(r.required ? log_err : log_warning, "%.*s skipped: it needs %s", n, name, r.error.message());
        return;
    case Outcome::failed:
        break;
    }
    int code = r.error.code();
    if (code == EPERM && kernel_blacklisted(m.name)) {
        ++totals_.benign;
        log_message(log_notice, "%.*s blocked by kernel (module_blacklist)", n, name);
    } else if (code == ENODEV) {
        ++totals_.benign;
        log_message(log_warning, "%.*s: no such device (skipped)", n, name);
    } else if (code == ENOENT) {
        ++totals_.benign;
        log_message(log_warning, "%.*s: unknown symbol or parameter, or no such device (skipped): %s", n, name,
                    r.error.message());
    } else if (!r.required) {
        ++totals_.benign;
        log_message(log_warning, "failed to load softdep %.*s (ignored): %s", n, name, r.error.message());
    } else {
        ++totals_.failed;
        log_message(log_err, "failed to load %.*s: %s", n, name, r.error.message());
    }
}

void LoadLog::not_found(std::string_view name, const Error& why) {
    ++totals_.failed;
    if (why.code() == ENOENT && strncmp(why.message(), "Module ", 7) == 0)
        log_message(log_err, "module %.*s not found", static_cast<int>(name.size()), name.data());
    else
        log_message(log_err, "module %.*s: %s", static_cast<int>(name.size()), name.data(), why.message());
}

void LoadLog::summary(uint64_t elapsed_ns) {
    totals_.elapsed_ns = elapsed_ns;
    if (dry_run_) {
        log_message(log_notice, "dry run: %u to load, %u already present, %u failed in %.1f ms", totals_.loaded,
                    totals_.present, totals_.failed, static_cast<double>(elapsed_ns) / 1e6);
        return;
    }
    log_message(totals_.failed ? log_err : log_notice, "%u loaded, %u already present, %u failed in %.1f ms",
                totals_.loaded, totals_.present, totals_.failed, static_cast<double>(elapsed_ns) / 1e6);
}

LoadTotals load_modules(Context& ctx, LoadLog& log, const Vec<std::string_view>& names) {
    uint64_t start = monotonic_ns();
    for (std::string_view name : names) {
        // Per-module outcomes arrive through the report callback; what is
        // left here is the case of a name that resolves to nothing.
        Error e = ctx.load(name, {});
        if (!e.ok() && ctx.last_not_found()) log.not_found(name, e);
    }
    log.summary(monotonic_ns() - start);
    return log.totals();
}

} // namespace earlymod
