// The commands of the earlymod binary. Each takes the argument vector of
// its own command line (argv[0] is the name it was invoked as) and returns
// the process exit status.
#pragma once

namespace earlymod {

int run_modprobe(int argc, char** argv);
int run_load(int argc, char** argv);
int run_coldplug(int argc, char** argv);
int run_insmod(int argc, char** argv);
int run_rmmod(int argc, char** argv);
int run_lsmod(int argc, char** argv);

} // namespace earlymod
