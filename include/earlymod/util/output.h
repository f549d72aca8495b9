// Buffered output to a file descriptor, and the program's logger.
//
// stdio is avoided: it drags in locale and FILE machinery, and earlymod
// writes large outputs (-D over thousands of modules) that are best sent in
// few write(2) calls. The logger is the only global mutable state: it holds
// the program name that every message starts with, the verbosity, and where
// messages go (stderr, or /dev/kmsg in early boot).
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <string_view>

// The two arguments printf's "%.*s" takes for a string_view (which need
// not end in a NUL): log_message(log_err, "%.*s: not found", SV_ARG(name)).
// sv is named twice: pass a plain name or member, nothing with effects.
#define SV_ARG(sv) static_cast<int>((sv).size()), (sv).data()

namespace earlymod {

class OutBuf {
public:
    explicit OutBuf(int fd) : fd_(fd) {}
    OutBuf(const OutBuf&) = delete;
    OutBuf& operator=(const OutBuf&) = delete;
    ~OutBuf() { flush(); }

    OutBuf& put(std::string_view s) {
        if (s.size() <= sizeof buf_ - used_) {
            if (!s.empty()) memcpy(buf_ + used_, s.data(), s.size()); // data() may be null
            used_ += s.size();
            return *this;
        }
        return put_slow(s);
    }
    OutBuf& put(char c) {
        if (used_ == sizeof buf_) flush();
        buf_[used_++] = c;
        return *this;
    }
    OutBuf& put_uint(unsigned long v);
    OutBuf& printf(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
    // Writes everything buffered; false if the descriptor refused data.
    bool flush();
    bool failed() const { return failed_; }

private:
    OutBuf& put_slow(std::string_view s);
    int fd_;
    size_t used_ = 0;
    bool failed_ = false;
    char buf_[16384];
};

// Writes all of data to fd, retrying on EINTR and short writes.
bool write_all(int fd, const void* data, size_t size);

// Log levels follow syslog's numbering, as kmod's and the kernel's do.
enum LogLevel {
    log_emerg = 0,
    log_alert = 1,
    log_crit = 2,
    log_err = 3,
    log_warning = 4,
    log_notice = 5,
    log_info = 6,
    log_debug = 7
};

struct Logger {
    const char* program = "earlymod";
    int verbosity = log_warning; // messages at or below this level print
    bool to_kmsg = false;        // early boot: /dev/kmsg instead of stderr
    bool level_tags = false;     // "FATAL: ", "ERROR: "... as kmod prints them
    // With to_kmsg: messages at or below this level are also written to
    // /dev/console, in case the kernel's console log level hides them
    // (init mode: what holds the boot up must be seen). -1: none.
    int console_level = -1;
};

Logger& logger();

// CLOCK_MONOTONIC in nanoseconds: load timings and timeouts.
uint64_t monotonic_ns();

// Nanoseconds as milliseconds with a fixed number of decimals ("12.3"):
// integer arithmetic, so that printf's floating-point code stays out of the
// binary.
struct Millis {
    char text[32];
    Millis(uint64_t ns, int decimals);
    const char* c_str() const { return text; }
};

// "<program>: <message>\n" on stderr (or "<N><program>: ..." to /dev/kmsg)
// when level <= verbosity.
void log_message(int level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmessage(int level, const char* fmt, va_list ap);

} // namespace earlymod
