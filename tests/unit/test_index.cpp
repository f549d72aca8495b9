// The index readers: text forms, kmod's binary trie, and the choice
// between them, including damaged .bin files.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <random>
#include <string>
#include <vector>

#include "earlymod/index/index.h"
#include "earlymod/util/output.h"
#include "fixture.h"

using namespace earlymod;
using fixture::IndexEntry;

namespace {

std::vector<std::string> values_of(Vec<IndexValue>& v) {
    std::vector<std::string> out;
    for (const IndexValue& x : v) out.emplace_back(x.value);
    return out;
}

std::vector<std::string> search_text(TextIndex& idx, const char* key) {
    Vec<IndexValue> v;
    idx.search(key, v);
    return values_of(v);
}

std::vector<std::string> search_bin(BinIndex& idx, const char* key) {
    Vec<IndexValue> v;
    idx.search(key, v);
    return values_of(v);
}

const char alias_text[] =
    "# Aliases extracted from modules themselves.\n"
    "alias pci:v00008086d*sv*sd*bc*sc*i* e1000e\n"
    "alias pci:v*d*sv*sd*bc01sc06i01* ahci\n"
    "alias usb:v13FDp3940d0[0-2]*dc*dsc*dp*ic*isc*ip*in* uas\n"
    "alias usb:v13FDp3940d0[0-2]*dc*dsc*dp*ic*isc*ip*in* usb_storage\n"
    "alias fs-xfs xfs\n"
    "alias crypto-crc32c crc32c_intel\n"
    "alias crc32c crc32c_intel\n"
    "alias crypto-crc32c crc32c_generic\n"
    "alias crc32c crc32c_generic\n"
    "alias pci:v00008086d00001234sv*sd*bc*sc*i* e1000e\n"
    "alias bad]alias foo\n"
    "alias devname:snd/seq snd_seq\n";

// The same aliases as depmod would write them into the .bin: normalised
// keys, module position as priority.
std::vector<IndexEntry> alias_entries() {
    return {
        {"pci:v00008086d*sv*sd*bc*sc*i*", "e1000e", 0},
        {"pci:v*d*sv*sd*bc01sc06i01*", "ahci", 1},
        {"usb:v13FDp3940d0[0-2]*dc*dsc*dp*ic*isc*ip*in*", "uas", 2},
        {"usb:v13FDp3940d0[0-2]*dc*dsc*dp*ic*isc*ip*in*", "usb_storage", 3},
        {"fs_xfs", "xfs", 4},
        {"crypto_crc32c", "crc32c_intel", 5},
        {"crc32c", "crc32c_intel", 5},
        {"crypto_crc32c", "crc32c_generic", 6},
        {"crc32c", "crc32c_generic", 6},
        {"pci:v00008086d00001234sv*sd*bc*sc*i*", "e1000e", 0},
        {"devname:snd/seq", "snd_seq", 7},
    };
}

const char* queries[] = {
    "pci:v00008086d00001234sv00001028sd00000001bc02sc00i00",
    "pci:v00001B4Bd00009230sv00001B4Bsd00009230bc01sc06i01",
    "pci:v00008086d00002922sv00001028sd00000001bc01sc06i01",
    "usb:v13FDp3940d0100dc00dsc00dp00ic08isc06ip50in00",
    "usb:v13FDp3940d0300dc00dsc00dp00ic08isc06ip50in00",
    "fs_xfs",
    "crc32c",
    "crypto_crc32c",
    "nothing",
    "",
    "pci:",
    "devname:snd/seq",
};

} // namespace

TEST_CASE("text modules.dep: module name from the path, first entry wins, malformed lines skipped") {
    const char text[] =
        "kernel/fs/xfs/xfs.ko: kernel/lib/libcrc32c.ko\n"
        "kernel/lib/libcrc32c.ko:\n"
        "kernel/sound/snd-hda-intel.ko.xz: kernel/sound/snd.ko.xz\n"
        "this line has no colon\n"
        "updates/xfs.ko:\n";
    TextIndex idx;
    CHECK(idx.load(IndexKind::dep, text, "modules.dep").ok()); // bad lines are skipped, not fatal
    std::string_view v;
    REQUIRE(idx.find("xfs", &v));
    CHECK(v == "kernel/fs/xfs/xfs.ko: kernel/lib/libcrc32c.ko");
    REQUIRE(idx.find("snd_hda_intel", &v));
    CHECK(v == "kernel/sound/snd-hda-intel.ko.xz: kernel/sound/snd.ko.xz");
    CHECK_FALSE(idx.find("snd-hda-intel", &v));
    CHECK_FALSE(idx.find("this line has no colon", &v));
}

