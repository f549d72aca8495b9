// Resolution: from a name the user gave to the ordered list of modules to
// load, with kmod's semantics (kmod-project/kmod, libkmod-module.c).
//
// A Module here is what kmod calls a kmod_module: one per module name, plus
// one per (name, alias) pair for modules reached through an alias. The
// alias matters: options given for the alias apply, and the blacklist
// applies to modules reached through one. Modules are created on first use
// and live as long as the Resolver.
//
// Lookup of a name (the first step that finds something wins):
//   1. modprobe.d aliases whose pattern matches the name (all of them);
//   2. modules.dep, by exact name (names with ':' skip this step);
//   3. "symbol:NAME" through modules.symbols;
//   4. a modprobe.d install (else remove) command for exactly that name;
//   5. modules.alias patterns (all matches, by priority);
//   6. modules.builtin, by exact name;
//   7. modules.builtin.alias patterns.
//
// Probe list of a module M (what modprobe M loads, in order):
//   for each hard dependency D of M (modules.dep, in load order):
//       D's pre softdeps (each resolved in full), D, D's post softdeps;
//   then M's pre softdeps, M, M's post softdeps.
// A module whose list is being built is marked visited, which breaks
// softdep loops; hard dependencies are listed without that check, so a
// module can appear twice, exactly as kmod prints it.
#pragma once

#include <stdint.h>

#include <string_view>

#include "earlymod/config/config.h"
#include "earlymod/index/index.h"
#include "earlymod/util/error.h"
#include "earlymod/util/memory.h"

namespace earlymod {

// Limits on resolution, far above anything real so that they never change
// a result. Debian's 6.1 kernel: at most 25 hard dependencies per module
// (snd-sof-pci-intel-skl); softdep chains (a's softdep names b, whose
// softdep names c, ...) at most 2 long with Debian's modprobe.d.
//
// Hard dependencies of one module: modules.dep lists each module's whole
// closure, so a long dependency chain shows as a long list. A module with
// more is refused (an error naming modules.dep, the module and the limit),
// like a module with a bad path.
constexpr size_t max_module_deps = 4096;
// A module file's path, the modules directory's included, as the kernel
// takes a path: at most PATH_MAX - 1 bytes. A modules.dep entry (the
// module's own path or a dependency's) that would make a longer path is
// refused like a bad path, with an error naming the module, so that no
// caller meets a module it cannot print or open.
constexpr size_t max_module_path = 4095;
// Softdep nesting in one probe list: each level is a recursion, so this
// bounds the stack (earlymod may be PID 1). A deeper chain makes
// probe_list() fail with ELOOP, naming the softdep line (file and line)
// and the limit; nothing is loaded.
constexpr unsigned max_softdep_depth = 64;

struct Module {
    std::string_view name;  // normalised module name
    std::string_view alias; // the alias it was reached through
    bool has_alias = false;

    // Filled lazily from modules.dep.
    bool dep_done = false;
    bool unusable = false;    // bad entry in modules.dep: never loaded
    std::string_view relpath; // as in modules.dep ("kernel/fs/xfs/xfs.ko")
    std::string_view file;    // a file named by the caller (lookup_file), used instead
    Module** deps = nullptr;  // hard dependencies, in load order
    uint32_t n_deps = 0;

    int8_t builtin = -1; // -1 unknown, 0 no, 1 yes
    bool install_done = false;
    bool has_install = false;
    std::string_view install;
    bool remove_done = false;
    bool has_remove = false;
    std::string_view remove;
    bool options_done = false;
    std::string_view options; // empty: none

    bool softdeps_done = false;
    Module** pre = nullptr; // resolved softdeps
    Module** post = nullptr;
    uint32_t n_pre = 0, n_post = 0;

    // Probe-list state. visited and required hold the generation of the
    // probe that set them, so a new probe resets them all at once.
    uint32_t visited = 0;
    uint32_t required = 0;       // the target or one of its hard deps
    bool ignore_command = false; // has softdeps, or -i: no install command
    bool cycle_reported = false;
};

struct ResolverPaths {
    std::string_view moddir_shown; // e.g. /lib/modules/6.1.0-56-amd64
    std::string_view moddir_host;  // the same on this machine (sysroot)
};

class Resolver {
public:
    Resolver() = default;
    Resolver(const Resolver&) = delete;
    Resolver& operator=(const Resolver&) = delete;

