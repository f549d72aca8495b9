// TextIndex on modules.alias text, and glob_match() against fnmatch(3).
//
// Input: the index text, then a NUL byte, then queries, one a line.
//   - The text is loaded as an alias index (modules.alias, modules.symbols)
//     and as a builtin alias index (modules.builtin.modinfo: NUL-ended
//     "module.alias=PATTERN" records; the whole input is used for that).
//   - The target parses the text itself too (the rules of text_index.cpp),
//     builds the .bin that depmod would write for the same entries
//     (fuzz_trie.h) and checks, for every query, that TextIndex::search(),
//     BinIndex::search() on those bytes and a model of libkmod's search
//     return the same values in the same order; TextIndex::dump() and
//     BinIndex::dump() must print the same lines. The one exception: a
//     query with wildcards of its own can walk nodes again and again
//     (kmod returns such matches once per way), and BinIndex stops at its
//     work budget (bin_walk_work_per_byte) and flags the file; the caller
//     then asks the text index, which must still agree with the model.
//   - glob_match() is compared with fnmatch() on the two halves of the
//     input, on pairs of query lines, and on every candidate the model
//     matches.
#include <map>
#include <string>
#include <vector>

#include "earlymod/index/index.h"
#include "earlymod/util/output.h"
#include "earlymod/util/text.h"
#include "fuzz_common.h"
#include "fuzz_trie.h"

using namespace earlymod;

namespace {

struct Alias {
    std::string pattern; // normalised
    std::string module;
    uint32_t priority;
};

// The alias lines TextIndex::load() keeps, by the rules of text_index.cpp.
std::vector<Alias> parse_aliases(std::string_view text) {
    std::vector<Alias> out;
    std::map<std::string, uint32_t, std::less<>> order;
    bool has_nul = text.find('\0') != std::string_view::npos;
    for (std::string_view line : fuzz::lines(text)) {
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty() || line[0] == '#') continue;
        if (has_nul && line.find('\0') != std::string_view::npos) continue;
        std::string_view rest = line;
        std::string_view word = next_token(rest, " \t");
        std::string_view pattern = next_token(rest, " \t");
        std::string_view module = next_token(rest, " \t");
        if (word != "alias" || module.empty() || !next_token(rest, " \t").empty()) continue;
        if (pattern.size() >= 4096 || module.size() >= 4096) continue;
        char buf[4096];
        std::string_view norm;
        if (!normalize_alias(pattern, buf, sizeof buf, &norm)) continue;
        auto it = order.find(module);
        if (it == order.end()) it = order.emplace(std::string(module), static_cast<uint32_t>(order.size())).first;
        out.push_back({std::string(norm), std::string(module), it->second});
    }
    return out;
}

std::vector<std::pair<std::string, uint32_t>> values(const Vec<IndexValue>& v) {
    std::vector<std::pair<std::string, uint32_t>> out;
    for (const IndexValue& x : v) out.emplace_back(std::string(x.value), x.priority);
    return out;
}

std::vector<std::pair<std::string, uint32_t>> values(const std::vector<fuzz::RefTrie::Value>& v) {
    std::vector<std::pair<std::string, uint32_t>> out;
    for (const auto& x : v) out.emplace_back(x.value, x.priority);
    return out;
}