TEST_CASE("text modules.alias: normalised patterns, all matches by priority, bad brackets skipped") {
    TextIndex idx;
    CHECK(idx.load(IndexKind::alias, alias_text, "modules.alias").ok());
    CHECK(search_text(idx, "crc32c") == std::vector<std::string>{"crc32c_intel", "crc32c_generic"});
    CHECK(search_text(idx, "fs_xfs") == std::vector<std::string>{"xfs"});
    CHECK(search_text(idx, "pci:v00008086d00002922sv00001028sd00000001bc01sc06i01") ==
          std::vector<std::string>{"e1000e", "ahci"});
    CHECK(search_text(idx, "usb:v13FDp3940d0100dc00dsc00dp00ic08isc06ip50in00") ==
          std::vector<std::string>{"uas", "usb_storage"});
    CHECK(search_text(idx, "usb:v13FDp3940d0300dc00dsc00dp00ic08isc06ip50in00").empty());
    CHECK(search_text(idx, "bad]alias").empty());
}

TEST_CASE("binary index: exact and wildcard lookups agree with the text reader") {
    std::string bin = fixture::write_bin_index(alias_entries());
    BinIndex b;
    REQUIRE(b.open(reinterpret_cast<const unsigned char*>(bin.data()), bin.size(), "modules.alias.bin").ok());
    TextIndex t;
    CHECK(t.load(IndexKind::alias, alias_text, "modules.alias").ok());
    for (const char* q : queries) {
        INFO("query: " << q);
        CHECK(search_bin(b, q) == search_text(t, q));
    }
    std::string_view v;
    REQUIRE(b.find("fs_xfs", &v));
    CHECK(v == "xfs");
    CHECK_FALSE(b.find("fs_xf", &v));
    CHECK_FALSE(b.find("fs_xfsx", &v));
    CHECK_FALSE(b.corrupt());
}

TEST_CASE("binary index: the dump lists keys in byte order with their values") {
    std::string bin = fixture::write_bin_index({{"b", "2", 0}, {"a", "1", 0}, {"ab", "3", 0}, {"a", "0", 0}});
    BinIndex b;
    REQUIRE(b.open(reinterpret_cast<const unsigned char*>(bin.data()), bin.size(), "x.bin").ok());
    fixture::TempDir dir;
    std::string path = dir.path() + "/dump";
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0);
    {
        OutBuf out(fd);
        b.dump("alias ", out);
    }
    close(fd);
    // Equal priorities: the value inserted last comes first, as depmod does.
    CHECK(dir.read("dump") == "alias a 0\nalias a 1\nalias ab 3\nalias b 2\n");
}

TEST_CASE("binary index: bad headers are refused at open") {
    std::string bin = fixture::write_bin_index(alias_entries());
    auto open_with = [](std::string data) {
        BinIndex b;
        return b.open(reinterpret_cast<const unsigned char*>(data.data()), data.size(), "x.bin");
    };
    std::string bad_magic = bin;
    bad_magic[0] = 0;
    CHECK_FALSE(open_with(bad_magic).ok());
    std::string bad_version = bin;
    bad_version[4] = 3;
    CHECK_FALSE(open_with(bad_version).ok());
    std::string bad_root = bin;
    bad_root[8] = 0x0f; // offset far past the end
    CHECK_FALSE(open_with(bad_root).ok());
    CHECK_FALSE(open_with(bin.substr(0, 8)).ok());
    CHECK(open_with(bin).ok());
}

