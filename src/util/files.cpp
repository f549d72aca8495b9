#include "earlymod/files.h"

#include "earlymod/memory.h"
#include "earlymod/output.h"

#include <errno.h>
#include <fcntl.h>
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
    if (active() && !inside.empty() && inside[0] == '/') return resolve_inside(inside, buf, cap);
    if (inside.size() >= cap) return false;
    memcpy(buf, inside.data(), inside.size());
    buf[inside.size()] = '\0';
    return true;
}

// What the kernel's openat2(RESOLVE_IN_ROOT) does, walked here because the
// callers open paths, not descriptors: one component at a time, ".."
// stops at the root, and a symbolic link's target is read and walked in
// its place, an absolute one from the root again. buf holds the prefix
// and the components resolved so far; each is lstat'ed before it is kept.
// A component that does not exist ends the walk: the rest is appended as
// it stands, and opening it fails at that component, inside the root.
bool FsRoot::resolve_inside(std::string_view inside, char* buf, size_t cap) const {
    constexpr int max_links = 40;  // the kernel's own limit (ELOOP)
    char todo[2][4096];            // the path still to walk, alternating
    int cur = 0;
    if (inside.size() >= sizeof todo[0] || prefix_.size() >= cap) return false;
    memcpy(todo[cur], inside.data(), inside.size());
    std::string_view rest(todo[cur], inside.size());
    memcpy(buf, prefix_.data(), prefix_.size());
    size_t n = prefix_.size();
    int links = 0;
    bool missing = false;
    while (!rest.empty()) {
        size_t slash = rest.find('/');
        std::string_view c = rest.substr(0, slash);
        rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
        if (c.empty() || c == ".") continue;
        if (c == ".." && !missing) {
            while (n > prefix_.size() && buf[n - 1] != '/') --n;
            if (n > prefix_.size()) --n;  // the slash before it
            continue;
        }
        if (n + 1 + c.size() >= cap) return false;
        buf[n] = '/';
        memcpy(buf + n + 1, c.data(), c.size());
        size_t kept = n;
        n += 1 + c.size();
        buf[n] = '\0';
        if (missing) continue;
        struct stat st;
        if (lstat(buf, &st) != 0) {
            missing = true;
            continue;
        }
        if (!S_ISLNK(st.st_mode)) continue;
        if (++links > max_links) return false;
        char target[4096];
        ssize_t len = readlink(buf, target, sizeof target);
        if (len <= 0 || static_cast<size_t>(len) >= sizeof target) return false;
        // The link's target, then what was left after the link.
        int next = 1 - cur;
        size_t total = static_cast<size_t>(len) + (rest.empty() ? 0 : 1 + rest.size());
        if (total >= sizeof todo[next]) return false;
        memcpy(todo[next], target, static_cast<size_t>(len));
        if (!rest.empty()) {
            todo[next][len] = '/';
            memcpy(todo[next] + len + 1, rest.data(), rest.size());
        }
        cur = next;
        rest = {todo[cur], total};
        n = target[0] == '/' ? prefix_.size() : kept;
    }
    if (n == prefix_.size()) buf[n++] = '/';
    buf[n] = '\0';
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
        return Error::make(e, "could not open %.*s: %s", static_cast<int>(shown.size()), shown.data(), strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return Error::make(e, "could not stat %.*s: %s", static_cast<int>(shown.size()), shown.data(), strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return Error::make(EISDIR, "%.*s is a directory, not a file", static_cast<int>(shown.size()), shown.data());
    }
    if (st.st_size > 0) {
        void* p = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            return Error::make(e, "could not map %.*s: %s", static_cast<int>(shown.size()), shown.data(), strerror(e));
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
    return Error::make(EFBIG, "%.*s: larger than %zu MiB, the limit for this file: not read",
                       static_cast<int>(shown.size()), shown.data(), max_whole_file_bytes >> 20);
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
        if (r <= 0) break;  // the file shrank: take what there is
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
