// The index readers: text forms, kmod's binary trie, and the choice
// between them, including damaged .bin files.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <random>
#include <string>
#include <vector>

#include "earlymod/index.h"
#include "earlymod/output.h"
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
    "fs_xfs", "crc32c", "crypto_crc32c", "nothing", "", "pci:", "devname:snd/seq",
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
    CHECK(idx.load(IndexKind::dep, text, "modules.dep").ok());  // bad lines are skipped, not fatal
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
    bad_root[8] = 0x0f;  // offset far past the end
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
    if (root & 0x80000000u) at = loop.find('\0', at) + 1;  // skip the prefix
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
