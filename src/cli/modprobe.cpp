// `earlymod modprobe` and the `modprobe` personality: kmod's modprobe
// command line, same options, same output and exit status for -D, -R, -c.
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <new>

#include "commands.h"
#include "earlymod/engine/context.h"
#include "earlymod/util/output.h"
#include "earlymod/util/text.h"

namespace earlymod {

namespace {

const char modprobe_usage[] =
    "Usage:\n"
    "\t%1$s [options] [-i] [-b] modulename [module parameters...]\n"
    "\t%1$s [options] -a [-i] [-b] modulename [modulename...]\n"
    "\t%1$s [options] -r [-i] modulename\n"
    "\t%1$s [options] -r -a [-i] modulename [modulename...]\n"
    "\t%1$s [options] -c\n"
    "Management Options:\n"
    "\t-a, --all                   Consider every non-argument to\n"
    "\t                            be a module name to be inserted\n"
    "\t                            or removed (-r)\n"
    "\t-r, --remove                Remove modules instead of inserting\n"
    "\t    --remove-holders        Accepted for kmod compatibility; ignored\n"
    "\t    --remove-dependencies   Same as --remove-holders\n"
    "\t    --first-time            Fail if module already inserted or removed\n"
    "\t-i, --ignore-install        Ignore install commands\n"
    "\t-i, --ignore-remove         Ignore remove commands\n"
    "\t-b, --use-blacklist         Apply blacklist to resolved alias.\n"
    "\t-f, --force                 Force module insertion (not removal).\n"
    "\t                            implies --force-modversion and\n"
    "\t                            --force-vermagic\n"
    "\t    --force-modversion      Ignore module's version\n"
    "\t    --force-vermagic        Ignore module's version magic\n"
    "\n"
    "Query Options:\n"
    "\t-R, --resolve-alias         Only lookup and print alias and exit\n"
    "\t-D, --show-depends          Only print module dependencies and exit\n"
    "\t-c, --showconfig            Print out known configuration and exit\n"
    "\t-c, --show-config           Same as --showconfig\n"
    "\n"
    "General Options:\n"
    "\t-n, --dry-run               Do not execute operations, just print out\n"
    "\t-n, --show                  Same as --dry-run\n"
    "\t-C, --config=FILE           Use FILE instead of default search paths\n"
    "\t-d, --dirname=DIR           Use DIR as filesystem root for /lib/modules\n"
    "\t-S, --set-version=VERSION   Use VERSION instead of `uname -r`\n"
    "\t    --sysroot=DIR           Read every absolute path (modules, configuration,\n"
    "\t                            /proc/cmdline, /sys) under DIR; print paths\n"
    "\t                            as seen inside DIR\n"
    "\t-s, --syslog                Accepted; messages stay on stderr\n"
    "\t-q, --quiet                 disable messages\n"
    "\t-v, --verbose               enables more messages\n"
    "\t-V, --version               show version\n"
    "\t-h, --help                  show this help\n";

enum LongOnly { opt_first_time = 256, opt_force_modversion, opt_force_vermagic, opt_sysroot, opt_remove_holders };

const struct option modprobe_options[] = {
    {"all", no_argument, nullptr, 'a'},
    {"remove", no_argument, nullptr, 'r'},
    {"remove-dependencies", no_argument, nullptr, opt_remove_holders},
    {"remove-holders", no_argument, nullptr, opt_remove_holders},
    {"resolve-alias", no_argument, nullptr, 'R'},
    {"first-time", no_argument, nullptr, opt_first_time},
    {"ignore-install", no_argument, nullptr, 'i'},
    {"ignore-remove", no_argument, nullptr, 'i'},
    {"use-blacklist", no_argument, nullptr, 'b'},
    {"force", no_argument, nullptr, 'f'},
    {"force-modversion", no_argument, nullptr, opt_force_modversion},
    {"force-vermagic", no_argument, nullptr, opt_force_vermagic},
    {"show-depends", no_argument, nullptr, 'D'},
    {"showconfig", no_argument, nullptr, 'c'},
    {"show-config", no_argument, nullptr, 'c'},
    {"dry-run", no_argument, nullptr, 'n'},
    {"show", no_argument, nullptr, 'n'},
    {"config", required_argument, nullptr, 'C'},
    {"dirname", required_argument, nullptr, 'd'},
    {"set-version", required_argument, nullptr, 'S'},
    {"sysroot", required_argument, nullptr, opt_sysroot},
    {"syslog", no_argument, nullptr, 's'},
    {"quiet", no_argument, nullptr, 'q'},
    {"verbose", no_argument, nullptr, 'v'},
    {"version", no_argument, nullptr, 'V'},
    {"help", no_argument, nullptr, 'h'},
    {nullptr, 0, nullptr, 0},
};

// Prints what modprobe is about to do, in kmod's words.
void print_action(void* context, Action action, const Module& m, std::string_view text, std::string_view params) {
    OutBuf& out = *static_cast<OutBuf*>(context);
    switch (action) {
    case Action::insmod: out.put("insmod ").put(text).put(' ').put(params).put('\n'); break;
    case Action::builtin: out.put("builtin ").put(m.name).put('\n'); break;
    case Action::install: out.put("install ").put(text).put(' ').put(params).put('\n'); break;
    case Action::rmmod: out.put("rmmod ").put(m.name).put('\n'); break;
    case Action::remove: out.put("remove ").put(text).put('\n'); break;
    }
}

// The parameters after the module name, joined; a value with a blank gets
// quotes, as kmod's options_from_array does.
void join_params(char** args, int nargs, Vec<char>& out) {
    for (int i = 1; i < nargs; ++i) {
        std::string_view a = args[i];
        if (i > 1) out.push(' ');
        size_t eq = a.find('=');
        bool quote = eq != std::string_view::npos && eq + 1 <= a.size() &&
                     (eq + 1 == a.size() || (a[eq + 1] != '"' && a[eq + 1] != '\'')) &&
                     a.substr(eq + 1).find(' ') != std::string_view::npos;
        if (!quote) {
            for (char c : a) out.push(c);
            continue;
        }
        for (char c : a.substr(0, eq + 1)) out.push(c);
        out.push('"');
        for (char c : a.substr(eq + 1)) out.push(c);
        out.push('"');
    }
}

// MODPROBE_OPTIONS: extra arguments from the environment, placed before
// the command line's own (kmod sets it for install commands it runs).
char** prepend_env_options(int* argc, char** argv, Vec<char*>& storage, Arena& arena) {
    const char* env = getenv("MODPROBE_OPTIONS");
    if (!env || !*env) return argv;
    storage.push(argv[0]);
    std::string_view rest = env;
    while (!rest.empty()) {
        std::string_view tok = next_token(rest, " ");
        if (tok.empty()) break;
        if ((tok[0] == '"' || tok[0] == '\'') && tok.size() >= 2 && tok.back() == tok[0])
            tok = tok.substr(1, tok.size() - 2);
        storage.push(const_cast<char*>(arena.dup(tok).data()));
    }
    for (int i = 1; i < *argc; ++i) storage.push(argv[i]);
    storage.push(nullptr);
    *argc = static_cast<int>(storage.size()) - 1;
    return storage.data();
}

} // namespace

int run_modprobe(int argc, char** argv) {
    Logger& lg = logger();
    lg.level_tags = true;
    int not_found_level = log_crit;
    bool use_all = false, remove = false, show_config = false, lookup_only = false, show = false;
    Options opt;
    Vec<std::string_view> config_paths;
    Vec<char*> argv_storage;
    Arena arena;
    argv = prepend_env_options(&argc, argv, argv_storage, arena);

    optind = 0; // 0: full reset, in glibc and musl alike (the tests call this repeatedly)
    lg.verbosity = log_warning;
    for (;;) {
        int c = getopt_long(argc, argv, "arRibfDcnC:d:S:sqvVh", modprobe_options, nullptr);
        if (c == -1) break;
        switch (c) {
        case 'a':
            use_all = true;
            not_found_level = log_warning;
            break;
        case 'r': remove = true; break;
        case opt_remove_holders: opt.remove_holders = true; break;
        case opt_first_time: opt.first_time = true; break;
        case 'i': opt.ignore_commands = true; break;
        case 'b': opt.use_blacklist = true; break;
        case 'f': opt.load_flags |= load_ignore_modversions | load_ignore_vermagic; break;
        case opt_force_modversion: opt.load_flags |= load_ignore_modversions; break;
        case opt_force_vermagic: opt.load_flags |= load_ignore_vermagic; break;
        case 'D':
            opt.ignore_status = true;
            opt.dry_run = true;
            show = true;
            break;
        case 'R': lookup_only = true; break;
        case 'c': show_config = true; break;
        case 'n': opt.dry_run = true; break;
        case 'C': config_paths.push(optarg); break;
        case 'd': opt.root_dir = optarg; break;
        case 'S': opt.kernel_release = optarg; break;
        case opt_sysroot: opt.sysroot = optarg; break;
        case 's': break; // no syslog in early boot: messages stay on stderr
        case 'q': lg.verbosity = log_emerg; break;
        case 'v': ++lg.verbosity; break;
        case 'V': printf("earlymod version %s\n", EARLYMOD_VERSION); return 0;
        case 'h': printf(modprobe_usage, usage_name("modprobe")); return 0;
        default: return 1; // getopt has said what was wrong
        }
    }
    char** args = argv + optind;
    int nargs = argc - optind;
    if (!show_config && nargs == 0) {
        log_message(log_err, "missing parameters. See -h.");
        return 1;
    }
    if (!opt.sysroot.empty() && !is_directory(opt.sysroot.data())) {
        log_message(log_crit, "--sysroot %s: not a directory", opt.sysroot.data());
        return 1;
    }

    OutBuf out(1);
    if (show || lg.verbosity > log_warning) {
        opt.on_action = print_action;
        opt.action_context = &out;
    }
    opt.config_paths = config_paths.data();
    opt.n_config_paths = config_paths.size();
    opt.verbosity = lg.verbosity;

    // Left to process exit on purpose: unmapping the indexes and freeing
    // every record one by one would only cost time.
    Context* ctx_ptr = new (std::nothrow) Context;
    if (!ctx_ptr) {
        log_message(log_crit, "out of memory");
        return 1;
    }
    Context& ctx = *ctx_ptr;
    Error err = ctx.open(opt);
    if (!err.ok()) {
        log_message(log_crit, "%s", err.message());
        return 1;
    }

    int status = 0;
    if (show_config) {
        ctx.config().show(out);
        out.put("\n# End of configuration files. Dumping indexes now:\n\n");
        Resolver& r = ctx.resolver();
        r.index(IndexKind::alias).dump("alias ", out);
        r.index(IndexKind::symbols).dump("alias ", out);
    } else if (remove) {
        for (int i = 0; i < (use_all ? nargs : 1); ++i) {
            Error e = ctx.unload(args[i]);
            if (!e.ok()) {
                log_message(log_crit, "%s", e.message());
                status = 1;
            }
        }
    } else if (lookup_only) {
        for (int i = 0; i < (use_all ? nargs : 1); ++i) {
            std::string_view name = args[i];
            Vec<Module*> list;
            if (Resolver::names_file(name)) {
                Error e = ctx.resolver().lookup_file(name, list);
                if (!e.ok()) {
                    log_message(not_found_level, "%s", e.message());
                    status = 1;
                    continue;
                }
            }
            Error e = list.empty() ? ctx.resolver().lookup(name, list) : Error();
            if (!e.ok() || list.empty()) {
                if (!ctx.index_error().ok()) log_message(log_err, "%s", ctx.index_error().message());
                log_message(not_found_level, "Module %s not found in directory %.*s", args[i],
                            static_cast<int>(ctx.moddir().size()), ctx.moddir().data());
                status = 1;
                continue;
            }
            for (Module* m : list) out.put(m->name).put('\n');
        }
    } else {
        Vec<char> params;
        if (!use_all) join_params(args, nargs, params);
        std::string_view p(params.data() ? params.data() : "", params.size());
        for (int i = 0; i < (use_all ? nargs : 1); ++i) {
            // Per-module load failures are logged by the library; a name
            // that resolves to nothing is reported here, at kmod's level.
            Error e = ctx.load(args[i], p);
            if (e.ok()) continue;
            if (ctx.last_not_found()) log_message(not_found_level, "%s", e.message());
            status = 1;
        }
    }
    out.flush();
    if (memory_exhausted()) {
        log_message(log_crit, "out of memory");
        return 1;
    }
    return status;
}

} // namespace earlymod
