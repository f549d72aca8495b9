#include "earlymod/config/kernel_params.h"

#include <string.h>

#include <algorithm>

#include "earlymod/util/config_dirs.h"
#include "earlymod/util/output.h"
#include "earlymod/util/text.h"

namespace earlymod {

bool param_key_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char x = a[i] == '-' ? '_' : a[i];
        char y = b[i] == '-' ? '_' : b[i];
        if (x != y) return false;
    }
    return true;
}

void KernelParams::parse(std::string_view cmdline) {
    std::string_view copy = arena_.dup(cmdline);
    if (copy.size() != cmdline.size()) return;
    char* args = const_cast<char*>(copy.data());
    char* end = args + copy.size();
    while (args < end && is_space(*args)) ++args;
    while (args < end && *args) {
        bool in_quote = false, quoted = false;
        if (*args == '"') {
            ++args;
            in_quote = quoted = true;
        }
        size_t i = 0;
        size_t equals = 0;
        bool has_equals = false;
        for (; args + i < end && args[i]; ++i) {
            if (is_space(args[i]) && !in_quote) break;
            if (!has_equals && args[i] == '=') {
                has_equals = true;
                equals = i;
            }
            if (args[i] == '"') in_quote = !in_quote;
        }
        size_t len = i;
        KernelParam p{};
        if (!has_equals) {
            p.key = {args, len};
        } else {
            p.key = {args, equals};
            const char* v = args + equals + 1;
            size_t vlen = len - equals - 1;
            if (vlen && *v == '"') {
                ++v;
                --vlen;
                if (vlen && v[vlen - 1] == '"') --vlen;
            }
            p.value = {v, vlen};
            p.has_value = true;
        }
        if (quoted && len > 0 && args[len - 1] == '"') {
            if (p.has_value) {
                if (!p.value.empty() && p.value.data() + p.value.size() == args + len) p.value.remove_suffix(1);
            } else {
                p.key.remove_suffix(1);
            }
        }
        // A lone "--": the rest is for init.
        if (!p.has_value && p.key == "--") break;
        if (!p.key.empty()) params_.push(p);
        args += len;
        while (args < end && (is_space(*args) || !*args)) ++args;
    }
}

void KernelParams::load(const FsRoot& root) {
    char host[4096];
    // dracut: /etc/cmdline.d/*.conf in name order, then /etc/cmdline.
    Vec<ConfigFile> files;
    add_config_dir(
        root, arena_, "/etc/cmdline.d", [](std::string_view name) { return ends_with(name, ".conf"); }, files);
    sort_config_files(files);
    for (const ConfigFile& f : files) {
        std::string_view text;
        if (!f.masked && root.host_path(f.path, host, sizeof host) && read_optional_file(host, f.path, arena_, &text))
            parse(text);
    }
    for (const char* f : {"/etc/cmdline", "/proc/cmdline"}) {
        std::string_view text;
        if (root.host_path(f, host, sizeof host) && read_optional_file(host, f, arena_, &text)) parse(text);
    }
}

bool KernelParams::get(std::string_view key, std::string_view* value) const {
    bool found = false;
    for (const KernelParam& p : params_) {
        if (!param_key_equal(p.key, key)) continue;
        *value = p.value;
        found = true;
    }
    return found;
}

bool KernelParams::has(std::string_view key) const {
    for (const KernelParam& p : params_)
        if (param_key_equal(p.key, key)) return true;
    return false;
}

bool KernelParams::flag(std::string_view key, bool absent) const {
    const KernelParam* last = nullptr;
    for (const KernelParam& p : params_)
        if (param_key_equal(p.key, key)) last = &p;
    if (!last) return absent;
    if (!last->has_value) return true;
    static const char* const off[] = {"0", "n", "no", "f", "false", "off"};
    for (const char* o : off)
        if (last->value == o) return false;
    return true;
}

unsigned long KernelParams::number(std::string_view key, unsigned long dflt, unsigned long max) const {
    std::string_view v;
    if (!get(key, &v)) return dflt;
    int kn = static_cast<int>(key.size()), vn = static_cast<int>(v.size());
    bool digits = !v.empty();
    for (char c : v) digits &= c >= '0' && c <= '9';
    if (!digits) {
        log_message(log_warning, "%.*s=%.*s is not a number: using %lu", kn, key.data(), vn, v.data(), dflt);
        return dflt;
    }
    // Only digits: parse_uint fails on overflow alone, and that is past max.
    unsigned long n;
    if (!parse_uint(v, &n) || n > max) {
        log_message(log_warning, "%.*s=%.*s is more than %lu: using %lu", kn, key.data(), vn, v.data(), max, max);
        return max;
    }
    return n;
}

void KernelParams::list(std::string_view key, Vec<std::string_view>& out) const {
    for (const KernelParam& p : params_) {
        if (!param_key_equal(p.key, key)) continue;
        std::string_view rest = p.value;
        for (;;) {
            std::string_view item = next_token(rest, ",");
            if (item.empty()) break;
            out.push(item);
        }
    }
}

} // namespace earlymod
