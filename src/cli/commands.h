// The commands of the earlymod binary. Each takes the argument vector of
// its own command line (argv[0] is the name it was invoked as) and returns
// the process exit status.
#pragma once

#include <stdio.h>
#include <string.h>

#include "earlymod/earlymod.h"
#include "earlymod/output.h"
#include "earlymod/text.h"

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

int run_modprobe(int argc, char** argv);
int run_load(int argc, char** argv);
int run_coldplug(int argc, char** argv);
int run_insmod(int argc, char** argv);
int run_rmmod(int argc, char** argv);
int run_lsmod(int argc, char** argv);
int run_modinfo(int argc, char** argv);

} // namespace earlymod
