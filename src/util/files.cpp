#include "earlymod/util/files.h"

#include "earlymod/util/memory.h"
#include "earlymod/util/output.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace earlymod {

FsRoot::FsRoot(std::string_view prefix) : prefix_(prefix) {
    while (prefix_.size() > 1 && prefix_.back() == '/') prefix_.remove_suffix(1);
    if (prefix_ == "/") prefix_ = {};
}

bool FsRoot::host_path(std::string_view inside, char* buf, size_t cap) const {
    if (active() && !inside.empty() && inside[0] == '/') {
        // Resolved inside the root, as chroot would; a name that is missing
        // still gives a path (it fails to open there, inside the root).
        char prefix[4096];
        char rel[4096];
        if (prefix_.size() >= sizeof prefix) return false;
        memcpy(prefix, prefix_.data(), prefix_.size());
        prefix[prefix_.size()] = '\0';
        int fd = ::open(prefix, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
            rel[0] = '\0';
            if (inside.size() >= sizeof rel) return false;
            memcpy(rel, inside.data() + 1, inside.size() - 1); // no root: nothing to resolve in
            rel[inside.size() - 1] = '\0';
        } else {
            bool ok = resolve_in_root(fd, inside, rel, sizeof rel);
            int e = errno;
            close(fd);
            if (!ok && e != ENOENT && e != ENOTDIR) return false;
        }
        int n = snprintf(buf, cap, "%s/%s", prefix, rel);
        return n >= 0 && static_cast<size_t>(n) < cap;
    }
    if (inside.size() >= cap) return false;
    memcpy(buf, inside.data(), inside.size());
    buf[inside.size()] = '\0';
    return true;
}

namespace {

// A name that does not resolve ends the walk: out keeps what was resolved,
// then the rest as given, so that opening it fails at that same name.
// errno is kept for the caller.
bool keep_rest(char* out, size_t len, size_t cap, std::string_view rest) {
    int saved = errno;
    if (!rest.empty() && len + 1 + rest.size() < cap) {
        out[len] = '/';
        memcpy(out + len + 1, rest.data(), rest.size());
        out[len + 1 + rest.size()] = '\0';
    }
    errno = saved;
    return false;
}

} // namespace

bool resolve_in_root(int root_fd, std::string_view path, char* out, size_t cap) {
    constexpr int max_links = 40; // the kernel's limit (MAXSYMLINKS)
    if (cap == 0) {
        errno = ENAMETOOLONG;
        return false;
    }
    // rest: what is left to walk; a symlink's target goes in front of it,
    // built in the other buffer. out holds what is resolved so far, with
    // no symlink in it, so ".." there is just its last name removed.
    char bufs[2][PATH_MAX];
    int cur = 0;
    if (path.size() >= sizeof bufs[0]) {
        errno = ENAMETOOLONG;
        return false;
    }
    if (!path.empty()) memcpy(bufs[cur], path.data(), path.size());
    std::string_view rest(bufs[cur], path.size());
    size_t len = 0;
    out[0] = '\0';
    int links = 0;
    while (!rest.empty()) {
        size_t slash = rest.find('/');
        std::string_view name = rest.substr(0, slash);
        rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
        if (name.empty() || name == ".") continue;
        if (name == "..") { // at the root it stays there, as "/.." does
            while (len > 0 && out[len - 1] != '/') --len;
            if (len > 0) --len;
            out[len] = '\0';
            continue;
        }
        size_t parent = len;
        if (len + 1 + name.size() >= cap) {
            errno = ENAMETOOLONG;
            return false;
        }
        if (len) out[len++] = '/';
        memcpy(out + len, name.data(), name.size());
        len += name.size();
        out[len] = '\0';
        struct stat st;
        if (fstatat(root_fd, out, &st, AT_SYMLINK_NOFOLLOW) != 0) return keep_rest(out, len, cap, rest);
        if (S_ISLNK(st.st_mode)) {
            if (++links > max_links) {
                errno = ELOOP;
                return false;
            }
            char target[PATH_MAX];
            ssize_t n = readlinkat(root_fd, out, target, sizeof target);
            if (n < 0) return false;
            size_t tn = static_cast<size_t>(n);
            if (tn + 1 + rest.size() >= sizeof bufs[0]) {
                errno = ENAMETOOLONG;
                return false;
            }
            // The link's name goes; an absolute target starts again at
            // the new root, not at the initramfs's "/".
            len = target[0] == '/' ? 0 : parent;
            out[len] = '\0';
            char* next = bufs[cur ^ 1];
            memcpy(next, target, tn);
            next[tn] = '/';
            if (!rest.empty()) memcpy(next + tn + 1, rest.data(), rest.size());
            rest = std::string_view(next, tn + 1 + rest.size());
            cur ^= 1;
            continue;
        }
        if (!rest.empty() && !S_ISDIR(st.st_mode)) {
            keep_rest(out, len, cap, rest);
            errno = ENOTDIR;
            return false;
        }
    }
    return true;
}

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
    if (this != &o) {
        this->~MappedFile();
        data_ = o.data_;
        size_ = o.size_;
        mapped_ = o.mapped_;
        open_ = o.open_;
        o.data_ = nullptr;
        o.size_ = 0;
        o.mapped_ = false;
        o.open_ = false;
    }
    return *this;
}

