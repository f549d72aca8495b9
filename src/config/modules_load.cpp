#include "earlymod/config/modules_load.h"

#include <errno.h>
#include <string.h>

#include "earlymod/util/config_dirs.h"
#include "earlymod/util/output.h"
#include "earlymod/util/text.h"

namespace earlymod {

const char* const modules_load_dirs[] = {
    "/etc/modules-load.d",     "/run/modules-load.d", "/usr/local/lib/modules-load.d",
    "/usr/lib/modules-load.d", "/lib/modules-load.d", nullptr,
};

void WantedModules::add(std::string_view name) {
    if (name.empty()) return;
    bool inserted = false;
    std::string_view stored = arena_.dup(name);
    if (stored.empty()) return;
    if (!seen_.insert(stored, true, &inserted) || !inserted) return;
    names_.push(stored);
}

void WantedModules::add_from_cmdline(const KernelParams& params) {
    static const char* const keys[] = {"rd.modules_load", "modules_load", "rd.driver.pre", "rdloaddriver",
                                       "earlymodules"};
    for (const KernelParam& p : params.params()) {
        bool wanted = false;
        for (const char* k : keys) wanted |= param_key_equal(p.key, k);
        if (!wanted) continue;
        std::string_view rest = p.value;
        for (;;) {
            std::string_view item = next_token(rest, ",");
            if (item.empty()) break;
            add(item);
        }
    }
}

void WantedModules::parse(std::string_view text, std::string_view shown) {
    const int sn = static_cast<int>(shown.size());
    if (more_items_than(text, '\n', max_modules_load_lines)) {
        log_message(log_err, "%.*s: more than %zu lines, the limit for a modules-load.d file: file ignored", sn,
                    shown.data(), max_modules_load_lines);
        return;
    }
    size_t lineno = 0;
    std::string_view line;
    while (next_line(text, &line)) {
        ++lineno;
        if (line.size() > max_modules_load_line_bytes) {
            log_message(log_err, "%.*s:%zu: line longer than %zu bytes, the limit: line ignored", sn, shown.data(),
                        lineno, max_modules_load_line_bytes);
            continue;
        }
        while (!line.empty() && is_space(line.front())) line.remove_prefix(1);
        while (!line.empty() && is_space(line.back())) line.remove_suffix(1);
        if (line.empty() || line[0] == '#' || line[0] == ';') continue;
        add(line);
    }
}

bool WantedModules::add_from_file(const FsRoot& root, std::string_view path) {
    char host[4096];
    std::string_view text;
    if (!root.host_path(path, host, sizeof host)) return false;
    Error err = read_whole_file(host, path, arena_, &text);
    if (!err.ok()) {
        log_message(log_err, "%s", err.message());
        return false;
    }
    parse(text, path);
    return true;
}

void WantedModules::add_from_dirs(const FsRoot& root) {
    Vec<ConfigFile> files;
    for (const char* const* dir = modules_load_dirs; *dir; ++dir)
        add_config_dir(
            root, arena_, *dir, [](std::string_view name) { return ends_with(name, ".conf"); }, files);
    sort_config_files(files);
    for (const ConfigFile& f : files)
        if (!f.masked) add_from_file(root, f.path);
}

} // namespace earlymod