    // Opens the indexes of the modules dir. Returns an error when the dir
    // itself is missing or unreadable; missing index files are reported
    // by check_indexes(). Either way lookup() works afterwards: the
    // configuration's aliases resolve without any index, as in kmod.
    Error open(const ResolverPaths& paths, Config* config);
    // An error naming modules.dep when neither of its forms is present.
    Error check_indexes();

    // Every module the name resolves to, in kmod's order. Fails only for
    // a malformed name (an unmatched bracket). When open() or
    // check_indexes() failed, only the configuration answers (its aliases
    // and install commands).
    Error lookup(std::string_view name, Vec<Module*>& out);
    // Like lookup, but only modules.dep and modules.builtin: a module name,
    // never an alias.
    Module* lookup_name(std::string_view name);
    // kmod 31's `modprobe /path/mod.ko` and `modprobe ./mod.ko`: whether
    // the caller's argument names a module file (it starts with "/" or
    // "./"), and the module for that file: named after the file (up to its
    // first '.'), its path made absolute from the working directory, its
    // dependencies still those modules.dep gives that name. The file is
    // the caller's choice, so it is not held to the modules directory;
    // every path from modules.dep still is. Fails when the file does not
    // exist, or when the name is already in use with another file.
    static bool names_file(std::string_view arg);
    Error lookup_file(std::string_view arg, Vec<Module*>& out);

    // The modules to load for target, in order. ignore_commands is -i:
    // the target's install command and softdeps are skipped. Fails (ELOOP)
    // only when softdeps nest deeper than max_softdep_depth.
    Error probe_list(Module* target, bool ignore_commands, Vec<Module*>& out);
    // Whether m is required by the last probe list (a failure to load it
    // fails the probe; softdep failures do not).
    bool is_required(const Module* m) const { return m->required == generation_; }

    // The module's file, as shown: "<moddir>/<relpath>" (or the caller's
    // file), written into buf. Empty for a module without a file (builtin,
    // install-only, refused).
    std::string_view path(const Module* m, char* buf, size_t cap) const;
    bool has_file(const Module* m) const { return (!m->relpath.empty() || !m->file.empty()) && !m->unusable; }

    // Lazily computed facts about a module.
    void load_deps(Module* m);
    bool is_builtin(Module* m);
    // Install / remove command that applies to m, if any.
    bool install_command(Module* m, std::string_view* command);
    bool remove_command(Module* m, std::string_view* command);
    // modprobe.d and cmdline options for m's name or alias, joined.
    std::string_view options(Module* m);
    // Resolved softdeps (empty lists when there is no softdep line).
    void softdeps(Module* m, Vec<Module*>& pre, Vec<Module*>& post);
    bool is_blacklisted(const Module* m) const;

    IndexFile& index(IndexKind kind) { return indexes_[static_cast<int>(kind)]; }
    const Config& config() const { return *config_; }
    std::string_view moddir() const { return paths_.moddir_shown; }
    Arena& arena() { return arena_; }

private:
    Module* get(std::string_view name, std::string_view alias, bool has_alias);
    void parse_dep_line(Module* m, std::string_view line);
    // Whether the modules directory plus relpath is a path the kernel takes.
    bool path_fits(std::string_view relpath) const;
    void collect(Module* m, bool required, bool ignore_commands, Vec<Module*>& out);
    void fill_softdeps(Module* m, Vec<Module*>& out);
    void resolve_softdeps(Module* m);
    void warn_if_cycle(Module* m, Module* d);

    ResolverPaths paths_;
    Config* config_ = nullptr;
    IndexFile indexes_[5];
    bool indexes_usable_ = true; // false: no modules dir, or no modules.dep
    Arena arena_;
    StrMap<Module*> pool_;
    bool pool_sized_ = false;
    Vec<Module*> scratch_deps_;
    Vec<Module*> all_;
    uint32_t generation_ = 0;
    unsigned softdep_depth_ = 0; // in the probe list being built
    Error probe_error_;          // of the probe list being built
};

} // namespace earlymod
