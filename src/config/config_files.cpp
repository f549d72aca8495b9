// Which configuration files are read, and in which order.
#include "earlymod/config/config.h"
#include "earlymod/util/config_dirs.h"
#include "earlymod/util/output.h"
#include "earlymod/util/text.h"

namespace earlymod {

// kmod's list, plus /usr/lib/modprobe.d which newer kmod reads (on a
// merged-/usr system it is /lib/modprobe.d under another name, and a file
// name seen twice is read once).
const char* const default_modprobe_dirs[] = {
    "/etc/modprobe.d",     "/run/modprobe.d", "/usr/local/lib/modprobe.d",
    "/usr/lib/modprobe.d", "/lib/modprobe.d", nullptr,
};

namespace {

bool conf_name_wanted(std::string_view name) {
    return name.size() >= 6 && (ends_with(name, ".conf") || ends_with(name, ".alias"));
}

} // namespace

void Config::load(const FsRoot& root, const std::string_view* paths, size_t n_paths, std::string_view moddir,
                  const char* cmdline, bool default_dirs) {
    Vec<ConfigFile> files;
    // depmod's softdeps take part in the sort under their own file name.
    files.push({"modules.softdep", arena_.concat(moddir, "/modules.softdep"), false});
    if (n_paths) {
        for (size_t i = 0; i < n_paths; ++i) add_config_dir(root, arena_, paths[i], conf_name_wanted, files);
    } else if (default_dirs) {
        for (const char* const* d = default_modprobe_dirs; *d; ++d)
            add_config_dir(root, arena_, *d, conf_name_wanted, files);
    }
    sort_config_files(files);
    for (const ConfigFile& f : files) {
        if (f.masked) continue;
        char host[4096];
        if (!root.host_path(f.path, host, sizeof host)) continue;
        std::string_view text;
        if (!read_optional_file(host, f.path, arena_, &text)) continue; // vanished or unreadable: kmod skips it
        parse(text, f.path);
    }
    if (cmdline) {
        char host[4096];
        char buf[4096];
        if (root.host_path(cmdline, host, sizeof host) && read_small_file(host, buf, sizeof buf) >= 0)
            parse_cmdline_options(buf);
    }
}

} // namespace earlymod
