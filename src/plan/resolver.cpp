#include "earlymod/plan/resolver.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sys/stat.h>
#include <unistd.h>

#include "earlymod/util/output.h"
#include "earlymod/util/text.h"

namespace earlymod {

Error Resolver::open(const ResolverPaths& paths, Config* config) {
    paths_ = paths;
    config_ = config;
    char host[4096];
    int n = snprintf(host, sizeof host, "%.*s", SV_ARG(paths.moddir_host));
    if (n < 0 || static_cast<size_t>(n) >= sizeof host)
        return Error::make(ENAMETOOLONG, "modules directory path too long");
    // Named even when the directory is missing: they then find nothing,
    // and lookup() still answers from the configuration's aliases.
    for (int k = 0; k < 5; ++k)
        indexes_[k].open(static_cast<IndexKind>(k), paths.moddir_host, paths.moddir_shown, arena_);
    if (!is_directory(host)) {
        indexes_usable_ = false;
        int e = path_exists(host) ? ENOTDIR : errno;
        if (!e) e = ENOENT;
        return Error::make(e, "could not open modules directory %.*s: %s", SV_ARG(paths.moddir_shown), strerror(e));
    }
    return {};
}

Error Resolver::check_indexes() {
    IndexFile& dep = indexes_[static_cast<int>(IndexKind::dep)];
    indexes_usable_ = dep.present();
    if (!dep.present() && !dep.open_error().ok()) return dep.open_error();
    if (!dep.present())
        return Error::make(ENOENT, "no module index in %.*s: neither modules.dep.bin nor modules.dep (run depmod)",
                           SV_ARG(paths_.moddir_shown));
    return {};
}

// The pool key is "name" or "name\alias", as in kmod.
Module* Resolver::get(std::string_view name, std::string_view alias, bool has_alias) {
    char keybuf[4096];
    std::string_view key = name;
    if (has_alias) {
        if (name.size() + alias.size() + 2 > sizeof keybuf) return nullptr;
        memcpy(keybuf, name.data(), name.size());
        keybuf[name.size()] = '\\';
        memcpy(keybuf + name.size() + 1, alias.data(), alias.size());
        key = {keybuf, name.size() + 1 + alias.size()};
    }
    if (Module** found = pool_.find(key)) return *found;
    Module* m = arena_.make<Module>();
    if (!m) return nullptr;
    if (has_alias) {
        std::string_view stored = arena_.dup(key);
        m->name = stored.substr(0, name.size());
        m->alias = stored.substr(name.size() + 1);
        key = stored;
    } else {
        m->name = arena_.dup(name);
        key = m->name;
    }
    m->has_alias = has_alias;
    if (!pool_.insert(key, m) || !all_.push(m)) return nullptr;
    return m;
}

// Linux's MODULE_NAME_LEN is 64 bytes with the NUL; anything much longer
// in modules.dep is damage, not a module.
constexpr size_t max_module_name = 255;

void Resolver::parse_dep_line(Module* m, std::string_view line) {
    if (m->dep_done) return;
    m->dep_done = true;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return;
    std::string_view relpath = line.substr(0, colon);
    std::string_view shown = index(IndexKind::dep).shown_name();
    if (!is_safe_relative_path(relpath)) {
        log_message(log_err, "%.*s: refusing path '%.*s' of module %.*s: it leads outside the modules directory",
                    SV_ARG(shown), SV_ARG(relpath), SV_ARG(m->name));
        m->unusable = true;
        return;
    }
    if (!path_fits(relpath)) {
        log_message(log_err, "%.*s: refusing module %.*s: its path is %zu bytes long, more than the limit of %zu",
                    SV_ARG(shown), SV_ARG(m->name), paths_.moddir_shown.size() + 1 + relpath.size(), max_module_path);
        m->unusable = true;
        return;
    }
    if (m->relpath.empty()) m->relpath = relpath;
    // Split the dependency list at blanks; refuse any absolute path or
    // ".." component.
    Vec<Module*>& deps = scratch_deps_;
    deps.clear();
    const char* p = line.data() + colon + 1;
    const char* end = line.data() + line.size();
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t')) ++p;
        const char* b = p;
        const char* sp = static_cast<const char*>(memchr(p, ' ', static_cast<size_t>(end - p)));
        p = sp ? sp : end;
        if (const char* tab = static_cast<const char*>(memchr(b, '\t', static_cast<size_t>(p - b)))) p = tab;
        if (p == b) break;
        std::string_view dep(b, static_cast<size_t>(p - b));
        // The file name: after the last '/', up to its first '.'.
        const char* base = p;
        while (base > b && base[-1] != '/') --base;
        const char* dot = nullptr;
        bool dash = false;
        for (const char* c = base; c < p; ++c) {
            if (*c == '.') {
                dot = c;
                break;
            }
            dash |= *c == '-';
        }
        // Without a '-' the module name is the file name up to its first
        // dot, as it stands in the index: no copy needed.
        Module* d = nullptr;
        std::string_view name(base, static_cast<size_t>((dot ? dot : p) - base));
        if (name.empty() || name.size() > max_module_name) {
            d = nullptr;
        } else if (!dash) {
            d = get(name, {}, false);
        } else {
            char nbuf[max_module_name + 1];
            d = get(normalize_modname(name, nbuf, sizeof nbuf), {}, false);
        }
        // The path check runs once per distinct path, not per mention.
        if (d && d->relpath != dep && !is_safe_relative_path(dep)) {
            log_message(log_err,
                        "%.*s: refusing dependency '%.*s' of module %.*s: it leads outside the modules directory",
                        SV_ARG(shown), SV_ARG(dep), SV_ARG(m->name));
            m->unusable = true;
            return;
        }
        if (d && d->relpath != dep && !path_fits(dep)) {
            log_message(log_err,
                        "%.*s: refusing dependency %.*s of module %.*s: its path is %zu bytes long, more than the "
                        "limit of %zu",
                        SV_ARG(shown), SV_ARG(d->name), SV_ARG(m->name), paths_.moddir_shown.size() + 1 + dep.size(),
                        max_module_path);
            m->unusable = true;
            return;
        }
        if (d) {
            if (d->relpath.empty()) d->relpath = dep;
            d->builtin = 0;
        }
        if (!d) {
            log_message(log_err, "%.*s: unusable dependency '%.*s%s' of module %.*s (name too long, or out of memory)",
                        SV_ARG(shown), dep.size() > 80 ? 80 : SV_ARG(dep), dep.size() > 80 ? "..." : "",
                        SV_ARG(m->name));
            m->unusable = true;
            return;
        }
        if (d == m) {
            log_message(log_warning, "%.*s: module %.*s depends on itself; dependency ignored", SV_ARG(shown),
                        SV_ARG(m->name));
            continue;
        }
        deps.push(d);
    }
    if (deps.size() > max_module_deps) {
        log_message(log_err, "%.*s: module %.*s has %zu dependencies, more than the limit of %zu: module refused",
                    SV_ARG(shown), SV_ARG(m->name), deps.size(), max_module_deps);
        m->unusable = true;
        return;
    }
    // modules.dep lists users before what they use: load order is reversed.
    if (!deps.empty()) {
        m->deps = static_cast<Module**>(arena_.alloc(deps.size() * sizeof(Module*), alignof(Module*)));
        if (!m->deps) return;
        for (size_t i = 0; i < deps.size(); ++i) m->deps[i] = deps[deps.size() - 1 - i];
        m->n_deps = static_cast<uint32_t>(deps.size());
    }
}

