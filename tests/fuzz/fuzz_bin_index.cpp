// BinIndex (kmod's binary trie) on raw bytes: open, check, dump, find and
// search must stay in bounds and terminate on any input, each walk within
// its work budget (bin_walk_work_per_byte times the size, whatever the
// query: nodes shared between parents must not make it exponential).
//
// When check() passes, the target walks the trie itself (bounded, in this
// file) to collect up to 64 keys and their first values, and checks that
// find() returns that value and that search() of a key without wildcards
// includes it.
#include <string>
#include <vector>

#include "earlymod/index/index.h"
#include "earlymod/util/output.h"
#include "fuzz_common.h"

using namespace earlymod;

namespace {

uint32_t be32(const uint8_t* p) {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

struct Walker {
    const uint8_t* data;
    size_t size;
    std::vector<std::pair<std::string, std::string>> found; // key, first value
    size_t budget = 20000;

    void walk(uint32_t ref, uint32_t parent, std::string& key) {
        if (found.size() >= 64 || budget == 0) return;
        --budget;
        uint32_t off = ref & 0x0FFFFFFFu;
        if (off == 0 || off < 12 || off > size || off >= parent) return;
        size_t p = off;
        size_t keep = key.size();
        if (ref & 0x80000000u) {
            while (p < size && data[p]) key.push_back(static_cast<char>(data[p++]));
            if (p >= size) return;
            ++p;
        }
        unsigned first = 1, last = 0;
        size_t children = 0;
        if (ref & 0x20000000u) {
            if (p + 2 > size) return;
            first = data[p];
            last = data[p + 1];
            children = p + 2;
            if (first > last || children + 4 * (last - first + 1) > size) return;
            p = children + 4 * (last - first + 1);
        }
        if ((ref & 0x40000000u) && p + 8 <= size && be32(data + p) > 0) {
            size_t v = p + 8;
            size_t e = v;
            while (e < size && data[e]) ++e;
            if (e < size) found.emplace_back(key, std::string(reinterpret_cast<const char*>(data + v), e - v));
        }
        for (unsigned ch = first; ch <= last && found.size() < 64; ++ch) {
            key.push_back(static_cast<char>(ch));
            walk(be32(data + children + 4 * (ch - first)), off, key);
            key.pop_back();
        }
        key.resize(keep);
    }
};

const char* const fixed_queries[] = {
    "",
    "ext4",
    "snd_hda_intel",
    "symbol:jbd2_journal_start",
    "pci:v00008086d000010D3sv00008086sd0000A01Fbc02sc00i00",
    "usb:v13FDp3940d0100dc00dsc00dp00ic08isc06ip50in00",
    "virtio:d00000002v00001AF4",
    "acpi*:PNP0A03:*",
    "fs-xfs",
    "a*b?c[d-f]\\g",
    // Long queries of one character: the walk below a '*' prunes nothing
    // (corpus: a chain of nodes whose '*' and '+' children are shared).
    "++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++"
    "++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++"
    "++++++++++++++++++++++++++++++++++++++++++++++++++++++",
    "++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++"
    "++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++"
    "++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++",
    "*+++++++++++++++++++++++++++++++++++++++*",
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::quiet();
    BinIndex idx;
    if (!idx.open(data, size, "modules.alias.bin").ok()) return 0;
    const size_t budget = bin_walk_work_per_byte * (size + 1);
    bool ok = idx.check();
    FUZZ_CHECK(ok == !idx.corrupt());
    FUZZ_CHECK(idx.last_walk_work() <= budget);
    {
        OutBuf sink(fuzz::devnull());
        idx.dump("alias", sink);
    }
    for (const char* q : fixed_queries) {
        std::string_view v;
        idx.find(q, &v);
        Vec<IndexValue> out;
        idx.search(q, out);
        FUZZ_CHECK(idx.last_walk_work() <= budget);
        if (ok && idx.corrupt()) {
            // A sound trie stops a walk only at the work budget, and only
            // for a query with wildcards; it is then opened again, sound.
            FUZZ_CHECK2(std::string_view(q).find_first_of("*?[") != std::string_view::npos, q, std::string_view{});
            FUZZ_CHECK(idx.last_walk_work() + 8192 >= budget);
            FUZZ_CHECK(idx.open(data, size, "modules.alias.bin").ok());
        }
    }
    if (!ok) return 0;

    Walker w{data, size, {}};
    std::string key;
    w.walk(be32(data + 8), UINT32_MAX, key);
    for (const auto& [k, first] : w.found) {
        std::string_view v;
        bool found = idx.find(k, &v);
        FUZZ_CHECK2(found && v == first, k, first);
        Vec<IndexValue> out;
        idx.search(k, out);
        bool wild = k.find_first_of("*?[") != std::string::npos;
        if (idx.corrupt()) {
            // The same for a key of this trie used as a query (many '*'
            // on both sides).
            FUZZ_CHECK2(wild, k, first);
            FUZZ_CHECK(idx.last_walk_work() + 8192 >= budget);
            FUZZ_CHECK(idx.open(data, size, "modules.alias.bin").ok());
            continue;
        }
        if (wild) continue;
        bool included = false;
        for (const IndexValue& x : out) included |= x.value == first;
        FUZZ_CHECK2(included, k, first);
        // One byte more or less: must not crash either.
        idx.find(k + "x", &v);
        idx.search(k.substr(0, k.size() / 2) + "*", out);
    }
    return 0;
}
