#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "earlymod/decompress/decompress.h"
#include "earlymod/kernel/kernel.h"
#include "earlymod/util/output.h"

namespace earlymod {

namespace {

// finit_module(2) flag: the file is compressed; the kernel decompresses it.
constexpr unsigned module_init_compressed_file = 4;
// The largest decompressed module accepted (amdgpu, the biggest, is ~30 MB).
constexpr size_t max_module_size = 512u << 20;

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
    int n = snprintf(inside, sizeof inside, "/sys/module/%.*s%s%s", SV_ARG(name), leaf ? "/" : "", leaf ? leaf : "");
    if (n < 0 || static_cast<size_t>(n) >= sizeof inside) return false;
    return root.host_path(inside, buf, cap);
}

} // namespace

// Which algorithm the running kernel can decompress modules with:
// /sys/module/compression ("xz", "gzip" or "zstd"; Linux 5.17+ with
// CONFIG_MODULE_DECOMPRESS). Read once.
// Workers call this at once: the answer is kept in one word read and
// written atomically (0: not read yet, else the Compression plus one); two
// threads may both read the file the first time, and store the same
// answer. (The __atomic builtins: <atomic> drags in libstdc++'s mutexes,
// which a musl build cannot compile.)
Compression LinuxKernel::kernel_compression() {
    int known = __atomic_load_n(&kernel_compression_, __ATOMIC_ACQUIRE);
    if (known) return static_cast<Compression>(known - 1);
    Compression found = Compression::none;
    {
        char path[4096];
        char buf[32];
        if (root_.host_path("/sys/module/compression", path, sizeof path) &&
            read_small_file(path, buf, sizeof buf) > 0) {
            std::string_view s(buf);
            while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
            if (s == "xz")
                found = Compression::xz;
            else if (s == "gzip")
                found = Compression::gzip;
            else if (s == "zstd")
                found = Compression::zstd;
        }
    }
    __atomic_store_n(&kernel_compression_, static_cast<int>(found) + 1, __ATOMIC_RELEASE);
    return found;
}

Error LinuxKernel::load(const char* host_path, std::string_view shown_path, std::string_view params, unsigned flags) {
    int shown_len = static_cast<int>(shown_path.size());
    char* args = static_cast<char*>(malloc(params.size() + 1));
    if (!args) return Error::make(ENOMEM, "out of memory loading %.*s", shown_len, shown_path.data());
    memcpy(args, params.data(), params.size());
    args[params.size()] = '\0';

    int fd = open(host_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        free(args);
        return Error::make(e, "could not open %.*s: %s", shown_len, shown_path.data(), strerror(e)).at(Stage::open);
    }
    unsigned char magic[6] = {};
    ssize_t got = pread(fd, magic, sizeof magic, 0);
    Compression c = detect_compression(magic, got > 0 ? static_cast<size_t>(got) : 0);
    int e = 0;
    bool done = false;
    if (c == Compression::none || c == kernel_compression()) {
        // The kernel reads the file itself (and decompresses it when
        // MODULE_INIT_COMPRESSED_FILE says so).
        unsigned f = flags | (c == Compression::none ? 0u : module_init_compressed_file);
        long rc = sys_finit_module(fd, args, f);
        e = rc < 0 ? errno : 0;
        // ENOSYS: no finit_module(2); fall back on init_module(2) below.
        done = e != ENOSYS;
    }
    if (!done) {
        // Read the image ourselves, decompressing when needed.
        struct stat st;
        void* map = MAP_FAILED;
        if (fstat(fd, &st) == 0 && st.st_size > 0)
            map = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int me = errno ? errno : EINVAL;
            close(fd);
            free(args);
            return Error::make(me, "could not read %.*s: %s", shown_len, shown_path.data(), strerror(me))
                .at(Stage::open);
        } else {
            const unsigned char* image = static_cast<const unsigned char*>(map);
            size_t size = static_cast<size_t>(st.st_size);
            Decompressed d;
            if (c != Compression::none) {
                // Its bytes come out of the process-wide decode budget
                // (decompress.h): a decode that finds it in use fails
                // alone, with ENOMEM; the other workers' decodes go on.
                d = decompress(c, image, size, max_module_size);
                if (d.error) {
                    munmap(map, size);
                    close(fd);
                    free(args);
                    return Error::make(d.code ? d.code : ENOEXEC, "could not decompress %.*s (%s): %s", shown_len,
                                       shown_path.data(), compression_name(c), d.error)
                        .at(Stage::decompress);
                }
                image = d.data;
                size = d.size;
            }
            long rc = sys_init_module(image, size, args);
            e = rc < 0 ? errno : 0;
            d.release(); // the kernel has its copy
            munmap(map, static_cast<size_t>(st.st_size));
        }
    }
    close(fd);
    free(args);
    if (e)
        return Error::make(e, "could not load %.*s: %s", shown_len, shown_path.data(), strerror(e)).at(Stage::kernel);
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
        if (sys_module_path(root_, name, nullptr, path, sizeof path) && is_directory(path)) return ModuleState::coming;
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
