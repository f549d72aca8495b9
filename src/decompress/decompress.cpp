// Format detection, dispatch and the helpers shared by the decoders.
#include <earlymod/decompress/decompress.h>

#include <errno.h>
#include <stdlib.h>

#include "bits.h"

namespace earlymod {
namespace dz {

const char* out_grow(Out& o, size_t extra) {
    if (extra > o.limit || o.len > o.limit - extra) return err_too_big;
    size_t need = o.len + extra;
    // Start at 64 KiB (a module is rarely smaller), then double: the total
    // copying done by realloc stays below twice the final size.
    size_t cap = o.cap < 65536 ? 65536 : o.cap;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > o.limit) cap = o.limit;
    // Reserved before the memory is taken: the budget is never passed,
    // not even for a moment. (realloc of a large block moves pages with
    // mremap, so old and new are not both resident.)
    if (o.budget && !o.budget->reserve(o.cap, cap - o.cap)) return err_budget;
    u8* p = static_cast<u8*>(realloc(o.buf, cap));
    if (!p) {
        if (o.budget) o.budget->release(cap - o.cap);
        return err_no_memory;
    }
    o.buf = p;
    o.cap = cap;
    return nullptr;
}

// 1 KiB of .rodata (bits.h).
namespace {
constexpr CrcTable<uint32_t> crc_table = make_crc_table<uint32_t, 0xEDB88320u>();
static_assert(crc_table.v[1] == 0x77073096u && crc_table.v[255] == 0x2D02EF8Du);
} // namespace

uint32_t crc32_update(uint32_t crc, const u8* p, size_t n) {
    crc = ~crc;
    while (n--) crc = crc_table.v[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

} // namespace dz

bool DecodeBudget::reserve(size_t held, size_t extra) {
    // A decode that stays small may use it all; a larger one leaves room
    // for decompress_small_slots small ones (decompress.h).
    size_t limit = held + extra <= small_ ? total_ : total_ - kept_;
    size_t cur = __atomic_load_n(&in_use_, __ATOMIC_RELAXED);
    do {
        if (extra > limit || cur > limit - extra) return false;
    } while (!__atomic_compare_exchange_n(&in_use_, &cur, cur + extra, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    size_t now = cur + extra;
    size_t p = __atomic_load_n(&peak_, __ATOMIC_RELAXED);
    while (now > p && !__atomic_compare_exchange_n(&peak_, &p, now, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {}
    return true;
}

void DecodeBudget::release(size_t bytes) {
    __atomic_fetch_sub(&in_use_, bytes, __ATOMIC_RELAXED);
}

size_t DecodeBudget::in_use() const {
    return __atomic_load_n(&in_use_, __ATOMIC_RELAXED);
}
size_t DecodeBudget::peak() const {
    return __atomic_load_n(&peak_, __ATOMIC_RELAXED);
}

DecodeBudget& decode_budget() {
    // Constant-initialised: no constructor runs, no guard needed.
    static constinit DecodeBudget budget(decompress_budget_bytes, decompress_small_bytes, decompress_small_slots);
    return budget;
}

void Decompressed::release() {
    free(data);
    data = nullptr;
    if (budget && held) budget->release(held);
    held = 0;
}

Compression detect_compression(const unsigned char* d, size_t n) {
    if (!d) return Compression::none;
    if (n >= 2 && d[0] == 0x1F && d[1] == 0x8B) return Compression::gzip;
    if (n >= 6 && !memcmp(d,
                          "\xFD"
                          "7zXZ\0",
                          6))
        return Compression::xz;
    if (n >= 4 && !memcmp(d, "\x28\xB5\x2F\xFD", 4)) return Compression::zstd;
    return Compression::none;
}

const char* compression_name(Compression c) {
    switch (c) {
    case Compression::gzip: return "gzip";
    case Compression::xz: return "xz";
    case Compression::zstd: return "zstd";
    case Compression::none: break;
    }
    return "none";
}

Decompressed decompress(Compression c, const unsigned char* data, size_t size, size_t max_output) {
    return decompress(c, data, size, max_output, decode_budget());
}

Decompressed decompress(Compression c, const unsigned char* data, size_t size, size_t max_output,
                        DecodeBudget& budget) {
    dz::Out out;
    out.limit = max_output;
    out.budget = &budget;
    const char* err = nullptr;
    if (!data && size) {
        err = "null input buffer";
    } else {
        switch (c) {
        case Compression::none:
            err = dz::out_reserve(out, size);
            if (!err && size) {
                memcpy(out.buf, data, size);
                out.len = size;
            }
            break;
        case Compression::gzip: err = dz::gzip_decode(data, size, out); break;
        case Compression::xz: err = dz::xz_decode(data, size, out); break;
        case Compression::zstd: err = dz::zstd_decode(data, size, out); break;
        default: err = "unknown compression type"; break;
        }
    }
    Decompressed r;
    if (err) {
        free(out.buf);
        budget.release(out.cap);
        r.error = err;
        r.code = err == dz::err_budget || err == dz::err_no_memory ? ENOMEM : err == dz::err_too_big ? EFBIG : ENOEXEC;
        return r;
    }
    // Give back the slack of the last doubling; keep a valid pointer for an
    // empty result so callers can tell success from failure by data alone.
    size_t keep = out.len ? out.len : 1;
    if (out.cap != keep) {
        if (out.cap < keep && !budget.reserve(out.cap, keep - out.cap)) {
            free(out.buf);
            budget.release(out.cap);
            r.error = dz::err_budget;
            r.code = ENOMEM;
            return r;
        }
        unsigned char* p = static_cast<unsigned char*>(realloc(out.buf, keep));
        if (p) {
            out.buf = p;
            if (out.cap > keep) budget.release(out.cap - keep);
            out.cap = keep;
        } else if (!out.buf) {
            budget.release(keep);
            r.error = dz::err_no_memory;
            r.code = ENOMEM;
            return r;
        }
    }
    r.data = out.buf;
    r.size = out.len;
    r.budget = &budget;
    r.held = out.cap;
    return r;
}

} // namespace earlymod
