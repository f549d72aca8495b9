// Entry point: picks the command from the name the binary was invoked as
// (a link named modprobe runs modprobe) or from the first argument.
#include <stdio.h>
#include <string.h>

#include <fcntl.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "commands.h"
#include "earlymod/boot/boot.h"
#include "earlymod/util/output.h"
#include "earlymod/util/text.h"

namespace {

const char usage[] =
    "Usage: earlymod COMMAND [ARGS...]\n"
    "\n"
    "Loads Linux kernel modules in early boot, resolving names, aliases,\n"
    "dependencies, softdeps, options and blacklists exactly as kmod does.\n"
    "\n"
    "Commands:\n"
    "  modprobe ARGS...   kmod-compatible modprobe (see earlymod modprobe -h)\n"
    "  load [FILE...]     load the modules wanted at boot (kernel command line,\n"
    "                     modules-load.d), one log line per module\n"
    "  coldplug           load the drivers for the devices present\n"
    "  init               run as the initramfs's /init: mount, load, find and\n"
    "                     mount root=, switch to it (also when run as PID 1)\n"
    "  insmod FILE        load one module file, without dependencies\n"
    "  rmmod MODULE...    unload modules\n"
    "  lsmod              list loaded modules\n"
    "  modinfo MODULE...  kmod-compatible modinfo: the fields of modules\n"
    "                     (see earlymod modinfo -h)\n"
    "\n"
    "Options:\n"
    "  -h, --help         show this help\n"
    "  -V, --version      show the version\n"
    "\n"
    "A link to this binary named after a command (modprobe, insmod, rmmod,\n"
    "lsmod, modinfo...) runs that command. Started by the kernel as PID 1,\n"
    "under the name init or with no command, it runs init.\n"
    "See earlymod(8).\n";

const char init_usage[] =
    "Usage: earlymod init\n"
    "\n"
    "Runs as the initramfs's /init: mounts /proc, /sys, /dev and /run, loads the\n"
    "wanted modules (as load) and the drivers for the devices present (as\n"
    "coldplug), tells the kernel of resume=, waits for root=, mounts it,\n"
    "switches to it and starts init=. The kernel command line configures it\n"
    "(root=, rootfstype=, rootflags=, ro, rw, rootwait, rootdelay=, init=,\n"
    "resume=, resume_offset=, noresume, rd.break, earlymod.*; see earlymod(8)).\n"
    "Run as a command (not started by the kernel as init), it refuses to run\n"
    "when / is not an initramfs (ramfs or tmpfs).\n"
    "\n"
    "Options:\n"
    "  -h, --help         show this help\n";

struct Command {
    const char* name;
    int (*run)(int, char**);
};

const Command commands[] = {
    {"modprobe", earlymod::run_modprobe}, {"load", earlymod::run_load},   {"coldplug", earlymod::run_coldplug},
    {"insmod", earlymod::run_insmod},     {"rmmod", earlymod::run_rmmod}, {"lsmod", earlymod::run_lsmod},
    {"modinfo", earlymod::run_modinfo},
};

bool is_command(std::string_view name) {
    for (const Command& c : commands)
        if (name == c.name) return true;
    return name == "init" || name == "help" || (name.size() > 1 && name[0] == '-');
}

// The kernel starts an initramfs's /init as PID 1 and passes it the
// command line's words it does not know ("single", "emergency") as
// arguments. So PID 1 named init is init whatever its arguments, and PID 1
// under another name is init only when no command or option was given: a
// personality link (modprobe, insmod...) or an explicit command runs that
// command, as it would anywhere else, and never takes over the namespace.
bool started_as_init(std::string_view self, int argc, char** argv) {
    if (getpid() != 1) return false;
    if (self == "init") return true;
    for (const Command& c : commands)
        if (self == c.name) return false;
    return argc < 2 || !is_command(argv[1]);
}

} // namespace

int main(int argc, char** argv) {
    using namespace earlymod;
    std::string_view self = argc > 0 && argv[0] ? path_basename(argv[0]) : "earlymod";
    static char program[64];
    snprintf(program, sizeof program, "%.*s", SV_ARG(self));
    logger().program = program;

    // In early boot there may be no stderr: log to the kernel instead.
    if (fcntl(2, F_GETFD) < 0) logger().to_kmsg = true;
    if (started_as_init(self, argc, argv)) earlymod::run_init(argc, argv);

    // Personalities: a link named after a command runs it, as PID 1 too
    // (a container's first process may well be `modprobe X`).
    for (const Command& c : commands)
        if (self == c.name) return c.run(argc, argv);
    if (self == "init" || (argc > 1 && std::string_view(argv[1]) == "init")) {
        // Not PID 1: only -h is an option, and anything else that looks
        // like one is refused before the system is touched.
        for (int i = self == "init" ? 1 : 2; i < argc; ++i) {
            std::string_view a = argv[i];
            if (a == "-h" || a == "--help") {
                fputs(init_usage, stdout);
                return 0;
            }
            if (a.size() > 1 && a[0] == '-') {
                log_message(log_err, "init: unknown option %s (see earlymod init -h)", argv[i]);
                return 1;
            }
        }
        // Outside an initramfs, init mode would mount over and move the
        // running system's mounts: refuse unless "/" is the initramfs.
        struct statfs fs;
        if (statfs("/", &fs) != 0 || (fs.f_type != 0x858458f6 /* ramfs */ && fs.f_type != 0x01021994 /* tmpfs */)) {
            log_message(log_err, "init: / is not an initramfs (ramfs or tmpfs): refusing to take over this system");
            return 1;
        }
        earlymod::run_init(argc, argv);
    }

    if (argc < 2) {
        fputs(usage, stderr);
        return 1;
    }
    std::string_view cmd = argv[1];
    if (cmd == "-h" || cmd == "--help" || cmd == "help") {
        fputs(usage, stdout);
        return 0;
    }
    if (cmd == "-V" || cmd == "--version") {
        printf("earlymod version %s\n", EARLYMOD_VERSION);
        return 0;
    }
    for (const Command& c : commands)
        if (cmd == c.name) return c.run(argc - 1, argv + 1);
    log_message(log_err, "unknown command '%s' (see earlymod --help)", argv[1]);
    return 1;
}
