#include "earlymod/util/output.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

namespace earlymod {

bool write_all(int fd, const void* data, size_t size) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
        ssize_t n = write(fd, p, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += n;
        size -= static_cast<size_t>(n);
    }
    return true;
}

OutBuf& OutBuf::put_slow(std::string_view s) {
    flush();
    if (s.size() > sizeof buf_) {
        if (!write_all(fd_, s.data(), s.size())) failed_ = true;
        return *this;
    }
    memcpy(buf_ + used_, s.data(), s.size());
    used_ += s.size();
    return *this;
}

OutBuf& OutBuf::put_uint(unsigned long v) {
    char tmp[24];
    size_t n = 0;
    do {
        tmp[sizeof tmp - 1 - n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v);
    return put(std::string_view(tmp + sizeof tmp - n, n));
}

OutBuf& OutBuf::printf(const char* fmt, ...) {
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        put(std::string_view(tmp, static_cast<size_t>(n) < sizeof tmp ? static_cast<size_t>(n) : sizeof tmp - 1));
    return *this;
}

bool OutBuf::flush() {
    if (used_ && !write_all(fd_, buf_, used_)) failed_ = true;
    used_ = 0;
    return !failed_;
}

uint64_t monotonic_ns() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

Millis::Millis(uint64_t ns, int decimals) {
    if (decimals < 0) decimals = 0;
    if (decimals > 9) decimals = 9; // nanoseconds: no more digits to show
    uint64_t scale = 1;
    for (int i = 0; i < decimals; ++i) scale *= 10;
    // Round to the last decimal shown.
    uint64_t units = (ns * scale + 500000) / 1000000;
    uint64_t whole = units / scale, frac = units % scale;
    if (decimals > 0)
        snprintf(text, sizeof text, "%llu.%0*llu", static_cast<unsigned long long>(whole), decimals,
                 static_cast<unsigned long long>(frac));
    else
        snprintf(text, sizeof text, "%llu", static_cast<unsigned long long>(whole));
}

Logger& logger() {
    static Logger instance;
    return instance;
}

static const char* level_tag(int level) {
    switch (level) {
    case log_emerg:
    case log_alert:
    case log_crit: return "FATAL: ";
    case log_err: return "ERROR: ";
    case log_warning: return "WARNING: ";
    case log_notice: return "NOTICE: ";
    case log_info: return "INFO: ";
    default: return "DEBUG: ";
    }
}

void log_vmessage(int level, const char* fmt, va_list ap) {
    Logger& lg = logger();
    if (level > lg.verbosity) return;
    char line[1024];
    size_t n = 0;
    if (lg.to_kmsg) n += static_cast<size_t>(snprintf(line, sizeof line, "<%d>", level));
    n += static_cast<size_t>(
        snprintf(line + n, sizeof line - n, "%s: %s", lg.program, lg.level_tags ? level_tag(level) : ""));
    if (n < sizeof line) {
        int m = vsnprintf(line + n, sizeof line - n, fmt, ap);
        if (m > 0) n += static_cast<size_t>(m);
    }
    if (n >= sizeof line) n = sizeof line - 1;
    // Exactly one trailing newline: callers may or may not end with one.
    while (n > 0 && line[n - 1] == '\n') --n;
    line[n++] = '\n';
    if (lg.to_kmsg) {
        if (level <= lg.console_level) {
            int fd = open("/dev/console", O_WRONLY | O_CLOEXEC | O_NOCTTY);
            if (fd >= 0) {
                size_t tag = line[0] == '<' ? static_cast<size_t>(strchr(line, '>') - line) + 1 : 0;
                write_all(fd, line + tag, n - tag);
                close(fd);
            }
        }
        int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd >= 0) {
            write_all(fd, line, n);
            close(fd);
            return;
        }
    }
    write_all(2, line, n);
}

void log_message(int level, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    log_vmessage(level, fmt, ap);
    va_end(ap);
}

} // namespace earlymod