TEST_CASE("binary index: damaged files never crash or loop, and damage is flagged") {
    std::string bin = fixture::write_bin_index(alias_entries());
    auto probe = [](const std::string& data) {
        BinIndex b;
        if (!b.open(reinterpret_cast<const unsigned char*>(data.data()), data.size(), "x.bin").ok()) return;
        for (const char* q : queries) {
            Vec<IndexValue> v;
            b.search(q, v);
            std::string_view s;
            b.find(q, &s);
        }
        int fd = open("/dev/null", O_WRONLY);
        OutBuf out(fd);
        b.dump("alias ", out);
        out.flush();
        close(fd);
    };
    // Truncated at every length.
    for (size_t n = 0; n < bin.size(); ++n) probe(bin.substr(0, n));
    // Every byte flipped in turn, and random multi-byte damage.
    for (size_t i = 0; i < bin.size(); ++i) {
        std::string d = bin;
        d[i] = static_cast<char>(d[i] ^ 0xff);
        probe(d);
    }
    std::mt19937 rng(1234);
    for (int k = 0; k < 2000; ++k) {
        std::string d = bin;
        for (int f = 0; f < 4; ++f) d[rng() % d.size()] = static_cast<char>(rng());
        probe(d);
    }
    // A node whose child points back at itself: the root refers to itself.
    std::string loop = fixture::write_bin_index({{"ab", "x", 0}, {"ac", "y", 0}});
    BinIndex b;
    REQUIRE(b.open(reinterpret_cast<const unsigned char*>(loop.data()), loop.size(), "loop.bin").ok());
    uint32_t root = (uint8_t(loop[8]) << 24) | (uint8_t(loop[9]) << 16) | (uint8_t(loop[10]) << 8) | uint8_t(loop[11]);
    uint32_t off = root & 0x0FFFFFFF;
    // Point the root's first child back at the root itself.
    size_t at = off;
    if (root & 0x80000000u) at = loop.find('\0', at) + 1; // skip the prefix
    REQUIRE((root & 0x20000000u) != 0);
    size_t child_at = at + 2 /* first, last */;
    REQUIRE(child_at + 4 <= loop.size());
    std::string patched = loop;
    patched[child_at] = loop[8];
    patched[child_at + 1] = loop[9];
    patched[child_at + 2] = loop[10];
    patched[child_at + 3] = loop[11];
    BinIndex p;
    REQUIRE(p.open(reinterpret_cast<const unsigned char*>(patched.data()), patched.size(), "loop.bin").ok());
    Vec<IndexValue> v;
    p.search("a*", v);
    std::string_view s;
    p.find("abab", &s);
    CHECK(p.corrupt());
}

TEST_CASE("index selection: the .bin when sound, the text file when the .bin is damaged or missing") {
    fixture::TempDir dir;
    dir.write("modules.alias", alias_text);
    std::string bin = fixture::write_bin_index(alias_entries());
    Arena arena;

    IndexFile only_text;
    only_text.open(IndexKind::alias, dir.path(), "/lib/modules/x", arena);
    REQUIRE(only_text.present());
    CHECK_FALSE(only_text.uses_bin());
    Vec<IndexValue> v;
    only_text.search("crc32c", v);
    CHECK(values_of(v) == std::vector<std::string>{"crc32c_intel", "crc32c_generic"});

    dir.write("modules.alias.bin", bin);
    IndexFile good;
    good.open(IndexKind::alias, dir.path(), "/lib/modules/x", arena);
    CHECK(good.uses_bin());

    std::string bad = bin;
    bad[1] = 0;
    dir.write("modules.alias.bin", bad);
    IndexFile fallback;
    fallback.open(IndexKind::alias, dir.path(), "/lib/modules/x", arena);
    CHECK_FALSE(fallback.uses_bin());
    Vec<IndexValue> w;
    fallback.search("fs_xfs", w);
    CHECK(values_of(w) == std::vector<std::string>{"xfs"});

    IndexFile missing;
    missing.open(IndexKind::symbols, dir.path(), "/lib/modules/x", arena);
    CHECK_FALSE(missing.present());
}

