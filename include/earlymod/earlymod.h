// earlymod as a library: load, unload and list the dependencies of kernel
// modules by name or alias, with kmod's resolution rules.
//
//     earlymod::Options opt;
//     opt.kernel_release = "6.1.0-56-amd64";
//     earlymod::Context ctx;
//     if (Error e = ctx.open(opt); !e.ok()) ...
//     ctx.load("xfs", "", 0);                 // xfs and all it needs
//     Vec<std::string_view> paths;
//     ctx.dependencies("btrfs", paths);       // the files, in load order
//     ctx.unload("btrfs");                    // and deps no longer used
//
// Errors are values: each names the module and the cause, and its code is
// an errno value (ENOENT: not found, EPERM: blocked by the kernel, ...).
#pragma once

#include <stddef.h>

#include <string_view>

#include "earlymod/config.h"
#include "earlymod/error.h"
#include "earlymod/kernel.h"
#include "earlymod/memory.h"
#include "earlymod/resolver.h"

namespace earlymod {

// Nesting of install/remove commands: a command that runs modprobe, whose
// module has a command that runs modprobe, ... Real commands nest once at
// most (an install command calling modprobe --ignore-install); a command
// that calls modprobe for its own module without -i would recurse for
// ever. The depth travels through the environment (EARLYMOD_COMMAND_DEPTH);
// at this depth the command is not run and the load fails with ELOOP,
// naming the module and the depth.
constexpr unsigned long max_command_depth = 8;

// What a load or unload does for one module, reported before it is done
// (modprobe -D, -n and -v print these).
enum class Action {
    insmod,   // load the file at the module's path
    builtin,  // nothing to do: built into the kernel
    install,  // run the install command (text) from modprobe.d
    rmmod,    // unload the module
    remove,   // run the remove command (text) from modprobe.d
};

using ActionFunction = void (*)(void* context, Action action, const Module& module, std::string_view text,
                                std::string_view params);

// What became of one module of a load, reported after the fact (the
// `earlymod load` log is made of these).
enum class Outcome {
    loaded,      // the kernel took it (or its install command succeeded)
    present,     // already live, or built into the kernel
    failed,      // the kernel (or the install command) refused it: see error
    skipped,     // not tried: a module it needs failed first
    blacklisted, // reached through an alias (or -b) and blacklisted
};
struct Report {
    const Module* module;
    Outcome outcome;
    Error error;            // the cause, for failed and skipped
    bool required;          // the target or a hard dependency (not a softdep)
    bool target;            // the module the name resolved to
    uint64_t start_ns;      // CLOCK_MONOTONIC, around the kernel call
    uint64_t end_ns;
    int worker;             // which worker ran it (load_parallel), or -1
    const Module* cause;    // skipped: the module whose failure skipped it
};
using ReportFunction = void (*)(void* context, const Report& report);
// Replaces the kernel's load call (default: Kernel::load). host_path is
// the module file on this machine.
using LoadFunction = Error (*)(void* context, const Module& module, const char* host_path,
                               std::string_view params, unsigned flags);

struct Options {
    bool dry_run = false;          // resolve and report, load nothing
    bool ignore_alias = false;     // names are module names, never aliases
    bool ignore_builtin = false;   // builtin modules count as not found
    bool ignore_status = false;    // do not check /sys/module (reload, as -D)
    bool ignore_commands = false;  // skip install/remove commands (-i)
    bool use_blacklist = false;    // blacklist applies to every name (-b)
    bool first_time = false;       // already loaded / not loaded is an error
    bool remove_holders = false;   // unload: also modules that use it
    unsigned load_flags = 0;       // LoadFlags: --force-modversion, --force-vermagic
    int verbosity = 4;             // syslog level, as the logger's

    const std::string_view* config_paths = nullptr;  // -C; none: modprobe.d dirs
    size_t n_config_paths = 0;
    std::string_view root_dir;        // modules under ROOT/lib/modules/KVER (-d)
    std::string_view kernel_release;  // default: uname -r (-S)
    std::string_view sysroot;         // read every absolute path under this dir
    const char* cmdline = "/proc/cmdline";  // null: ignore the kernel command line

    Kernel* kernel = nullptr;         // null: the running kernel
    LoadFunction load_function = nullptr;
    void* load_context = nullptr;
    ActionFunction on_action = nullptr;
    void* action_context = nullptr;
    ReportFunction on_report = nullptr;
    void* report_context = nullptr;
};

class Context {
public:
    Context() = default;
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;
    ~Context();

    // Reads the configuration and opens the module indexes. The options
    // object (and what it points to) must outlive the context.
    Error open(const Options& options);

    // Loads every module name resolves to, with their dependencies and
    // softdeps; params go to the named module only. A blacklisted alias
    // is skipped without error. Per-module failures are logged; the
    // result is the last one, as modprobe's exit status.
    Error load(std::string_view name, std::string_view params);
    // A module load the kernel reports as interrupted (EINTR) is tried
    // again up to this many times (load and load_parallel).
    static constexpr unsigned max_interrupted_retries = 3;

    // Unloads the module, then its dependencies that nothing uses any
    // more, then its softdeps. A module in use is an EBUSY error.
    Error unload(std::string_view name);

    // The files load(name) would load, in order (builtin modules and
    // install commands contribute none).
    Error dependencies(std::string_view name, Vec<std::string_view>& paths);

    // Loads every name with up to `workers` threads: modules start as soon
    // as what they need is loaded (see load_plan.h). Outcomes are reported
    // as load() reports them, in completion order; names that resolve to
    // nothing are appended to not_found. The result is the last failure
    // of a required module.
    static constexpr unsigned max_jobs = 16;
    Error load_parallel(const Vec<std::string_view>& names, unsigned workers, Vec<std::string_view>& not_found);

    // The modules dir in use, as shown ("/lib/modules/KVER").
    std::string_view moddir() const { return moddir_shown_; }
    Resolver& resolver() { return resolver_; }
    Config& config() { return config_; }
    const Options& options() const { return *options_; }
    // Errors found while opening (unreadable modules dir, missing index)
    // that only matter once a lookup is made.
    const Error& index_error() const { return index_error_; }
    // Whether the last load() failed because the name resolved to nothing
    // (as opposed to a module failing to load; those are logged by load).
    bool last_not_found() const { return not_found_; }

private:
    Error probe(Module* target, std::string_view params);
    Error insert(Module* m, std::string_view params);
    Error remove_module(Module* m, bool top);
    Error run_command(Module* m, std::string_view type, std::string_view command, std::string_view params);
    bool in_kernel(Module* m);
    void report(Action action, Module* m, std::string_view text, std::string_view params);
    void notify(Module* m, Outcome outcome, const Error& error, bool target, uint64_t start, uint64_t end,
                int required = -1, int worker = -1, const Module* cause = nullptr);
    static void* worker_main(void* run);
    void run_job(Module* m, void* job, int worker);

    const Options* options_ = nullptr;
    FsRoot root_;
    Config config_;
    Resolver resolver_;
    Kernel* kernel_ = nullptr;
    Kernel* owned_kernel_ = nullptr;
    Error index_error_;
    char moddir_shown_buf_[4096] = {};
    char moddir_host_buf_[4096] = {};
    std::string_view moddir_shown_;
    bool not_found_ = false;
    Vec<Module*> scratch_list_;   // reused by probe(): no allocation per module
    Vec<Module*> scratch_lookup_; // reused by load()
    Vec<char> scratch_opts_;
};

} // namespace earlymod
