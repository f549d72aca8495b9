// The module file reader behind `earlymod modinfo` (modinfo.h): .modinfo
// strings from ELF images of each class and byte order, each check that
// refuses a damaged image, modules.builtin.modinfo records, and the
// appended signature (PKCS#7 through the DER walk, and the older trailer
// forms).
#include <doctest/doctest.h>

#include <errno.h>

#include <string>
#include <vector>

#include "earlymod/index/modinfo.h"

using namespace earlymod;

namespace {

// A minimal relocatable ELF: ELF header, the .modinfo bytes, the section
// name table, then the section headers (null, .modinfo, .shstrtab).
struct ElfSpec {
    bool is64 = true;
    bool msb = false;
    std::string modinfo = std::string("license=GPL\0name=demo\0", 22);
    std::string section_name = ".modinfo";
};

void put(std::string& s, size_t off, uint64_t v, unsigned width, bool msb) {
    if (s.size() < off + width) s.resize(off + width, '\0');
    for (unsigned i = 0; i < width; ++i) {
        unsigned shift = 8 * (msb ? width - 1 - i : i);
        s[off + i] = static_cast<char>((v >> shift) & 0xff);
    }
}

struct Layout {
    size_t shoff, ehdr, entry;
};

std::string make_elf(const ElfSpec& spec, Layout* layout = nullptr) {
    size_t ehdr = spec.is64 ? 64 : 52, entry = spec.is64 ? 64 : 40;
    std::string names = std::string("\0", 1) + spec.section_name + std::string("\0.shstrtab\0", 11);
    std::string f(ehdr, '\0');
    f[0] = 0x7f, f[1] = 'E', f[2] = 'L', f[3] = 'F';
    f[4] = spec.is64 ? 2 : 1;
    f[5] = spec.msb ? 2 : 1;
    f[6] = 1;
    size_t info_off = f.size();
    f += spec.modinfo;
    size_t names_off = f.size();
    f += names;
    size_t shoff = f.size();
    f.resize(shoff + 3 * entry, '\0');
    auto section = [&](int idx, uint32_t name, uint64_t off, uint64_t size) {
        size_t h = shoff + idx * entry;
        put(f, h, name, 4, spec.msb);
        if (spec.is64) {
            put(f, h + 24, off, 8, spec.msb);
            put(f, h + 32, size, 8, spec.msb);
        } else {
            put(f, h + 16, off, 4, spec.msb);
            put(f, h + 20, size, 4, spec.msb);
        }
    };
    section(1, 1, info_off, spec.modinfo.size());
    section(2, static_cast<uint32_t>(1 + spec.section_name.size() + 1), names_off, names.size());
    if (spec.is64) {
        put(f, 0x28, shoff, 8, spec.msb);
        put(f, 0x3a, entry, 2, spec.msb);
        put(f, 0x3c, 3, 2, spec.msb);
        put(f, 0x3e, 2, 2, spec.msb);
    } else {
        put(f, 0x20, shoff, 4, spec.msb);
        put(f, 0x2e, entry, 2, spec.msb);
        put(f, 0x30, 3, 2, spec.msb);
        put(f, 0x32, 2, 2, spec.msb);
    }
    if (layout) *layout = {shoff, ehdr, entry};
    return f;
}

struct Read {
    Error error;
    std::vector<std::pair<std::string, std::string>> entries;
};

Read read(const std::string& file) {
    Read r;
    Vec<ModinfoEntry> out;
    r.error = read_modinfo(reinterpret_cast<const unsigned char*>(file.data()), file.size(), "demo.ko", out);
    for (const ModinfoEntry& e : out) r.entries.emplace_back(std::string(e.key), std::string(e.value));
    return r;
}

using Entries = std::vector<std::pair<std::string, std::string>>;

// What a refused image's error says: the file, then the check.
void check_refused(const std::string& file, int code, const char* why) {
    Read r = read(file);
    CHECK(r.error.code() == code);
    std::string msg = r.error.message();
    CHECK(msg.rfind("demo.ko: ", 0) == 0);
    CHECK_MESSAGE(msg.find(why) != std::string::npos, msg);
    CHECK(r.entries.empty());
}

} // namespace

