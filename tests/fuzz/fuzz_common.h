// Helpers shared by the fuzz targets (tests/fuzz/fuzz_*.cpp).
//
// The targets are built two ways (see meson.build here): with clang's
// -fsanitize=fuzzer for fuzzing, and with replay_main.cpp for `meson test`,
// which runs every committed corpus file through them. A broken invariant is
// reported with FUZZ_CHECK, which prints what failed and aborts: libFuzzer
// then saves the input as a crash, and the replay test fails.
#pragma once

#include <fcntl.h>
#include <fnmatch.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>
#include <string_view>
#include <vector>

#include "earlymod/util/output.h"
#include "earlymod/util/text.h"

namespace fuzz {

// Logging is stderr output: silence it (a fuzzer runs millions of inputs).
inline void quiet() {
    earlymod::logger().verbosity = -1;
}

inline std::string_view as_text(const uint8_t* data, size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

inline int devnull() {
    static int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    return fd;
}

[[noreturn]] inline void fail(const char* file, int line, const char* what, std::string_view a, std::string_view b) {
    fprintf(stderr, "%s:%d: fuzz check failed: %s\n", file, line, what);
    auto show = [](const char* name, std::string_view s) {
        if (s.data() == nullptr) return;
        fprintf(stderr, "  %s (%zu bytes): \"", name, s.size());
        for (unsigned char c : s.substr(0, 512)) {
            if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
                fputc(c, stderr);
            else
                fprintf(stderr, "\\x%02x", c);
        }
        fprintf(stderr, "\"%s\n", s.size() > 512 ? "..." : "");
    };
    show("a", a);
    show("b", b);
    abort();
}

// FUZZ_CHECK(cond): abort with a message when cond is false;
// FUZZ_CHECK2(cond, a, b) also prints the two strings a and b.
#define FUZZ_CHECK(cond)                                              \
    do {                                                              \
        if (!(cond)) ::fuzz::fail(__FILE__, __LINE__, #cond, {}, {}); \
    } while (0)
#define FUZZ_CHECK2(cond, a, b)                                         \
    do {                                                                \
        if (!(cond)) ::fuzz::fail(__FILE__, __LINE__, #cond, (a), (b)); \
    } while (0)

// Splits at '\n' (the last piece may lack it).
inline std::vector<std::string_view> lines(std::string_view text, size_t max = SIZE_MAX) {
    std::vector<std::string_view> out;
    while (!text.empty() && out.size() < max) {
        size_t eol = text.find('\n');
        out.push_back(text.substr(0, eol));
        text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    }
    return out;
}

// Everything an OutBuf writer produced, captured through a memfd.
template <typename F>
std::string capture(F&& write) {
    static int fd = memfd_create("fuzz-capture", MFD_CLOEXEC);
    std::string s;
    if (fd < 0 || ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0) return s;
    {
        earlymod::OutBuf out(fd);
        write(out);
    }
    off_t end = lseek(fd, 0, SEEK_CUR);
    if (end <= 0) return s;
    s.resize(static_cast<size_t>(end));
    ssize_t n = pread(fd, s.data(), s.size(), 0);
    s.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return s;
}

// glibc's fnmatch() backtracks recursively on '*' (polynomial in the
// string length, with the number of stars as exponent): compare with it
// only where that stays cheap, so that the fuzzer does not time out in the
// reference rather than in earlymod.
inline bool fnmatch_is_cheap(std::string_view pattern, std::string_view s) {
    if (pattern.size() >= 4096 || s.size() >= 4096) return false;
    if (pattern.find('\0') != std::string_view::npos || s.find('\0') != std::string_view::npos) return false;
    size_t stars = 0;
    for (char c : pattern) stars += c == '*';
    return stars <= 2 || s.size() <= 24 || (stars <= 3 && s.size() <= 96);
}

inline bool libc_fnmatch(std::string_view pattern, std::string_view s) {
    std::string p(pattern), str(s);
    return fnmatch(p.c_str(), str.c_str(), 0) == 0;
}

// earlymod::glob_match(), checked against fnmatch(3) where that is cheap
// (glob_match promises fnmatch's answer for any bytes but NUL).
inline bool checked_glob_match(std::string_view pattern, std::string_view s) {
    bool got = earlymod::glob_match(pattern, s);
    if (fnmatch_is_cheap(pattern, s) && got != libc_fnmatch(pattern, s))
        fail(__FILE__, __LINE__,
             got ? "glob_match() matches where fnmatch() does not" : "fnmatch() matches where glob_match() does not",
             pattern, s);
    return got;
}

} // namespace fuzz
