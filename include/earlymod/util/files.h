// Files as earlymod sees them: under an optional system root, read through
// read-only mappings.
//
// Every absolute path the program reads (the modules dir, modprobe.d and
// modules-load.d dirs, /proc/cmdline, /sys) goes through a FsRoot. With
// --sysroot DIR the files are taken under DIR, while messages and output
// show paths as they are seen inside DIR. This lets an initramfs staging
// folder be checked before it is packed, and lets tests run on fixture trees.
#pragma once

#include <stddef.h>

#include <string_view>

#include "earlymod/util/error.h"

namespace earlymod {

// Resolves path under root_fd as if root_fd were "/": every symlink on the
// way, absolute ones included (/sbin/init -> /lib/systemd/systemd), and
// "..", stay inside it. out gets the path relative to root_fd with no
// symlink left ("" for root_fd itself). False with errno (ENOENT, ENOTDIR,
// ELOOP past 40 links, ENAMETOOLONG) when it does not resolve; for ENOENT
// and ENOTDIR out then holds what resolved, then the rest as given.
bool resolve_in_root(int root_fd, std::string_view path, char* out, size_t cap);

class FsRoot {
public:
    FsRoot() = default;
    explicit FsRoot(std::string_view prefix);

    // The path on this machine for a path as seen inside the root. Relative
    // paths are left alone. Under a root, an absolute path is resolved
    // inside it, as chroot would: ".." never climbs above the root, and
    // symbolic links (an absolute one from the root) are followed there,
    // so that no file of this machine outside the root is ever read.
    // Returns false if it does not fit in cap bytes, or for a loop of more
    // than 40 links (resolve_in_root).
    bool host_path(std::string_view inside, char* buf, size_t cap) const;
    bool active() const { return !prefix_.empty(); }

private:
    std::string_view prefix_;
};

// A whole file mapped read-only. Empty files have size 0 and no mapping.
class MappedFile {
public:
    MappedFile() = default;
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    MappedFile(MappedFile&& o) noexcept { *this = static_cast<MappedFile&&>(o); }
    MappedFile& operator=(MappedFile&& o) noexcept;
    ~MappedFile();

    // host is the path to open; shown is how errors name it.
    Error open(const char* host, std::string_view shown);
    std::string_view text() const { return {data_, size_}; }
    const unsigned char* bytes() const { return reinterpret_cast<const unsigned char*>(data_); }
    size_t size() const { return size_; }
    bool is_open() const { return open_; }

private:
    const char* data_ = nullptr;
    size_t size_ = 0;
    bool mapped_ = false;
    bool open_ = false;
};

// Reads a small file (at most cap-1 bytes, NUL-terminated) into buf.
// Returns the byte count, or -errno.
long read_small_file(const char* host, char* buf, size_t cap);

class Arena;
// The largest file read_whole_file() takes: 16 MiB. The biggest file read
// whole on a real system is a modprobe.d file or modules.softdep of a few
// KiB (1.6 KiB on Debian's 6.1 kernel), or /proc/modules (tens of KiB):
// the cap is some thousand times that, and keeps a runaway file (a log
// written into modprobe.d, a device node) from filling memory in PID 1.
constexpr size_t max_whole_file_bytes = size_t{16} << 20;

// Reads a whole (small) file into the arena: for configuration files,
// where a read is cheaper than a mapping. A file larger than
// max_whole_file_bytes is refused (EFBIG, an error naming the file and the
// limit), also when its size is learnt by reading (/proc, pipes).
Error read_whole_file(const char* host, std::string_view shown, Arena& arena, std::string_view* out);

// read_whole_file() for a file that may well be missing or unreadable
// (configuration that kmod skips silently): false then, without a word;
// only a file over max_whole_file_bytes is logged, as an error.
bool read_optional_file(const char* host, std::string_view shown, Arena& arena, std::string_view* out);

bool path_exists(const char* host);
bool is_directory(const char* host);

} // namespace earlymod
