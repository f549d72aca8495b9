// The .modinfo section and the appended signature of a module file, and
// modules.builtin.modinfo (see modinfo.h). Every read goes through a
// bounds check against the buffer's length.
#include "earlymod/index/modinfo.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

namespace earlymod {

namespace {

constexpr unsigned char elf_magic[4] = {0x7f, 'E', 'L', 'F'};
constexpr size_t ei_nident = 16;

// An ELF image of either class and byte order.
struct Elf {
    const unsigned char* data;
    size_t size;
    bool is64;
    bool msb;

    // Reads an unsigned field of `width` bytes at off; false when any of
    // its bytes lies past the end.
    bool get(uint64_t off, unsigned width, uint64_t* out) const {
        if (off > size || width > size - off) return false;
        const unsigned char* p = data + off;
        uint64_t v = 0;
        for (unsigned i = 0; i < width; ++i) v = (v << 8) | p[msb ? i : width - 1 - i];
        *out = v;
        return true;
    }
};

struct Section {
    uint64_t offset, size;
    uint32_t name;
};

// Section idx's header, with its bytes inside the file; false otherwise.
bool section_info(const Elf& elf, uint64_t table, uint64_t idx, Section* s) {
    uint64_t entry = elf.is64 ? 64 : 40;
    uint64_t h = table + idx * entry; // the table was checked to fit
    uint64_t name, off, sz;
    bool ok = elf.is64 ? elf.get(h, 4, &name) && elf.get(h + 24, 8, &off) && elf.get(h + 32, 8, &sz)
                       : elf.get(h, 4, &name) && elf.get(h + 16, 4, &off) && elf.get(h + 20, 4, &sz);
    if (!ok || off > elf.size || sz > elf.size - off) return false;
    *s = {off, sz, static_cast<uint32_t>(name)};
    return true;
}

int name_len(std::string_view shown) {
    return static_cast<int>(shown.size() > 1000 ? 1000 : shown.size());
}

} // namespace

Error read_modinfo(const unsigned char* data, size_t size, std::string_view shown, Vec<ModinfoEntry>& out) {
    int sl = name_len(shown);
    const char* sn = shown.data();
    if (size <= ei_nident || memcmp(data, elf_magic, sizeof elf_magic) != 0)
        return Error::make(ENOEXEC, "%.*s: not an ELF file", sl, sn);
    Elf elf{data, size, false, false};
    if (data[4] == 1)
        elf.is64 = false;
    else if (data[4] == 2)
        elf.is64 = true;
    else
        return Error::make(EINVAL, "%.*s: unknown ELF class %u", sl, sn, data[4]);
    if (data[5] == 1)
        elf.msb = false;
    else if (data[5] == 2)
        elf.msb = true;
    else
        return Error::make(EINVAL, "%.*s: unknown ELF data encoding %u", sl, sn, data[5]);
    uint64_t ehdr = elf.is64 ? 64 : 52, entry = elf.is64 ? 64 : 40;
    if (size <= ehdr) return Error::make(EINVAL, "%.*s: truncated ELF header", sl, sn);

    uint64_t shoff, shentsize, shnum, shstrndx;
    if (elf.is64) {
        (void)elf.get(0x28, 8, &shoff), (void)elf.get(0x3a, 2, &shentsize);
        (void)elf.get(0x3c, 2, &shnum), (void)elf.get(0x3e, 2, &shstrndx);
    } else {
        (void)elf.get(0x20, 4, &shoff), (void)elf.get(0x2e, 2, &shentsize);
        (void)elf.get(0x30, 2, &shnum), (void)elf.get(0x32, 2, &shstrndx);
    }
    if (shentsize != entry)
        return Error::make(EINVAL, "%.*s: section header entries of %llu bytes, not %llu", sl, sn,
                           static_cast<unsigned long long>(shentsize), static_cast<unsigned long long>(entry));
    // kmod's own check (the headers and the table cannot both fit), then
    // the table's real place: shnum is 16 bits, so nothing here overflows
    // but shoff, checked first.
    if (ehdr + entry * shnum >= size || shoff > size || entry * shnum > size - shoff)
        return Error::make(EINVAL, "%.*s: section header table (%llu entries at offset %llu) past the end of the file",
                           sl, sn, static_cast<unsigned long long>(shnum), static_cast<unsigned long long>(shoff));
    Section names;
    if (shstrndx == 0 || shstrndx >= shnum)
        return Error::make(EINVAL, "%.*s: bad section name table index %llu (of %llu sections)", sl, sn,
                           static_cast<unsigned long long>(shstrndx), static_cast<unsigned long long>(shnum));
    if (!section_info(elf, shoff, shstrndx, &names))
        return Error::make(EINVAL, "%.*s: section name table past the end of the file", sl, sn);
    if (names.size == 0 || data[names.offset + names.size - 1] != '\0')
        return Error::make(EINVAL, "%.*s: section name table does not end in a NUL", sl, sn);
    std::string_view names_text(reinterpret_cast<const char*>(data + names.offset), names.size);

    // The first usable section named .modinfo; one whose bytes lie past
    // the end is skipped, as kmod skips it.
    bool found = false, skipped = false;
    Section info{};
    for (uint64_t i = 1; i < shnum && !found; ++i) {
        uint64_t h = shoff + i * entry;
        uint64_t name;
        bool bad = !section_info(elf, shoff, i, &info);
        if (bad) {
            if (elf.get(h, 4, &name) && name < names.size && strcmp(names_text.data() + name, ".modinfo") == 0)
                skipped = true;
            continue;
        }
        if (info.name >= names.size) continue;
        found = strcmp(names_text.data() + info.name, ".modinfo") == 0; // names end in a NUL
    }
    if (!found) {
        if (skipped) return Error::make(EINVAL, "%.*s: .modinfo section past the end of the file", sl, sn);
        return Error::make(ENOENT, "%.*s: no .modinfo section", sl, sn);
    }

    const char* s = reinterpret_cast<const char*>(data + info.offset);
    size_t n = info.size;
    if (n == 0) return {};
    while (n > 1 && s[0] == '\0') ++s, --n; // leading zero padding
    if (n <= 1) return {};
    size_t i = 0;
    while (i < n) {
        size_t start = i;
        while (i < n && s[i] != '\0') ++i;
        std::string_view str(s + start, i - start);
        while (i < n && s[i] == '\0') ++i;
        if (str.empty()) continue;
        size_t eq = str.find('=');
        ModinfoEntry e;
        if (eq == std::string_view::npos)
            e = {str, std::string_view(str.data() + str.size(), 0)};
        else
            e = {str.substr(0, eq), str.substr(eq + 1)};
        if (!out.push(e)) return Error::make(ENOMEM, "%.*s: out of memory", sl, sn);
    }
    return {};
}

Error read_builtin_modinfo(std::string_view text, std::string_view module, std::string_view shown,
                           Vec<ModinfoEntry>& out) {
    size_t matched = 0;
    while (!text.empty()) {
        size_t nul = text.find('\0');
        std::string_view rec = text.substr(0, nul);
        text = nul == std::string_view::npos ? std::string_view{} : text.substr(nul + 1);
        size_t dot = rec.find('.');
        if (dot == std::string_view::npos)
            return Error::make(EINVAL, "%.*s: a record without a module name prefix", name_len(shown), shown.data());
        if (rec.size() <= module.size() || rec.substr(0, module.size()) != module || rec[module.size()] != '.') {
            if (matched) break; // the module's records are contiguous
            continue;
        }
        std::string_view kv = rec.substr(module.size() + 1);
        size_t eq = kv.find('=');
        ModinfoEntry e;
        if (eq == std::string_view::npos)
            e = {kv, std::string_view(kv.data() + kv.size(), 0)};
        else
            e = {kv.substr(0, eq), kv.substr(eq + 1)};
        if (!out.push(e)) return Error::make(ENOMEM, "out of memory");
        ++matched;
    }
    return {};
}

namespace {

// A DER element: its tag (one byte: the high-tag-number form is refused)
// and its content, inside the parent's bytes.
struct Der {
    const unsigned char* p;
    size_t n;