namespace {

void put32(std::string& out, uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

// A trie no depmod writes: a chain of `depth` nodes, each with the children
// '*' and '+' both pointing at the node below it, under a root whose only
// child, '*', is the top of the chain; the bottom node holds one value.
// Children still lie before their parents (no loop), and the file grows
// by 10 bytes a level, but the paths to the bottom number 2^depth, and the
// patterns along them ("*+*+**...") match any query of '+' characters:
// walking them all is what kmod does (it never finishes).
std::string shared_children_trie(int depth) {
    std::string out;
    put32(out, 0xB007F457u);
    put32(out, 0x00020001u);
    put32(out, 0);
    uint32_t below = static_cast<uint32_t>(out.size()) | 0x40000000u; // VALUES
    put32(out, 1);
    put32(out, 0);
    out += "shared";
    out.push_back('\0');
    for (int i = 0; i < depth; ++i) {
        uint32_t ref = static_cast<uint32_t>(out.size()) | 0x20000000u; // CHILDS
        out.push_back('*');
        out.push_back('+');
        put32(out, below);
        put32(out, below);
        below = ref;
    }
    uint32_t root = static_cast<uint32_t>(out.size()) | 0x20000000u;
    out.push_back('*');
    out.push_back('*');
    put32(out, below);
    std::string head;
    put32(head, root);
    out.replace(8, 4, head);
    return out;
}

} // namespace

TEST_CASE("binary index: nodes shared between parents cost at most the budget per walk, and mark the file damaged") {
    std::string bin = shared_children_trie(60);
    const size_t bound = bin_walk_work_per_byte * (bin.size() + 1);
    const std::string plus_250(250, '+');
    const std::string plus_300(300, '+'); // past the NFA's 255: the enumerating walk
    const std::string wild = "*" + std::string(40, '+') + "*";
    for (const std::string& q : {plus_250, plus_300, wild}) {
        INFO("query of " << q.size() << " bytes: " << q.substr(0, 8));
        BinIndex b;
        REQUIRE(b.open(reinterpret_cast<const unsigned char*>(bin.data()), bin.size(), "shared.bin").ok());
        Vec<IndexValue> v;
        b.search(q, v);
        CHECK(b.last_walk_work() <= bound);
        CHECK(b.corrupt());
    }
    BinIndex b;
    REQUIRE(b.open(reinterpret_cast<const unsigned char*>(bin.data()), bin.size(), "shared.bin").ok());
    CHECK_FALSE(b.check());
    CHECK(b.last_walk_work() <= bound);

    // Through IndexFile: the text index answers instead, with one warning.
    fixture::TempDir dir;
    dir.write("modules.alias.bin", bin);
    dir.write("modules.alias", "alias *+ shared\n");
    Arena arena;
    IndexFile f;
    f.open(IndexKind::alias, dir.path(), "/lib/modules/x", arena);
    Vec<IndexValue> v;
    std::string err = fixture::stderr_of([&] { f.search(plus_250, v); });
    CHECK(values_of(v) == std::vector<std::string>{"shared"});
    CHECK(err.find("/lib/modules/x/modules.alias.bin is damaged") != std::string::npos);
}

TEST_CASE("binary index: a depmod trie is read about once per walk, whatever the query's length") {
    std::vector<IndexEntry> entries = alias_entries();
    for (int i = 0; i < 200; ++i)
        entries.push_back({"pci:v0000" + std::to_string(1000 + i) + "d*sv*sd*bc*sc*i*", "m" + std::to_string(i), 9});
    std::string bin = fixture::write_bin_index(entries);
    BinIndex b;
    REQUIRE(b.open(reinterpret_cast<const unsigned char*>(bin.data()), bin.size(), "modules.alias.bin").ok());
    std::vector<std::string> qs(std::begin(queries), std::end(queries));
    qs.push_back("pci:v00001042d00001234sv00000000sd00000000bc02sc00i00");
    qs.push_back("pci:v00001042d" + std::string(400, '0')); // the enumerating walk
    for (const std::string& q : qs) {
        INFO("query: " << q);
        Vec<IndexValue> v;
        b.search(q, v);
        CHECK_FALSE(b.corrupt());
        // A walk reads each node and its values once at most: no more than
        // the file, plus one for each node (there are fewer nodes than bytes).
        CHECK(b.last_walk_work() <= 2 * bin.size());
    }
    CHECK(b.check());
    CHECK(b.last_walk_work() <= 2 * bin.size());
}

TEST_CASE("text modules.alias: 65536 patterns matching one query are ordered in n log n steps, as kmod orders them") {
    const size_t n = 65536; // 2^16
    const size_t log_n = 16;
    // Distinct patterns, all matching "q" + 16 'a': each 'a' or '?'.
    std::string text;
    std::string query = "q" + std::string(log_n, 'a');
    for (size_t i = 0; i < n; ++i) {
        std::string p = "q";
        for (size_t bit = 0; bit < log_n; ++bit) p += (i >> bit) & 1 ? '?' : 'a';
        text += "alias " + p + " m" + std::to_string(i) + "\n";
    }
    // One pattern, n modules.
    for (size_t i = 0; i < n; ++i) text += "alias r* m" + std::to_string(i) + "\n";
    TextIndex idx;
    REQUIRE(idx.load(IndexKind::alias, text, "modules.alias").ok());
    for (const std::string& q : {query, std::string("rest")}) {
        INFO("query: " << q);
        Vec<IndexValue> v;
        idx.search(q, v);
        REQUIRE(v.size() == n);
        // Module mI comes I-th in the file: priority I, and first by it.
        bool in_order = true;
        for (size_t i = 0; i < n; ++i) in_order &= v[i].value == "m" + std::to_string(i) && v[i].priority == i;
        CHECK(in_order);
        // Candidates tried, plus three sorts of n: far below n^2 / 2.
        CHECK(idx.last_search_steps() <= 8 * n * log_n);
    }
}

TEST_CASE("index selection: an empty modules.builtin.bin or modules.builtin.alias.bin is an empty index, no warning") {
    // What depmod writes: 0 bytes when there is no modules.builtin (or
    // modules.builtin.modinfo), a bare header and empty root when the file
    // lists nothing. kmod then finds no builtin module, and says nothing.
    const std::string header_only("\xB0\x07\xF4\x57\x00\x02\x00\x01\x00\x00\x00\x0C", 12);
    for (const std::string& bytes : {std::string(), header_only}) {
        INFO("bytes: " << bytes.size());
        fixture::TempDir dir;
        dir.write("modules.builtin.bin", bytes);
        dir.write("modules.builtin.alias.bin", bytes);
        dir.write("modules.builtin", "kernel/fs/foo.ko\n"); // not read: the .bin wins
        Arena arena;
        IndexFile builtin, builtin_alias;
        builtin.open(IndexKind::builtin, dir.path(), "/lib/modules/x", arena);
        builtin_alias.open(IndexKind::builtin_alias, dir.path(), "/lib/modules/x", arena);
        std::string_view s;
        Vec<IndexValue> v;
        bool found = true;
        std::string err = fixture::stderr_of([&] {
            found = builtin.find("foo", &s);
            builtin_alias.search("fs-foo", v);
        });
        CHECK(err.empty());
        CHECK_FALSE(found);
        CHECK(v.empty());
        CHECK(builtin.uses_bin());
        CHECK(builtin_alias.uses_bin());
    }
    // Any other index of 0 bytes is damaged: depmod always writes a header.
    fixture::TempDir dir;
    dir.write("modules.dep.bin", "");
    Arena arena;
    IndexFile dep;
    dep.open(IndexKind::dep, dir.path(), "/lib/modules/x", arena);
    std::string err = fixture::stderr_of([&] { dep.present(); });
    CHECK(err.find("/lib/modules/x/modules.dep.bin: too short for an index") != std::string::npos);
}

TEST_CASE("text modules.alias: a file of many literal-prefix lengths loads in one step per pattern") {
    // 4000 patterns, each with a literal prefix of its own length (then a
    // '*'): keeping the set of lengths must not scan it once per pattern.
    const size_t n = 4000;
    std::string text;
    for (size_t i = 1; i <= n; ++i) text += "alias " + std::string(i, 'p') + "* m" + std::to_string(i) + "\n";
    TextIndex idx;
    REQUIRE(idx.load(IndexKind::alias, text, "modules.alias").ok());
    CHECK(idx.load_steps() <= 2 * n);
    // The lengths are all kept: each pattern still answers.
    Vec<IndexValue> v;
    idx.search(std::string(n, 'p') + "x", v);
    CHECK(v.size() == n);
}