TEST_CASE("modinfo: the strings of a good module, every class and byte order") {
    for (bool is64 : {true, false})
        for (bool msb : {false, true}) {
            ElfSpec spec;
            spec.is64 = is64;
            spec.msb = msb;
            Read r = read(make_elf(spec));
            CHECK(r.error.ok());
            CHECK(r.entries == Entries{{"license", "GPL"}, {"name", "demo"}});
        }
}

TEST_CASE("modinfo: padding, NUL runs, a key without '=', a last string without NUL") {
    ElfSpec spec;
    spec.modinfo = std::string("\0\0\0alias=a\0\0\0intree\0depends=\0vermagic=6.1 x", 43);
    Read r = read(make_elf(spec));
    CHECK(r.error.ok());
    CHECK(r.entries == Entries{{"alias", "a"}, {"intree", ""}, {"depends", ""}, {"vermagic", "6.1 x"}});
    // kmod: after the leading padding, one byte left is no string at all.
    spec.modinfo = std::string("\0\0x", 3);
    r = read(make_elf(spec));
    CHECK(r.error.ok());
    CHECK(r.entries.empty());
    spec.modinfo.clear();
    r = read(make_elf(spec));
    CHECK(r.error.ok());
    CHECK(r.entries.empty());
}

TEST_CASE("modinfo: not ELF, or a header too short") {
    check_refused("", ENOEXEC, "not an ELF file");
    check_refused(
        "\x7f"
        "ELF",
        ENOEXEC, "not an ELF file");
    check_refused(std::string(100, 'x'), ENOEXEC, "not an ELF file");
    std::string good = make_elf({});
    check_refused(good.substr(0, 40), EINVAL, "truncated ELF header");
    std::string bad_class = good;
    bad_class[4] = 3;
    check_refused(bad_class, EINVAL, "unknown ELF class 3");
    std::string bad_data = good;
    bad_data[5] = 0;
    check_refused(bad_data, EINVAL, "unknown ELF data encoding 0");
}

TEST_CASE("modinfo: a damaged section header table") {
    Layout l;
    std::string good = make_elf({}, &l);
    std::string f = good;
    put(f, 0x3a, 12, 2, false);
    check_refused(f, EINVAL, "section header entries of 12 bytes, not 64");
    check_refused(good.substr(0, good.size() - 1), EINVAL, "section header table");
    f = good;
    put(f, 0x28, good.size(), 8, false);
    check_refused(f, EINVAL, "past the end of the file");
    f = good;
    put(f, 0x28, ~uint64_t{0} - 8, 8, false); // offset + size wraps around
    check_refused(f, EINVAL, "past the end of the file");
    f = good;
    put(f, 0x3c, 0xffff, 2, false); // more entries than the file holds
    check_refused(f, EINVAL, "past the end of the file");
    f = good;
    put(f, 0x3c, 0, 2, false); // no sections: kmod 30 asserts here
    check_refused(f, EINVAL, "bad section name table index 2 (of 0 sections)");
}

TEST_CASE("modinfo: a damaged section name table") {
    Layout l;
    std::string good = make_elf({}, &l);
    std::string f = good;
    put(f, 0x3e, 0, 2, false);
    check_refused(f, EINVAL, "bad section name table index 0");
    f = good;
    put(f, 0x3e, 0xfff0, 2, false);
    check_refused(f, EINVAL, "bad section name table index 65520 (of 3 sections)");
    f = good;
    put(f, l.shoff + 2 * l.entry + 24, good.size() + 1, 8, false); // its offset
    check_refused(f, EINVAL, "section name table past the end of the file");
    f = good;
    put(f, l.shoff + 2 * l.entry + 32, uint64_t{1} << 62, 8, false); // a huge size
    check_refused(f, EINVAL, "section name table past the end of the file");
    f = good;
    put(f, l.shoff + 2 * l.entry + 32, 0, 8, false);
    check_refused(f, EINVAL, "does not end in a NUL");
    f = good;
    put(f, l.shoff + 2 * l.entry + 32, 3, 8, false); // cut inside a name
    check_refused(f, EINVAL, "does not end in a NUL");
}

