// libearlymod by example: what loading, then unloading, kernel modules
// would do, without touching the running kernel.
//
//   earlymod-plan [-d ROOT] [-S KVER] [-C FILE]... NAME...
//
// For each NAME (a module name or an alias), as kmod's modprobe resolves
// it:
//   dependencies NAME   the module files, in load order (Dependencies);
//   load NAME           each step of a load (Load), made with a load
//                       function of our own that prints the file instead
//                       of handing it to the kernel;
//   unload NAME         each step of an unload (Unload), as a dry run.
// Install and remove commands of the configuration are not run, and, as
// with modprobe -i, softdeps are not followed either; the kernel's
// /sys/module is not read: the plan is the same whatever is loaded on
// this machine.
//
// Build against an installed libearlymod:
//   c++ -std=c++20 plan.cpp $(pkg-config --cflags --libs earlymod)
#include <stdio.h>
#include <string.h>

#include <string_view>

#include <earlymod/earlymod.h>

namespace {

using earlymod::Action;
using earlymod::Error;
using earlymod::Module;

int show(std::string_view s) {
    return static_cast<int>(s.size());
}

// The load function: called for each module file where the kernel's
// finit_module would be. An Error returned here fails that module.
Error print_load(void* /*context*/, const Module& module, const char* host_path, std::string_view params,
                 unsigned /*flags*/) {
    printf("  insmod %.*s %s%s%.*s\n", show(module.name), module.name.data(), host_path, params.empty() ? "" : " ",
           show(params), params.data());
    return {};
}

// Steps without a file (builtin modules) and the unload's, as reported.
void print_action(void* /*context*/, Action action, const Module& module, std::string_view text,
                  std::string_view /*params*/) {
    switch (action) {
    case Action::builtin: printf("  builtin %.*s\n", show(module.name), module.name.data()); break;
    case Action::rmmod: printf("  rmmod %.*s\n", show(text), text.data()); break;
    case Action::install: printf("  install command %.*s\n", show(text), text.data()); break;
    case Action::remove: printf("  remove command %.*s\n", show(text), text.data()); break;
    case Action::insmod: break; // print_load says it, with the file
    }
}

int usage() {
    fputs("usage: earlymod-plan [-d ROOT] [-S KVER] [-C FILE]... NAME...\n", stderr);
    return 2;
}

} // namespace

int main(int argc, char** argv) {
    constexpr int max_configs = 16;
    std::string_view configs[max_configs];
    earlymod::Options base;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; ++i) {
        if (i + 1 >= argc) return usage();
        if (strcmp(argv[i], "-d") == 0)
            base.root_dir = argv[++i];
        else if (strcmp(argv[i], "-S") == 0)
            base.kernel_release = argv[++i];
        else if (strcmp(argv[i], "-C") == 0 && base.n_config_paths < max_configs)
            configs[base.n_config_paths++] = argv[++i];
        else
            return usage();
    }
    if (i == argc) return usage();
    base.config_paths = base.n_config_paths ? configs : nullptr;
    base.cmdline = nullptr;      // the kernel command line is this machine's: left out
    base.ignore_status = true;   // nor is /sys/module read
    base.ignore_commands = true; // nor any command run
    base.on_action = print_action;

    // Two contexts: one loads through our function, one unloads as a dry
    // run. An Options object must outlive its context.
    earlymod::Options load_opt = base;
    load_opt.load_function = print_load;
    earlymod::Options unload_opt = base;
    unload_opt.dry_run = true;
    earlymod::Context loader, unloader;
    for (auto [ctx, opt] : {std::pair{&loader, &load_opt}, std::pair{&unloader, &unload_opt}}) {
        Error e = ctx->open(*opt);
        if (!e.ok()) {
            fprintf(stderr, "earlymod-plan: %s\n", e.message());
            return 1;
        }
    }

    int status = 0;
    for (; i < argc; ++i) {
        std::string_view name = argv[i];
        earlymod::Vec<std::string_view> paths;
        Error e = loader.dependencies(name, paths);
        printf("dependencies %s:\n", argv[i]);
        for (std::string_view p : paths) printf("  %.*s\n", show(p), p.data());
        if (e.ok()) {
            printf("load %s:\n", argv[i]);
            e = loader.load(name, {});
        }
        if (e.ok()) {
            printf("unload %s:\n", argv[i]);
            e = unloader.unload(name);
        }
        if (!e.ok()) {
            fprintf(stderr, "earlymod-plan: %s\n", e.message());
            status = 1;
        }
    }
    return status;
}
