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
    size_t n = 0;
    if (!inside.empty() && inside[0] == '/') {
        if (prefix_.size() >= cap) return false;
        memcpy(buf, prefix_.data(), prefix_.size());
        n = prefix_.size();
    }
    if (n + inside.size() >= cap) return false;
    memcpy(buf + n, inside.data(), inside.size());
    buf[n + inside.size()] = '\0';
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
