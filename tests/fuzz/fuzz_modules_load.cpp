// WantedModules::parse() on modules-load.d text.
//
// Checks: the names are unique, not empty, without surrounding blanks or
// newlines, and every line that is not a comment gave its name.
#include <string>
#include <unordered_set>

#include "earlymod/config/modules_load.h"
#include "earlymod/util/text.h"
#include "fuzz_common.h"

using namespace earlymod;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::quiet();
    std::string_view text = fuzz::as_text(data, size);
    WantedModules wanted;
    wanted.parse(text, "fuzz.conf");

    std::unordered_set<std::string_view> names;
    for (std::string_view n : wanted.names()) {
        FUZZ_CHECK(!n.empty());
        FUZZ_CHECK2(!is_space(n.front()) && !is_space(n.back()), n, std::string_view{});
        FUZZ_CHECK2(n.find('\n') == std::string_view::npos, n, std::string_view{});
        FUZZ_CHECK2(names.insert(n).second, n, std::string_view{});
    }
    for (std::string_view line : fuzz::lines(text, 512)) {
        while (!line.empty() && is_space(line.front())) line.remove_prefix(1);
        while (!line.empty() && is_space(line.back())) line.remove_suffix(1);
        if (line.empty() || line[0] == '#' || line[0] == ';') continue;
        FUZZ_CHECK2(names.count(line), line, std::string_view{});
    }
    // Adding again changes nothing.
    size_t before = wanted.names().size();
    for (std::string_view n : names) wanted.add(n);
    FUZZ_CHECK(wanted.names().size() == before);
    return 0;
}
