#include "earlymod/util/error.h"

#include <stdarg.h>
#include <stdio.h>

namespace earlymod {

Error Error::make(int code, const char* fmt, ...) {
    Error e;
    e.code_ = code ? code : 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.message_, sizeof e.message_, fmt, ap);
    va_end(ap);
    return e;
}

const char* stage_name(Stage stage) {
    switch (stage) {
    case Stage::none: return "none";
    case Stage::resolve: return "resolve";
    case Stage::open: return "open";
    case Stage::decompress: return "decompress";
    case Stage::kernel: return "kernel";
    case Stage::command: return "command";
    }
    return "none";
}

} // namespace earlymod
