#include "earlymod/text.h"

#include <fnmatch.h>
#include <string.h>

namespace earlymod {

std::string_view normalize_modname(std::string_view name, char* buf, size_t cap) {
    size_t n = 0;
    for (char c : name) {
        if (c == '.' || c == '\0' || n + 1 >= cap) break;
        buf[n++] = c == '-' ? '_' : c;
    }
    buf[n] = '\0';
    return {buf, n};
}

bool normalize_alias(std::string_view alias, char* buf, size_t cap, std::string_view* out) {
    size_t n = 0;
    size_t i = 0;
    while (i < alias.size() && alias[i] != '\0') {
        if (n + 1 >= cap) return false;
        char c = alias[i];
        if (c == ']') return false;
        if (c == '[') {
            // Copy the bracket expression verbatim, dashes included.
            while (i < alias.size() && alias[i] != ']' && alias[i] != '\0') {
                if (n + 1 >= cap) return false;
                buf[n++] = alias[i++];
            }
            if (i >= alias.size() || alias[i] != ']') return false;
            if (n + 1 >= cap) return false;
            buf[n++] = ']';
            ++i;
            continue;
        }
        buf[n++] = c == '-' ? '_' : c;
        ++i;
    }
    buf[n] = '\0';
    *out = {buf, n};
    return true;
}

bool underscores_in_place(char* s, size_t len) {
    for (size_t i = 0; i < len; ++i) {
        switch (s[i]) {
        case '-': s[i] = '_'; break;
        case ']': return false;
        case '[':
            while (i < len && s[i] != ']') ++i;
            if (i >= len) return false;
            break;
        default: break;
        }
    }
    return true;
}

bool glob_match(std::string_view pattern, std::string_view s) {
    // fnmatch wants C strings; both are short (aliases, module names).
    char pbuf[4096], sbuf[4096];
    if (pattern.size() >= sizeof pbuf || s.size() >= sizeof sbuf) return false;
    memcpy(pbuf, pattern.data(), pattern.size());
    pbuf[pattern.size()] = '\0';
    memcpy(sbuf, s.data(), s.size());
    sbuf[s.size()] = '\0';
    return fnmatch(pbuf, sbuf, 0) == 0;
}

bool has_glob(std::string_view s) {
    return s.find_first_of("*?[") != std::string_view::npos;
}

std::string_view path_basename(std::string_view path) {
    size_t slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string_view next_token(std::string_view& rest, std::string_view seps) {
    size_t b = rest.find_first_not_of(seps);
    if (b == std::string_view::npos) {
        rest = {};
        return {};
    }
    size_t e = rest.find_first_of(seps, b);
    std::string_view tok = rest.substr(b, e == std::string_view::npos ? rest.size() - b : e - b);
    rest = e == std::string_view::npos ? std::string_view{} : rest.substr(e + 1);
    return tok;
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool parse_uint(std::string_view s, unsigned long* out) {
    if (s.empty()) return false;
    unsigned long v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        unsigned long nv = v * 10 + static_cast<unsigned long>(c - '0');
        if (nv / 10 != v) return false;
        v = nv;
    }
    *out = v;
    return true;
}

bool is_safe_relative_path(std::string_view path) {
    if (path.empty() || path[0] == '/') return false;
    while (!path.empty()) {
        size_t slash = path.find('/');
        std::string_view part = path.substr(0, slash);
        if (part == "..") return false;
        if (slash == std::string_view::npos) break;
        path.remove_prefix(slash + 1);
    }
    return true;
}

} // namespace earlymod
