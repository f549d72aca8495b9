// TextIndex on modules.dep text (and the same text as modules.builtin).
//
// The target parses the text itself by the rules of text_index.cpp and
// checks that find() returns, for every module name of the input, the
// first line naming it; names that are not there must not be found.
#include <string>
#include <unordered_map>
#include <vector>

#include "earlymod/index/index.h"
#include "earlymod/util/output.h"
#include "earlymod/util/text.h"
#include "fuzz_common.h"

using namespace earlymod;

namespace {

// Module name -> first line with that name (dep form: "path: deps"; the
// builtin form has no colon: the whole line is the path).
std::unordered_map<std::string, std::string_view> expected_names(std::string_view text, bool dep) {
    std::unordered_map<std::string, std::string_view> out;
    bool has_nul = text.find('\0') != std::string_view::npos;
    for (std::string_view line : fuzz::lines(text)) {
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty() || line[0] == '#') continue;
        if (has_nul && line.find('\0') != std::string_view::npos) continue;
        std::string_view path = line;
        if (dep) {
            size_t colon = line.find(':');
            if (colon == std::string_view::npos || colon == 0) continue;
            path = line.substr(0, colon);
        }
        std::string_view base = path_basename(path);
        if (base.empty() || base.size() >= 4096) continue;
        char buf[4096];
        std::string_view name = normalize_modname(base, buf, sizeof buf);
        out.emplace(std::string(name), dep ? line : std::string_view{});
    }
    return out;
}

void check(IndexKind kind, std::string_view text, const char* shown) {
    bool dep = kind == IndexKind::dep;
    TextIndex idx;
    (void)idx.load(kind, text, shown); // damaged input may fail: what was read is still checked
    auto expected = expected_names(text, dep);
    size_t checked = 0;
    for (const auto& [name, line] : expected) {
        if (++checked > 256) break;
        std::string_view got;
        bool found = idx.find(name, &got);
        FUZZ_CHECK2(found, name, line);
        if (dep) FUZZ_CHECK2(got.data() == line.data() && got.size() == line.size(), got, line);
        Vec<IndexValue> out;
        idx.search(name, out);
        FUZZ_CHECK2(out.size() == 1 && out[0].value.data() == got.data(), name, got);
        // A name that is not in the index.
        std::string other = name + "_";
        if (!expected.count(other)) FUZZ_CHECK2(!idx.find(other, &got), other, got);
    }
    // Names derived from the raw input: its first words, unnormalised.
    std::string_view rest = text;
    for (int i = 0; i < 4; ++i) {
        std::string_view w = next_token(rest, " \t\n:/");
        std::string_view got;
        bool found = idx.find(w, &got);
        FUZZ_CHECK2(found == (expected.count(std::string(w)) > 0), w, got);
    }
    OutBuf sink(fuzz::devnull());
    idx.dump("dep ", sink);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::quiet();
    std::string_view text = fuzz::as_text(data, size);
    check(IndexKind::dep, text, "modules.dep");
    check(IndexKind::builtin, text, "modules.builtin");
    return 0;
}
