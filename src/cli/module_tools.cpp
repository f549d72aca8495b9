// The insmod, rmmod and lsmod personalities: kmod's small tools, for
// scripts in initramfs images that call them by name.
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "earlymod/kernel/kernel.h"
#include "earlymod/util/memory.h"
#include "earlymod/util/output.h"
#include "earlymod/util/text.h"

namespace earlymod {

// insmod FILE [PARAM...]: the file as it is, no dependencies.
int run_insmod(int argc, char** argv) {
    Logger& lg = logger();
    lg.level_tags = true;
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        printf(
            "Usage: %s FILE [PARAM=VALUE...]\nLoads one module file, without its dependencies.\n\n"
            "Options:\n  -h, --help    show this help\n",
            usage_name("insmod"));
        return argc < 2 ? 1 : 0;
    }
    Vec<char> params;
    for (int i = 2; i < argc; ++i) {
        if (i > 2) params.push(' ');
        for (const char* p = argv[i]; *p; ++p) params.push(*p);
    }
    LinuxKernel kernel{FsRoot()};
    Error e = kernel.load(argv[1], argv[1], std::string_view(params.data() ? params.data() : "", params.size()), 0);
    if (!e.ok()) {
        log_message(log_err, "could not insert module %s: %s", argv[1], strerror(e.code()));
        return 1;
    }
    return 0;
}

// rmmod [-f] NAME...: unloads modules (no dependencies; see modprobe -r).
int run_rmmod(int argc, char** argv) {
    Logger& lg = logger();
    lg.level_tags = true;
    bool force = false;
    int first = 1;
    for (; first < argc && argv[first][0] == '-'; ++first) {
        if (strcmp(argv[first], "-f") == 0 || strcmp(argv[first], "--force") == 0)
            force = true;
        else if (strcmp(argv[first], "-h") == 0 || strcmp(argv[first], "--help") == 0) {
            printf(
                "Usage: %s [-f] MODULE...\nUnloads modules (not their dependencies: see modprobe -r).\n\n"
                "Options:\n  -f, --force   unload even when in use (if the kernel allows forced unloading)\n"
                "  -h, --help    show this help\n",
                usage_name("rmmod"));
            return 0;
        } else {
            log_message(log_err, "unknown option %s", argv[first]);
            return 1;
        }
    }
    if (first >= argc) {
        log_message(log_err, "missing module name.");
        return 1;
    }
    LinuxKernel kernel{FsRoot()};
    int status = 0;
    for (int i = first; i < argc; ++i) {
        char buf[256];
        std::string_view name = normalize_modname(path_basename(argv[i]), buf, sizeof buf);
        if (kernel.state(name) == ModuleState::absent) {
            log_message(log_err, "Module %.*s is not currently loaded", SV_ARG(name));
            status = 1;
            continue;
        }
        long uses = kernel.refcount(name);
        if (uses > 0 && !force) {
            log_message(log_err, "Module %.*s is in use", SV_ARG(name));
            status = 1;
            continue;
        }
        Error e = kernel.unload(name, force);
        if (!e.ok()) {
            log_message(log_err, "%s", e.message());
            status = 1;
        }
    }
    return status;
}

// lsmod: /proc/modules as a table, as kmod prints it.
int run_lsmod(int argc, char** argv) {
    if (argc > 1) {
        bool help = strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0;
        fprintf(help ? stdout : stderr,
                "Usage: %s\nLists the loaded modules.\n\nOptions:\n  -h, --help    show this help\n",
                usage_name("lsmod"));
        return help && argc == 2 ? 0 : 1;
    }
    Arena arena;
    std::string_view text;
    Error e = read_whole_file("/proc/modules", "/proc/modules", arena, &text);
    if (!e.ok()) {
        log_message(log_err, "%s", e.message());
        return 1;
    }
    OutBuf out(1);
    out.put("Module                  Size  Used by\n");
    std::string_view line;
    while (next_line(text, &line)) {
        std::string_view name = next_token(line, " ");
        std::string_view size = next_token(line, " ");
        std::string_view used = next_token(line, " ");
        std::string_view holders = next_token(line, " ");
        if (name.empty()) continue;
        out.printf("%-19.*s %8.*s  %.*s", SV_ARG(name), SV_ARG(size), SV_ARG(used));
        if (!holders.empty() && holders != "-") {
            while (!holders.empty() && holders.back() == ',') holders.remove_suffix(1);
            out.put(' ').put(holders);
        }
        out.put('\n');
    }
    return out.flush() ? 0 : 1;
}

} // namespace earlymod
