// .xz container (streams, blocks, index) with the LZMA2 filter.
//
// Kernel modules are written by `xz --check=crc32 --lzma2=dict=1MiB`: one
// stream, one block, LZMA2 only. Everything the .xz format allows around
// that is handled too (several blocks and streams, stream padding, sizes in
// block headers, check types none/CRC32/CRC64/SHA-256), except filter
// chains: BCJ and delta filters are refused with an error, not ignored.
#include <stdlib.h>

#include "bits.h"

namespace earlymod::dz {
namespace {

constexpr const char* err_truncated = "xz: truncated input";
constexpr const char* err_bad_chunk = "xz: corrupt LZMA2 chunk";
constexpr const char* err_bad_data = "xz: corrupt LZMA data";

// ---- integrity checks --------------------------------------------------

// CRC-64 (ECMA-182, reflected, as xz uses it); 2 KiB of .rodata (bits.h).
constexpr CrcTable<uint64_t> crc64_table = make_crc_table<uint64_t, 0xC96C5795D7870F42ull>();
static_assert(crc64_table.v[1] == 0xB32E4CBE03A75F6Full && crc64_table.v[255] == 0xE0ADA17364673F59ull);

uint64_t crc64(const u8* p, size_t n) {
    uint64_t crc = ~0ull;
    while (n--) crc = crc64_table.v[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

inline uint32_t rotr(uint32_t x, unsigned k) {
    return x >> k | x << (32 - k);
}
inline uint32_t be32(const u8* p) {
    return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 | static_cast<uint32_t>(p[2]) << 8 |
           p[3];
}

const uint32_t sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

void sha256_block(uint32_t h[8], const u8* blk) {
    uint32_t w[64], v[8];
    for (int i = 0; i < 16; i++) w[i] = be32(blk + 4 * i);
    for (int i = 16; i < 64; i++) {
        uint32_t a = w[i - 15], b = w[i - 2];
        w[i] = w[i - 16] + w[i - 7] + (rotr(a, 7) ^ rotr(a, 18) ^ (a >> 3)) + (rotr(b, 17) ^ rotr(b, 19) ^ (b >> 10));
    }
    memcpy(v, h, sizeof v);
    for (int i = 0; i < 64; i++) {
        uint32_t e = v[4], a = v[0];
        uint32_t t1 = v[7] + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & v[5]) ^ (~e & v[6])) + sha_k[i] + w[i];
        uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & v[1]) ^ (a & v[2]) ^ (v[1] & v[2]));
        memmove(v + 1, v, 7 * sizeof v[0]);
        v[4] += t1;
        v[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++) h[i] += v[i];
}

void sha256(const u8* p, size_t n, u8 out[32]) {
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    size_t i = 0;
    for (; n - i >= 64; i += 64) sha256_block(h, p + i);
    u8 blk[64];
    size_t r = n - i;
    if (r) memcpy(blk, p + i, r);
    blk[r++] = 0x80;
    if (r > 56) {
        memset(blk + r, 0, 64 - r);
        sha256_block(h, blk);
        r = 0;
    }
    memset(blk + r, 0, 56 - r);
    uint64_t bits = static_cast<uint64_t>(n) * 8;
    for (int k = 0; k < 8; k++) blk[56 + k] = static_cast<u8>(bits >> (56 - 8 * k));
    sha256_block(h, blk);
    for (int k = 0; k < 32; k++) out[k] = static_cast<u8>(h[k / 4] >> (24 - 8 * (k % 4)));
}

// ---- LZMA ---------------------------------------------------------------

// All adaptive probabilities live in one array so that a state reset is a
// single loop. Offsets of each group:
enum : unsigned {
    P_IS_MATCH = 0,                     // [state 12][pos_state 16]
    P_IS_REP = P_IS_MATCH + 192,        // [state]
    P_IS_REP0 = P_IS_REP + 12,          // [state]
    P_IS_REP1 = P_IS_REP0 + 12,         // [state]
    P_IS_REP2 = P_IS_REP1 + 12,         // [state]
    P_IS_REP0_LONG = P_IS_REP2 + 12,    // [state][pos_state]
    P_DIST_SLOT = P_IS_REP0_LONG + 192, // [length state 4][64]
    P_DIST_SPECIAL = P_DIST_SLOT + 256, // reverse trees of dist slots 4..13
    P_ALIGN = P_DIST_SPECIAL + 114,     // 4-bit reverse tree
    P_MATCH_LEN = P_ALIGN + 16,         // length coder (layout: see rc_len)
    P_REP_LEN = P_MATCH_LEN + 514,
    P_LITERAL = P_REP_LEN + 514, // [0x300 << (lc + lp)], lc + lp <= 4
    P_TOTAL = P_LITERAL + (0x300 << 4),
};

struct Lzma {
    uint16_t prob[P_TOTAL];
    unsigned lc, lp, pb;
    unsigned state;
    uint32_t rep[4]; // the last four match distances, minus one
};

// Range decoder over one LZMA2 chunk's compressed bytes. Reading past the
// chunk sets `bad` (the decode loop stops at the next symbol).
struct Rc {
    const u8* p;
    size_t pos, n;
    uint32_t range, code;
    bool bad;
};

inline void rc_norm(Rc& rc) {
    if (rc.range < (1u << 24)) {
        rc.range <<= 8;
        rc.code <<= 8;
        if (rc.pos < rc.n)
            rc.code |= rc.p[rc.pos++];
        else
            rc.bad = true;
    }
}

unsigned rc_bit(Rc& rc, uint16_t* pr) {
    rc_norm(rc);
    uint32_t bound = (rc.range >> 11) * *pr;
    if (rc.code < bound) {
        rc.range = bound;
        *pr += (2048 - *pr) >> 5;
        return 0;
    }
    rc.range -= bound;
    rc.code -= bound;
    *pr -= *pr >> 5;
    return 1;
}

// Bit tree, most significant bit first (probabilities indexed from 1).
unsigned rc_tree(Rc& rc, uint16_t* pr, unsigned bits) {
    unsigned s = 1;
    for (unsigned i = 0; i < bits; i++) s = s << 1 | rc_bit(rc, pr + s);
    return s - (1u << bits);
}

// Bit tree, least significant bit first.
unsigned rc_rtree(Rc& rc, uint16_t* pr, unsigned bits) {
    unsigned s = 1, r = 0;
    for (unsigned i = 0; i < bits; i++) {
        unsigned b = rc_bit(rc, pr + s);
        s = s << 1 | b;
        r |= b << i;
    }
    return r;
}

// Bits with fixed probability 1/2.
uint32_t rc_direct(Rc& rc, unsigned bits) {
    uint32_t r = 0;
    while (bits--) {
        rc_norm(rc);
        rc.range >>= 1;
        uint32_t b = rc.code >= rc.range;
        rc.code -= rc.range & (0u - b);
        r = r << 1 | b;
    }
    return r;
}

// Length coder: choice, choice2, low[16][8], mid[16][8], high[256].
// Lengths 2..9, 10..17 (per pos_state) and 18..273.
unsigned rc_len(Rc& rc, uint16_t* pr, unsigned ps) {
    if (!rc_bit(rc, pr)) return 2 + rc_tree(rc, pr + 2 + ps * 8, 3);
    if (!rc_bit(rc, pr + 1)) return 10 + rc_tree(rc, pr + 130 + ps * 8, 3);
    return 18 + rc_tree(rc, pr + 258, 8);
}

uint32_t rc_dist(Lzma& z, Rc& rc, unsigned len) {
    unsigned ls = len - 2 < 3 ? len - 2 : 3;
    unsigned slot = rc_tree(rc, z.prob + P_DIST_SLOT + ls * 64, 6);
    if (slot < 4) return slot;
    unsigned nd = (slot >> 1) - 1;
    uint32_t dist = (2 | (slot & 1)) << nd;
    if (slot < 14) return dist + rc_rtree(rc, z.prob + P_DIST_SPECIAL + dist - slot - 1, nd);
    dist += rc_direct(rc, nd - 4) << 4;
    return dist + rc_rtree(rc, z.prob + P_ALIGN, 4);
}

void lzma_reset(Lzma& z) {
    unsigned n = P_LITERAL + (0x300u << (z.lc + z.lp));
    for (unsigned i = 0; i < n; i++) z.prob[i] = 1024;
    z.state = 0;
    z.rep[0] = z.rep[1] = z.rep[2] = z.rep[3] = 0;
}

// Decode one LZMA chunk: exactly `usize` bytes from exactly `csize` bytes.
// Positions (for pos_state, literal context and distances) count from
// `dict_start`, the output position of the last dictionary reset.
const char* lzma_chunk(Lzma& z, const u8* in, size_t csize, size_t usize, Out& out, size_t dict_start) {
    if (csize < 5 || in[0] != 0) return err_bad_chunk;
    Rc rc = {in, 5, csize, 0xFFFFFFFFu, be32(in + 1), false};
    if (const char* err = out_reserve(out, usize)) return err;
    u8* buf = out.buf;
    size_t o = out.len, end = o + usize;
    const unsigned lc = z.lc, lp_mask = (1u << z.lp) - 1, pb_mask = (1u << z.pb) - 1;
    unsigned st = z.state;
    uint32_t* rep = z.rep;
    uint16_t* pr = z.prob;
    while (o < end) {
        if (rc.bad) return err_bad_data;
        size_t pos = o - dict_start;
        unsigned ps = static_cast<unsigned>(pos) & pb_mask;
        if (!rc_bit(rc, pr + P_IS_MATCH + st * 16 + ps)) {
            unsigned prev = pos ? buf[o - 1] : 0;
            uint16_t* lit =
                pr + P_LITERAL + 0x300 * (((static_cast<unsigned>(pos) & lp_mask) << lc) + (prev >> (8 - lc)));
            unsigned s = 1;
            if (st >= 7) {
                // After a match the literal is coded relative to the byte
                // at the last match distance, while the two agree.
                if (rep[0] >= pos) return err_bad_data;
                unsigned mb = buf[o - rep[0] - 1], off = 0x100;
                while (s < 0x100) {
                    mb <<= 1;
                    unsigned mbit = mb & off;
                    unsigned b = rc_bit(rc, lit + off + mbit + s);
                    s = s << 1 | b;
                    off &= b ? mbit : ~mbit;
                }
            } else {
                while (s < 0x100) s = s << 1 | rc_bit(rc, lit + s);
            }
            buf[o++] = static_cast<u8>(s);
            st = st < 4 ? 0 : st < 10 ? st - 3 : st - 6;
            continue;
        }
        unsigned len;
        if (!rc_bit(rc, pr + P_IS_REP + st)) { // match with a new distance
            len = rc_len(rc, pr + P_MATCH_LEN, ps);
            st = st < 7 ? 7 : 10;
            uint32_t d = rc_dist(z, rc, len);
            if (d == 0xFFFFFFFFu) // LZMA2 chunks have no end marker
                return "xz: unexpected LZMA end marker";
            rep[3] = rep[2];
            rep[2] = rep[1];
            rep[1] = rep[0];
            rep[0] = d;
        } else if (!rc_bit(rc, pr + P_IS_REP0 + st)) {
            if (!rc_bit(rc, pr + P_IS_REP0_LONG + st * 16 + ps)) { // one byte at rep0
                len = 1;
                st = st < 7 ? 9 : 11;
            } else {
                len = rc_len(rc, pr + P_REP_LEN, ps);
                st = st < 7 ? 8 : 11;
            }
        } else { // rep1..rep3, moved to the front
            uint32_t d;
            if (!rc_bit(rc, pr + P_IS_REP1 + st)) {
                d = rep[1];
            } else {
                if (!rc_bit(rc, pr + P_IS_REP2 + st)) {
                    d = rep[2];
                } else {
                    d = rep[3];
                    rep[3] = rep[2];
                }
                rep[2] = rep[1];
            }
            rep[1] = rep[0];
            rep[0] = d;
            len = rc_len(rc, pr + P_REP_LEN, ps);
            st = st < 7 ? 8 : 11;
        }
        if (rc.bad) return err_bad_data;
        if (rep[0] >= pos) return "xz: match distance too far back";
        if (len > end - o) // matches never cross chunk boundaries
            return err_bad_data;
        const u8* from = buf + o - rep[0] - 1;
        for (unsigned k = 0; k < len; k++) buf[o + k] = from[k];
        o += len;
    }
    out.len = o;
    z.state = st;
    rc_norm(rc);
    if (rc.bad || rc.pos != csize || rc.code != 0) return err_bad_chunk;
    return nullptr;
}

// ---- LZMA2 --------------------------------------------------------------

// Decode the LZMA2 data of one block from in[0..n) (n is the compressed
// size when the block header gives it, else the rest of the input). `used`
// receives the bytes consumed, end marker included.
const char* lzma2_decode(Lzma& z, const u8* in, size_t n, size_t& used, Out& out) {
    size_t pos = 0, dict_start = out.len;
    bool need_dict_reset = true, need_props = true;
    for (;;) {
        if (pos >= n) return err_truncated;
        unsigned c = in[pos++];
        if (c == 0) break;
        // 0x01 and 0xE0..0xFF reset the dictionary: the first chunk must,
        // and the next LZMA chunk must then also set new properties.
        if (c >= 0xE0 || c == 1) {
            need_props = true;
            need_dict_reset = false;
            dict_start = out.len;
        } else if (need_dict_reset) {
            return err_bad_chunk;
        }
        if (c >= 0x80) {
            if (n - pos < 4) return err_truncated;
            size_t usize =
                (static_cast<size_t>(c & 0x1F) << 16) + (static_cast<size_t>(in[pos]) << 8) + in[pos + 1] + 1;
            size_t csize = (static_cast<size_t>(in[pos + 2]) << 8) + in[pos + 3] + 1;
            pos += 4;
            if (c >= 0xC0) {
                if (pos >= n) return err_truncated;
                unsigned pb = in[pos++];
                if (pb >= 9 * 5 * 5) return err_bad_chunk;
                z.lc = pb % 9;
                pb /= 9;
                z.lp = pb % 5;
                z.pb = pb / 5;
                if (z.lc + z.lp > 4) return err_bad_chunk;
                need_props = false;
            } else if (need_props) {
                return err_bad_chunk;
            }
            if (c >= 0xA0) lzma_reset(z);
            if (n - pos < csize) return err_truncated;
            if (const char* err = lzma_chunk(z, in + pos, csize, usize, out, dict_start)) return err;
            pos += csize;
        } else if (c <= 2) { // stored chunk
            if (n - pos < 2) return err_truncated;
            size_t size = (static_cast<size_t>(in[pos]) << 8) + in[pos + 1] + 1;
            pos += 2;
            if (n - pos < size) return err_truncated;
            if (const char* err = out_reserve(out, size)) return err;
            memcpy(out.buf + out.len, in + pos, size);
            out.len += size;
            pos += size;
        } else {
            return err_bad_chunk;
        }
    }
    used = pos;
    return nullptr;
}

// ---- container ----------------------------------------------------------

// Variable-length integer: 7 bits per byte, low bits first, at most 9
// bytes, no superfluous trailing zero byte.
bool vli(const u8* p, size_t end, size_t& pos, uint64_t& v) {
    v = 0;
    for (unsigned i = 0; i < 9; i++) {
        if (pos >= end) return false;
        unsigned b = p[pos++];
        v |= static_cast<uint64_t>(b & 0x7F) << (7 * i);
        if (!(b & 0x80)) return b != 0 || i == 0;
    }
    return false;
}

// Blocks and index records are compared through a running CRC-32 of their
// (unpadded size, uncompressed size) pairs, so no list has to be kept.
uint32_t record_hash(uint32_t h, uint64_t unpadded, uint64_t usize) {
    u8 rec[16];
    for (int i = 0; i < 8; i++) {
        rec[i] = static_cast<u8>(unpadded >> 8 * i);
        rec[8 + i] = static_cast<u8>(usize >> 8 * i);
    }
    return crc32_update(h, rec, 16);
}

// Check type -> size in bytes; 0xFF for the types we cannot verify.
const u8 check_size[16] = {0, 4, 0xFF, 0xFF, 8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 32, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};

const char* verify_check(unsigned type, const u8* data, size_t n, const u8* stored) {
    if (type == 1 && crc32_update(0, data, n) != le32(stored)) return "xz: CRC32 mismatch";
    if (type == 4 && crc64(data, n) != le64(stored)) return "xz: CRC64 mismatch";
    if (type == 10) {
        u8 d[32];
        sha256(data, n, d);
        if (memcmp(d, stored, 32)) return "xz: SHA-256 mismatch";
    }
    return nullptr;
}

// One block: header, LZMA2 data, padding, check.
const char* block(Lzma& z, const u8* in, size_t n, size_t& pos, Out& out, unsigned check, uint64_t& unpadded,
                  uint64_t& usize) {
    const u8* h = in + pos;
    size_t hs = (static_cast<size_t>(h[0]) + 1) * 4;
    if (n - pos < hs) return err_truncated;
    size_t hend = hs - 4;
    if (crc32_update(0, h, hend) != le32(h + hend)) return "xz: block header CRC mismatch";
    unsigned flags = h[1];
    if (flags & 0x3C) return "xz: unsupported block flags";
    size_t p = 2;
    uint64_t hdr_csize = 0, hdr_usize = 0, id = 0, psize = 0;
    if ((flags & 0x40) && (!vli(h, hend, p, hdr_csize) || hdr_csize == 0)) return "xz: corrupt block header";
    if ((flags & 0x80) && !vli(h, hend, p, hdr_usize)) return "xz: corrupt block header";
    if (!vli(h, hend, p, id) || !vli(h, hend, p, psize) || psize > hend - p) return "xz: corrupt block header";
    if ((flags & 3) != 0 || id != 0x21) return "xz: unsupported filter (only LZMA2 is supported)";
    // LZMA2's one property byte is the dictionary size. The whole output
    // is the dictionary here, so only its validity matters.
    if (psize != 1 || h[p] > 40) return "xz: corrupt LZMA2 properties";
    for (p++; p < hend; p++)
        if (h[p]) return "xz: corrupt block header";
    pos += hs;

    size_t avail = n - pos;
    if (flags & 0x40) {
        if (hdr_csize > avail) return err_truncated;
        avail = static_cast<size_t>(hdr_csize);
    }
    size_t start = out.len, used = 0;
    if (const char* err = lzma2_decode(z, in + pos, avail, used, out)) return err;
    if (((flags & 0x40) && used != hdr_csize) || ((flags & 0x80) && out.len - start != hdr_usize))
        return "xz: block size does not match its header";
    pos += used;
    for (size_t k = used; k & 3; k++, pos++) {
        if (pos >= n) return err_truncated;
        if (in[pos]) return "xz: nonzero block padding";
    }
    size_t cs = check_size[check];
    if (n - pos < cs) return err_truncated;
    if (const char* err = verify_check(check, out.buf + start, out.len - start, in + pos)) return err;
    pos += cs;
    unpadded = hs + used + cs;
    usize = out.len - start;
    return nullptr;
}

const char* stream(Lzma& z, const u8* in, size_t n, size_t& pos, Out& out) {
    const u8* sh = in + pos;
    if (n - pos < 12) return err_truncated;
    if (memcmp(sh,
               "\xFD"
               "7zXZ\0",
               6))
        return pos ? "xz: trailing garbage after stream" : "xz: bad magic";
    if (crc32_update(0, sh + 6, 2) != le32(sh + 8)) return "xz: stream header CRC mismatch";
    if (sh[6] || sh[7] > 15) return "xz: unsupported stream flags";
    unsigned check = sh[7];
    if (check_size[check] == 0xFF) return "xz: unsupported check type";
    pos += 12;

    uint64_t blocks = 0;
    uint32_t hash = 0;
    for (;;) {
        if (pos >= n) return err_truncated;
        if (in[pos] == 0) // index indicator
            break;
        uint64_t unpadded = 0, usize = 0;
        if (const char* err = block(z, in, n, pos, out, check, unpadded, usize)) return err;
        blocks++;
        hash = record_hash(hash, unpadded, usize);
    }

    // Index: indicator, record count, records, padding, CRC32.
    constexpr const char* err_bad_index = "xz: index does not match the blocks";
    size_t is = pos++;
    uint64_t count = 0;
    if (!vli(in, n, pos, count)) return err_truncated;
    if (count != blocks) return err_bad_index;
    uint32_t ihash = 0;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t unpadded = 0, usize = 0;
        if (!vli(in, n, pos, unpadded) || !vli(in, n, pos, usize)) return err_truncated;
        ihash = record_hash(ihash, unpadded, usize);
    }
    while ((pos - is) & 3) {
        if (pos >= n) return err_truncated;
        if (in[pos++]) return "xz: nonzero index padding";
    }
    if (n - pos < 4) return err_truncated;
    if (crc32_update(0, in + is, pos - is) != le32(in + pos)) return "xz: index CRC mismatch";
    pos += 4;
    if (ihash != hash) return err_bad_index;

