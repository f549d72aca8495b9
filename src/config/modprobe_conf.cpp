// The modprobe.d language: one directive per logical line.
#include <string.h>

#include "earlymod/config/config.h"
#include "earlymod/util/output.h"
#include "earlymod/util/text.h"

namespace earlymod {

namespace {

// kmod's underscores() on a token that may be missing.
bool normalize_word(char* word) {
    return word && underscores_in_place(word, strlen(word));
}

} // namespace

void Config::parse(std::string_view text, std::string_view shown) {
    const int sn = static_cast<int>(shown.size());
    if (more_items_than(text, '\n', max_config_lines)) {
        log_message(log_err, "%.*s: more than %zu lines, the limit for a configuration file: file ignored", sn,
                    shown.data(), max_config_lines);
        return;
    }
    // Softdeps keep the file name for messages; the caller's may not last.
    shown = arena_.dup(shown);
    entries_full_reported_ = false;
    // Logical lines, joined as kmod joins them: a backslash before a
    // newline joins the lines; before any other byte it is dropped.
    Vec<char>& line = line_;
    unsigned lineno = 0;
    size_t i = 0;
    bool warned_nul = false;
    const char* data = text.data();
    const size_t size = text.size();
    while (i < size) {
        line.clear();
        unsigned physical = 0;
        bool complete = false;
        while (i < size) {
            // Copy the run up to the next newline or backslash at once.
            const char* nl = static_cast<const char*>(memchr(data + i, '\n', size - i));
            size_t stop = nl ? static_cast<size_t>(nl - data) : size;
            const char* bs = static_cast<const char*>(memchr(data + i, '\\', stop - i));
            size_t run_end = bs ? static_cast<size_t>(bs - data) : stop;
            if (run_end > i) {
                size_t at = line.size();
                if (!line.resize(at + (run_end - i))) return;
                memcpy(line.data() + at, data + i, run_end - i);
                i = run_end;
            }
            if (i >= size) break;
            char c = data[i++];
            if (c == '\n') {
                ++physical;
                complete = true;
                break;
            }
            // A backslash.
            if (i < size && data[i] == '\n') {
                ++i;
                ++physical;
                continue;
            }
            c = i < size ? data[i++] : '\xff';
            line.push(c);
        }
        if (!complete) ++physical;
        lineno += physical;
        if (line.size() > max_config_line_bytes) {
            log_message(log_err, "%.*s line %u: line longer than %zu bytes, the limit: line ignored", sn, shown.data(),
                        lineno, max_config_line_bytes);
            continue;
        }
        if (!line.push('\0')) return;
        size_t len = strlen(line.data());
        if (len + 1 != line.size() && !warned_nul) {
            // Like kmod, the rest of the line after a NUL byte is not seen.
            log_message(log_warning, "%.*s line %u: NUL byte, rest of the line ignored", SV_ARG(shown), lineno);
            warned_nul = true;
        }
        parse_line(line.data(), len, shown, lineno);
    }
}

void Config::parse_line(char* line, size_t len, std::string_view shown, unsigned lineno) {
    if (len == 0 || line[0] == '#') return;
    char* save = nullptr;
    char* cmd = strtok_r(line, "\t ", &save);
    if (!cmd) return;
    if (entry_count() >= max_config_entries) {
        if (!entries_full_reported_)
            log_message(log_err,
                        "%.*s line %u: more than %zu configuration entries, the limit: this line and the rest of "
                        "the file ignored",
                        SV_ARG(shown), lineno, max_config_entries);
        entries_full_reported_ = true;
        return;
    }
    // The rest of the line after a name: kmod takes it with an empty
    // delimiter set, i.e. everything after the one separator that ended
    // the name, leading blanks included.
    auto rest = [&]() { return strtok_r(nullptr, "", &save); };
    auto word = [&]() { return strtok_r(nullptr, "\t ", &save); };

    if (strcmp(cmd, "alias") == 0) {
        char* pattern = word();
        char* module = word();
        if (normalize_word(pattern) && normalize_word(module)) {
            std::string_view pat = arena_.dup(pattern);
            aliases.push({pat, arena_.dup(module), has_glob(pat)});
            return;
        }
    } else if (strcmp(cmd, "blacklist") == 0) {
        char* module = word();
        if (normalize_word(module)) {
            blacklist.push(arena_.dup(module));
            return;
        }
    } else if (strcmp(cmd, "options") == 0) {
        char* module = word();
        char* opts = module ? rest() : nullptr;
        if (normalize_word(module) && opts) {
            for (char* p = opts; *p; ++p)
                if (*p == '\t') *p = ' ';
            options.push({arena_.dup(module), arena_.dup(opts)});
            return;
        }
    } else if (strcmp(cmd, "install") == 0 || strcmp(cmd, "remove") == 0) {
        char* module = word();
        char* command = module ? rest() : nullptr;
        if (normalize_word(module) && command) {
            std::string_view mod = arena_.dup(module);
            (cmd[0] == 'i' ? install : remove).push({mod, arena_.dup(command), has_glob(mod)});
            return;
        }
    } else if (strcmp(cmd, "softdep") == 0) {
        char* module = word();
        char* spec = module ? rest() : nullptr;
        if (normalize_word(module) && spec) {
            add_softdep(arena_.dup(module), spec, shown, lineno);
            return;
        }
    } else if (strcmp(cmd, "weakdep") == 0) {
        // Newer kmod: a dependency an image builder should include but
        // that is never loaded. Nothing to do at load time.
        return;
    } else if (strcmp(cmd, "include") == 0 || strcmp(cmd, "config") == 0) {
        log_message(log_err, "%.*s: command %s is deprecated and not parsed anymore", SV_ARG(shown), cmd);
        return;
    }
    log_message(log_err, "%.*s line %u: ignoring bad line starting with '%s'", SV_ARG(shown), lineno, cmd);
}

void Config::add_softdep(std::string_view module, std::string_view spec, std::string_view shown, unsigned lineno) {
    // Two passes over the words: count, then fill arrays of exact size.

    uint32_t counts[2] = {0, 0};
    for (int pass = 0; pass < 2; ++pass) {
        ConfigSoftdep d{module, nullptr, nullptr, 0, 0, has_glob(module), shown, lineno};
        std::string_view* lists[2] = {nullptr, nullptr};
        if (pass == 1) {
            for (int k = 0; k < 2; ++k) {
                if (!counts[k]) continue;
                lists[k] = static_cast<std::string_view*>(
                    arena_.alloc(counts[k] * sizeof(std::string_view), alignof(std::string_view)));
                if (!lists[k]) return;
            }
        }
        int mode = -1; // -1: before "pre:"/"post:", 0: pre, 1: post
        uint32_t n[2] = {0, 0};
        const char* p = spec.data();
        const char* end = p + spec.size();
        for (;;) {
            while (p < end && is_space(*p)) ++p;
            if (p == end) break;
            const char* b = p;
            while (p < end && !is_space(*p)) ++p;
            std::string_view tok(b, static_cast<size_t>(p - b));
            if (tok == "pre:")
                mode = 0;
            else if (tok == "post:")
                mode = 1;
            else if (mode >= 0) {
                if (pass == 1) lists[mode][n[mode]] = arena_.dup(tok);
                ++n[mode];
            }
        }
        if (pass == 0) {
            counts[0] = n[0];
            counts[1] = n[1];
            continue;
        }
        d.pre = lists[0];
        d.post = lists[1];
        d.n_pre = n[0];
        d.n_post = n[1];
        softdeps.push(d);
    }
}

bool config_name_matches(std::string_view pattern, bool glob, std::string_view name) {
    return glob ? glob_match(pattern, name) : pattern == name;
}

bool Config::is_blacklisted(std::string_view module) const {
    for (std::string_view b : blacklist)
        if (b == module) return true;
    return false;
}

void Config::index_softdeps() const {
    for (; softdeps_indexed_ < softdeps.size(); ++softdeps_indexed_) {
        const ConfigSoftdep& d = softdeps[softdeps_indexed_];
        uint32_t i = static_cast<uint32_t>(softdeps_indexed_);
        if (d.glob)
            softdep_globs_.push(i);
        else
            softdep_by_name_.insert(d.module, i); // keeps the first
    }
}

const ConfigSoftdep* Config::softdep_for(std::string_view module) const {
    index_softdeps();
    uint32_t best = UINT32_MAX;
    if (uint32_t* i = softdep_by_name_.find(module)) best = *i;
    for (uint32_t i : softdep_globs_) {
        if (i >= best) break;
        if (glob_match(softdeps[i].module, module)) {
            best = i;
            break;
        }
    }
    return best == UINT32_MAX ? nullptr : &softdeps[best];
}

static bool first_command(const Vec<ConfigCommand>& list, std::string_view module, std::string_view* command) {
    for (const ConfigCommand& c : list) {
        if (config_name_matches(c.module, c.glob, module)) {
            *command = c.command;
            return true;
        }
    }
    return false;
}

bool Config::install_for(std::string_view module, std::string_view* command) const {
    return first_command(install, module, command);
}

bool Config::remove_for(std::string_view module, std::string_view* command) const {
    return first_command(remove, module, command);
}

void Config::show(OutBuf& out) const {
    for (std::string_view b : blacklist) out.put("blacklist ").put(b).put('\n');
    for (const ConfigCommand& c : install) out.put("install ").put(c.module).put(' ').put(c.command).put('\n');
    for (const ConfigCommand& c : remove) out.put("remove ").put(c.module).put(' ').put(c.command).put('\n');
    for (const ConfigAlias& a : aliases) out.put("alias ").put(a.pattern).put(' ').put(a.module).put('\n');
    for (const ConfigOptions& o : options) out.put("options ").put(o.module).put(' ').put(o.options).put('\n');
    for (const ConfigSoftdep& d : softdeps) {
        // kmod prints the post: list right after the pre: list, with no
        // blank between them ("pre: a bpost: c"); so does earlymod.
        out.put("softdep ").put(d.module).put(' ');
        if (d.n_pre) {
            out.put("pre: ");
            for (uint32_t i = 0; i < d.n_pre; ++i) out.put(i ? " " : "").put(d.pre[i]);
        }
        if (d.n_post) {
            out.put("post: ");
            for (uint32_t i = 0; i < d.n_post; ++i) out.put(i ? " " : "").put(d.post[i]);
        }
        out.put('\n');
    }
}

} // namespace earlymod
