#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "earlymod/kernel.h"

namespace earlymod {

namespace {

long sys_finit_module(int fd, const char* params, unsigned flags) {
    return syscall(SYS_finit_module, fd, params, flags);
}

long sys_init_module(const void* image, unsigned long size, const char* params) {
    return syscall(SYS_init_module, image, size, params);
}

long sys_delete_module(const char* name, unsigned flags) {
    return syscall(SYS_delete_module, name, flags);
}

bool sys_module_path(const FsRoot& root, std::string_view name, const char* leaf, char* buf, size_t cap) {
    char inside[512];
    int n = snprintf(inside, sizeof inside, "/sys/module/%.*s%s%s", static_cast<int>(name.size()), name.data(),
                     leaf ? "/" : "", leaf ? leaf : "");
    if (n < 0 || static_cast<size_t>(n) >= sizeof inside) return false;
    return root.host_path(inside, buf, cap);
}

} // namespace

Error LinuxKernel::load(const char* host_path, std::string_view shown_path, std::string_view params,
                        unsigned flags) {
    int shown_len = static_cast<int>(shown_path.size());
    char* args = static_cast<char*>(malloc(params.size() + 1));
    if (!args) return Error::make(ENOMEM, "out of memory loading %.*s", shown_len, shown_path.data());
    memcpy(args, params.data(), params.size());
    args[params.size()] = '\0';

    int fd = open(host_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        free(args);
        return Error::make(e, "could not open %.*s: %s", shown_len, shown_path.data(), strerror(e));
    }
    unsigned char magic[6] = {};
    ssize_t got = pread(fd, magic, sizeof magic, 0);
    bool compressed = got >= 4 && ((magic[0] == 0x1f && magic[1] == 0x8b) ||
                                   (magic[0] == 0xfd && magic[1] == '7' && magic[2] == 'z' && magic[3] == 'X') ||
                                   (magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd));
    long rc;
    int e = 0;
    if (!compressed) {
        rc = sys_finit_module(fd, args, flags);
        e = rc < 0 ? errno : 0;
        if (rc < 0 && e == ENOSYS) {
            // Kernels without finit_module(2): read the image ourselves.
            struct stat st;
            if (fstat(fd, &st) == 0 && st.st_size > 0) {
                void* image = malloc(static_cast<size_t>(st.st_size));
                if (image && pread(fd, image, static_cast<size_t>(st.st_size), 0) == st.st_size) {
                    rc = sys_init_module(image, static_cast<unsigned long>(st.st_size), args);
                    e = rc < 0 ? errno : 0;
                }
                free(image);
            }
        }
    } else {
        // In-kernel decompression (MODULE_INIT_COMPRESSED_FILE, Linux
        // 5.17+); userspace decompression arrives with the decoders.
        rc = sys_finit_module(fd, args, flags | 4u);
        e = rc < 0 ? errno : 0;
    }
    close(fd);
    free(args);
    if (e) return Error::make(e, "could not load %.*s: %s", shown_len, shown_path.data(), strerror(e));
    return {};
}

Error LinuxKernel::unload(std::string_view name, bool force) {
    char buf[256];
    if (name.size() >= sizeof buf) return Error::make(ENAMETOOLONG, "module name too long");
    memcpy(buf, name.data(), name.size());
    buf[name.size()] = '\0';
    if (sys_delete_module(buf, O_NONBLOCK | (force ? O_TRUNC : 0)) < 0) {
        int e = errno;
        return Error::make(e, "could not remove '%s': %s", buf, strerror(e));
    }
    return {};
}

ModuleState LinuxKernel::state(std::string_view name) {
    char path[4096];
    if (!sys_module_path(root_, name, "initstate", path, sizeof path)) return ModuleState::absent;
    char buf[32];
    long n = read_small_file(path, buf, sizeof buf);
    if (n < 0) {
        if (sys_module_path(root_, name, nullptr, path, sizeof path) && is_directory(path))
            return ModuleState::coming;
        return ModuleState::absent;
    }
    std::string_view s(buf, static_cast<size_t>(n));
    if (s == "live\n") return ModuleState::live;
    if (s == "coming\n") return ModuleState::coming;
    if (s == "going\n") return ModuleState::going;
    return ModuleState::absent;
}

long LinuxKernel::refcount(std::string_view name) {
    char path[4096];
    if (!sys_module_path(root_, name, "refcnt", path, sizeof path)) return -ENAMETOOLONG;
    char buf[32];
    long n = read_small_file(path, buf, sizeof buf);
    if (n < 0) return n;
    return strtol(buf, nullptr, 10);
}

} // namespace earlymod