TEST_CASE("modinfo: no .modinfo, or one past the end of the file") {
    ElfSpec spec;
    spec.section_name = ".notinfo";
    check_refused(make_elf(spec), ENOENT, "no .modinfo section");
    Layout l;
    std::string good = make_elf({}, &l);
    std::string f = good;
    put(f, l.shoff + l.entry + 32, good.size(), 8, false); // .modinfo's size
    check_refused(f, EINVAL, ".modinfo section past the end of the file");
    f = good;
    put(f, l.shoff + l.entry + 24, ~uint64_t{0}, 8, false); // .modinfo's offset
    check_refused(f, EINVAL, ".modinfo section past the end of the file");
    f = good;
    put(f, l.shoff + l.entry, 1000, 4, false); // its name past the name table
    check_refused(f, ENOENT, "no .modinfo section");
}

TEST_CASE("modinfo: modules.builtin.modinfo records") {
    std::string text(
        "ext4.license=GPL\0ext4.alias=fs-ext4\0ext4x.name=no\0xfs.license=GPL\0"
        "ext4.alias=late\0",
        79);
    Vec<ModinfoEntry> out;
    CHECK(read_builtin_modinfo(text, "ext4", "modules.builtin.modinfo", out).ok());
    REQUIRE(out.size() == 2); // the first run only, as kmod
    CHECK(out[0].key == "license");
    CHECK(out[1].value == "fs-ext4");
    out.clear();
    CHECK(read_builtin_modinfo(text, "nosuch", "modules.builtin.modinfo", out).ok());
    CHECK(out.empty());
    Error e = read_builtin_modinfo(std::string("a.x=1\0nodot\0", 12), "b", "modules.builtin.modinfo", out);
    CHECK(e.code() == EINVAL);
    CHECK(std::string(e.message()).find("modules.builtin.modinfo") == 0);
}

namespace {

std::string der(unsigned char tag, const std::string& content) {
    std::string s(1, static_cast<char>(tag));
    size_t n = content.size();
    if (n < 0x80)
        s += static_cast<char>(n);
    else if (n < 0x100)
        s += "\x81", s += static_cast<char>(n);
    else
        s += "\x82", s += static_cast<char>(n >> 8), s += static_cast<char>(n & 0xff);
    return s + content;
}

std::string bytes(std::initializer_list<int> b) {
    std::string s;
    for (int x : b) s += static_cast<char>(x);
    return s;
}

// A PKCS#7 SignedData as the kernel's sign-file writes it.
std::string pkcs7(const std::string& serial, const std::string& signature, bool with_cn = true) {
    std::string sha256 = der(0x06, bytes({0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01}));
    std::string rsa = der(0x06, bytes({0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01}));
    std::string org = der(0x31, der(0x30, der(0x06, bytes({0x55, 0x04, 0x0a})) + der(0x0c, "Org")));
    std::string cn = der(0x31, der(0x30, der(0x06, bytes({0x55, 0x04, 0x03})) + der(0x0c, "Test signing key")));
    std::string issuer = der(0x30, org + (with_cn ? cn : ""));
    std::string signer_info =
        der(0x30, der(0x02, "\x01") + der(0x30, issuer + der(0x02, serial)) + der(0x30, sha256 + der(0x05, "")) +
                      der(0x30, rsa + der(0x05, "")) + der(0x04, signature));
    std::string signed_data =
        der(0x30, der(0x02, "\x01") + der(0x31, der(0x30, sha256)) +
                      der(0x30, der(0x06, bytes({0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01}))) +
                      der(0x31, signer_info));
    return der(0x30, der(0x06, bytes({0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02})) + der(0xa0, signed_data));
}

std::string signed_file(const std::string& sig, int id_type, const std::string& signer = "",
                        const std::string& key = "") {
    std::string f = make_elf({}) + signer + key + sig;
    uint32_t n = static_cast<uint32_t>(sig.size());
    f += bytes({1, 4, id_type, static_cast<int>(signer.size()), static_cast<int>(key.size()), 0, 0, 0,
                static_cast<int>(n >> 24), static_cast<int>((n >> 16) & 0xff), static_cast<int>((n >> 8) & 0xff),
                static_cast<int>(n & 0xff)});
    return f + "~Module signature appended~\n";
}

bool signature_of(const std::string& f, ModuleSignature* sig) {
    return read_module_signature(reinterpret_cast<const unsigned char*>(f.data()), f.size(), sig);
}

std::string hex(std::string_view b) {
    Vec<char> out;
    append_hex_wrapped(b, out);
    return std::string(out.data() ? out.data() : "", out.size());
}

} // namespace

