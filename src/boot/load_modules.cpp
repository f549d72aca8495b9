#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <new>

#include "earlymod/boot/boot.h"
#include "earlymod/engine/load_engine.h"
#include "earlymod/util/output.h"
#include "earlymod/util/text.h"

namespace earlymod {

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

bool LoadLog::failed_benignly(const Module* m) const {
    const bool* benign = m ? benign_failure_.find(m->name) : nullptr;
    return benign && *benign;
}

void LoadLog::handle(const Report& r) {
    const Module& m = *r.module;
    // A module file that modules.dep names but that cannot be opened: a
    // damaged image (or, for coldplug, a driver the image left out).
    bool file_missing = r.outcome == Outcome::failed && r.error.stage() == Stage::open;
    bool device = r.origin == Origin::device;
    // Coldplug tries drivers for every device, most of them builtin or not
    // in the image: only what it really did goes into the timing report.
    bool noise = device && r.outcome != Outcome::loaded && !(r.outcome == Outcome::failed && !file_missing);
    // One at a time (no worker pool): the calling thread is worker 0.
    int worker = r.worker < 0 && r.start_ns ? 0 : r.worker;
    if (!noise) timings_.push({m.name, r.start_ns, r.end_ns, r.outcome, worker});
    int n = static_cast<int>(m.name.size());
    const char* name = m.name.data();
    uint64_t took = r.end_ns > r.start_ns ? r.end_ns - r.start_ns : 0;
    switch (r.outcome) {
    case Outcome::loaded:
        ++totals_.loaded;
        if (dry_run_) {
            log_message(log_notice, "would load %.*s", n, name);
            return;
        }
        log_message(log_notice, "loaded %.*s (%s ms)", n, name, Millis(took, 1).c_str());
        log_message(log_debug, "%.*s: started at %s ms since boot, took %s ms", n, name, Millis(r.start_ns, 3).c_str(),
                    Millis(took, 3).c_str());
        return;
    case Outcome::present:
        ++totals_.present;
        log_message(device ? log_debug : log_notice, "%.*s already present%s", n, name,
                    m.builtin == 1 ? " (builtin)" : "");
        return;
    case Outcome::blacklisted:
        ++totals_.benign;
        log_message(device ? log_debug : log_notice,
                    "%.*s is blacklisted (modprobe.d or modprobe.blacklist=), not loaded", n, name);
        return;
    case Outcome::skipped: {
        if (device) {
            // Mostly drivers whose modules are not in this image.
            ++totals_.benign;
            log_message(log_debug, "coldplug: %.*s skipped: %s", n, name, r.error.message());
            return;
        }
        bool failure = r.required && !failed_benignly(r.cause);
        if (failure)
            ++totals_.failed;
        else if (r.required)
            ++totals_.benign;
        log_message(failure ? log_err : log_warning, "%.*s skipped: %s", n, name, r.error.message());
        return;
    }
    case Outcome::failed: break;
    }
    int code = r.error.code();
    if (device) {
        ++totals_.benign;
        if (bool* b = benign_failure_.insert(m.name, true)) *b = true;
        // Expected, so not worth a warning: the image lacks the driver, or
        // the driver does not take this device (ENODEV: a CPU feature
        // driver on another CPU, crc32c_intel without SSE4.2), as udev
        // finds for most drivers it tries.
        bool expected = file_missing || code == ENODEV;
        log_message(expected ? log_debug : log_warning, "coldplug: %.*s not loaded: %s", n, name, r.error.message());
        return;
    }
    // ENOENT from the kernel means hardware or a symbol that is not there;
    // from opening the file (file_missing), that modules.dep names a file
    // the image lacks: a damaged image, a real failure.
    // A benign failure is "skipped" in the timing report, as in the log.
    bool benign = (code == EPERM && kernel_blacklisted(m.name)) || code == ENODEV ||
                  (code == ENOENT && !file_missing) || !r.required;
    if (bool* b = benign_failure_.insert(m.name, benign)) *b = benign;
    if (benign && !noise && !timings_.empty()) timings_.back().outcome = Outcome::skipped;
    if (code == EPERM && kernel_blacklisted(m.name)) {
        ++totals_.benign;
        log_message(log_notice, "%.*s blocked by kernel (module_blacklist)", n, name);
    } else if (code == ENODEV) {
        ++totals_.benign;
        log_message(log_warning, "%.*s: no such device (skipped)", n, name);
    } else if (code == ENOENT && !file_missing) {
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
    if (why.code() == ENOENT && why.stage() == Stage::resolve)
        log_message(log_err, "module %.*s not found", SV_ARG(name));
    else
        log_message(log_err, "module %.*s: %s", SV_ARG(name), why.message());
}

void LoadLog::summary(uint64_t elapsed_ns) {
    totals_.elapsed_ns = elapsed_ns;
    if (dry_run_) {
        log_message(log_notice, "dry run: %u to load, %u already present, %u failed in %s ms", totals_.loaded,
                    totals_.present, totals_.failed, Millis(elapsed_ns, 1).c_str());
        return;
    }
    log_message(totals_.failed ? log_err : log_notice, "%u loaded, %u already present, %u failed in %s ms",
                totals_.loaded, totals_.present, totals_.failed, Millis(elapsed_ns, 1).c_str());
}

bool BootSetup::prepare(const FsRoot& root, const Vec<std::string_view>* files, unsigned long cli_jobs) {
    params.load(root);
    Logger& lg = logger();
    if (params.flag("earlymod.debug", false) && lg.verbosity < log_debug) lg.verbosity = log_debug;
    bool ok = true;
    if (files && !files->empty()) {
        for (std::string_view f : *files) ok &= wanted.add_from_file(root, f);
    } else {
        wanted.add_from_cmdline(params);
        wanted.add_from_dirs(root);
    }
    log.attach(options);
    unsigned long j = cli_jobs;
    // More than max_jobs is taken as max_jobs (with a warning); 0: the default.
    if (!j) j = params.number("earlymod.jobs", 0, Context::max_jobs);
    if (!j || j > Context::max_jobs) j = default_jobs();
    jobs = static_cast<unsigned>(j);
    return ok;
}

unsigned default_jobs() {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) return 1;
    return n > static_cast<long>(Context::max_jobs) ? Context::max_jobs : static_cast<unsigned>(n);
}

void LoadLog::begin() {
    uint64_t start = monotonic_ns();
    set_origin(start);
    totals_ = LoadTotals{};
}

void submit_wanted(LoadEngine& engine, LoadLog& log, const Vec<std::string_view>& names) {
    for (std::string_view name : names) {
        Error why;
        if (!engine.submit(name, Origin::wanted, &why)) log.not_found(name, why);
        engine.pump(); // what finished meanwhile lets what waits for it start
    }
}

LoadTotals load_modules(Context& ctx, LoadLog& log, const Vec<std::string_view>& names, unsigned jobs) {
    log.begin();
    LoadEngine* engine = new (std::nothrow) LoadEngine(ctx);
    if (!engine) {
        log_message(log_err, "out of memory");
        ++log.totals().failed;
        return log.totals();
    }
    engine->start(jobs);
    submit_wanted(*engine, log, names);
    engine->wait(0);
    delete engine;
    log.summary(monotonic_ns() - log.origin());
    return log.totals();
}

Error LoadLog::write_timings(const char* path, unsigned jobs) const {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Error::make(errno, "could not write %s: %s", path, strerror(errno));
    static const char* const names[] = {"loaded", "present", "failed", "skipped", "blacklisted"};
    auto ms = [&](uint64_t ns) { return Millis(ns > origin_ns_ ? ns - origin_ns_ : 0, 3); };
    {
        OutBuf out(fd);
        // The whole span: wanted modules, coldplug, the root's filesystem.
        uint64_t last = origin_ns_;
        for (const Timing& t : timings_)
            if (t.end_ns > last) last = t.end_ns;
        out.printf("{\"jobs\": %u, \"total_ms\": %s, \"modules\": [", jobs, ms(last).c_str());
        for (size_t i = 0; i < timings_.size(); ++i) {
            const Timing& t = timings_[i];
            // Module names are plain: letters, digits, '_' (no escaping needed,
            // but anything else is dropped to keep the JSON valid).
            out.put(i ? ",\n  " : "\n  ").put("{\"module\": \"");
            for (char c : t.module)
                if (c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20) out.put(c);
            out.printf("\", \"start_ms\": %s, \"end_ms\": %s, \"outcome\": \"%s\", \"worker\": %d}",
                       ms(t.start_ns ? t.start_ns : origin_ns_).c_str(), ms(t.end_ns ? t.end_ns : origin_ns_).c_str(),
                       names[static_cast<int>(t.outcome)], t.worker);
        }
        out.put("\n]}\n");
        if (!out.flush()) {
            close(fd);
            return Error::make(EIO, "could not write %s", path);
        }
    }
    close(fd);
    return {};
}

} // namespace earlymod