std::string show(const std::vector<std::pair<std::string, uint32_t>>& v) {
    std::string s;
    for (const auto& [value, prio] : v) s += value + "/" + std::to_string(prio) + " ";
    return s;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::quiet();
    std::string_view input = fuzz::as_text(data, size);
    size_t nul = input.find('\0');
    std::string_view text = input.substr(0, nul);
    std::string_view query_text = nul == std::string_view::npos ? std::string_view{} : input.substr(nul + 1);

    // glob_match() on the input's halves.
    fuzz::checked_glob_match(input.substr(0, size / 2), input.substr(size / 2));

    std::vector<std::string_view> queries = fuzz::lines(query_text, 24);
    for (size_t i = 0; i + 1 < queries.size(); i += 2) fuzz::checked_glob_match(queries[i], queries[i + 1]);
    // A few queries from the text itself: a line's second word, with and
    // without its last byte.
    for (std::string_view line : fuzz::lines(text, 4)) {
        std::string_view rest = line;
        next_token(rest, " \t");
        std::string_view w = next_token(rest, " \t");
        if (w.empty()) continue;
        queries.push_back(w);
        queries.push_back(w.substr(0, w.size() - 1));
    }

    TextIndex idx;
    (void)idx.load(IndexKind::alias, text, "modules.alias"); // damaged input may fail: what was read is still checked

    std::vector<Alias> aliases = parse_aliases(text);
    bool depmod_ok = aliases.size() <= 4000;
    for (const Alias& a : aliases)
        depmod_ok =
            depmod_ok && fuzz::RefTrie::is_depmod_string(a.pattern) && fuzz::RefTrie::is_depmod_string(a.module);
    fuzz::RefTrie ref;
    std::string bin;
    BinIndex bidx;
    if (depmod_ok) {
        for (const Alias& a : aliases) ref.insert(a.pattern, a.module, a.priority);
        bin = ref.write();
        Error e = bidx.open(reinterpret_cast<const unsigned char*>(bin.data()), bin.size(), "modules.alias.bin");
        FUZZ_CHECK2(e.ok(), std::string_view(e.message()), std::string_view{});
        FUZZ_CHECK(bidx.check());
    }

    // The dumps: the lines of the parsed entries, in trie order.
    std::string text_dump = fuzz::capture([&](OutBuf& out) { idx.dump("alias ", out); });
    if (depmod_ok) {
        std::string bin_dump = fuzz::capture([&](OutBuf& out) { bidx.dump("alias ", out); });
        FUZZ_CHECK2(text_dump == bin_dump, text_dump, bin_dump);
    }

    for (std::string_view q : queries) {
        Vec<IndexValue> from_text;
        idx.search(q, from_text);
        for (size_t i = 1; i < from_text.size(); ++i) FUZZ_CHECK(from_text[i - 1].priority <= from_text[i].priority);
        if (!depmod_ok || !fuzz::RefTrie::is_depmod_string(q)) continue;
        Vec<IndexValue> from_bin;
        bidx.search(q, from_bin);
        auto model = values(ref.search(q));
        auto got_bin = values(from_bin);
        auto got_text = values(from_text);
        if (bidx.corrupt()) {
            // Out of budget: only a query with wildcards gets there, and
            // only with the budget spent (less the node or value that did
            // not fit: under 8 KiB with patterns under 4096 bytes).
            FUZZ_CHECK2(q.find_first_of("*?[") != std::string_view::npos, q, std::string_view{});
            FUZZ_CHECK(bidx.last_walk_work() + 8192 >= bin_walk_work_per_byte * (bin.size() + 1));
            // Reopened (it opened once already): the next query starts sound.
            FUZZ_CHECK(
                bidx.open(reinterpret_cast<const unsigned char*>(bin.data()), bin.size(), "modules.alias.bin").ok());
        } else {
            FUZZ_CHECK2(got_bin == model, q, show(got_bin) + "| libkmod: " + show(model));
        }
        FUZZ_CHECK2(got_text == model, q, show(got_text) + "| libkmod: " + show(model));
    }

    // modules.builtin.modinfo form: the whole input, NUL-separated records.
    TextIndex builtin;
    (void)builtin.load(IndexKind::builtin_alias, input,
                       "modules.builtin.modinfo"); // damaged input may fail: what was read is still checked
    for (std::string_view q : queries) {
        Vec<IndexValue> out;
        builtin.search(q, out);
        for (const IndexValue& v : out) FUZZ_CHECK(v.priority == 0);
    }
    OutBuf sink(fuzz::devnull());
    builtin.dump("alias ", sink);
    return 0;
}
