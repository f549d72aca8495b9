// `earlymod coldplug`: loads the drivers for the devices present.
#include <getopt.h>
#include <stdio.h>

#include <new>

#include "commands.h"
#include "earlymod/boot.h"
#include "earlymod/output.h"
#include "earlymod/text.h"

namespace earlymod {

namespace {

const char coldplug_usage[] =
    "Usage: %s coldplug [options]\n"
    "\n"
    "Loads the modules for the devices present: every modalias in /sys/devices\n"
    "is resolved through the aliases (blacklist applied) and what matches is\n"
    "loaded; repeats until no new device appears, listening to kernel uevents\n"
    "meanwhile.\n"
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
    "  -h, --help              show this help\n";

const struct option coldplug_options[] = {
    {"dry-run", no_argument, nullptr, 'n'},        {"jobs", required_argument, nullptr, 'j'},
    {"timeout", required_argument, nullptr, 256},  {"verbose", no_argument, nullptr, 'v'},
    {"quiet", no_argument, nullptr, 'q'},          {"dirname", required_argument, nullptr, 'd'},
    {"set-version", required_argument, nullptr, 'S'}, {"help", no_argument, nullptr, 'h'},
    {"kmsg", no_argument, nullptr, 300},
    {nullptr, 0, nullptr, 0},
};

} // namespace

int run_coldplug(int argc, char** argv) {
    Logger& lg = logger();
    lg.verbosity = log_notice;
    Options opt;
    unsigned long jobs = 0, timeout_s = default_coldplug_timeout_ms / 1000;
    optind = 0;
    for (;;) {
        int c = getopt_long(argc, argv, "nj:vqd:S:h", coldplug_options, nullptr);
        if (c == -1) break;
        switch (c) {
        case 'n': opt.dry_run = true; break;
        case 'j':
            if (!parse_jobs(optarg, &jobs)) return 1;
            break;
        case 256:
            if (!parse_uint(optarg, &timeout_s) || timeout_s > 3600) {
                log_message(log_err, "--timeout %s: want seconds, at most 3600", optarg);
                return 1;
            }
            break;
        case 'v': lg.verbosity = log_debug; break;
        case 'q': lg.verbosity = log_err; break;
        case 300: lg.to_kmsg = true; break;
        case 'd': opt.root_dir = optarg; break;
        case 'S': opt.kernel_release = optarg; break;
        case 'h': printf(coldplug_usage, lg.program); return 0;
        default: return 1;
        }
    }
    if (optind < argc) {
        log_message(log_err, "unexpected argument '%s' (see %s coldplug -h)", argv[optind], lg.program);
        return 1;
    }
    if (!jobs) jobs = default_jobs();
    auto* ctx = new (std::nothrow) Context;
    if (!ctx) return 1;
    LoadLog log(nullptr);
    log.attach(opt);
    // A command that hangs is killed when the time is up.
    opt.command_timeout_ms = static_cast<unsigned>(timeout_s * 1000);
    Error err = ctx->open(opt);
    if (!err.ok()) {
        log_message(log_err, "%s", err.message());
        return 1;
    }
    log.begin();
    coldplug(*ctx, log, static_cast<unsigned>(jobs), static_cast<unsigned>(timeout_s * 1000));
    return log.totals().ok() ? 0 : 1;
}

} // namespace earlymod
