// The kernel, reached through one interface.
//
// Everything earlymod asks of the running kernel goes through Kernel:
// loading and unloading a module, and reading a module's state from
// /sys/module. Tests replace it with a fake that records calls and returns
// chosen errors; the library's users can replace only the load call
// (Options::load_function).
#pragma once

#include <string_view>

#include "earlymod/decompress/decompress.h"
#include "earlymod/util/error.h"
#include "earlymod/util/files.h"

namespace earlymod {

enum class ModuleState { absent, builtin, live, coming, going };

// Flags for load(), kmod's --force-* options.
enum LoadFlags : unsigned {
    load_ignore_modversions = 1, // MODULE_INIT_IGNORE_MODVERSIONS
    load_ignore_vermagic = 2,    // MODULE_INIT_IGNORE_VERMAGIC
};

class Kernel {
public:
    virtual ~Kernel() = default;
    // Loads the module file at path (on this machine) with the parameter
    // string. Returns an Error whose code is the kernel's errno, and whose
    // stage says where it failed (open, decompress, kernel). Called from
    // several worker threads at once: implementations are thread-safe.
    virtual Error load(const char* host_path, std::string_view shown_path, std::string_view params, unsigned flags) = 0;
    // delete_module(2) with O_NONBLOCK; force adds O_TRUNC.
    virtual Error unload(std::string_view name, bool force) = 0;
    // /sys/module/NAME/initstate ("live", "coming", "going"); a directory
    // without initstate is coming; no directory is absent.
    virtual ModuleState state(std::string_view name) = 0;
    // /sys/module/NAME/refcnt, or -errno.
    virtual long refcount(std::string_view name) = 0;
};

// The real thing: syscalls and /sys under root.
//
// Loading: finit_module(2) on the file, with MODULE_INIT_COMPRESSED_FILE
// when the file is compressed (gzip, xz, zstd, by magic bytes) in the
// algorithm /sys/module/compression names. Otherwise, or when the kernel has
// no finit_module (ENOSYS), the image is read (and decompressed in
// userspace) and given to init_module(2).
class LinuxKernel : public Kernel {
public:
    explicit LinuxKernel(const FsRoot& root) : root_(root) {}
    Error load(const char* host_path, std::string_view shown_path, std::string_view params, unsigned flags) override;
    Error unload(std::string_view name, bool force) override;
    ModuleState state(std::string_view name) override;
    long refcount(std::string_view name) override;

private:
    Compression kernel_compression();

    FsRoot root_;
    int kernel_compression_ = 0; // atomic (__atomic builtins): see kernel_compression()
};

} // namespace earlymod
