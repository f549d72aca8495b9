// gzip (RFC 1952) members and DEFLATE (RFC 1951) decoding.
//
// Huffman codes are decoded canonically, one bit at a time, from the count
// of codes per length: no lookup tables to build or bound-check, and fast
// enough here (a 5 MB module inflates in a few tens of milliseconds).
#include "bits.h"

namespace earlymod::dz {
namespace {

constexpr const char* err_truncated = "gzip: truncated input";
constexpr const char* err_corrupt = "gzip: corrupt deflate data";

// LSB-first bit reader. Running out of input sets `bad` and yields zero
// bits; callers check `bad` at least once per decoded symbol, so garbage
// never turns into unbounded work.
struct Bits {
    const u8* p;
    size_t n;
    size_t pos;
    uint32_t buf;
    unsigned cnt;
    bool bad;
};

// k <= 16
uint32_t take(Bits& b, unsigned k) {
    while (b.cnt < k) {
        if (b.pos >= b.n) {
            b.bad = true;
            return 0;
        }
        b.buf |= static_cast<uint32_t>(b.p[b.pos++]) << b.cnt;
        b.cnt += 8;
    }
    uint32_t v = b.buf & ((1u << k) - 1);
    b.buf >>= k;
    b.cnt -= k;
    return v;
}

// Canonical Huffman code: how many codes have each length, and the symbols
// ordered by (length, symbol value), which is how DEFLATE assigns codes.
struct Huff {
    uint16_t count[16];
    uint16_t sym[288];
};

// `lenient` accepts the incomplete codes zlib accepts for literal/length and
// distance codes: no code at all, or a single code of length 1.
bool build(Huff& h, const u8* len, unsigned n, bool lenient) {
    uint16_t offs[16];
    memset(h.count, 0, sizeof h.count);
    for (unsigned i = 0; i < n; i++) h.count[len[i]]++;
    int left = 1;
    unsigned used = 0;
    for (unsigned l = 1; l < 16; l++) {
        left = 2 * left - h.count[l];
        if (left < 0) return false; // over-subscribed
        used += h.count[l];
    }
    if (left > 0 && !(lenient && used <= 1 && h.count[1] == used)) return false;
    offs[1] = 0;
    for (unsigned l = 1; l < 15; l++) offs[l + 1] = offs[l] + h.count[l];
    for (unsigned i = 0; i < n; i++)
        if (len[i]) h.sym[offs[len[i]]++] = static_cast<uint16_t>(i);
    return true;
}

// Codes of one length are consecutive integers; walk the lengths, keeping
// the first code of the current length, until the code read so far falls
// inside that length's range. Returns -1 for a code that is not assigned.
int decode(Bits& b, const Huff& h) {
    int code = 0, first = 0, index = 0;
    for (unsigned l = 1; l < 16; l++) {
        code |= static_cast<int>(take(b, 1));
        int c = h.count[l];
        if (code - first < c) return h.sym[index + code - first];
        index += c;
        first = (first + c) << 1;
        code <<= 1;
    }
    return -1;
}

// Inflate one raw DEFLATE stream from in[0..n). Back-references may reach
// back to `base` (the member's first output byte) and no further.
const char* inflate(const u8* in, size_t n, size_t& used, Out& out, size_t base) {
    static const u8 order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
    Bits b = {in, n, 0, 0, 0, false};
    Huff lit, dist;
    u8 lens[320];
    const char* err;
    unsigned last;
    do {
        last = take(b, 1);
        unsigned type = take(b, 2);
        if (b.bad) return err_truncated;
        if (type == 0) {
            // Stored: skip to a byte boundary (take() never holds a whole
            // unread byte), then LEN, its complement and LEN raw bytes.
            b.buf = 0;
            b.cnt = 0;
            if (n - b.pos < 4) return err_truncated;
            uint32_t len = le16(in + b.pos);
            if ((len ^ 0xFFFF) != le16(in + b.pos + 2)) return "gzip: corrupt stored block length";
            b.pos += 4;
            if (n - b.pos < len) return err_truncated;
            if ((err = out_reserve(out, len))) return err;
            if (len) memcpy(out.buf + out.len, in + b.pos, len);
            out.len += len;
            b.pos += len;
            continue;
        }
        if (type == 3) return "gzip: invalid deflate block type";
        if (type == 1) {
            // Fixed codes. Both are built complete (288 and 32 symbols); the
            // symbols 286, 287, 30 and 31 are rejected when decoded.
            unsigned i = 0;
            for (; i < 144; i++) lens[i] = 8;
            for (; i < 256; i++) lens[i] = 9;
            for (; i < 280; i++) lens[i] = 7;
            for (; i < 288; i++) lens[i] = 8;
            build(lit, lens, 288, false);
            memset(lens, 5, 32);
            build(dist, lens, 32, false);
        } else {
            unsigned nlit = take(b, 5) + 257;
            unsigned ndist = take(b, 5) + 1;
            unsigned ncl = take(b, 4) + 4;
            u8 cl[19] = {};
            for (unsigned i = 0; i < ncl; i++) cl[order[i]] = static_cast<u8>(take(b, 3));
            if (b.bad) return err_truncated;
            if (nlit > 286 || ndist > 30) return "gzip: too many length or distance codes";
            Huff& clh = dist; // the distance code is built after this use
            if (!build(clh, cl, 19, false)) return "gzip: invalid code lengths code";
            unsigned total = nlit + ndist, i = 0;
            while (i < total) {
                int s = decode(b, clh);
                if (b.bad) return err_truncated;
                if (s < 0) return err_corrupt;
                if (s < 16) {
                    lens[i++] = static_cast<u8>(s);
                    continue;
                }
                u8 val = 0;
                unsigned rep;
                if (s == 16) {
                    if (i == 0) return "gzip: code length repeat with no previous length";
                    val = lens[i - 1];
                    rep = 3 + take(b, 2);
                } else if (s == 17) {
                    rep = 3 + take(b, 3);
                } else {
                    rep = 11 + take(b, 7);
                }
                if (rep > total - i) return "gzip: code lengths overflow";
                memset(lens + i, val, rep);
                i += rep;
            }
            if (lens[256] == 0) return "gzip: missing end-of-block code";
            if (!build(lit, lens, nlit, true) || !build(dist, lens + nlit, ndist, true))
                return "gzip: invalid Huffman code";
        }
        for (;;) {
            int s = decode(b, lit);
            if (b.bad) return err_truncated;
            if (s < 0) return err_corrupt;
            if (s < 256) {
                if ((err = out_reserve(out, 1))) return err;
                out.buf[out.len++] = static_cast<u8>(s);
                continue;
            }
            if (s == 256) break;
            // Length: codes 257..284 carry 0..5 extra bits over a base that
            // doubles every four codes; 285 is exactly 258.
            unsigned i = static_cast<unsigned>(s) - 257, len;
            if (i >= 29) return err_corrupt;
            if (i < 8) {
                len = 3 + i;
            } else if (i == 28) {
                len = 258;
            } else {
                unsigned e = i / 4 - 1;
                len = ((4 + (i & 3)) << e) + 3 + take(b, e);
            }
            // Distance: codes 0..3 are 1..4, then 1..13 extra bits over a
            // base that doubles every two codes.
            int d = decode(b, dist);
            if (d < 0 || d >= 30) return b.bad ? err_truncated : err_corrupt;
            size_t off;
            if (d < 4) {
                off = static_cast<size_t>(d) + 1;
            } else {
                unsigned e = static_cast<unsigned>(d) / 2 - 1;
                off = (static_cast<size_t>(2 + (d & 1)) << e) + 1 + take(b, e);
            }
            if (b.bad) return err_truncated;
            if (off > out.len - base) return "gzip: distance too far back";
            if ((err = out_reserve(out, len))) return err;
            u8* o = out.buf + out.len;
            const u8* from = o - off;
            for (unsigned k = 0; k < len; k++) o[k] = from[k];
            out.len += len;
        }
    } while (!last);
    used = b.pos; // the unused bits of the last byte are padding
    return nullptr;
}

} // namespace

const char* gzip_decode(const u8* in, size_t n, Out& out) {
    size_t pos = 0;
    do {
        const u8* h = in + pos;
        size_t avail = n - pos;
        if ((avail >= 1 && h[0] != 0x1F) || (avail >= 2 && h[1] != 0x8B))
            return pos ? "gzip: trailing garbage after member" : "gzip: bad magic";
        if (avail < 18) // 10-byte header, >= 0 data, 8-byte trailer
            return err_truncated;
        if (h[2] != 8) return "gzip: unsupported compression method";
        unsigned flags = h[3];
        if (flags & 0xE0) return "gzip: reserved header flags set";
        size_t p = pos + 10;
        if (flags & 4) { // FEXTRA
            if (n - p < 2) return err_truncated;
            size_t xlen = le16(in + p);
            p += 2;
            if (n - p < xlen) return err_truncated;
            p += xlen;
        }
        for (unsigned f = 8; f <= 16; f += 8) { // FNAME, FCOMMENT: zero-terminated
            if (!(flags & f)) continue;
            const void* z = p < n ? memchr(in + p, 0, n - p) : nullptr;
            if (!z) return err_truncated;
            p = static_cast<size_t>(static_cast<const u8*>(z) - in) + 1;
        }
        if (flags & 2) { // FHCRC: low 16 bits of the header's CRC-32
            if (n - p < 2) return err_truncated;
            if ((crc32_update(0, in + pos, p - pos) & 0xFFFF) != le16(in + p)) return "gzip: header CRC mismatch";
            p += 2;
        }
        if (p > n) return err_truncated;
        size_t start = out.len, used = 0;
        if (const char* err = inflate(in + p, n - p, used, out, start)) return err;
        p += used;
        if (n - p < 8) return err_truncated;
        size_t produced = out.len - start;
        if (crc32_update(0, out.buf + start, produced) != le32(in + p)) return "gzip: CRC32 mismatch";
        if (static_cast<uint32_t>(produced) != le32(in + p + 4)) return "gzip: size (ISIZE) mismatch";
        pos = p + 8;
    } while (pos < n);
    return nullptr;
}

} // namespace earlymod::dz
