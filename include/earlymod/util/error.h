// Errors as values.
//
// earlymod may run as PID 1, where an uncaught exception or abort() panics
// the kernel. Every fallible operation therefore returns an Error, which
// a caller may not drop unseen ([[nodiscard]]: to ignore one on purpose,
// say why and cast it to void). An Error carries an errno
// style code, so callers can branch on the cause (ENOENT: not found, EEXIST:
// already loaded, ...), and a one-line human message that already names the
// subject (a module, a file and line) so that it can be printed as is.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

namespace earlymod {

// Which step of a module load an error comes from, so that callers judge
// it by data, never by the message's words: a file that modules.dep names
// but that cannot be opened is a damaged image, while ENOENT from the
// kernel is hardware (or a symbol) that is not there.
enum class Stage : uint8_t {
    none,       // not a module load, or not said
    resolve,    // the module's entry or path (modules.dep, limits)
    open,       // opening or reading the module file
    decompress, // decompressing it in userspace
    kernel,     // the kernel's finit_module/init_module refused it
    command,    // its install (or remove) command failed or timed out
};
const char* stage_name(Stage stage);

class [[nodiscard]] Error {
public:
    // The message is kept in place: formatting an error must not need the
    // heap, which may be exactly what just failed.
    static constexpr size_t max_message = 240;

    Error() = default;
    // printf-style message; code is an errno value (positive).
    static Error make(int code, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

    bool ok() const { return code_ == 0; }
    int code() const { return code_; }
    const char* message() const { return message_; }
    Stage stage() const { return stage_; }
    // The same error, said to come from stage.
    Error& at(Stage stage) {
        stage_ = stage;
        return *this;
    }

private:
    int code_ = 0;
    Stage stage_ = Stage::none;
    char message_[max_message] = {};
};

} // namespace earlymod
