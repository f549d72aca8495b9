// The few pieces of the C++ runtime that the static binary needs, written
// over libc so that no libstdc++ or libsupc++ is linked. Only in the musl
// build: the unit tests use the host's full C++ library.
#include <stdlib.h>
#include <unistd.h>

#include <new>

// Allocation failure returns null rather than throwing or aborting: every
// caller checks, since PID 1 must not die.
void* operator new(size_t size) {
    return malloc(size ? size : 1);
}
void* operator new[](size_t size) {
    return malloc(size ? size : 1);
}
void* operator new(size_t size, const std::nothrow_t&) noexcept {
    return malloc(size ? size : 1);
}
void* operator new[](size_t size, const std::nothrow_t&) noexcept {
    return malloc(size ? size : 1);
}
void operator delete(void* p) noexcept {
    free(p);
}
void operator delete[](void* p) noexcept {
    free(p);
}
void operator delete(void* p, size_t) noexcept {
    free(p);
}
void operator delete[](void* p, size_t) noexcept {
    free(p);
}

extern "C" {
// Called if a pure virtual function is reached: a bug, never expected.
// Spin-free: leave the process (never happens in PID 1 in practice).
void __cxa_pure_virtual() {
    _Exit(127);
}
// Static objects with destructors register here; earlymod leaves their
// cleanup to process exit.
int __cxa_atexit(void (*)(void*), void*, void*) {
    return 0;
}
}

namespace std {
const nothrow_t nothrow{};
// std::string_view::substr with a start past the end. Every call site
// checks its bounds first, so this marks a bug; the function may not
// return, so say so and leave.
[[noreturn]] void __throw_out_of_range_fmt(const char*, ...) {
    static const char msg[] = "earlymod: internal error: string index out of range\n";
    (void)!write(2, msg, sizeof msg - 1);
    _Exit(127);
}
} // namespace std
