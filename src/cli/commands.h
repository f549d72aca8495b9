// The commands of the earlymod binary. Each takes the argument vector of
// its own command line (argv[0] is the name it was invoked as) and returns
// the process exit status.
#pragma once

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <array>

#include "earlymod/engine/context.h"
#include "earlymod/util/output.h"
#include "earlymod/util/text.h"

namespace earlymod {

// The name a command's usage text shows: "modprobe" when the binary runs
// under that name (a link), otherwise "earlymod modprobe".
inline const char* usage_name(const char* command) {
    static char shown[96];
    const char* program = logger().program;
    if (strcmp(program, command) == 0) return command;
    snprintf(shown, sizeof shown, "%s %s", program, command);
    return shown;
}

// -j/--jobs N, shared by the commands that load in parallel: a worker
// count from 1 to Context::max_jobs into *jobs, or false after logging why.
inline bool parse_jobs(const char* arg, unsigned long* jobs) {
    if (parse_uint(arg, jobs) && *jobs >= 1 && *jobs <= Context::max_jobs) return true;
    log_message(log_err, "--jobs %s: want a number from 1 to %u", arg, Context::max_jobs);
    return false;
}

// The options of the commands that run loads (load, coldplug), parsed in
// one place: -n/--dry-run, -j/--jobs N, -v/--verbose, -q/--quiet, --kmsg,
// -d/--dirname DIR, -S/--set-version KVER and --sysroot DIR. A command's
// getopt_long table is with_run_options(its own entries), its short
// options string holds "nj:vqd:S:", and each option goes to run_option()
// first.
enum : int { run_opt_kmsg = 300, run_opt_sysroot = 301 };
inline constexpr option run_long_options[] = {
    {"dry-run", no_argument, nullptr, 'n'},           {"jobs", required_argument, nullptr, 'j'},
    {"verbose", no_argument, nullptr, 'v'},           {"quiet", no_argument, nullptr, 'q'},
    {"kmsg", no_argument, nullptr, run_opt_kmsg},     {"dirname", required_argument, nullptr, 'd'},
    {"set-version", required_argument, nullptr, 'S'}, {"sysroot", required_argument, nullptr, run_opt_sysroot},
};
constexpr size_t n_run_long_options = sizeof run_long_options / sizeof run_long_options[0];

template <size_t N>
constexpr std::array<option, N + n_run_long_options + 1> with_run_options(const option (&own)[N]) {
    std::array<option, N + n_run_long_options + 1> all{};
    for (size_t i = 0; i < n_run_long_options; ++i) all[i] = run_long_options[i];
    for (size_t i = 0; i < N; ++i) all[n_run_long_options + i] = own[i];
    return all; // the last entry stays zero: the end of the table
}

enum class OptionUse { not_shared, used, bad };
// Applies option c (with arg) when it is one of the shared ones: to
// options, *jobs and the logger. bad: the value was refused (said).
inline OptionUse run_option(int c, const char* arg, Options& options, unsigned long* jobs) {
    Logger& lg = logger();
    switch (c) {
    case 'n': options.dry_run = true; return OptionUse::used;
    case 'j': return parse_jobs(arg, jobs) ? OptionUse::used : OptionUse::bad;
    case 'v': lg.verbosity = log_debug; return OptionUse::used;
    case 'q': lg.verbosity = log_err; return OptionUse::used;
    case run_opt_kmsg: lg.to_kmsg = true; return OptionUse::used;
    case 'd': options.root_dir = arg; return OptionUse::used;
    case 'S': options.kernel_release = arg; return OptionUse::used;
    case run_opt_sysroot: options.sysroot = arg; return OptionUse::used;
    default: return OptionUse::not_shared;
    }
}

// After parsing: a --sysroot that is not a directory is refused (said).
inline bool sysroot_usable(const Options& options) {
    if (options.sysroot.empty() || is_directory(options.sysroot.data())) return true;
    log_message(log_err, "--sysroot %s: not a directory", options.sysroot.data());
    return false;
}

int run_modprobe(int argc, char** argv);
int run_load(int argc, char** argv);
int run_coldplug(int argc, char** argv);
int run_insmod(int argc, char** argv);
int run_rmmod(int argc, char** argv);
int run_lsmod(int argc, char** argv);
int run_modinfo(int argc, char** argv);

} // namespace earlymod
