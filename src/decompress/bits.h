// Internal helpers shared by the decoders in this directory: the growable
// output buffer, little-endian loads and CRC32. Not part of the public API.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <earlymod/decompress/decompress.h>

namespace earlymod::dz {

using u8 = unsigned char;

// A reflected CRC's lookup table, computed at compile time: constant data
// that any number of threads may use at once (a table built on first use
// raced between workers). CRC-32 (gzip, xz) and CRC-64 (xz) use it.
template <typename T>
struct CrcTable {
    T v[256];
};
template <typename T, T poly>
constexpr CrcTable<T> make_crc_table() {
    CrcTable<T> t{};
    for (uint32_t i = 0; i < 256; i++) {
        T c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (poly & (T(0) - (c & 1)));
        t.v[i] = c;
    }
    return t;
}

// Output buffer. The whole decompressed file lives here; it doubles as the
// LZ77 window of every decoder, so back-references are plain indexes into
// buf and only need checking against the start of the current window.
struct Out {
    u8* buf = nullptr;
    size_t len = 0;                 // bytes written
    size_t cap = 0;                 // bytes allocated
    size_t limit = 0;               // caller's max_output: len never exceeds it
    DecodeBudget* budget = nullptr; // cap bytes are reserved from it
};

inline constexpr const char* err_too_big = "decompressed data exceeds the size limit";
inline constexpr const char* err_no_memory = "out of memory";
inline constexpr const char* err_budget =
    "out of decompression memory (the budget shared by the modules decompressed at once)";

// Slow path of out_reserve (decompress.cpp): grow by doubling, never past
// limit, reserving the new bytes from the budget first. Returns an error
// message, or null on success.
const char* out_grow(Out& o, size_t extra);

// Make room for `extra` more bytes. Returns null or an error message.
inline const char* out_reserve(Out& o, size_t extra) {
    if (o.cap - o.len >= extra) return nullptr;
    return out_grow(o, extra);
}

inline uint32_t le16(const u8* p) {
    return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8;
}
inline uint32_t le32(const u8* p) {
    return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
           static_cast<uint32_t>(p[3]) << 24;
}
inline uint64_t le64(const u8* p) {
    return le32(p) | static_cast<uint64_t>(le32(p + 4)) << 32;
}

// Index of the highest set bit (x != 0).
inline unsigned highbit(uint32_t x) {
    return 31u - static_cast<unsigned>(__builtin_clz(x));
}

// CRC-32 (IEEE 802.3, reflected, as used by gzip and xz). Chainable: pass
// the previous result, starting from 0.
uint32_t crc32_update(uint32_t crc, const u8* p, size_t n);

// The decoders. Each appends to `out` and returns null on success or a
// static error message.
const char* gzip_decode(const u8* in, size_t n, Out& out);
const char* xz_decode(const u8* in, size_t n, Out& out);
const char* zstd_decode(const u8* in, size_t n, Out& out);

} // namespace earlymod::dz