bool Resolver::path_fits(std::string_view relpath) const {
    return paths_.moddir_shown.size() + 1 + relpath.size() <= max_module_path;
}

void Resolver::load_deps(Module* m) {
    if (m->dep_done) return;
    std::string_view line;
    if (index(IndexKind::dep).find(m->name, &line))
        parse_dep_line(m, line);
    else
        m->dep_done = true;
}

std::string_view Resolver::path(const Module* m, char* buf, size_t cap) const {
    if (m->unusable) return {};
    if (!m->file.empty()) {
        if (m->file.size() >= cap) return {};
        memcpy(buf, m->file.data(), m->file.size());
        buf[m->file.size()] = '\0';
        return {buf, m->file.size()};
    }
    if (m->relpath.empty()) return {};
    std::string_view dir = paths_.moddir_shown;
    if (dir.size() + 1 + m->relpath.size() >= cap) return {};
    memcpy(buf, dir.data(), dir.size());
    buf[dir.size()] = '/';
    memcpy(buf + dir.size() + 1, m->relpath.data(), m->relpath.size());
    buf[dir.size() + 1 + m->relpath.size()] = '\0';
    return {buf, dir.size() + 1 + m->relpath.size()};
}

bool Resolver::is_builtin(Module* m) {
    if (m->builtin < 0) {
        std::string_view v;
        m->builtin = index(IndexKind::builtin).find(m->name, &v) ? 1 : 0;
    }
    return m->builtin == 1;
}

