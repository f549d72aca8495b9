// Module options and blacklists on the kernel command line.
//
// The rules are kmod's, quirks included:
//   mod.param[=value]     -> options mod param[=value]  (mod normalised)
//   modprobe.blacklist=a,b -> blacklist a, blacklist b   (NOT normalised)
// A '"' toggles quoting; blanks are allowed inside quotes in the value,
// and the quotes are kept. A token that starts with a quote
// ("mod.param=a b") is re-quoted as mod param="a b", which is what
// bootloaders make of mod.param="a b". A quote anywhere else before the
// value, a second '.' in the parameter name, or '=' in the module name
// drops the token.
#include <string.h>

#include "earlymod/config/config.h"
#include "earlymod/util/text.h"

namespace earlymod {

void Config::parse_cmdline_options(std::string_view cmdline) {
    char buf[4096];
    size_t n = cmdline.size() < sizeof buf - 1 ? cmdline.size() : sizeof buf - 1;
    memcpy(buf, cmdline.data(), n);
    buf[n] = '\0';

    enum { ignore, modname_state, param_state, value_state, complete } state = modname_state;
    bool quoted = false;
    char* quote_start = nullptr;
    char* modname = buf;
    char* param = nullptr;
    char* value = nullptr;
    bool more = true;
    for (char* p = buf; more; ++p) {
        switch (*p) {
        case '"':
            quoted = !quoted;
            if (quoted && state == modname_state && p == modname) {
                quote_start = p;
                modname = p + 1;
            } else if (state != value_state) {
                state = ignore;
            }
            break;
        case '\0': more = false; [[fallthrough]];
        case ' ':
        case '\n':
        case '\t':
        case '\v':
        case '\f':
        case '\r':
            if (quoted && state == value_state) {
                // a blank inside a quoted value
            } else if (quoted) {
                state = ignore;
            } else if (state == value_state || state == param_state) {
                *p = '\0';
                state = complete;
            } else {
                modname = p + 1;
                state = modname_state;
                quote_start = nullptr;
            }
            break;
        case '.':
            if (state == modname_state) {
                *p = '\0';
                param = p + 1;
                state = param_state;
            } else if (state == param_state) {
                state = ignore;
            }
            break;
        case '=':
            if (state == param_state) {
                value = p + 1;
                state = value_state;
            } else if (state == modname_state) {
                state = ignore;
            }
            break;
        default: break;
        }
        if (state != complete) continue;

        if (quote_start && quote_start < modname) {
            // Move "mod\0param=" one byte left over the opening quote and
            // put the quote back in front of the value.
            memmove(quote_start, modname, static_cast<size_t>(value - modname));
            --value;
            --modname;
            --param;
            *value = '"';
        }
        if (strcmp(modname, "modprobe") == 0 && strncmp(param, "blacklist=", 10) == 0) {
            char* v = value;
            for (;;) {
                char* comma = strchr(v, ',');
                if (comma) *comma = '\0';
                blacklist.push(arena_.dup(v));
                if (!comma) break;
                v = comma + 1;
            }
        } else if (underscores_in_place(modname, strlen(modname))) {
            options.push({arena_.dup(modname), arena_.dup(param)});
        }
        modname = p + 1;
        state = modname_state;
        quote_start = nullptr;
    }
}

} // namespace earlymod
