// Which configuration files are read, and in which order.
#include <dirent.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <algorithm>

#include "earlymod/config.h"
#include "earlymod/output.h"
#include "earlymod/text.h"

namespace earlymod {

// kmod's list, plus /usr/lib/modprobe.d which newer kmod reads (on a
// merged-/usr system it is /lib/modprobe.d under another name, and a file
// name seen twice is read once).
const char* const default_modprobe_dirs[] = {
    "/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d", "/usr/lib/modprobe.d", "/lib/modprobe.d",
    nullptr,
};

namespace {

struct ConfFile {
    std::string_view name;  // sort key: the file name
    std::string_view path;  // full path inside the root
};

bool conf_name_wanted(std::string_view name) {
    if (name.empty() || name[0] == '.') return false;
    return name.size() >= 6 && (ends_with(name, ".conf") || ends_with(name, ".alias"));
}

void add_file(Vec<ConfFile>& files, ConfFile f) {
    for (const ConfFile& g : files)
        if (g.name == f.name) return;  // the earlier directory wins
    files.push(f);
}

void list_path(const FsRoot& root, Arena& arena, std::string_view path, Vec<ConfFile>& files) {
    char host[4096];
    if (!root.host_path(path, host, sizeof host)) return;
    // One open tells a directory from a file (and from nothing at all).
    int fd = open(host, O_RDONLY | O_DIRECTORY);
    if (fd < 0) {
        if (errno == ENOTDIR) add_file(files, {path_basename(path), path});
        else if (errno != ENOENT)
            log_message(log_err, "could not open directory %.*s: %s", static_cast<int>(path.size()), path.data(),
                        strerror(errno));
        return;
    }
    Vec<ConfFile> found;
    alignas(8) char buf[4096];
    for (;;) {
        long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
        if (n <= 0) break;
        for (long at = 0; at < n;) {
            struct Dirent {
                uint64_t ino;
                int64_t off;
                unsigned short reclen;
                unsigned char type;
                char name[1];
            };
            const Dirent* e = reinterpret_cast<const Dirent*>(buf + at);
            at += e->reclen;
            std::string_view name = e->name;
            if (!conf_name_wanted(name)) continue;
            bool is_dir = e->type == DT_DIR;
            if (e->type == DT_UNKNOWN || e->type == DT_LNK) {
                struct stat st;
                is_dir = fstatat(fd, e->name, &st, 0) == 0 && S_ISDIR(st.st_mode);
            }
            if (is_dir) {
                log_message(log_err, "Directories inside directories are not supported: %.*s/%s",
                            static_cast<int>(path.size()), path.data(), e->name);
                continue;
            }
            std::string_view full = arena.concat(path, "/", name);
            found.push({path_basename(full), full});
        }
    }
    close(fd);
    for (const ConfFile& f : found) add_file(files, f);
}

} // namespace

void Config::load(const FsRoot& root, const std::string_view* paths, size_t n_paths, std::string_view moddir,
                  const char* cmdline) {
    Vec<ConfFile> files;
    // depmod's softdeps take part in the sort under their own file name.
    files.push({"modules.softdep", arena_.concat(moddir, "/modules.softdep")});
    if (n_paths) {
        for (size_t i = 0; i < n_paths; ++i) list_path(root, arena_, paths[i], files);
    } else {
        for (const char* const* d = default_modprobe_dirs; *d; ++d) list_path(root, arena_, *d, files);
    }
    std::sort(files.begin(), files.end(), [](const ConfFile& a, const ConfFile& b) { return a.name < b.name; });
    for (const ConfFile& f : files) {
        char host[4096];
        if (!root.host_path(f.path, host, sizeof host)) continue;
        std::string_view text;
        if (!read_optional_file(host, f.path, arena_, &text)) continue;  // vanished or unreadable: kmod skips it
        parse(text, f.path);
    }
    if (cmdline) {
        char host[4096];
        char buf[4096];
        if (root.host_path(cmdline, host, sizeof host) && read_small_file(host, buf, sizeof buf) >= 0)
            parse_kernel_cmdline(buf);
    }
}

} // namespace earlymod