bool Resolver::install_command(Module* m, std::string_view* command) {
    if (!m->install_done) {
        m->install_done = true;
        m->has_install = config_->install_for(m->name, &m->install);
    }
    *command = m->install;
    return m->has_install;
}

bool Resolver::remove_command(Module* m, std::string_view* command) {
    if (!m->remove_done) {
        m->remove_done = true;
        m->has_remove = config_->remove_for(m->name, &m->remove);
    }
    *command = m->remove;
    return m->has_remove;
}

std::string_view Resolver::options(Module* m) {
    if (m->options_done) return m->options;
    m->options_done = true;
    Vec<char> joined;
    for (const ConfigOptions& o : config_->options) {
        if (o.module != m->name && !(m->has_alias && o.module == m->alias)) continue;
        if (o.options.empty()) continue;
        if (!joined.empty()) joined.push(' ');
        for (char c : o.options) joined.push(c);
    }
    if (!joined.empty()) m->options = arena_.dup(std::string_view(joined.data(), joined.size()));
    return m->options;
}

bool Resolver::is_blacklisted(const Module* m) const {
    return config_->is_blacklisted(m->name);
}

void Resolver::softdeps(Module* m, Vec<Module*>& pre, Vec<Module*>& post) {
    resolve_softdeps(m);
    for (uint32_t i = 0; i < m->n_pre; ++i) pre.push(m->pre[i]);
    for (uint32_t i = 0; i < m->n_post; ++i) post.push(m->post[i]);
}

void Resolver::resolve_softdeps(Module* m) {
    if (!m->softdeps_done) {
        m->softdeps_done = true;
        if (const ConfigSoftdep* d = config_->softdep_for(m->name)) {
            auto resolve = [&](const std::string_view* names, uint32_t n, Module*** arr, uint32_t* count) {
                Vec<Module*> found;
                for (uint32_t i = 0; i < n; ++i) {
                    Error err = lookup(names[i], found);
                    if (!err.ok())
                        log_message(log_err, "failed to lookup soft dependency '%.*s', continuing anyway.",
                                    SV_ARG(names[i]));
                }
                if (found.empty()) return;
                *arr = static_cast<Module**>(arena_.alloc(found.size() * sizeof(Module*), alignof(Module*)));
                if (!*arr) return;
                memcpy(*arr, found.data(), found.size() * sizeof(Module*));
                *count = static_cast<uint32_t>(found.size());
            };
            resolve(d->pre, d->n_pre, &m->pre, &m->n_pre);
            resolve(d->post, d->n_post, &m->post, &m->n_post);
        }
    }
}

