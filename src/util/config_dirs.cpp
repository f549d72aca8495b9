#include "earlymod/util/config_dirs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "earlymod/util/output.h"
#include "earlymod/util/text.h"

namespace earlymod {

namespace {

void add_file(Vec<ConfigFile>& files, const ConfigFile& f) {
    for (const ConfigFile& g : files)
        if (g.name == f.name) return; // the earlier directory wins
    files.push(f);
}

// Whether the entry itself (not what it leads to) is a link to /dev/null.
bool links_to_dev_null(int dirfd, const char* name) {
    char link[16];
    ssize_t n = readlinkat(dirfd, name, link, sizeof link);
    return n == 9 && memcmp(link, "/dev/null", 9) == 0;
}

} // namespace

void add_config_dir(const FsRoot& root, Arena& arena, std::string_view dir, bool (*wanted)(std::string_view name),
                    Vec<ConfigFile>& files) {
    int dl = static_cast<int>(dir.size());
    char host[4096];
    if (!root.host_path(dir, host, sizeof host)) return;
    // One open tells a directory from a file (and from nothing at all).
    int fd = open(host, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOTDIR)
            add_file(files, {path_basename(dir), dir, false});
        else if (errno != ENOENT)
            log_message(log_err, "could not open directory %.*s: %s", dl, dir.data(), strerror(errno));
        return;
    }
    Vec<ConfigFile> found;
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
            if (name.empty() || name[0] == '.' || !wanted(name)) continue;
            std::string_view full = arena.concat(dir, "/", name);
            if (full.empty()) continue; // out of memory: said by the arena's owner
            bool masked = e->type == DT_LNK && links_to_dev_null(fd, e->name);
            bool is_dir = e->type == DT_DIR;
            if (!masked && (e->type == DT_UNKNOWN || e->type == DT_LNK)) {
                // Where a link leads, inside the root.
                char fhost[4096];
                struct stat st;
                is_dir = root.host_path(full, fhost, sizeof fhost) && stat(fhost, &st) == 0 && S_ISDIR(st.st_mode);
            }
            if (is_dir) {
                log_message(log_err, "Directories inside directories are not supported: %.*s/%s", dl, dir.data(),
                            e->name);
                continue;
            }
            found.push({path_basename(full), full, masked});
        }
    }
    close(fd);
    for (const ConfigFile& f : found) add_file(files, f);
}

void sort_config_files(Vec<ConfigFile>& files) {
    std::sort(files.begin(), files.end(), [](const ConfigFile& a, const ConfigFile& b) { return a.name < b.name; });
}

} // namespace earlymod
