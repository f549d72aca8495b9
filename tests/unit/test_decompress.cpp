// Tests for the userspace module decompressors (src/decompress/).
//
// Inputs are compressed at test time by the real gzip, xz and zstd tools
// into a private temporary directory, so the tests exercise what those tools
// actually write (block types, table modes, check types) rather than
// hand-picked fixtures. A missing tool skips its tests with a message.
// Set EARLYMOD_KO_DIR to a directory of real kernel modules to also compare
// against `xz -dc` / `gzip -dc` / `zstd -dc` on them.
#include <doctest/doctest.h>

#include <earlymod/decompress/decompress.h>

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <vector>

using earlymod::Compression;

namespace {

using Bytes = std::vector<unsigned char>;

// ---- helpers -------------------------------------------------------------

struct TempDir {
    std::string path;
    TempDir() {
        const char* t = getenv("TMPDIR");
        std::string tmpl = std::string(t && *t ? t : "/tmp") + "/earlymod-dz-XXXXXX";
        std::vector<char> buf(tmpl.begin(), tmpl.end());
        buf.push_back('\0');
        if (mkdtemp(buf.data())) path = buf.data();
    }
    ~TempDir() {
        if (!path.empty()) (void)!system(("rm -rf '" + path + "'").c_str());
    }
};

TempDir& tmp() {
    static TempDir d;
    return d;
}

bool read_file(const std::string& p, Bytes& out) {
    out.clear();
    FILE* f = fopen(p.c_str(), "rb");
    if (!f) return false;
    unsigned char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.insert(out.end(), buf, buf + n);
    fclose(f);
    return true;
}

bool write_file(const std::string& p, const Bytes& b) {
    FILE* f = fopen(p.c_str(), "wb");
    if (!f) return false;
    bool ok = b.empty() || fwrite(b.data(), 1, b.size(), f) == b.size();
    return fclose(f) == 0 && ok;
}

bool have_tool(const char* name) {
    std::string cmd = std::string("command -v ") + name + " >/dev/null 2>&1";
    return system(cmd.c_str()) == 0;
}

// Run `cmd < in > out` on data in the temp dir and return the output.
Bytes run_filter(const Bytes& data, const std::string& cmd) {
    std::string in = tmp().path + "/in", out = tmp().path + "/out";
    REQUIRE(write_file(in, data));
    std::string line = cmd + " < '" + in + "' > '" + out + "'";
    REQUIRE_MESSAGE(system(line.c_str()) == 0, line);
    Bytes r;
    REQUIRE(read_file(out, r));
    return r;
}

// CRC-32 as gzip and xz use it, to forge headers with valid CRCs.
uint32_t crc32_of(const unsigned char* p, size_t n) {
    uint32_t crc = 0xFFFFFFFF;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

Bytes concat(std::initializer_list<Bytes> parts) {
    Bytes r;
    for (const Bytes& p : parts) r.insert(r.end(), p.begin(), p.end());
    return r;
}

// ---- test data -------------------------------------------------------------

uint64_t rng_state = 0x9E3779B97F4A7C15ull;
uint64_t rnd() {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

Bytes random_bytes(size_t n) {
    Bytes b(n);
    for (auto& c : b) c = (unsigned char)rnd();
    return b;
}

Bytes repetitive(size_t n) {
    static const char pat[] = "earlymod loads modules; ";
    Bytes b(n);
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)pat[i % (sizeof pat - 1)];
    return b;
}

// Text-like data: words from a small vocabulary with numbers mixed in, so
// the encoders use literals, short and long matches and repeat offsets.
Bytes texty(size_t n) {
    static const char* words[] = {"module",   "kernel",        "symbol", "init",   "exit",   "alias",  "depends",
                                  "vermagic", "license",       "GPL",    "struct", "return", "static", "void",
                                  "int",      "__this_module", ".text",  ".data",  "\n",     "\t"};
    Bytes b;
    b.reserve(n);
    while (b.size() < n) {
        uint64_t r = rnd();
        const char* w = words[r % 20];
        b.insert(b.end(), w, w + strlen(w));
        if ((r >> 8) % 7 == 0) {
            char num[24];
            int k = snprintf(num, sizeof num, "%u", (unsigned)(r >> 20) % 100000);
            b.insert(b.end(), num, num + k);
        }
        b.push_back((r >> 16) % 3 ? ' ' : '_');
    }
    b.resize(n);
    return b;
}

// A real ELF binary (this test program), the closest thing to a module.
Bytes self_binary() {
    Bytes b;
    read_file("/proc/self/exe", b);
    if (b.size() > 1024 * 1024) b.resize(1024 * 1024);
    return b;
}

struct Sample {
    const char* name;
    Bytes data;
};

const std::vector<Sample>& samples() {
    static std::vector<Sample> s = [] {
        std::vector<Sample> v;
        v.push_back({"empty", {}});
        v.push_back({"one byte", {'x'}});
        v.push_back({"short text", Bytes{'h', 'e', 'l', 'l', 'o', ',', ' ', 'h', 'e', 'l', 'l', 'o', '\n'}});
        v.push_back({"repetitive 600k", repetitive(600000)});
        v.push_back({"zeros 300k", Bytes(300000, 0)});
        v.push_back({"texty 700k", texty(700000)});
        v.push_back({"random 1.2M", random_bytes(1200000)});
        v.push_back({"elf", self_binary()});
        return v;
    }();
    return s;
}

// ---- checks ----------------------------------------------------------------

void expect_roundtrip(Compression c, const Bytes& comp, const Bytes& orig, const char* what) {
    INFO(what);
    CHECK(earlymod::detect_compression(comp.data(), comp.size()) == c);
    auto r = earlymod::decompress(c, comp.data(), comp.size(), orig.size() + 4096);
    REQUIRE_MESSAGE(r.error == nullptr, r.error);
    REQUIRE(r.data != nullptr);
    CHECK(r.size == orig.size());
    CHECK((r.size == orig.size() && (orig.empty() || memcmp(r.data, orig.data(), r.size) == 0)));
    r.release();
}

// Decoding damaged input must fail, or, where the damage hit a field no
// check covers (gzip MTIME, a zstd window descriptor...), give the
// original data. A wrong result without an error is the one bad outcome.
// Returns true when it failed.
bool expect_error_or_same(Compression c, const Bytes& comp, const Bytes& orig) {
    auto r = earlymod::decompress(c, comp.data(), comp.size(), orig.size() + 65536);
    if (r.error) {
        CHECK(r.data == nullptr);
        return true;
    }
    bool same = r.size == orig.size() && (orig.empty() || memcmp(r.data, orig.data(), r.size) == 0);
    CHECK_MESSAGE(same, "corrupted input decoded to different data without an error");
    r.release();
    return false;
}

void expect_error(Compression c, const Bytes& comp, size_t limit, const char* needle = nullptr) {
    auto r = earlymod::decompress(c, comp.data(), comp.size(), limit);
    CHECK(r.error != nullptr);
    CHECK(r.data == nullptr);
    if (r.error && needle) CHECK_MESSAGE(strstr(r.error, needle) != nullptr, r.error);
    r.release();
}

// Corruption battery on one compressed file: every truncation fails, byte
// flips fail or decode correctly (when the file carries a checksum of its
// content: `verified`), random mutations never crash.
void damage(Compression c, const Bytes& comp, const Bytes& orig, bool verified = true) {
    // Truncation at every offset of small files, ~300 offsets of big ones.
    size_t step = comp.size() > 4096 ? comp.size() / 300 : 1;
    for (size_t len = 0; len < comp.size(); len += step) {
        Bytes t(comp.begin(), comp.begin() + (long)len);
        INFO("truncated to " << len << " of " << comp.size());
        expect_error(c, t, orig.size() + 65536);
    }
    // Single-byte changes at every position (or a spread of them).
    size_t failed = 0, tried = 0;
    step = comp.size() > 3000 ? comp.size() / 1500 : 1;
    for (size_t i = 0; i < comp.size(); i += step) {
        for (unsigned char x : {0x01, 0x80, 0xFF}) {
            Bytes t = comp;
            t[i] ^= x;
            INFO("byte " << i << " xor " << (int)x);
            if (verified) {
                failed += expect_error_or_same(c, t, orig);
            } else {
                auto r = earlymod::decompress(c, t.data(), t.size(), orig.size() + 65536);
                failed += r.error != nullptr;
                r.release();
            }
            tried++;
        }
    }
    CHECK(failed > tried / 2);
    // Random multi-byte mutations, inserts and deletes.
    for (int it = 0; it < 400; it++) {
        Bytes t = comp;
        int kind = (int)(rnd() % 4);
        int count = 1 + (int)(rnd() % 8);
        for (int k = 0; k < count && !t.empty(); k++) {
            size_t at = rnd() % t.size();
            if (kind == 0 || kind == 1)
                t[at] = (unsigned char)rnd();
            else if (kind == 2)
                t.insert(t.begin() + (long)at, (unsigned char)rnd());
            else
                t.erase(t.begin() + (long)at);
        }
        auto r = earlymod::decompress(c, t.data(), t.size(), orig.size() + 65536);
        r.release();
    }
}

} // namespace

// ---- detection ---------------------------------------------------------------

TEST_CASE("decompress: detect_compression and compression_name") {
    const unsigned char gz[] = {0x1f, 0x8b, 8};
    const unsigned char xz[] = {0xfd, '7', 'z', 'X', 'Z', 0, 0};
    const unsigned char zs[] = {0x28, 0xb5, 0x2f, 0xfd, 0};
    const unsigned char elf[] = {0x7f, 'E', 'L', 'F'};
    CHECK(earlymod::detect_compression(gz, sizeof gz) == Compression::gzip);
    CHECK(earlymod::detect_compression(xz, sizeof xz) == Compression::xz);
    CHECK(earlymod::detect_compression(zs, sizeof zs) == Compression::zstd);
    CHECK(earlymod::detect_compression(elf, sizeof elf) == Compression::none);
    CHECK(earlymod::detect_compression(xz, 5) == Compression::none);
    CHECK(earlymod::detect_compression(zs, 3) == Compression::none);
    CHECK(earlymod::detect_compression(gz, 1) == Compression::none);
    CHECK(earlymod::detect_compression(nullptr, 0) == Compression::none);
    CHECK(strcmp(earlymod::compression_name(Compression::none), "none") == 0);
    CHECK(strcmp(earlymod::compression_name(Compression::gzip), "gzip") == 0);
    CHECK(strcmp(earlymod::compression_name(Compression::xz), "xz") == 0);
    CHECK(strcmp(earlymod::compression_name(Compression::zstd), "zstd") == 0);
}

TEST_CASE("decompress: none copies and honours max_output") {
    Bytes d = texty(1000);
    auto r = earlymod::decompress(Compression::none, d.data(), d.size(), 1000);
    REQUIRE(r.error == nullptr);
    CHECK(r.size == 1000);
    CHECK(memcmp(r.data, d.data(), 1000) == 0);
    r.release();
    expect_error(Compression::none, d, 999, "limit");
    r = earlymod::decompress(Compression::none, nullptr, 0, 0);
    CHECK(r.error == nullptr);
    CHECK(r.data != nullptr);
    CHECK(r.size == 0);
    r.release();
}

TEST_CASE(
    "decompress: a result holds its bytes of the process budget until release(); errors say ENOMEM, EFBIG or ENOEXEC") {
    earlymod::DecodeBudget& budget = earlymod::decode_budget();
    CHECK(budget.total() == earlymod::decompress_budget_bytes);
    size_t before = budget.in_use();
    Bytes d = texty(100000);
    auto r = earlymod::decompress(Compression::none, d.data(), d.size(), d.size());
    REQUIRE(r.error == nullptr);
    CHECK(r.budget == &budget);
    CHECK(r.held == d.size()); // the slack of the last doubling given back
    CHECK(budget.in_use() == before + d.size());
    r.release();
    CHECK(budget.in_use() == before);
    CHECK(r.data == nullptr);
    r.release(); // twice: nothing more
    CHECK(budget.in_use() == before);

    r = earlymod::decompress(Compression::none, d.data(), d.size(), d.size() - 1);
    CHECK(r.code == EFBIG);
    CHECK(budget.in_use() == before); // a failed decode holds nothing
    Bytes junk = random_bytes(5000);
    r = earlymod::decompress(Compression::xz, junk.data(), junk.size(), 1 << 20);
    CHECK(r.code == ENOEXEC);

    // A budget already in use: the decode fails at once, holding nothing.
    earlymod::DecodeBudget small(1 << 20, 1 << 16, 1);
    REQUIRE(small.reserve(0, 900 << 10));
    r = earlymod::decompress(Compression::none, d.data(), d.size(), d.size(), small);
    CHECK(r.code == ENOMEM);
    CHECK(r.data == nullptr);
    CHECK(small.in_use() == 900 << 10);
    small.release(900 << 10);
    r = earlymod::decompress(Compression::none, d.data(), d.size(), d.size(), small);
    CHECK(r.error == nullptr);
    r.release();
    CHECK(small.in_use() == 0);
    CHECK(small.peak() <= small.total());
}

TEST_CASE("decompress: empty and garbage input are errors") {
    Bytes empty;
    expect_error(Compression::gzip, empty, 100);
    expect_error(Compression::xz, empty, 100);
    expect_error(Compression::zstd, empty, 100);
    Bytes junk = random_bytes(5000);
    expect_error(Compression::gzip, junk, 1 << 20, "gzip");
    expect_error(Compression::xz, junk, 1 << 20, "xz");
    expect_error(Compression::zstd, junk, 1 << 20, "zstd");
}

// ---- gzip ----------------------------------------------------------------------

TEST_CASE("gzip: round trips through the gzip tool") {
    if (!have_tool("gzip")) {
        MESSAGE("gzip not installed: skipped");
        return;
    }
    for (const Sample& s : samples()) {
        for (const char* cmd : {"gzip -c -1", "gzip -c -6 -n", "gzip -c -9"}) {
            std::string what = std::string(s.name) + ": " + cmd;
            expect_roundtrip(Compression::gzip, run_filter(s.data, cmd), s.data, what.c_str());
        }
    }
}

TEST_CASE("gzip: members, header fields, checks and damage") {
    if (!have_tool("gzip")) {
        MESSAGE("gzip not installed: skipped");
        return;
    }
    Bytes a = texty(50000), b = repetitive(20000);
    Bytes ga = run_filter(a, "gzip -c -9 -n"), gb = run_filter(b, "gzip -c -1 -n");

    SUBCASE("several members") {
        expect_roundtrip(Compression::gzip, concat({ga, gb, ga}), concat({a, b, a}), "3 members");
        expect_error(Compression::gzip, concat({ga, Bytes{0, 0, 0, 0}}), 1 << 20, "trailing");
        expect_error(Compression::gzip, concat({ga, Bytes{0x1f}}), 1 << 20);
    }
    SUBCASE("file name stored by gzip") {
        std::string in = tmp().path + "/named.ko";
        REQUIRE(write_file(in, a));
        REQUIRE(system(("gzip -f -9 '" + in + "'").c_str()) == 0);
        Bytes g;
        REQUIRE(read_file(in + ".gz", g));
        REQUIRE((g[3] & 8) != 0);
        expect_roundtrip(Compression::gzip, g, a, "FNAME");
    }
    SUBCASE("FEXTRA, FCOMMENT and FHCRC") {
        // Rebuild the header of a -n member with the optional fields.
        Bytes h(ga.begin(), ga.begin() + 10);
        h[3] |= 4 | 16 | 2;
        const unsigned char extra[] = {6, 0, 'A', 'B', 2, 0, 'x', 'y'};
        h.insert(h.end(), extra, extra + sizeof extra);
        const char comment[] = "a comment";
        h.insert(h.end(), comment, comment + sizeof comment);
        // CRC16 = low half of the CRC-32 of the header so far.
        uint32_t crc = crc32_of(h.data(), h.size());
        h.push_back((unsigned char)crc);
        h.push_back((unsigned char)(crc >> 8));
        Bytes g = concat({h, Bytes(ga.begin() + 10, ga.end())});
        expect_roundtrip(Compression::gzip, g, a, "FEXTRA+FCOMMENT+FHCRC");
        Bytes bad = g;
        bad[4] ^= 1; // MTIME is covered by FHCRC
        expect_error(Compression::gzip, bad, 1 << 20, "header CRC");
    }
    SUBCASE("wrong CRC32, wrong ISIZE, bad method, reserved flags") {
        Bytes t = ga;
        t[t.size() - 8] ^= 1;
        expect_error(Compression::gzip, t, 1 << 20, "CRC32");
        t = ga;
        t[t.size() - 1] ^= 1;
        expect_error(Compression::gzip, t, 1 << 20, "ISIZE");
        t = ga;
        t[2] = 7;
        expect_error(Compression::gzip, t, 1 << 20, "method");
        t = ga;
        t[3] |= 0x20;
        expect_error(Compression::gzip, t, 1 << 20, "reserved");
    }
    SUBCASE("max_output") {
        auto r = earlymod::decompress(Compression::gzip, ga.data(), ga.size(), a.size());
        CHECK(r.error == nullptr);
        r.release();
        expect_error(Compression::gzip, ga, a.size() - 1, "limit");
        expect_error(Compression::gzip, ga, 0, "limit");
    }
    SUBCASE("damage") {
        Bytes small = texty(3000);
        damage(Compression::gzip, run_filter(small, "gzip -c -9 -n"), small);
        damage(Compression::gzip, ga, a);
        Bytes rnd = random_bytes(2000); // stored blocks
        damage(Compression::gzip, run_filter(rnd, "gzip -c -n"), rnd);
    }
}

// ---- xz ------------------------------------------------------------------------

TEST_CASE("xz: round trips through the xz tool") {
    if (!have_tool("xz")) {
        MESSAGE("xz not installed: skipped");
        return;
    }
    const char* cmds[] = {
        "xz -c --check=crc32 --lzma2=dict=1MiB", // what the kernel build uses
        "xz -c -0 --check=crc64",
        "xz -c -6 --check=none",
        "xz -c -9e --check=sha256",
        "xz -c --lzma2=preset=6,lc=0,lp=2,pb=0",
        "xz -c --lzma2=preset=1,lc=1,lp=3,pb=4",
        "xz -c --lzma2=preset=6,lc=4,lp=0,pb=1",
        "xz -c -T2 --block-size=100KiB", // several blocks, sizes in headers
    };
    for (const Sample& s : samples()) {
        for (const char* cmd : cmds) {
            std::string what = std::string(s.name) + ": " + cmd;
            expect_roundtrip(Compression::xz, run_filter(s.data, cmd), s.data, what.c_str());
        }
    }
}

TEST_CASE("xz: streams, padding, filters, checks and damage") {
    if (!have_tool("xz")) {
        MESSAGE("xz not installed: skipped");
        return;
    }
    Bytes a = texty(60000), b = repetitive(30000);
    Bytes xa = run_filter(a, "xz -c --check=crc32 --lzma2=dict=1MiB");
    Bytes xb = run_filter(b, "xz -c --check=crc64");

    SUBCASE("concatenated streams with stream padding") {
        Bytes pad4(4, 0), pad8(8, 0);
        expect_roundtrip(Compression::xz, concat({xa, xb}), concat({a, b}), "2 streams");
        expect_roundtrip(Compression::xz, concat({xa, pad4, xb, pad8}), concat({a, b}), "padding");
        expect_error(Compression::xz, concat({xa, Bytes(3, 0)}), 1 << 20, "padding");
        expect_error(Compression::xz, concat({xa, pad4, Bytes{1, 2, 3, 4}}), 1 << 20);
    }
    SUBCASE("filter chains other than LZMA2 alone are refused") {
        Bytes x86 = run_filter(a, "xz -c --x86 --lzma2");
        expect_error(Compression::xz, x86, 1 << 20, "unsupported filter");
        Bytes delta = run_filter(a, "xz -c --delta=dist=4 --lzma2");
        expect_error(Compression::xz, delta, 1 << 20, "unsupported filter");
    }
    SUBCASE("wrong checks") {
        // Single block: the check field ends right before the index.
        // Backward size in the footer gives the index size.
        auto check_at = [](const Bytes& x, size_t check_size) {
            size_t back = ((size_t)x[x.size() - 8] | (size_t)x[x.size() - 7] << 8 | (size_t)x[x.size() - 6] << 16 |
                           (size_t)x[x.size() - 5] << 24);
            size_t index = x.size() - 12 - (back + 1) * 4;
            return index - check_size;
        };
        Bytes t = xa;
        t[check_at(xa, 4)] ^= 1;
        expect_error(Compression::xz, t, 1 << 20, "CRC32 mismatch");
        t = xb;
        t[check_at(xb, 8) + 7] ^= 0x80;
        expect_error(Compression::xz, t, 1 << 20, "CRC64 mismatch");
        Bytes xs = run_filter(a, "xz -c --check=sha256");
        t = xs;
        t[check_at(xs, 32) + 31] ^= 0x10;
        expect_error(Compression::xz, t, 1 << 20, "SHA-256 mismatch");
        t = xa;
        t[t.size() - 13] ^= 1; // index CRC32
        expect_error(Compression::xz, t, 1 << 20, "index");
    }
    SUBCASE("every data size modulo 64 with SHA-256 and CRC64") {
        // Covers both SHA-256 padding cases (one or two final blocks).
        Bytes d = texty(200);
        for (size_t n = 40; n <= 140; n++) {
            Bytes part(d.begin(), d.begin() + (long)n);
            expect_roundtrip(Compression::xz, run_filter(part, "xz -c --check=sha256"), part, "sha256");
            if (n % 9 == 0) expect_roundtrip(Compression::xz, run_filter(part, "xz -c --check=crc64"), part, "crc64");
        }
    }
    SUBCASE("reserved check types are refused") {
        Bytes t = xa;
        for (unsigned char type : {2, 3, 5, 9, 11, 15}) {
            t[7] = type; // stream flags, with the header CRC recomputed
            uint32_t crc = crc32_of(&t[6], 2);
            for (int k = 0; k < 4; k++) t[8 + k] = (unsigned char)(crc >> (8 * k));
            expect_error(Compression::xz, t, 1 << 20, "unsupported check type");
        }
    }
    SUBCASE("max_output") {
        auto r = earlymod::decompress(Compression::xz, xa.data(), xa.size(), a.size());
        CHECK(r.error == nullptr);
        r.release();
        expect_error(Compression::xz, xa, a.size() - 1, "limit");
    }
    SUBCASE("damage") {
        Bytes small = texty(3000);
        damage(Compression::xz, run_filter(small, "xz -c --check=crc32 --lzma2=dict=1MiB"), small);
        damage(Compression::xz, run_filter(small, "xz -c --check=none"), small, false);
        damage(Compression::xz, xb, b);
        Bytes rnd = random_bytes(2000); // uncompressed LZMA2 chunks
        damage(Compression::xz, run_filter(rnd, "xz -c"), rnd);
    }
}

// ---- zstd --------------------------------------------------------------------

TEST_CASE("zstd: round trips through the zstd tool") {
    if (!have_tool("zstd")) {
        MESSAGE("zstd not installed: skipped");
        return;
    }
    const char* cmds[] = {
        "zstd -q -c -1",
        "zstd -q -c -3 --no-check",
        "zstd -q -c -19 --check",
        "zstd -q -c --long=27",
        "zstd -q -c -5 --no-content-size",
        "zstd -q -c -12 --zstd=wlog=10", // window smaller than a block
    };
    for (const Sample& s : samples()) {
        for (const char* cmd : cmds) {
            std::string what = std::string(s.name) + ": " + cmd;
            expect_roundtrip(Compression::zstd, run_filter(s.data, cmd), s.data, what.c_str());
        }
    }
}

TEST_CASE("zstd: frames, skippable frames, checks and damage") {
    if (!have_tool("zstd")) {
        MESSAGE("zstd not installed: skipped");
        return;
    }
    Bytes a = texty(80000), b = repetitive(40000);
    Bytes za = run_filter(a, "zstd -q -c -19 --check");
    Bytes zb = run_filter(b, "zstd -q -c -1 --no-check");

    SUBCASE("multiple and skippable frames") {
        Bytes skip = {0x5A, 0x2A, 0x4D, 0x18, 5, 0, 0, 0, 'h', 'e', 'l', 'l', 'o'};
        expect_roundtrip(Compression::zstd, concat({za, zb, za}), concat({a, b, a}), "3 frames");
        auto r = earlymod::decompress(Compression::zstd, concat({za, skip, zb, skip}).data(),
                                      za.size() + zb.size() + 2 * skip.size(), 1 << 20);
        REQUIRE(r.error == nullptr);
        CHECK(r.size == a.size() + b.size());
        r.release();
        expect_error(Compression::zstd, concat({za, Bytes{1, 2, 3, 4, 5}}), 1 << 20, "trailing");
        Bytes cut_skip(skip.begin(), skip.end() - 1);
        expect_error(Compression::zstd, concat({za, cut_skip}), 1 << 20, "truncated");
    }
    SUBCASE("wrong checksum, reserved bit, dictionary") {
        Bytes t = za;
        t[t.size() - 2] ^= 4;
        expect_error(Compression::zstd, t, 1 << 20, "checksum");
        t = za;
        t[4] |= 8;
        expect_error(Compression::zstd, t, 1 << 20, "reserved");
        // Same frame with a one-byte dictionary ID inserted.
        t = za;
        REQUIRE((t[4] & 3) == 0);
        t[4] |= 1;
        size_t at = 5 + !(t[4] & 0x20);
        t.insert(t.begin() + (long)at, 7);
        expect_error(Compression::zstd, t, 1 << 20, "dictionary");
    }
    SUBCASE("max_output") {
        auto r = earlymod::decompress(Compression::zstd, za.data(), za.size(), a.size());
        CHECK(r.error == nullptr);
        r.release();
        expect_error(Compression::zstd, za, a.size() - 1, "limit");
        Bytes nc = run_filter(a, "zstd -q -c --no-content-size");
        expect_error(Compression::zstd, nc, a.size() - 1, "limit");
    }
    SUBCASE("damage") {
        Bytes small = texty(3000);
        damage(Compression::zstd, run_filter(small, "zstd -q -c -19 --check"), small);
        damage(Compression::zstd, za, a);
        Bytes rnd = random_bytes(2000);
        damage(Compression::zstd, run_filter(rnd, "zstd -q -c --check"), rnd);
    }
}

// ---- speed ---------------------------------------------------------------------

TEST_CASE("decompress: 5 MB in each format (timing reported)") {
    Bytes d = concat({self_binary(), texty(2000000)});
    d.resize(5 * 1024 * 1024, 0);
    struct {
        const char* tool;
        const char* cmd;
        Compression c;
    } runs[] = {{"gzip", "gzip -c -9 -n", Compression::gzip},
                {"xz", "xz -c --check=crc32 --lzma2=dict=1MiB", Compression::xz},
                {"zstd", "zstd -q -c -12", Compression::zstd}};
    for (auto& r : runs) {
        if (!have_tool(r.tool)) continue;
        Bytes comp = run_filter(d, r.cmd);
        timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        auto out = earlymod::decompress(r.c, comp.data(), comp.size(), d.size());
        clock_gettime(CLOCK_MONOTONIC, &t1);
        REQUIRE_MESSAGE(out.error == nullptr, out.error);
        CHECK(out.size == d.size());
        CHECK(memcmp(out.data, d.data(), d.size()) == 0);
        out.release();
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        MESSAGE(std::string(r.tool) << ": 5 MiB decoded in " << ms << " ms");
    }
}

// ---- real kernel modules ---------------------------------------------------------

namespace {

void find_modules(const std::string& dir, std::vector<std::string>& out, int depth = 0) {
    DIR* d = opendir(dir.c_str());
    if (!d || depth > 12) {
        if (d) closedir(d);
        return;
    }
    while (dirent* e = readdir(d)) {
        std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        std::string p = dir + "/" + name;
        struct stat st;
        if (lstat(p.c_str(), &st) != 0) continue;
        if (S_ISDIR(st.st_mode))
            find_modules(p, out, depth + 1);
        else if (S_ISREG(st.st_mode) &&
                 (name.ends_with(".ko.xz") || name.ends_with(".ko.gz") || name.ends_with(".ko.zst")))
            out.push_back(p);
    }
    closedir(d);
}

} // namespace

TEST_CASE("decompress: real kernel modules from EARLYMOD_KO_DIR") {
    const char* dir = getenv("EARLYMOD_KO_DIR");
    if (!dir || !*dir) {
        MESSAGE("EARLYMOD_KO_DIR not set: skipped");
        return;
    }
    std::vector<std::string> files;
    find_modules(dir, files);
    if (files.empty()) {
        MESSAGE("no .ko.xz/.ko.gz/.ko.zst under EARLYMOD_KO_DIR: skipped");
        return;
    }
    // A spread of modules plus the largest one.
    std::vector<std::string> pick;
    size_t step = files.size() > 12 ? files.size() / 12 : 1;
    for (size_t i = 0; i < files.size(); i += step) pick.push_back(files[i]);
    size_t biggest = 0;
    off_t bsize = -1;
    for (size_t i = 0; i < files.size(); i++) {
        struct stat st;
        if (stat(files[i].c_str(), &st) == 0 && st.st_size > bsize) {
            bsize = st.st_size;
            biggest = i;
        }
    }
    pick.push_back(files[biggest]);
    for (const std::string& f : pick) {
        INFO(f);
        Bytes comp, ref;
        REQUIRE(read_file(f, comp));
        Compression c = earlymod::detect_compression(comp.data(), comp.size());
        const char* tool = c == Compression::xz ? "xz" : c == Compression::gzip ? "gzip" : "zstd";
        REQUIRE(c != Compression::none);
        if (!have_tool(tool)) continue;
        std::string cmd = std::string(tool) + " -dc '" + f + "' > '" + tmp().path + "/ref'";
        REQUIRE(system(cmd.c_str()) == 0);
        REQUIRE(read_file(tmp().path + "/ref", ref));
        auto r = earlymod::decompress(c, comp.data(), comp.size(), 256u << 20);
        REQUIRE_MESSAGE(r.error == nullptr, r.error);
        CHECK(r.size == ref.size());
        CHECK((r.size == ref.size() && memcmp(r.data, ref.data(), r.size) == 0));
        r.release();
    }
}
