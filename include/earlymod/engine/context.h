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

#include "earlymod/config/config.h"
#include "earlymod/kernel/kernel.h"
#include "earlymod/plan/resolver.h"
#include "earlymod/util/error.h"
#include "earlymod/util/memory.h"

namespace earlymod {

// Nesting of install/remove commands: a command that runs modprobe, whose
// module has a command that runs modprobe, ... Real commands nest once at
// most (an install command calling modprobe --ignore-install); a command
// that calls modprobe for its own module without -i would recurse for
// ever. The depth travels through each command's own environment
// (EARLYMOD_COMMAND_DEPTH, set for the child alone: command.h);
// at this depth the command is not run and the load fails with ELOOP,
// naming the module and the depth.
constexpr unsigned long max_command_depth = 8;

// What a load or unload does for one module, reported before it is done
// (modprobe -D, -n and -v print these).
enum class Action {
    insmod,  // load the file at the module's path
    builtin, // nothing to do: built into the kernel
    install, // run the install command (text) from modprobe.d
    rmmod,   // unload the module
    remove,  // run the remove command (text) from modprobe.d
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
// Why the load engine was asked for a module (LoadEngine::submit): the
// log judges a driver for a device that the image lacks more mildly than
// a module someone listed.
enum class Origin : uint8_t {
    wanted,  // a name given to load (command line, modules-load.d, a caller)
    device,  // a modalias of a device present (coldplug)
    root_fs, // the root filesystem's module (fs-TYPE)
};
struct Report {
    const Module* module;
    Outcome outcome;
    Error error;       // the cause, for failed and skipped; error.stage()
                       // says which step failed (open, kernel, command...)
    bool required;     // the target or a hard dependency (not a softdep)
    bool target;       // the module the name resolved to
    uint64_t start_ns; // CLOCK_MONOTONIC, around the kernel call
    uint64_t end_ns;
    int worker;                     // which worker ran it (LoadEngine), or -1
    const Module* cause;            // skipped: the module whose failure skipped it
    Origin origin = Origin::wanted; // why the module is in the run
};
using ReportFunction = void (*)(void* context, const Report& report);
// Replaces the kernel's load call (default: Kernel::load). host_path is
// the module file on this machine.
using LoadFunction = Error (*)(void* context, const Module& module, const char* host_path, std::string_view params,
                               unsigned flags);

struct Options {
    bool dry_run = false;         // resolve and report, load nothing
    bool ignore_alias = false;    // names are module names, never aliases
    bool ignore_builtin = false;  // builtin modules count as not found
    bool ignore_status = false;   // do not check /sys/module (reload, as -D)
    bool ignore_commands = false; // skip install/remove commands (-i)
    bool use_blacklist = false;   // blacklist applies to every name (-b)
    bool first_time = false;      // already loaded / not loaded is an error
    bool remove_holders = false;  // unload: also modules that use it
    unsigned load_flags = 0;      // LoadFlags: --force-modversion, --force-vermagic
    int verbosity = 4;            // syslog level, as the logger's
    // An install or remove command still running after this long is
    // killed (with its process group) and fails with ETIMEDOUT; 0: no
    // limit (modprobe's default, as kmod). Coldplug and init set it, so
    // that a hanging command cannot hold the boot past its timeout.
    unsigned command_timeout_ms = 0;
    // And no command runs past this moment (CLOCK_MONOTONIC ns; 0: none):
    // coldplug's --timeout is a deadline for the whole run.
    uint64_t command_deadline_ns = 0;

    const std::string_view* config_paths = nullptr; // -C; none: modprobe.d dirs
    size_t n_config_paths = 0;
    bool no_config_dirs = false;           // no modprobe.d dir is read, -C or not (modinfo, as kmod's)
    std::string_view root_dir;             // modules under ROOT/lib/modules/KVER (-d)
    std::string_view kernel_release;       // default: uname -r (-S)
    std::string_view sysroot;              // read every absolute path under this dir
    const char* cmdline = "/proc/cmdline"; // null: ignore the kernel command line

    Kernel* kernel = nullptr; // null: the running kernel
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

    // The most worker threads a LoadEngine runs (load_engine.h loads whole
    // lists; load() above is modprobe's one name at a time).
    static constexpr unsigned max_jobs = 16;

    // One module's step of a load, shared by load() (modprobe) and the
    // LoadEngine (load, coldplug, init): prepare it on the thread that
    // owns the resolver (its file, options, install command; the action
    // is reported then), then run it, on any thread: it touches nothing
    // of the resolver, only the kernel interface or the command runner.
    struct Step {
        Module* module = nullptr;
        std::string_view params;         // configured options, then the caller's
        std::string_view command;        // the install command, when one applies
        const char* host_path = nullptr; // the file on this machine
        std::string_view shown_path;     // the same, as shown
        enum Kind : uint8_t { file, builtin, install, refused, missing } kind = missing;
    };
    // extra_params go after the configured options (the caller's, for the
    // named module). Strings live in the resolver's arena.
    Step prepare_step(Module* m, std::string_view extra_params);
    // Does it: checks the kernel's state first (check_state, unless
    // ignore_status: a live module is present), honours dry_run. Touches
    // no resolver state: thread-safe.
    Outcome run_step(const Step& step, Error* error, bool check_state = true);
    bool in_kernel(Module* m);

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
    // The modules name stands for: the module of a file (a path), the
    // module of that name (ignore_alias), else a name or an alias.
    Error find_modules(std::string_view name, Vec<Module*>& list);
    Error probe(Module* target, std::string_view params);
    Error insert(const Step& step);
    Error remove_module(Module* m, bool top);
    static void say_removal_error(const Error& e);
    Error run_command(const Module* m, std::string_view type, std::string_view command, std::string_view params);
    void report(Action action, Module* m, std::string_view text, std::string_view params);

public:
    // Hands a Report to Options::on_report (required < 0: worked out).
    void notify(Module* m, Outcome outcome, const Error& error, bool target, uint64_t start, uint64_t end,
                int required = -1, int worker = -1, const Module* cause = nullptr, Origin origin = Origin::wanted);

private:
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
    unsigned long command_depth_ = 0; // EARLYMOD_COMMAND_DEPTH this process was started with
    Vec<Module*> scratch_list_;       // reused by probe(): no allocation per module
    Vec<Module*> scratch_lookup_;     // reused by load()
};

} // namespace earlymod
