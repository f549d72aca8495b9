// `earlymod load [FILE...]`: loads the modules wanted at boot (kernel
// command line keys and modules-load.d, or the FILEs given), one log line
// per module and a summary.
#include <getopt.h>
#include <stdio.h>

#include <new>

#include "commands.h"
#include "earlymod/boot/boot.h"
#include "earlymod/config/modules_load.h"
#include "earlymod/util/output.h"
#include "earlymod/util/text.h"

namespace earlymod {

namespace {

const char load_usage[] =
    "Usage: %s load [options] [FILE...]\n"
    "\n"
    "Loads the modules wanted at boot, with their dependencies and softdeps:\n"
    "those named on the kernel command line (rd.modules_load=, modules_load=,\n"
    "rd.driver.pre=, rdloaddriver=, earlymodules=; dracut's /etc/cmdline.d and\n"
    "/etc/cmdline count as command line), then those listed in modules-load.d\n"
    "(/etc, /run, /usr/local/lib, /usr/lib, /lib). With FILEs, only the names\n"
    "in those files. One log line per module and a summary; the exit status is\n"
    "0 when every module is loaded, already present, or skipped for a benign\n"
    "reason (no such device, blocked by module_blacklist=).\n"
    "\n"
    "Options:\n"
    "  -n, --dry-run           resolve and report, load nothing\n"
    "  -j, --jobs=N            load with N workers: a module starts when what it\n"
    "                          needs is loaded (default: online CPUs, at most 16;\n"
    "                          also earlymod.jobs= on the kernel command line)\n"
    "      --timings=FILE      write each module's start, end, outcome and worker\n"
    "                          as JSON (scripts/plot-timings draws it)\n"
    "  -v, --verbose           more detail (each module's start time)\n"
    "  -q, --quiet             errors only\n"
    "      --kmsg              log to the kernel log (/dev/kmsg), as init mode\n"
    "                          does, instead of standard error\n"
    "  -C, --config=PATH       modprobe.d file or directory instead of the defaults\n"
    "  -d, --dirname=DIR       modules under DIR/lib/modules/KVER\n"
    "  -S, --set-version=KVER  kernel release instead of uname -r\n"
    "      --sysroot=DIR       read every absolute path under DIR\n"
    "  -h, --help              show this help\n";

constexpr int opt_timings = 256;
constexpr option load_own_options[] = {
    {"config", required_argument, nullptr, 'C'},
    {"timings", required_argument, nullptr, opt_timings},
    {"help", no_argument, nullptr, 'h'},
};
constexpr auto load_options = with_run_options(load_own_options);

} // namespace

int run_load(int argc, char** argv) {
    Logger& lg = logger();
    lg.verbosity = log_notice;
    auto* boot = new (std::nothrow) BootSetup;
    auto* ctx = new (std::nothrow) Context;
    if (!boot || !ctx) {
        log_message(log_err, "out of memory");
        return 1;
    }
    Options& opt = boot->options;
    Vec<std::string_view> config_paths;
    unsigned long jobs = 0;
    const char* timings = nullptr;
    optind = 0;
    for (;;) {
        int c = getopt_long(argc, argv, "nj:vqd:S:C:h", load_options.data(), nullptr);
        if (c == -1) break;
        OptionUse use = run_option(c, optarg, opt, &jobs);
        if (use == OptionUse::bad) return 1;
        if (use == OptionUse::used) continue;
        switch (c) {
        case 'C': config_paths.push(optarg); break;
        case opt_timings: timings = optarg; break;
        case 'h': printf(load_usage, lg.program); return 0;
        default: return 1;
        }
    }
    if (!sysroot_usable(opt)) return 1;
    opt.config_paths = config_paths.data();
    opt.n_config_paths = config_paths.size();
    FsRoot root(opt.sysroot);
    Vec<std::string_view> files;
    for (int i = optind; i < argc; ++i) files.push(argv[i]);
    bool files_ok = boot->prepare(root, &files, jobs);
    Error err = ctx->open(opt);
    if (!err.ok()) {
        log_message(log_err, "%s", err.message());
        return 1;
    }
    if (boot->wanted.names().empty()) log_message(log_info, "no modules wanted");
    LoadTotals t = load_modules(*ctx, boot->log, boot->wanted.names(), boot->jobs);
    bool timings_ok = true;
    if (timings) {
        Error e = boot->log.write_timings(timings, boot->jobs);
        if (!e.ok()) {
            log_message(log_err, "%s", e.message());
            timings_ok = false;
        }
    }
    return t.ok() && files_ok && timings_ok ? 0 : 1;
}

} // namespace earlymod
