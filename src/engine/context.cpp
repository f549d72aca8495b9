// The library's operations, following kmod's modprobe step by step
// (libkmod-module.c: kmod_module_probe_insert_module; tools/modprobe.c:
// rmmod_do_module), so that the command front end is a thin layer.
#include "earlymod/engine/context.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <new>

#include "earlymod/engine/command.h"
#include "earlymod/util/output.h"
#include "earlymod/util/text.h"

namespace earlymod {

Context::~Context() {
    delete owned_kernel_;
}

Error Context::open(const Options& options) {
    options_ = &options;
    root_ = FsRoot(options.sysroot);

    // kmod: with -d or -S the dir is ROOT/lib/modules/KVER, otherwise
    // /lib/modules/$(uname -r); a relative dir is taken from the cwd.
    struct utsname u;
    std::string_view kver = options.kernel_release;
    if (kver.empty()) {
        if (uname(&u) < 0) return Error::make(errno, "uname() failed: %s", strerror(errno));
        kver = u.release;
    }
    char cwd[4096] = "";
    std::string_view rootdir = options.root_dir;
    if (!rootdir.empty() && rootdir[0] != '/') {
        if (!getcwd(cwd, sizeof cwd)) return Error::make(errno, "getcwd() failed: %s", strerror(errno));
    }
    int n = snprintf(moddir_shown_buf_, sizeof moddir_shown_buf_, "%s%s%.*s/lib/modules/%.*s", cwd, cwd[0] ? "/" : "",
                     SV_ARG(rootdir), SV_ARG(kver));
    if (n < 0 || static_cast<size_t>(n) >= sizeof moddir_shown_buf_)
        return Error::make(ENAMETOOLONG, "modules directory path too long");
    moddir_shown_ = {moddir_shown_buf_, static_cast<size_t>(n)};
    if (!root_.host_path(moddir_shown_, moddir_host_buf_, sizeof moddir_host_buf_))
        return Error::make(ENAMETOOLONG, "modules directory path too long");

    config_.load(root_, options.config_paths, options.no_config_dirs ? 0 : options.n_config_paths, moddir_shown_,
                 options.cmdline, !options.no_config_dirs);
    index_error_ = resolver_.open({moddir_shown_, moddir_host_buf_}, &config_);
    if (index_error_.ok()) index_error_ = resolver_.check_indexes();

    command_depth_ = inherited_command_depth();
    kernel_ = options.kernel;
    if (!kernel_) {
        owned_kernel_ = new (std::nothrow) LinuxKernel(root_);
        if (!owned_kernel_) return Error::make(ENOMEM, "out of memory");
        kernel_ = owned_kernel_;
    }
    if (memory_exhausted()) return Error::make(ENOMEM, "out of memory reading the configuration");
    return {};
}

void Context::report(Action action, Module* m, std::string_view text, std::string_view params) {
    if (options_->on_action) options_->on_action(options_->action_context, action, *m, text, params);
}

bool Context::in_kernel(Module* m) {
    if (resolver_.is_builtin(m)) return true;
    return kernel_->state(m->name) == ModuleState::live;
}

Context::Step Context::prepare_step(Module* m, std::string_view extra) {
    Step step;
    step.module = m;
    if (m->unusable) {
        step.kind = Step::refused;
        return step;
    }
    // Configured options, then the caller's; kmod joins them with a blank
    // even when the second is empty.
    std::string_view conf = resolver_.options(m);
    if (conf.empty() && extra.empty())
        step.params = std::string_view("", 0);
    else if (conf.empty())
        step.params = resolver_.arena().dup(extra);
    else
        step.params = resolver_.arena().concat(conf, " ", extra);
    std::string_view command;
    if (resolver_.install_command(m, &command) && !m->ignore_command) {
        step.kind = Step::install;
        step.command = command;
        report(Action::install, m, command, step.params);
        return step;
    }
    char buf[4096];
    std::string_view path = resolver_.path(m, buf, sizeof buf);
    if (path.empty()) {
        step.kind = resolver_.is_builtin(m) ? Step::builtin : Step::missing;
        if (step.kind == Step::builtin) report(Action::builtin, m, m->name, step.params);
        return step;
    }
    step.kind = Step::file;
    report(Action::insmod, m, path, step.params);
    if (options_->dry_run) return step; // nothing will be opened
    step.shown_path = resolver_.arena().dup(path);
    char host[4096];
    if (!m->file.empty())
        step.host_path = step.shown_path.data(); // the caller's file, on this machine
    else if (root_.host_path(path, host, sizeof host))
        step.host_path = resolver_.arena().dup(host).data();
    return step;
}

Outcome Context::run_step(const Step& step, Error* error, bool check_state) {
    const Module* m = step.module;
    int nl = static_cast<int>(m->name.size());
    *error = Error();
    switch (step.kind) {
    case Step::refused:
        // Its modules.dep entry was refused (and reported): loading it, or
        // printing a plan without it, would be wrong.
        *error = Error::make(EINVAL, "could not insert '%.*s': its modules.dep entry was refused", nl, m->name.data())
                     .at(Stage::resolve);
        return Outcome::failed;
    case Step::missing:
        *error = Error::make(ENOENT, "could not find module by name='%.*s'", nl, m->name.data()).at(Stage::resolve);
        return Outcome::failed;
    case Step::builtin: return Outcome::present;
    case Step::install:
    case Step::file: break;
    }
    if (check_state && !options_->ignore_status && kernel_->state(m->name) == ModuleState::live)
        return Outcome::present;
    if (options_->dry_run) return Outcome::loaded;
    if (step.kind == Step::install)
        *error = run_command(m, "install", step.command, step.params);
    else
        *error = insert(step);
    if (error->ok()) return Outcome::loaded;
    return error->code() == EEXIST ? Outcome::present : Outcome::failed;
}

Error Context::insert(const Step& step) {
    const Module* m = step.module;
    int nl = static_cast<int>(m->name.size());
    if (!step.host_path)
        return Error::make(ENAMETOOLONG, "module path of %.*s too long", nl, m->name.data()).at(Stage::resolve);
    // EINTR: a signal interrupted the load (while the kernel read the file,
    // or waited for another load of the same module to finish); the module
    // was not loaded, so it is tried again, a few times only. kmod does not
    // retry. If the other load finished meanwhile, the retry gets EEXIST.
    Error e;
    for (unsigned attempt = 0; attempt <= max_interrupted_retries; ++attempt) {
        if (options_->load_function)
            e = options_->load_function(options_->load_context, *m, step.host_path, step.params, options_->load_flags);
        else
            e = kernel_->load(step.host_path, step.shown_path, step.params, options_->load_flags);
        if (e.code() != EINTR) break;
        log_message(log_debug, "loading %.*s was interrupted (attempt %u)", nl, m->name.data(), attempt + 1);
    }
    if (!e.ok() && e.stage() == Stage::none) e.at(Stage::kernel);
    return e;
}

Error Context::run_command(const Module* m, std::string_view type, std::string_view command, std::string_view params) {
    int nl = static_cast<int>(m->name.size());
    int tl = static_cast<int>(type.size());
    // $CMDLINE_OPTS stands for the options the module would get.
    Vec<char> cmd;
    static constexpr std::string_view var = "$CMDLINE_OPTS";
    for (size_t i = 0; i < command.size();) {
        if (command.substr(i, var.size()) == var) {
            for (char c : params) cmd.push(c);
            i += var.size();
        } else {
            cmd.push(command[i++]);
        }
    }
    if (!cmd.push('\0')) return Error::make(ENOMEM, "out of memory").at(Stage::command);
    // An install command that calls modprobe for its own module (without
    // -i) would recurse for ever: the nesting travels through the
    // environment of each command (command.h) and is stopped here.
    if (command_depth_ >= max_command_depth)
        return Error::make(ELOOP, "%.*s command for %.*s nested %lu deep, the limit: refusing to run it (a loop?)", tl,
                           type.data(), nl, m->name.data(), command_depth_)
            .at(Stage::command);
    CommandSpec spec;
    spec.type = type;
    spec.module = m->name;
    spec.text = cmd.data();
    spec.depth = command_depth_ + 1;
    uint64_t limit = static_cast<uint64_t>(options_->command_timeout_ms) * 1000000ull;
    spec.deadline_ns = limit ? monotonic_ns() + limit : 0;
    uint64_t until = options_->command_deadline_ns;
    if (until && (!spec.deadline_ns || until < spec.deadline_ns)) spec.deadline_ns = until;
    Error e = run_shell_command(spec);
    if (!e.ok()) e.at(Stage::command);
    return e;
}

void Context::notify(Module* m, Outcome outcome, const Error& error, bool target, uint64_t start, uint64_t end,
                     int required, int worker, const Module* cause, Origin origin) {
    if (!options_->on_report) return;
    bool req = required >= 0 ? required != 0 : target || resolver_.is_required(m);
    Report r{m, outcome, error, req, target, start, end, worker, cause, origin};
    options_->on_report(options_->report_context, r);
}

// kmod's modprobe for one module: its probe list in order, stopping at the
// first required module that fails. (Whole lists at boot go through the
// LoadEngine, which uses the same per-module step.)
Error Context::probe(Module* target, std::string_view params) {
    const Options& o = *options_;
    if (!o.ignore_status && in_kernel(target)) {
        Error e = Error::make(EEXIST, "could not insert '%.*s': Module already in kernel", SV_ARG(target->name));
        notify(target, Outcome::present, e, true, 0, 0);
        return o.first_time ? e : Error();
    }
    // The blacklist applies to modules reached through an alias, and to
    // every module with -b.
    if ((target->has_alias || o.use_blacklist) && resolver_.is_blacklisted(target)) {
        log_message(log_info, "module %.*s is blacklisted", SV_ARG(target->name));
        notify(target, Outcome::blacklisted, Error(), true, 0, 0);
        return {};
    }
    Vec<Module*>& list = scratch_list_;
    list.clear();
    if (Error e = resolver_.probe_list(target, o.ignore_commands, list); !e.ok()) return e;
    if (memory_exhausted()) return Error::make(ENOMEM, "out of memory resolving %.*s", SV_ARG(target->name));
    Error err;
    size_t i = 0;
    for (; i < list.size(); ++i) {
        Module* m = list[i];
        uint64_t start = 0, end = 0;
        Outcome outcome;
        if (m->unusable) {
            outcome = run_step(prepare_step(m, {}), &err);
        } else if (!o.ignore_status && in_kernel(m)) {
            err = Error::make(EEXIST, "could not insert '%.*s': Module already in kernel", SV_ARG(m->name));
            outcome = Outcome::present;
        } else {
            Step step = prepare_step(m, m == target ? params : std::string_view{});
            start = monotonic_ns();
            outcome = run_step(step, &err, false); // its state was read just now
            end = monotonic_ns();
            // modprobe -D/-n prints a builtin module and goes on; a module
            // without a file is loaded by name, as kmod does (and fails).
            if (step.kind == Step::missing && o.dry_run) {
                outcome = Outcome::loaded;
                err = Error();
            }
        }
        notify(m, outcome, err, m == target, start, end);
        if (err.code() == EEXIST && m == target && o.first_time) break;
        if (err.code() == EEXIST || !resolver_.is_required(m))
            err = Error();
        else if (!err.ok())
            break;
    }
    // A required module failed: whatever came after it in the list was not
    // tried, as kmod stops there. Its users need it; the others (the
    // target's other dependencies, post-softdeps) are not tried because
    // the target cannot load anyway.
    if (!err.ok() && o.on_report && i < list.size()) {
        Module* failed = list[i];
        int fl = static_cast<int>(failed->name.size());
        for (size_t k = i + 1; k < list.size(); ++k) {
            Module* m = list[k];
            bool needs = m == target;
            resolver_.load_deps(m);
            for (uint32_t d = 0; d < m->n_deps && !needs; ++d) needs = m->deps[d] == failed;
            Error why = needs ? Error::make(ECANCELED, "it needs %.*s, which failed", fl, failed->name.data())
                        : failed == target
                            ? Error::make(ECANCELED, "not tried: %.*s failed first", fl, failed->name.data())
                            : Error::make(ECANCELED, "not tried: %.*s failed first, and %.*s needs it", fl,
                                          failed->name.data(), SV_ARG(target->name));
            notify(m, Outcome::skipped, why, m == target, 0, 0, -1, -1, failed);
        }
    }
    return err;
}

static Error not_found(std::string_view name, std::string_view moddir) {
    return Error::make(ENOENT, "Module %.*s not found in directory %.*s", SV_ARG(name), SV_ARG(moddir));
}

Error Context::find_modules(std::string_view name, Vec<Module*>& list) {
    if (Resolver::names_file(name)) return resolver_.lookup_file(name, list);
    if (options_->ignore_alias) {
        if (Module* m = resolver_.lookup_name(name)) list.push(m);
        return {};
    }
    return resolver_.lookup(name, list);
}

Error Context::load(std::string_view name, std::string_view params) {
    not_found_ = true;
    Vec<Module*>& list = scratch_lookup_;
    list.clear();
    if (Error e = find_modules(name, list); !e.ok()) {
        // A file's error is said as it is, at the not-found level, as kmod
        // does; a failed lookup is "not found".
        return Resolver::names_file(name) ? e : not_found(name, moddir_shown_);
    }
    if (options_->ignore_builtin) {
        size_t k = 0;
        for (Module* m : list)
            if (!resolver_.is_builtin(m)) list[k++] = m;
        list.truncate(k);
    }
    if (list.empty()) return index_error_.ok() ? not_found(name, moddir_shown_) : index_error_;
    not_found_ = false;
    Error last;
    for (Module* m : list) {
        Error e = probe(m, params);
        if (!e.ok()) {
            if (e.code() == ENOENT && resolver_.has_file(m))
                e = Error::make(ENOENT,
                                "could not insert '%.*s': Unknown symbol in module, or unknown parameter "
                                "(see dmesg)",
                                SV_ARG(m->name));
            // With a report callback the caller logs outcomes itself.
            if (!options_->on_report) log_message(log_err, "%s", e.message());
        }
        last = e;
    }
    return last;
}

Error Context::dependencies(std::string_view name, Vec<std::string_view>& paths) {
    Vec<Module*> list;
    if (Error e = find_modules(name, list); !e.ok()) return e;
    if (list.empty()) return index_error_.ok() ? not_found(name, moddir_shown_) : index_error_;
    for (Module* target : list) {
        Vec<Module*> plan;
        if (Error e = resolver_.probe_list(target, options_->ignore_commands, plan); !e.ok()) return e;
        for (Module* m : plan) {
            std::string_view command;
            if (resolver_.install_command(m, &command) && !m->ignore_command) continue;
            char buf[4096];
            std::string_view path = resolver_.path(m, buf, sizeof buf);
            if (!path.empty()) paths.push(resolver_.arena().dup(path));
        }
    }
    return {};
}

// kmod's rmmod_do_module: post softdeps (reversed), the module itself,
// then dependencies that nothing uses any more, then pre softdeps.
Error Context::remove_module(Module* m, bool top) {
    const Options& o = *options_;
    int nl = static_cast<int>(m->name.size());
    Vec<Module*> pre, post;
    std::string_view command;
    bool has_command = false;
    if (!o.ignore_commands) {
        resolver_.softdeps(m, pre, post);
        has_command = resolver_.remove_command(m, &command);
    }
    if (!has_command && !o.ignore_status) {
        if (resolver_.is_builtin(m)) {
            if (!top) return {};
            return Error::make(ENOENT, "Module %.*s is builtin.", nl, m->name.data());
        }
        if (kernel_->state(m->name) == ModuleState::absent) {
            if (o.first_time) return Error::make(ENOENT, "Module %.*s is not in kernel.", nl, m->name.data());
            return {};
        }
    }
    // kmod: the softdeps' failures are said, and do not stop the removal.
    for (size_t i = post.size(); i-- > 0;) say_removal_error(remove_module(post[i], false));
    if (!has_command && !o.ignore_status) {
        long uses = kernel_->refcount(m->name);
        if (uses > 0) return Error::make(EBUSY, "Module %.*s is in use.", nl, m->name.data());
    }
    Error err;
    if (has_command) {
        report(Action::remove, m, command, {});
        if (!o.dry_run) err = run_command(m, "remove", command, {});
    } else {
        report(Action::rmmod, m, m->name, {});
        if (!o.dry_run) err = kernel_->unload(m->name, false);
    }
    if (!err.ok()) return err;
    if (!has_command) {
        resolver_.load_deps(m);
        for (uint32_t i = 0; i < m->n_deps; ++i) {
            Module* d = m->deps[i];
            if (kernel_->refcount(d->name) != 0) continue;
            report(Action::rmmod, d, d->name, {});
            if (!o.dry_run) say_removal_error(kernel_->unload(d->name, false));
        }
    }
    for (size_t i = pre.size(); i-- > 0;) say_removal_error(remove_module(pre[i], false));
    return {};
}

// The removals that kmod tries on the side (softdeps, dependencies left
// unused): a failure is said at the level of the main one's, and the
// removal goes on.
void Context::say_removal_error(const Error& e) {
    if (!e.ok()) log_message(log_crit, "%s", e.message());
}

Error Context::unload(std::string_view name) {
    if (!index_error_.ok()) return index_error_;
    Vec<Module*> list;
    Error e = resolver_.lookup(name, list);
    if (!e.ok() || list.empty()) return Error::make(ENOENT, "Module %.*s not found.", SV_ARG(name));
    Error err;
    for (Module* m : list) {
        err = remove_module(m, true);
        if (!err.ok()) break;
    }
    return err;
}

} // namespace earlymod
