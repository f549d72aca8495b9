// Format detection, dispatch and the helpers shared by the decoders.
#include <earlymod/decompress.h>

#include <stdlib.h>

#include "bits.h"

namespace earlymod {
namespace dz {

const char* out_grow(Out& o, size_t extra)
{
    if (extra > o.limit || o.len > o.limit - extra)
        return kErrTooBig;
    size_t need = o.len + extra;
    // Start at 64 KiB (a module is rarely smaller), then double: the total
    // copying done by realloc stays below twice the final size.
    size_t cap = o.cap < 65536 ? 65536 : o.cap;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > o.limit)
        cap = o.limit;
    u8* p = (u8*)realloc(o.buf, cap);
    if (!p)
        return kErrNoMem;
    o.buf = p;
    o.cap = cap;
    return nullptr;
}

// 1 KiB of .rodata (bits.h).
namespace {
constexpr CrcTable<uint32_t> crc_table = make_crc_table<uint32_t, 0xEDB88320u>();
static_assert(crc_table.v[1] == 0x77073096u && crc_table.v[255] == 0x2D02EF8Du);
} // namespace

uint32_t crc32_update(uint32_t crc, const u8* p, size_t n)
{
    crc = ~crc;
    while (n--)
        crc = crc_table.v[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

} // namespace dz

Compression detect_compression(const unsigned char* d, size_t n)
{
    if (!d)
        return Compression::none;
    if (n >= 2 && d[0] == 0x1F && d[1] == 0x8B)
        return Compression::gzip;
    if (n >= 6 && !memcmp(d, "\xFD" "7zXZ\0", 6))
        return Compression::xz;
    if (n >= 4 && !memcmp(d, "\x28\xB5\x2F\xFD", 4))
        return Compression::zstd;
    return Compression::none;
}

const char* compression_name(Compression c)
{
    switch (c) {
    case Compression::gzip: return "gzip";
    case Compression::xz: return "xz";
    case Compression::zstd: return "zstd";
    case Compression::none: break;
    }
    return "none";
}

Decompressed decompress(Compression c, const unsigned char* data, size_t size,
                        size_t max_output)
{
    dz::Out out;
    out.limit = max_output;
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
    if (err) {
        free(out.buf);
        return {nullptr, 0, err};
    }
    // Give back the slack of the last doubling; keep a valid pointer for an
    // empty result so callers can tell success from failure by data alone.
    size_t keep = out.len ? out.len : 1;
    if (out.cap != keep) {
        unsigned char* p = (unsigned char*)realloc(out.buf, keep);
        if (p)
            out.buf = p;
        else if (!out.buf)
            return {nullptr, 0, dz::kErrNoMem};
    }
    return {out.buf, out.len, nullptr};
}

} // namespace earlymod