Error Resolver::lookup(std::string_view given, Vec<Module*>& out) {
    if (!pool_sized_) {
        // About 175 bytes of modules.dep.bin per module: room for all.
        pool_sized_ = true;
        pool_.reserve(index(IndexKind::dep).size_hint() / 128);
    }
    char buf[4096];
    std::string_view name;
    if (given.size() >= sizeof buf || !normalize_alias(given, buf, sizeof buf, &name))
        return Error::make(EINVAL, "invalid module name or alias '%.*s'", SV_ARG(given));
    size_t start = out.size();

    // 1. modprobe.d aliases.
    for (const ConfigAlias& a : config_->aliases)
        if (config_name_matches(a.pattern, a.glob, name))
            if (Module* m = get(a.module, a.pattern, true)) out.push(m);
    if (out.size() > start) return {};
    // Without modules.dep the indexes cannot be trusted to give a module
    // its file: only the configuration answers (steps 1 and 4), as kmod
    // without a modules directory.
    const bool indexes = indexes_usable_;

    // 2. modules.dep by name.
    if (indexes && name.find(':') == std::string_view::npos) {
        std::string_view line;
        if (index(IndexKind::dep).find(name, &line)) {
            char nbuf[4096];
            if (Module* m = get(normalize_modname(name, nbuf, sizeof nbuf), {}, false)) {
                out.push(m);
                parse_dep_line(m, line);
                return {};
            }
        }
    }

    Vec<IndexValue> values;
    auto add_aliased = [&](int8_t builtin) {
        for (const IndexValue& v : values) {
            Module* m = get(v.value, name, true);
            if (!m) continue;
            if (builtin >= 0) m->builtin = builtin;
            out.push(m);
        }
    };

    // 3. symbol:NAME.
    if (indexes && starts_with(name, "symbol:")) {
        index(IndexKind::symbols).search(name, values);
        add_aliased(-1);
        if (out.size() > start) return {};
    }

    // 4. install, then remove commands for exactly this name.
    for (const Vec<ConfigCommand>* list : {&config_->install, &config_->remove}) {
        for (const ConfigCommand& c : *list) {
            if (c.module != name) continue;
            char nbuf[4096];
            Module* m = get(normalize_modname(c.module, nbuf, sizeof nbuf), {}, false);
            if (!m) break;
            if (list == &config_->install) {
                m->install_done = m->has_install = true;
                m->install = c.command;
            } else {
                m->remove_done = m->has_remove = true;
                m->remove = c.command;
            }
            out.push(m);
            return {};
        }
    }

    if (!indexes) return {};

    // 5. modules.alias.
    values.clear();
    index(IndexKind::alias).search(name, values);
    add_aliased(-1);
    if (out.size() > start) return {};

    // 6. modules.builtin by name.
    std::string_view v;
    if (index(IndexKind::builtin).find(name, &v)) {
        char nbuf[4096];
        if (Module* m = get(normalize_modname(name, nbuf, sizeof nbuf), {}, false)) {
            m->builtin = 1;
            out.push(m);
        }
        return {};
    }

    // 7. modules.builtin.alias.
    values.clear();
    index(IndexKind::builtin_alias).search(name, values);
    add_aliased(1);
    return {};
}

bool Resolver::names_file(std::string_view arg) {
    return starts_with(arg, "/") || starts_with(arg, "./");
}

Error Resolver::lookup_file(std::string_view arg, Vec<Module*>& out) {
    char abs[4096];
    char cwd[4096] = "";
    if (arg[0] != '/' && !getcwd(cwd, sizeof cwd))
        return Error::make(errno, "Failed to get module from path %.*s: %s", SV_ARG(arg), strerror(errno));
    int n = snprintf(abs, sizeof abs, "%s%s%.*s", cwd, cwd[0] ? "/" : "", SV_ARG(arg));
    if (n < 0 || static_cast<size_t>(n) > max_module_path)
        return Error::make(ENAMETOOLONG, "Failed to get module from path %.*s: %s", SV_ARG(arg),
                           strerror(ENAMETOOLONG));
    struct stat st;
    if (stat(abs, &st) != 0)
        return Error::make(errno, "Failed to get module from path %.*s: %s", SV_ARG(arg), strerror(errno));
    std::string_view base = path_basename(arg);
    std::string_view stem = base.substr(0, base.find('.'));
    char nbuf[max_module_name + 1];
    if (stem.empty() || stem.size() > max_module_name)
        return Error::make(ENOENT, "Failed to get module from path %.*s: %s", SV_ARG(arg), strerror(ENOENT));
    Module* m = get(normalize_modname(stem, nbuf, sizeof nbuf), {}, false);
    if (!m) return Error::make(ENOMEM, "out of memory");
    std::string_view file(abs, static_cast<size_t>(n));
    if (!m->file.empty() && m->file != file)
        return Error::make(EEXIST, "Failed to get module from path %.*s: module %.*s is already in use with %.*s",
                           SV_ARG(arg), SV_ARG(m->name), SV_ARG(m->file));
    if (m->file.empty()) m->file = arena_.dup(file);
    m->builtin = 0;
    out.push(m);
    return {};
}