    // Footer: CRC32, backward size, flags (as in the header), "YZ".
    if (n - pos < 12) return err_truncated;
    const u8* f = in + pos;
    if (f[10] != 'Y' || f[11] != 'Z') return "xz: bad stream footer magic";
    if (crc32_update(0, f + 4, 6) != le32(f)) return "xz: stream footer CRC mismatch";
    if ((static_cast<uint64_t>(le32(f + 4)) + 1) * 4 != pos - is) return "xz: stream footer backward size mismatch";
    if (f[8] != sh[6] || f[9] != sh[7]) return "xz: stream footer flags mismatch";
    pos += 12;
    return nullptr;
}

} // namespace

const char* xz_decode(const u8* in, size_t n, Out& out) {
    Lzma* z = (Lzma*)malloc(sizeof(Lzma));
    if (!z) return err_no_memory;
    const char* err = nullptr;
    size_t pos = 0;
    do {
        if ((err = stream(*z, in, n, pos, out))) break;
        // Stream padding: zero bytes, a multiple of four in total.
        size_t pad = pos;
        while (pos < n && in[pos] == 0) pos++;
        if ((pos - pad) & 3) {
            err = "xz: stream padding is not a multiple of four bytes";
            break;
        }
    } while (pos < n);
    free(z);
    return err;
}

} // namespace earlymod::dz
