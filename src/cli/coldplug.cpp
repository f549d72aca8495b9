// `earlymod coldplug`: loads the drivers for the devices present.
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <new>

#include "commands.h"
#include "earlymod/boot/boot.h"
#include "earlymod/util/output.h"
#include "earlymod/util/text.h"

namespace earlymod {

namespace {

const char coldplug_usage[] =
    "Usage: %s coldplug [options]\n"
    "\n"
    "Loads the modules for the devices present: the modalias of every device on\n"
    "every bus and in every class (/sys/bus/*/devices/*, /sys/class/*/*) is\n"
    "resolved through the aliases (blacklist applied) and what matches is loaded;\n"
    "devices that appear meanwhile (a bus driver brings new ones) are taken\n"
    "from the kernel's uevents, until the loads are done and no new device came.\n"
    "\n"
    "Options:\n"
    "  -n, --dry-run           resolve and report, load nothing\n"
    "  -j, --jobs=N            workers (default: online CPUs, at most 16)\n"
    "      --timeout=SECONDS   give up after this long (default 10)\n"
    "  -v, --verbose           more detail\n"
    "  -q, --quiet             errors only\n"
    "      --kmsg              log to the kernel log (/dev/kmsg), as init mode\n"
    "                          does, instead of standard error\n"
    "  -d, --dirname=DIR       modules under DIR/lib/modules/KVER\n"
    "  -S, --set-version=KVER  kernel release instead of uname -r\n"
    "      --sysroot=DIR       read every absolute path under DIR (no uevents)\n"
    "      --list-modaliases   print the distinct modaliases of the devices\n"
    "                          present, sorted, and load nothing\n"
    "      --full-walk         with --list-modaliases: walk all of /sys/devices\n"
    "                          instead of the buses and classes (the slow way,\n"
    "                          to compare)\n"
    "  -h, --help              show this help\n";

enum : int { opt_timeout = 256, opt_list = 257, opt_full_walk = 258 };
constexpr option coldplug_own_options[] = {
    {"timeout", required_argument, nullptr, opt_timeout},
    {"list-modaliases", no_argument, nullptr, opt_list},
    {"full-walk", no_argument, nullptr, opt_full_walk},
    {"help", no_argument, nullptr, 'h'},
};
constexpr auto coldplug_options = with_run_options(coldplug_own_options);

void collect(void* self, std::string_view alias) {
    auto* s = static_cast<Vec<std::string_view>*>(self);
    static Arena arena;
    s->push(arena.dup(alias));
}

// --list-modaliases: what coldplug would resolve, and nothing else.
int list_modaliases(const FsRoot& root, bool full_walk) {
    Vec<std::string_view> found;
    ModaliasSink sink{&found, collect};
    bool ok = full_walk ? scan_all_devices(root, sink) : scan_bus_devices(root, sink);
    if (!ok) {
        log_message(log_err, "cannot read %s: %s", full_walk ? "/sys/devices" : "/sys/bus", strerror(errno));
        return 1;
    }
    std::sort(found.begin(), found.end());
    OutBuf out(1);
    for (size_t i = 0; i < found.size(); ++i)
        if (i == 0 || found[i] != found[i - 1]) out.put(found[i]).put('\n');
    return out.flush() ? 0 : 1;
}

} // namespace

int run_coldplug(int argc, char** argv) {
    Logger& lg = logger();
    lg.verbosity = log_notice;
    Options opt;
    unsigned long jobs = 0, timeout_s = default_coldplug_timeout_ms / 1000;
    bool list = false, full_walk = false;
    optind = 0;
    for (;;) {
        int c = getopt_long(argc, argv, "nj:vqd:S:h", coldplug_options.data(), nullptr);
        if (c == -1) break;
        OptionUse use = run_option(c, optarg, opt, &jobs);
        if (use == OptionUse::bad) return 1;
        if (use == OptionUse::used) continue;
        switch (c) {
        case opt_timeout:
            if (!parse_uint(optarg, &timeout_s) || timeout_s > 3600) {
                log_message(log_err, "--timeout %s: want seconds, at most 3600", optarg);
                return 1;
            }
            break;
        case opt_list: list = true; break;
        case opt_full_walk: full_walk = true; break;
        case 'h': printf(coldplug_usage, lg.program); return 0;
        default: return 1;
        }
    }
    if (optind < argc) {
        log_message(log_err, "unexpected argument '%s' (see %s coldplug -h)", argv[optind], lg.program);
        return 1;
    }
    if (!sysroot_usable(opt)) return 1;
    if (full_walk && !list) {
        log_message(log_err, "--full-walk goes with --list-modaliases");
        return 1;
    }
    if (list) return list_modaliases(FsRoot(opt.sysroot), full_walk);
    if (!jobs) jobs = default_jobs();
    auto* ctx = new (std::nothrow) Context;
    if (!ctx) return 1;
    LoadLog log(nullptr);
    log.attach(opt);
    // A command that hangs is killed when the time is up.
    opt.command_deadline_ns = monotonic_ns() + static_cast<uint64_t>(timeout_s) * 1000000000ull;
    Error err = ctx->open(opt);
    if (!err.ok()) {
        log_message(log_err, "%s", err.message());
        return 1;
    }
    coldplug(*ctx, log, static_cast<unsigned>(jobs), static_cast<unsigned>(timeout_s * 1000));
    return log.totals().ok() ? 0 : 1;
}

} // namespace earlymod