MappedFile::~MappedFile() {
    if (mapped_) munmap(const_cast<char*>(data_), size_);
    data_ = nullptr;
    size_ = 0;
    mapped_ = false;
    open_ = false;
}

// No O_CLOEXEC here and below: each descriptor is closed before the
// function returns (and musl pays an extra fcntl for the flag).
Error MappedFile::open(const char* host, std::string_view shown) {
    this->~MappedFile();
    int fd = ::open(host, O_RDONLY);
    if (fd < 0) {
        int e = errno;
        return Error::make(e, "could not open %.*s: %s", SV_ARG(shown), strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return Error::make(e, "could not stat %.*s: %s", SV_ARG(shown), strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return Error::make(EISDIR, "%.*s is a directory, not a file", SV_ARG(shown));
    }
    if (st.st_size > 0) {
        void* p = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            return Error::make(e, "could not map %.*s: %s", SV_ARG(shown), strerror(e));
        }
        data_ = static_cast<const char*>(p);
        size_ = static_cast<size_t>(st.st_size);
        mapped_ = true;
    }
    close(fd);
    open_ = true;
    return {};
}

long read_small_file(const char* host, char* buf, size_t cap) {
    int fd = ::open(host, O_RDONLY);
    if (fd < 0) return -errno;
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            return -e;
        }
        if (r == 0) break;
        n += static_cast<size_t>(r);
    }
    close(fd);
    buf[n] = '\0';
    return static_cast<long>(n);
}

static Error too_big(std::string_view shown) {
    return Error::make(EFBIG, "%.*s: larger than %zu MiB, the limit for this file: not read", SV_ARG(shown),
                       max_whole_file_bytes >> 20);
}

bool read_optional_file(const char* host, std::string_view shown, Arena& arena, std::string_view* out) {
    Error err = read_whole_file(host, shown, arena, out);
    if (err.code() == EFBIG) log_message(log_err, "%s", err.message());
    return err.ok();
}

Error read_whole_file(const char* host, std::string_view shown, Arena& arena, std::string_view* out) {
    int n = static_cast<int>(shown.size());
    int fd = ::open(host, O_RDONLY);
    if (fd < 0) {
        int e = errno;
        return Error::make(e, "could not open %.*s: %s", n, shown.data(), strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        int e = S_ISDIR(st.st_mode) ? EISDIR : errno;
        close(fd);
        return Error::make(e, "could not read %.*s: %s", n, shown.data(), strerror(e));
    }
    size_t size = static_cast<size_t>(st.st_size);
    if (size == 0) {
        // /proc and /sys files report no size: read until the end.
        Vec<char> data;
        char chunk[4096];
        for (;;) {
            ssize_t r = read(fd, chunk, sizeof chunk);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            size_t at = data.size();
            if (at + static_cast<size_t>(r) > max_whole_file_bytes) {
                close(fd);
                return too_big(shown);
            }
            if (!data.resize(at + static_cast<size_t>(r))) break;
            memcpy(data.data() + at, chunk, static_cast<size_t>(r));
        }
        close(fd);
        *out = arena.dup(std::string_view(data.data() ? data.data() : "", data.size()));
        return {};
    }
    if (size > max_whole_file_bytes) {
        close(fd);
        return too_big(shown);
    }
    char* buf = static_cast<char*>(arena.alloc(size + 1, 1));
    if (!buf) {
        close(fd);
        return Error::make(ENOMEM, "out of memory reading %.*s", n, shown.data());
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break; // the file shrank: take what there is
        got += static_cast<size_t>(r);
    }
    close(fd);
    buf[got] = '\0';
    *out = {buf, got};
    return {};
}

bool path_exists(const char* host) {
    struct stat st;
    return stat(host, &st) == 0;
}

bool is_directory(const char* host) {
    struct stat st;
    return stat(host, &st) == 0 && S_ISDIR(st.st_mode);
}

} // namespace earlymod