Module* Resolver::lookup_name(std::string_view name) {
    char nbuf[4096];
    std::string_view norm = normalize_modname(name, nbuf, sizeof nbuf);
    std::string_view line;
    if (index(IndexKind::dep).find(norm, &line)) {
        Module* m = get(norm, {}, false);
        if (m) parse_dep_line(m, line);
        return m;
    }
    std::string_view v;
    if (index(IndexKind::builtin).find(norm, &v)) {
        Module* m = get(norm, {}, false);
        if (m) m->builtin = 1;
        return m;
    }
    return nullptr;
}

void Resolver::fill_softdeps(Module* m, Vec<Module*>& out) {
    resolve_softdeps(m);
    bool nest = m->n_pre || m->n_post;
    if (nest && softdep_depth_ >= max_softdep_depth) {
        if (probe_error_.ok()) {
            const ConfigSoftdep* d = config_->softdep_for(m->name);
            std::string_view file = d ? d->file : std::string_view("");
            probe_error_ = Error::make(ELOOP, "%.*s line %u: softdeps of %.*s nested more than %u deep, the limit",
                                       SV_ARG(file), d ? d->line : 0, SV_ARG(m->name), max_softdep_depth);
        }
        return;
    }
    softdep_depth_ += nest;
    for (uint32_t i = 0; i < m->n_pre; ++i) collect(m->pre[i], false, false, out);
    out.push(m);
    m->ignore_command = nest;
    for (uint32_t i = 0; i < m->n_post; ++i) collect(m->post[i], false, false, out);
    softdep_depth_ -= nest;
}

void Resolver::collect(Module* m, bool required, bool ignore_commands, Vec<Module*>& out) {
    if (m->visited == generation_) return;
    m->visited = generation_;
    load_deps(m);
    if (required) {
        // Mark the target and its hard deps before any softdep can visit them.
        m->required = generation_;
        for (uint32_t i = 0; i < m->n_deps; ++i) {
            Module* d = m->deps[i];
            d->required = generation_;
            warn_if_cycle(m, d);
        }
    }
    for (uint32_t i = 0; i < m->n_deps; ++i) fill_softdeps(m->deps[i], out);
    if (ignore_commands) {
        out.push(m);
        m->ignore_command = true;
    } else {
        fill_softdeps(m, out);
    }
}

// modules.dep lists every module's full dependency closure, so resolution
// never loops on a cycle; but a cycle means the modules can never load.
void Resolver::warn_if_cycle(Module* m, Module* d) {
    load_deps(d);
    for (uint32_t j = 0; j < d->n_deps; ++j) {
        if (d->deps[j] != m || d->cycle_reported) continue;
        d->cycle_reported = m->cycle_reported = true;
        std::string_view shown = index(IndexKind::dep).shown_name();
        log_message(log_err, "%.*s: dependency cycle: %.*s needs %.*s, which needs %.*s", SV_ARG(shown),
                    SV_ARG(m->name), SV_ARG(d->name), SV_ARG(m->name));
    }
}

Error Resolver::probe_list(Module* target, bool ignore_commands, Vec<Module*>& out) {
    ++generation_;
    softdep_depth_ = 0;
    probe_error_ = Error();
    collect(target, true, ignore_commands, out);
    return probe_error_;
}

} // namespace earlymod