TEST_CASE("modinfo: a PKCS#7 module signature") {
    std::string sig(45, '\xab');
    std::string f = signed_file(pkcs7(bytes({0x00, 0x5e, 0xe1, 0x13}), sig), 2);
    ModuleSignature s;
    REQUIRE(signature_of(f, &s));
    CHECK(s.id_type == "PKCS#7");
    CHECK(s.signer == "Test signing key");
    CHECK(s.hash_algo == "sha256");
    CHECK(hex(s.key_id) == "5E:E1:13"); // the serial's leading zero dropped
    CHECK(s.signature == sig);
    CHECK(hex(s.signature).find(":\n\t\tAB:") == 20 * 3 - 1); // wrapped after 20 bytes
    // Without a commonName: the issuer's last attribute. (The fields point
    // into the file: it is kept while they are read.)
    std::string no_cn = signed_file(pkcs7("\x07", sig, false), 2);
    REQUIRE(signature_of(no_cn, &s));
    CHECK(s.signer == "Org");
    // A negative serial: its magnitude.
    std::string negative = signed_file(pkcs7(bytes({0xff, 0x00}), sig), 2);
    REQUIRE(signature_of(negative, &s));
    CHECK(hex(s.key_id) == "01:00");
}

TEST_CASE("modinfo: signatures that are absent or do not parse") {
    ModuleSignature s;
    CHECK(!signature_of(make_elf({}), &s));
    std::string p7 = pkcs7("\x01", "sig");
    // Truncated DER, a cut anywhere: never a read past the end.
    for (size_t cut = 0; cut < p7.size(); ++cut) CHECK(!signature_of(signed_file(p7.substr(0, cut), 2), &s));
    // A trailer whose lengths exceed the file, or with unknown fields.
    std::string f = signed_file(p7, 2);
    std::string g = f;
    g[g.size() - 28 - 4] = '\x7f'; // sig_len's high byte
    CHECK(!signature_of(g, &s));
    g = f;
    g[g.size() - 28 - 12] = 5; // algo
    CHECK(!signature_of(g, &s));
    g = f;
    g[g.size() - 28 - 10] = 3; // id_type
    CHECK(!signature_of(g, &s));
    CHECK(!signature_of(std::string("~Module signature appended~\n"), &s));
}

TEST_CASE("modinfo: the older trailer forms carry their own fields") {
    ModuleSignature s;
    std::string f = signed_file("SIG", 1, std::string("Signer\0x", 8), "\x01\x02");
    REQUIRE(signature_of(f, &s));
    CHECK(s.id_type == "X509");
    CHECK(s.signer == "Signer"); // up to its NUL, as kmod prints it
    CHECK(hex(s.key_id) == "01:02");
    CHECK(s.hash_algo == "sha256");
    CHECK(s.signature == "SIG");
}
