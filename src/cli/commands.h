// The commands of the earlymod binary. Each takes the argument vector of
// its own command line (argv[0] is the name it was invoked as) and returns
// the process exit status.
#pragma once

namespace earlymod {

int run_modprobe(int argc, char** argv);

} // namespace earlymod