    // Takes the next element off the front; false at the end or when it
    // does not fit (indefinite lengths are refused: DER only).
    bool next(unsigned char* tag, Der* content) {
        if (n < 2 || (p[0] & 0x1f) == 0x1f) return false;
        *tag = p[0];
        size_t len = p[1], hdr = 2;
        if (len & 0x80) {
            size_t bytes = len & 0x7f;
            if (bytes == 0 || bytes > 4 || n - 2 < bytes) return false;
            len = 0;
            for (size_t i = 0; i < bytes; ++i) len = (len << 8) | p[2 + i];
            hdr += bytes;
        }
        if (len > n - hdr) return false;
        *content = {p + hdr, len};
        p += hdr + len;
        n -= hdr + len;
        return true;
    }
    // The next element, which must have this tag.
    bool expect(unsigned char want, Der* content) {
        unsigned char tag;
        return next(&tag, content) && tag == want;
    }
    // Skips the next element if it has this tag.
    void skip_if(unsigned char want) {
        Der save = *this, content;
        unsigned char tag;
        if (!next(&tag, &content) || tag != want) *this = save;
    }
    bool equals(const unsigned char* bytes, size_t len) const { return n == len && memcmp(p, bytes, len) == 0; }
};

constexpr unsigned char tag_integer = 0x02, tag_octets = 0x04, tag_oid = 0x06, tag_seq = 0x30, tag_set = 0x31,
                        tag_ctx0 = 0xa0, tag_ctx1 = 0xa1;
constexpr unsigned char oid_signed_data[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02};
constexpr unsigned char oid_common_name[] = {0x55, 0x04, 0x03};

struct HashOid {
    unsigned char oid[10];
    unsigned char len;
    const char* name;
};
// OpenSSL's names (OBJ_obj2txt), which kmod prints.
const HashOid hash_oids[] = {
    {{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x04}, 8, "md4"},
    {{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x05}, 8, "md5"},
    {{0x2b, 0x0e, 0x03, 0x02, 0x1a}, 5, "sha1"},
    {{0x2b, 0x24, 0x03, 0x02, 0x01}, 5, "ripemd160"},
    {{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01}, 9, "sha256"},
    {{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02}, 9, "sha384"},
    {{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03}, 9, "sha512"},
    {{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04}, 9, "sha224"},
    {{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x07}, 9, "sha3-224"},
    {{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x08}, 9, "sha3-256"},
    {{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x09}, 9, "sha3-384"},
    {{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x0a}, 9, "sha3-512"},
    {{0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x83, 0x11}, 8, "sm3"},
};

// An OID as OpenSSL names it: its short name when known, else dotted.
bool oid_name(Der oid, char* buf, size_t cap, std::string_view* out) {
    for (const HashOid& h : hash_oids)
        if (oid.equals(h.oid, h.len)) {
            *out = h.name;
            return true;
        }
    size_t used = 0;
    uint64_t v = 0;
    bool first = true;
    for (size_t i = 0; i < oid.n; ++i) {
        if (v >> 56) return false; // an arc past 64 bits
        v = (v << 7) | (oid.p[i] & 0x7f);
        if (oid.p[i] & 0x80) continue;
        char arc[48];
        int k;
        if (first) {
            unsigned top = v < 40 ? 0 : v < 80 ? 1 : 2;
            k = snprintf(arc, sizeof arc, "%u.%llu", top, static_cast<unsigned long long>(v - 40 * top));
            first = false;
        } else {
            k = snprintf(arc, sizeof arc, ".%llu", static_cast<unsigned long long>(v));
        }
        if (k < 0 || static_cast<size_t>(k) >= cap - used) return false;
        memcpy(buf + used, arc, k);
        used += k;
        v = 0;
    }
    if (first || (oid.n && (oid.p[oid.n - 1] & 0x80))) return false;
    *out = {buf, used};
    return true;
}

// The issuer's commonName, else its last attribute (OpenSSL's X509_NAME
// walk as kmod does it), up to its first NUL.
bool issuer_name(Der name, std::string_view* out) {
    Der rdn, ava;
    std::string_view last;
    bool any = false;
    while (name.n) {
        if (!name.expect(tag_set, &rdn)) return false;
        while (rdn.n) {
            if (!rdn.expect(tag_seq, &ava)) return false;
            Der oid, value;
            unsigned char vtag;
            if (!ava.expect(tag_oid, &oid) || !ava.next(&vtag, &value)) return false;
            std::string_view v(reinterpret_cast<const char*>(value.p), value.n);
            last = v.substr(0, v.find('\0'));
            any = true;
            if (oid.equals(oid_common_name, sizeof oid_common_name)) {
                *out = last;
                return true;
            }
        }
    }
    *out = any ? last : std::string_view{};
    return true;
}

bool parse_pkcs7(Der der, ModuleSignature* sig) {
    Der ci, oid, explicit0, sd, skip, infos, si, ias, issuer, serial, digest_alg, digest_oid, enc;
    if (!der.expect(tag_seq, &ci) || !ci.expect(tag_oid, &oid) ||
        !oid.equals(oid_signed_data, sizeof oid_signed_data) || !ci.expect(tag_ctx0, &explicit0) ||
        !explicit0.expect(tag_seq, &sd))
        return false;
    if (!sd.expect(tag_integer, &skip) || !sd.expect(tag_set, &skip) || !sd.expect(tag_seq, &skip)) return false;
    sd.skip_if(tag_ctx0); // certificates
    sd.skip_if(tag_ctx1); // crls
    if (!sd.expect(tag_set, &infos) || !infos.expect(tag_seq, &si)) return false;
    if (!si.expect(tag_integer, &skip) || !si.expect(tag_seq, &ias) || !ias.expect(tag_seq, &issuer) ||
        !ias.expect(tag_integer, &serial) || !si.expect(tag_seq, &digest_alg) ||
        !digest_alg.expect(tag_oid, &digest_oid))
        return false;
    si.skip_if(tag_ctx0); // authenticated attributes
    if (!si.expect(tag_seq, &skip) || !si.expect(tag_octets, &enc)) return false;

    if (!issuer_name(issuer, &sig->signer)) return false;
    if (!oid_name(digest_oid, sig->algo_buf, sizeof sig->algo_buf, &sig->hash_algo)) return false;
    // The serial's magnitude without leading zero bytes (BN_bn2bin).
    if (serial.n && (serial.p[0] & 0x80)) {
        if (serial.n > sizeof sig->key_buf) return false;
        unsigned carry = 1;
        for (size_t i = serial.n; i-- > 0;) {
            unsigned v = static_cast<unsigned char>(~serial.p[i]) + carry;
            sig->key_buf[i] = static_cast<unsigned char>(v);
            carry = v >> 8;
        }
        size_t lead = 0;
        while (lead < serial.n && sig->key_buf[lead] == 0) ++lead;
        sig->key_id = {reinterpret_cast<const char*>(sig->key_buf) + lead, serial.n - lead};
    } else {
        while (serial.n && serial.p[0] == 0) ++serial.p, --serial.n;
        sig->key_id = {reinterpret_cast<const char*>(serial.p), serial.n};
    }
    sig->signature = {reinterpret_cast<const char*>(enc.p), enc.n};
    return true;
}

} // namespace

bool read_module_signature(const unsigned char* data, size_t size, ModuleSignature* out) {
    static const char magic[] = "~Module signature appended~\n";
    constexpr size_t magic_len = sizeof magic - 1, trailer = 12;
    static const char* const id_types[] = {"PGP", "X509", "PKCS#7"};
    static const char* const hashes[] = {"md4", "md5", "sha1", "rmd160", "sha256", "sha384", "sha512", "sha224", "sm3"};
    *out = ModuleSignature{};
    if (size < magic_len || memcmp(data + size - magic_len, magic, magic_len) != 0) return false;
    size -= magic_len;
    if (size < trailer) return false;
    size -= trailer;
    const unsigned char* t = data + size;
    unsigned algo = t[0], hash = t[1], id_type = t[2], signer_len = t[3], key_len = t[4];
    uint32_t sig_len = (uint32_t{t[8]} << 24) | (uint32_t{t[9]} << 16) | (uint32_t{t[10]} << 8) | t[11];
    if (algo >= 2 || hash >= sizeof hashes / sizeof *hashes || id_type >= 3) return false;
    if (sig_len == 0 || uint64_t{size} < uint64_t{sig_len} + signer_len + key_len) return false;
    out->id_type = id_types[id_type];
    const unsigned char* sig = data + size - sig_len;
    if (id_type == 2) return parse_pkcs7({sig, sig_len}, out);
    out->signature = {reinterpret_cast<const char*>(sig), sig_len};
    out->key_id = {reinterpret_cast<const char*>(sig - key_len), key_len};
    std::string_view signer(reinterpret_cast<const char*>(sig - key_len - signer_len), signer_len);
    out->signer = signer.substr(0, signer.find('\0')); // kmod prints it as a C string
    out->hash_algo = hashes[hash];
    return true;
}

void append_hex_wrapped(std::string_view bytes, Vec<char>& out) {
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < bytes.size(); ++i) {
        unsigned char b = static_cast<unsigned char>(bytes[i]);
        out.push(digits[b >> 4]);
        out.push(digits[b & 15]);
        if (i + 1 == bytes.size()) break;
        out.push(':');
        if ((i + 1) % 20 == 0) {
            out.push('\n');
            out.push('\t');
            out.push('\t');
        }
    }
}

} // namespace earlymod
