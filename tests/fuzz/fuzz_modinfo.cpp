// read_modinfo() and read_module_signature() on the raw input as a module
// file, read_builtin_modinfo() on it as modules.builtin.modinfo, and
// append_hex_wrapped() on what they return.
//
// Checks the contract of modinfo.h: an error or entries, never both; every
// key and value lies inside the input (the reader copies nothing); keys
// and values hold no NUL, keys no '='; a signature's views lie inside the input
// or the ModuleSignature's own buffers; the hex text is 3 bytes a byte, 3
// more a full line.
#include <string.h>

#include "earlymod/index/modinfo.h"
#include "fuzz_common.h"

using namespace earlymod;

namespace {

bool inside(std::string_view v, const void* base, size_t size) {
    const char* b = static_cast<const char*>(base);
    if (v.empty()) return true;
    return v.data() >= b && v.data() + v.size() <= b + size;
}

void check_entries(const Vec<ModinfoEntry>& list, const uint8_t* data, size_t size) {
    for (const ModinfoEntry& e : list) {
        FUZZ_CHECK(inside(e.key, data, size));
        FUZZ_CHECK(inside(e.value, data, size));
        FUZZ_CHECK(e.key.find('=') == std::string_view::npos);
        FUZZ_CHECK(e.key.find('\0') == std::string_view::npos);
        FUZZ_CHECK(e.value.find('\0') == std::string_view::npos);
    }
}

void check_hex(std::string_view bytes) {
    Vec<char> out;
    append_hex_wrapped(bytes, out);
    size_t n = bytes.size();
    size_t want = n == 0 ? 0 : 3 * n - 1 + 3 * ((n - 1) / 20);
    FUZZ_CHECK(out.size() == want);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::quiet();
    Vec<ModinfoEntry> list;
    Error e = read_modinfo(data, size, "fuzz.ko", list);
    FUZZ_CHECK(e.ok() || list.empty());
    FUZZ_CHECK(e.ok() || strncmp(e.message(), "fuzz.ko: ", 9) == 0);
    check_entries(list, data, size);

    ModuleSignature* sig = new ModuleSignature;
    if (read_module_signature(data, size, sig)) {
        FUZZ_CHECK(!sig->id_type.empty());
        FUZZ_CHECK(inside(sig->signer, data, size));
        FUZZ_CHECK(inside(sig->signature, data, size));
        FUZZ_CHECK(inside(sig->key_id, data, size) || inside(sig->key_id, sig->key_buf, sizeof sig->key_buf));
        FUZZ_CHECK(!sig->hash_algo.empty());
        check_hex(sig->key_id);
        check_hex(sig->signature);
    }
    delete sig;

    // As modules.builtin.modinfo, for a module named by the first record.
    std::string_view text = fuzz::as_text(data, size);
    std::string_view first = text.substr(0, text.find('.'));
    first = first.substr(0, first.find('\0'));
    Vec<ModinfoEntry> builtin;
    Error b = read_builtin_modinfo(text, first, "modules.builtin.modinfo", builtin);
    (void)b; // entries found before a bad record stay; the caller drops them
    check_entries(builtin, data, size);
    return 0;
}
