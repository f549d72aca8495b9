#include "earlymod/util/text.h"

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

namespace {

// A bracket expression at p ('['), against byte c. Returns 1 (match), 0
// (no match) or -1 (no closing ']': the '[' is an ordinary character).
// next receives the position after the ']'.
int match_bracket(const char* p, const char* pe, unsigned char c, const char** next) {
    const char* q = p + 1;
    bool negate = false;
    if (q < pe && (*q == '!' || *q == '^')) {
        negate = true;
        ++q;
    }
    bool matched = false;
    bool first = true;
    for (;;) {
        if (q >= pe) return -1;
        unsigned char lo = static_cast<unsigned char>(*q);
        if (lo == ']' && !first) {
            ++q;
            break;
        }
        first = false;
        if (lo == '\\' && q + 1 < pe) lo = static_cast<unsigned char>(*++q);
        ++q;
        // A range with no end ("[a-" closing the pattern): when no element
        // so far matched, fnmatch() fails here rather than taking the '['
        // literally.
        if (q + 1 == pe && *q == '-' && !matched && c != lo) return 0;
        unsigned char hi = lo;
        if (q + 1 < pe && *q == '-' && q[1] != ']') {
            hi = static_cast<unsigned char>(q[1]);
            q += 2;
            if (hi == '\\' && q < pe) hi = static_cast<unsigned char>(*q++);
        }
        if (c >= lo && c <= hi) matched = true;
    }
    *next = q;
    return matched != negate ? 1 : 0;
}

// Patterns the fast matcher leaves to libc: character classes, collating
// elements, equivalence classes, and non-ASCII bytes.
bool needs_libc(std::string_view pattern) {
    for (size_t i = 0; i < pattern.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(pattern[i]);
        if (c >= 0x80) return true;
        if (c == '[' && i + 1 < pattern.size() &&
            (pattern[i + 1] == ':' || pattern[i + 1] == '=' || pattern[i + 1] == '.'))
            return true;
    }
    return false;
}

bool libc_fnmatch(std::string_view pattern, std::string_view s) {
    char pbuf[4096], sbuf[4096];
    if (pattern.size() >= sizeof pbuf || s.size() >= sizeof sbuf) return false;
    memcpy(pbuf, pattern.data(), pattern.size());
    pbuf[pattern.size()] = '\0';
    memcpy(sbuf, s.data(), s.size());
    sbuf[s.size()] = '\0';
    return fnmatch(pbuf, sbuf, 0) == 0;
}

} // namespace

// fnmatch(pattern, s, 0) for the patterns module aliases use: '*', '?',
// bracket expressions with ranges and negation, backslash escapes. It
// backtracks only to the last '*', so it runs in linear time for the
// usual patterns and never allocates.
bool glob_match(std::string_view pattern, std::string_view str) {
    if (!has_glob(pattern)) return pattern == str;
    if (needs_libc(pattern)) return libc_fnmatch(pattern, str);
    const char* p = pattern.data();
    const char* pe = p + pattern.size();
    const char* s = str.data();
    const char* se = s + str.size();
    const char* star_p = nullptr;
    const char* star_s = nullptr;
    for (;;) {
        if (p < pe) {
            char c = *p;
            if (c == '*') {
                star_p = ++p;
                star_s = s;
                continue;
            }
            if (s < se) {
                if (c == '?') {
                    ++p;
                    ++s;
                    continue;
                }
                if (c == '[') {
                    const char* next = nullptr;
                    int r = match_bracket(p, pe, static_cast<unsigned char>(*s), &next);
                    if (r == 1) {
                        p = next;
                        ++s;
                        continue;
                    }
                    if (r < 0 && *s == '[') {
                        ++p;
                        ++s;
                        continue;
                    }
                } else if (c == '\\') {
                    // fnmatch(): a trailing backslash never matches.
                    if (p + 1 == pe) return false;
                    if (p[1] == *s) {
                        p += 2;
                        ++s;
                        continue;
                    }
                } else if (c == *s) {
                    ++p;
                    ++s;
                    continue;
                }
            }
        } else if (s == se) {
            return true;
        }
        // Mismatch: let the last '*' swallow one more character.
        if (!star_p || star_s >= se) return false;
        p = star_p;
        s = ++star_s;
    }
}

bool has_glob(std::string_view s) {
    for (char c : s)
        if (c == '*' || c == '?' || c == '[' || c == '\\') return true;
    return false;
}

std::string_view path_basename(std::string_view path) {
    size_t slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

static bool is_sep(char c, std::string_view seps) {
    for (char s : seps)
        if (c == s) return true;
    return false;
}

std::string_view next_token(std::string_view& rest, std::string_view seps) {
    size_t n = rest.size();
    size_t b = 0;
    while (b < n && is_sep(rest[b], seps)) ++b;
    size_t e = b;
    while (e < n && !is_sep(rest[e], seps)) ++e;
    std::string_view tok(rest.data() + b, e - b);
    rest = e < n ? std::string_view(rest.data() + e + 1, n - e - 1) : std::string_view{};
    return tok;
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

bool more_items_than(std::string_view text, char sep, size_t max) {
    size_t n = 0;
    for (const char *p = text.data(), *end = p + text.size(); p < end; ++n) {
        if (n >= max) return true;
        const char* s = static_cast<const char*>(memchr(p, sep, static_cast<size_t>(end - p)));
        if (!s) break;
        p = s + 1;
    }
    return false;
}

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool next_line(std::string_view& text, std::string_view* line) {
    if (text.empty()) return false;
    size_t eol = text.find('\n');
    *line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    return true;
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
    // Look for a ".." component: at the start or after a '/', and followed
    // by '/' or the end.
    size_t n = path.size();
    for (size_t i = 0; i + 1 < n; ++i) {
        if (path[i] != '.' || path[i + 1] != '.') continue;
        bool starts = i == 0 || path[i - 1] == '/';
        bool ends = i + 2 == n || path[i + 2] == '/';
        if (starts && ends) return false;
    }
    return true;
}

} // namespace earlymod
