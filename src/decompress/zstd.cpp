// Zstandard frames (RFC 8878): raw, RLE and compressed blocks, Huffman
// literals (1 or 4 streams, with or without a new tree), FSE sequences in
// predefined, RLE, compressed and repeat modes, repeat offsets, skippable
// frames and the XXH64 content checksum. Dictionaries are not supported:
// the kernel build and kmod never use them for modules.
//
// The whole output buffer is the window, so Window_Size needs no buffer of
// its own; back-references are checked against the start of the frame.
#include <stdlib.h>

#include "bits.h"

namespace earlymod::dz {
namespace {

constexpr const char* err_truncated = "zstd: truncated input";
constexpr const char* err_corrupt = "zstd: corrupt block";
constexpr size_t block_max = 128 * 1024; // Block_Maximum_Size upper bound

// ---- XXH64 (content checksum) ------------------------------------------

constexpr uint64_t X1 = 0x9E3779B185EBCA87ull, X2 = 0xC2B2AE3D27D4EB4Full, X3 = 0x165667B19E3779F9ull,
                   X4 = 0x85EBCA77C2B2AE63ull, X5 = 0x27D4EB2F165667C5ull;

inline uint64_t rotl(uint64_t x, unsigned r) {
    return x << r | x >> (64 - r);
}
inline uint64_t xround(uint64_t acc, uint64_t v) {
    return rotl(acc + v * X2, 31) * X1;
}

// seed 0
uint64_t xxh64(const u8* p, size_t n) {
    const u8* end = p + n;
    uint64_t h;
    if (n >= 32) {
        uint64_t v[4] = {X1 + X2, X2, 0, 0 - X1};
        do {
            for (int i = 0; i < 4; i++, p += 8) v[i] = xround(v[i], le64(p));
        } while (end - p >= 32);
        h = rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18);
        for (int i = 0; i < 4; i++) h = (h ^ xround(0, v[i])) * X1 + X4;
    } else {
        h = X5;
    }
    h += n;
    for (; end - p >= 8; p += 8) h = rotl(h ^ xround(0, le64(p)), 27) * X1 + X4;
    if (end - p >= 4) {
        h = rotl(h ^ le32(p) * X1, 23) * X2 + X3;
        p += 4;
    }
    for (; p < end; p++) h = rotl(h ^ *p * X5, 11) * X1;
    h ^= h >> 33;
    h *= X2;
    h ^= h >> 29;
    h *= X3;
    return h ^ h >> 32;
}

// ---- bit readers ---------------------------------------------------------

// Backward bit stream (FSE and Huffman payloads). The last byte's highest
// set bit marks the end; `pos` is the number of unread bits. Reads past the
// beginning yield zero bits and drive `pos` negative: that is how the
// Huffman-weight decoder detects its end, and anything else checks for
// pos == 0 ("entirely consumed") at the end of a stream.
struct Back {
    const u8* p;
    int64_t pos;
};

bool back_init(Back& b, const u8* p, size_t n) {
    if (n == 0 || p[n - 1] == 0) return false;
    b.p = p;
    b.pos = static_cast<int64_t>(n) * 8 - 8 + highbit(p[n - 1]);
    return true;
}

// The k (<= 56) bits below `pos`, as a little-endian value.
uint64_t back_peek(const Back& b, unsigned k) {
    if (k == 0 || b.pos <= 0) return 0;
    int64_t last = (b.pos - 1) >> 3; // byte holding bit pos-1
    uint64_t w = 0;
    if (last >= 7) {
        w = le64(b.p + last - 7);
    } else {
        for (int64_t i = 0; i <= last; i++) w |= static_cast<uint64_t>(b.p[i]) << (8 * (i + 7 - last));
    }
    w <<= 7 - ((b.pos - 1) & 7); // bit pos-1 to the top
    return w >> (64 - k);
}

uint64_t back_read(Back& b, unsigned k) {
    uint64_t v = back_peek(b, k);
    b.pos -= k;
    return v;
}

// Forward little-endian bits (FSE table descriptions); zero past the end,
// the caller checks how far it went.
// k <= 24
uint32_t fwd_bits(const u8* p, size_t n, size_t bit, unsigned k) {
    uint32_t v = 0;
    size_t at = bit >> 3;
    for (unsigned i = 0; i < 4; i++)
        if (at + i < n) v |= static_cast<uint32_t>(p[at + i]) << (8 * i);
    return (v >> (bit & 7)) & ((1u << k) - 1);
}

// ---- FSE -----------------------------------------------------------------

struct FseCell {
    u8 sym;
    u8 bits;       // bits to read for the next state
    uint16_t base; // added to them
};

struct Fse {
    FseCell c[512]; // accuracy log <= 9
    unsigned log;
};

// Decoding table from normalized counts (-1 = "less than one").
bool fse_build(Fse& t, const int16_t* norm, unsigned nsym, unsigned log) {
    unsigned size = 1u << log, high = size - 1;
    uint16_t next[256];
    for (unsigned s = 0; s < nsym; s++) {
        if (norm[s] == -1) {
            t.c[high--].sym = static_cast<u8>(s); // low-probability symbols go at the end
            next[s] = 1;
        } else {
            next[s] = static_cast<uint16_t>(norm[s]);
        }
    }
    unsigned step = (size >> 1) + (size >> 3) + 3, mask = size - 1, p = 0;
    for (unsigned s = 0; s < nsym; s++) {
        for (int i = 0; i < norm[s]; i++) {
            t.c[p].sym = static_cast<u8>(s);
            do p = (p + step) & mask;
            while (p > high);
        }
    }
    if (p != 0) return false;
    for (unsigned u = 0; u < size; u++) {
        unsigned x = next[t.c[u].sym]++;
        unsigned nb = log - highbit(x);
        t.c[u].bits = static_cast<u8>(nb);
        t.c[u].base = static_cast<uint16_t>((x << nb) - size);
    }
    t.log = log;
    return true;
}

// Read an FSE table description. Returns the bytes used, 0 if corrupt.
size_t fse_read(Fse& t, const u8* p, size_t n, unsigned max_sym, unsigned max_log) {
    if (n == 0) return 0;
    unsigned log = (p[0] & 15) + 5;
    if (log > max_log) return 0;
    int16_t norm[256];
    int remaining = (1 << log) + 1;
    int threshold = 1 << log;
    unsigned nbits = log + 1, s = 0;
    size_t bit = 4;
    bool prev0 = false;
    while (remaining > 1 && s <= max_sym) {
        if (prev0) { // 2-bit repeat flags: that many more zero counts
            unsigned r;
            do {
                if (bit > 8 * n) return 0;
                r = fwd_bits(p, n, bit, 2);
                bit += 2;
                if (s + r > max_sym) return 0;
                for (unsigned i = 0; i < r; i++) norm[s++] = 0;
            } while (r == 3);
        }
        // Values below `lo` fit in nbits-1 bits, the others take nbits.
        int lo = 2 * threshold - 1 - remaining;
        int v = static_cast<int>(fwd_bits(p, n, bit, nbits));
        int count;
        if ((v & (threshold - 1)) < lo) {
            count = v & (threshold - 1);
            bit += nbits - 1;
        } else {
            count = v & (2 * threshold - 1);
            if (count >= threshold) count -= lo;
            bit += nbits;
        }
        count--;
        remaining -= count < 0 ? -count : count;
        norm[s++] = (int16_t)count;
        prev0 = count == 0;
        while (remaining < threshold) {
            nbits--;
            threshold >>= 1;
        }
    }
    if (remaining != 1 || bit > 8 * n || !fse_build(t, norm, s, log)) return 0;
    return (bit + 7) / 8;
}

// ---- Huffman ---------------------------------------------------------------

struct HufCell {
    u8 sym;
    u8 bits;
};

struct Huf {
    HufCell c[2048]; // max code length 11
    unsigned log;
};

// Read a Huffman tree description into a decoding table indexed by the
// next `log` bits. Returns the bytes used, 0 if corrupt.
size_t huf_read(Huf& h, Fse& tmp, const u8* p, size_t n) {
    if (n == 0) return 0;
    u8 w[256];
    unsigned nw = 0, hb = p[0];
    size_t used;
    if (hb >= 128) { // 4-bit weights
        nw = hb - 127;
        used = 1 + (nw + 1) / 2;
        if (used > n) return 0;
        for (unsigned i = 0; i < nw; i++) w[i] = (p[1 + i / 2] >> (i & 1 ? 0 : 4)) & 15;
    } else { // FSE-compressed weights, two interleaved states
        used = 1 + static_cast<size_t>(hb);
        if (used > n) return 0;
        size_t d = fse_read(tmp, p + 1, hb, 255, 6);
        Back b;
        if (!d || !back_init(b, p + 1 + d, hb - d)) return 0;
        unsigned st[2];
        st[0] = static_cast<unsigned>(back_read(b, tmp.log));
        st[1] = static_cast<unsigned>(back_read(b, tmp.log));
        for (unsigned k = 0;; k ^= 1) {
            if (nw >= 255) return 0;
            const FseCell& c = tmp.c[st[k]];
            w[nw++] = c.sym;
            st[k] = c.base + static_cast<unsigned>(back_read(b, c.bits));
            if (b.pos < 0) { // stream exhausted: the other state's symbol ends it
                if (nw >= 255) return 0;
                w[nw++] = tmp.c[st[k ^ 1]].sym;
                break;
            }
        }
    }
    // The last symbol's weight is implied: it completes the sum of
    // 2^(weight-1) to a power of two, which gives the table size.
    uint32_t total = 0;
    for (unsigned i = 0; i < nw; i++) {
        if (w[i] > 11) return 0;
        if (w[i]) total += 1u << (w[i] - 1);
    }
    if (total == 0) return 0;
    unsigned log = highbit(total) + 1;
    uint32_t rest = (1u << log) - total;
    if (log > 11 || (rest & (rest - 1))) return 0;
    w[nw++] = static_cast<u8>(highbit(rest) + 1);
    // Codes go to weights in increasing order, symbols in natural order
    // within a weight; a weight-w symbol covers 2^(w-1) table cells.
    unsigned pos = 0;
    for (unsigned wt = 1; wt <= log; wt++) {
        for (unsigned s = 0; s < nw; s++) {
            if (w[s] != wt) continue;
            HufCell cell = {static_cast<u8>(s), static_cast<u8>(log + 1 - wt)};
            for (unsigned k = 0; k < (1u << (wt - 1)); k++) h.c[pos++] = cell;
        }
    }
    h.log = log;
    return used;
}

bool huf_stream(const Huf& h, const u8* p, size_t n, u8* dst, size_t count) {
    Back b;
    if (!back_init(b, p, n)) return false;
    for (size_t i = 0; i < count; i++) {
        const HufCell& c = h.c[back_peek(b, h.log)];
        dst[i] = c.sym;
        b.pos -= c.bits;
    }
    return b.pos == 0;
}

// ---- sequences -------------------------------------------------------------

// Extra bits per literal/match length code; baselines follow by summing.
const u8 ll_bits[36] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  0,  0,  0,  0,  1,  1,
                        1, 1, 2, 2, 3, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
const u8 ml_bits[53] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  0,  0,  0,  0,  0,  0, 0,
                        0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

// Predefined distributions (RFC 8878, "Default Distributions").
const int16_t ll_default[36] = {4, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1,  1,  2,  2,
                                2, 2, 2, 2, 2, 2, 2, 3, 2, 1, 1, 1, 1, 1, -1, -1, -1, -1};
const int16_t ml_default[53] = {1, 4, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,  1,  1,  1,  1,  1,  1, 1,
                                1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1, -1};
const int16_t of_default[29] = {1, 1, 1, 1, 1, 1, 2, 2, 2, 1,  1,  1,  1,  1, 1,
                                1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1};

struct Ctx {
    Fse tab[3]; // literal lengths, offsets, match lengths (stream order)
    Fse tmp;    // Huffman weights
    Huf huf;
    bool have_huf, have_tables;
    uint64_t rep[3];
    uint32_t ll_base[36], ml_base[53];
    u8 lit[block_max];
};

const char* append(Out& out, const u8* p, size_t n) {
    if (const char* err = out_reserve(out, n)) return err;
    if (n) memcpy(out.buf + out.len, p, n);
    out.len += n;
    return nullptr;
}

const char* compressed_block(Ctx& c, const u8* in, size_t n, Out& out, size_t frame_start) {
    // Literals section header: type, size format, sizes.
    if (n == 0) return err_truncated;
    unsigned type = in[0] & 3, sf = (in[0] >> 2) & 3;
    size_t regen, pos;
    const u8* lits;
    if (type < 2) {                               // raw or RLE
        size_t hs = (sf & 1) ? 2 + (sf >> 1) : 1; // size format 1: 2 bytes, 3: 3 bytes
        if (n < hs + (type == 1)) return err_truncated;
        regen = hs == 1   ? in[0] >> 3
                : hs == 2 ? (in[0] >> 4) + (static_cast<size_t>(in[1]) << 4)
                          : (in[0] >> 4) + (static_cast<size_t>(in[1]) << 4) + (static_cast<size_t>(in[2]) << 12);
        if (regen > block_max) return err_corrupt;
        if (type == 0) {
            if (n - hs < regen) return err_truncated;
            lits = in + hs;
            pos = hs + regen;
        } else {
            memset(c.lit, in[hs], regen);
            lits = c.lit;
            pos = hs + 1;
        }
    } else { // Huffman-coded, with a new tree or the previous one
        size_t hs = sf < 2 ? 3 : sf + 2;
        if (n < hs) return err_truncated;
        uint64_t v = 0;
        for (size_t i = 0; i < hs; i++) v |= static_cast<uint64_t>(in[i]) << (8 * i);
        unsigned bits = sf < 2 ? 10 : sf == 2 ? 14 : 18;
        regen = static_cast<size_t>(v >> 4) & ((1u << bits) - 1);
        size_t csize = static_cast<size_t>(v >> (4 + bits)) & ((1u << bits) - 1);
        if (regen > block_max) return err_corrupt;
        if (n - hs < csize) return err_truncated;
        const u8* src = in + hs;
        size_t sn = csize;
        if (type == 2) {
            size_t t = huf_read(c.huf, c.tmp, src, sn);
            if (!t) return "zstd: corrupt Huffman table";
            c.have_huf = true;
            src += t;
            sn -= t;
        } else if (!c.have_huf) {
            return "zstd: treeless literals without a previous table";
        }
        bool ok;
        if (sf == 0) {
            ok = huf_stream(c.huf, src, sn, c.lit, regen);
        } else {
            size_t seg = (regen + 3) / 4;
            ok = sn >= 6 && 3 * seg <= regen;
            size_t left = ok ? sn - 6 : 0;
            const u8* q = ok ? src + 6 : src; // jump table: sizes of streams 1-3
            for (unsigned k = 0; ok && k < 4; k++) {
                size_t len = k < 3 ? le16(src + 2 * k) : left;
                if (len > left) return "zstd: corrupt literals";
                ok = huf_stream(c.huf, q, len, c.lit + k * seg, k < 3 ? seg : regen - 3 * seg);
                q += len;
                left -= len;
            }
        }
        if (!ok) return "zstd: corrupt literals";
        lits = c.lit;
        pos = hs + csize;
    }

    // Sequences section header.
    const u8* s = in + pos;
    size_t sn = n - pos, q;
    if (sn == 0) return err_truncated;
    size_t nseq;
    if (s[0] < 128) {
        nseq = s[0];
        q = 1;
    } else if (s[0] < 255) {
        if (sn < 2) return err_truncated;
        nseq = (static_cast<size_t>(s[0] - 128) << 8) + s[1];
        q = 2;
    } else {
        if (sn < 3) return err_truncated;
        nseq = s[1] + (static_cast<size_t>(s[2]) << 8) + 0x7F00;
        q = 3;
    }
    size_t block_start = out.len, lit_used = 0;
    if (nseq) {
        if (q >= sn) return err_truncated;
        unsigned modes = s[q++];
        if (modes & 3) return err_corrupt;
        static const int16_t* const defaults[3] = {ll_default, of_default, ml_default};
        static const u8 ndefault[3] = {36, 29, 53}, deflog[3] = {6, 5, 6};
        static const u8 max_sym[3] = {35, 31, 52}, max_log[3] = {9, 8, 9};
        for (unsigned k = 0; k < 3; k++) {
            Fse& t = c.tab[k];
            switch ((modes >> (6 - 2 * k)) & 3) {
            case 0: // predefined
                fse_build(t, defaults[k], ndefault[k], deflog[k]);
                break;
            case 1: // RLE: one symbol, no state bits
                if (q >= sn) return err_truncated;
                if (s[q] > max_sym[k]) return err_corrupt;
                t.c[0] = {s[q++], 0, 0};
                t.log = 0;
                break;
            case 2: {
                size_t used = fse_read(t, s + q, sn - q, max_sym[k], max_log[k]);
                if (!used) return "zstd: corrupt FSE table";
                q += used;
                break;
            }
            default: // repeat
                if (!c.have_tables) return "zstd: repeated FSE table without a previous one";
                break;
            }
        }
        c.have_tables = true;

        Back b;
        if (!back_init(b, s + q, sn - q)) return err_corrupt;
        unsigned st[3];
        for (unsigned k = 0; k < 3; k++) st[k] = static_cast<unsigned>(back_read(b, c.tab[k].log));
        uint64_t* rep = c.rep;
        for (size_t i = 0; i < nseq; i++) {
            const FseCell& cl = c.tab[0].c[st[0]];
            const FseCell& co = c.tab[1].c[st[1]];
            const FseCell& cm = c.tab[2].c[st[2]];
            // Extra bits come in the order offset, match length, literal length.
            uint64_t ofv = (static_cast<uint64_t>(1) << co.sym) + back_read(b, co.sym);
            size_t ml = c.ml_base[cm.sym] + static_cast<size_t>(back_read(b, ml_bits[cm.sym]));
            size_t ll = c.ll_base[cl.sym] + static_cast<size_t>(back_read(b, ll_bits[cl.sym]));
            uint64_t off;
            if (ofv > 3) {
                off = ofv - 3;
                rep[2] = rep[1];
                rep[1] = rep[0];
                rep[0] = off;
            } else {
                // Repeat offsets; with no literals before the match they
                // shift by one and "3" means rep[0] - 1.
                unsigned idx = static_cast<unsigned>(ofv) - 1 + (ll == 0);
                if (idx == 0) {
                    off = rep[0];
                } else {
                    off = idx == 3 ? rep[0] - 1 : rep[idx];
                    if (idx > 1) rep[2] = rep[1];
                    rep[1] = rep[0];
                    rep[0] = off;
                }
            }
            if (i + 1 < nseq) { // state updates: literal length, match length, offset
                st[0] = cl.base + static_cast<unsigned>(back_read(b, cl.bits));
                st[2] = cm.base + static_cast<unsigned>(back_read(b, cm.bits));
                st[1] = co.base + static_cast<unsigned>(back_read(b, co.bits));
            }
            if (ll > regen - lit_used) return err_corrupt;
            if (const char* err = out_reserve(out, ll + ml)) return err;
            if (ll) memcpy(out.buf + out.len, lits + lit_used, ll);
            out.len += ll;
            lit_used += ll;
            if (off == 0 || off > out.len - frame_start) return "zstd: match offset too far back";
            u8* o = out.buf + out.len;
            const u8* from = o - off;
            for (size_t k = 0; k < ml; k++) o[k] = from[k];
            out.len += ml;
            if (out.len - block_start > block_max) return err_corrupt;
        }
        if (b.pos != 0) return err_corrupt;
    } else if (q != sn) {
        return err_corrupt;
    }
    if (const char* err = append(out, lits + lit_used, regen - lit_used)) return err;
    if (out.len - block_start > block_max) return err_corrupt;
    return nullptr;
}

const char* frame(Ctx& c, const u8* in, size_t n, size_t& pos, Out& out) {
    size_t p = pos + 4; // past the magic number
    if (p >= n) return err_truncated;
    unsigned fhd = in[p++];
    if (fhd & 8) return "zstd: reserved frame header bit set";
    unsigned fcs_flag = fhd >> 6, single = (fhd >> 5) & 1, did_flag = fhd & 3;
    size_t did_size = did_flag == 3 ? 4 : did_flag;
    size_t fcs_size = fcs_flag ? static_cast<size_t>(1) << fcs_flag : single;
    if (n - p < !single + did_size + fcs_size) return err_truncated;
    // The window descriptor (when present) only tells how much history an
    // encoder may reference; all of it is kept here, so it is skipped.
    p += !single;
    uint64_t did = 0, fcs = 0;
    for (size_t i = 0; i < did_size; i++) did |= static_cast<uint64_t>(in[p++]) << (8 * i);
    if (did) return "zstd: frame needs a dictionary (unsupported)";
    for (size_t i = 0; i < fcs_size; i++) fcs |= static_cast<uint64_t>(in[p++]) << (8 * i);
    if (fcs_size == 2) fcs += 256;
    if (fcs_size) { // known size: refuse early, allocate once
        if (fcs > out.limit - out.len) return err_too_big;
        if (const char* err = out_reserve(out, static_cast<size_t>(fcs))) return err;
    }

    size_t start = out.len;
    c.rep[0] = 1;
    c.rep[1] = 4;
    c.rep[2] = 8;
    c.have_huf = c.have_tables = false;
    for (;;) {
        if (n - p < 3) return err_truncated;
        uint32_t bh = in[p] | static_cast<uint32_t>(in[p + 1]) << 8 | static_cast<uint32_t>(in[p + 2]) << 16;
        p += 3;
        size_t bs = bh >> 3;
        if (bs > block_max) return "zstd: block too large";
        unsigned type = (bh >> 1) & 3;
        const char* err = nullptr;
        if (type == 1) { // RLE: one byte, bs times
            if (p >= n) return err_truncated;
            if (!(err = out_reserve(out, bs)) && bs) {
                memset(out.buf + out.len, in[p], bs);
                out.len += bs;
            }
            p++;
        } else {
            if (n - p < bs) return err_truncated;
            if (type == 0)
                err = append(out, in + p, bs);
            else if (type == 2)
                err = compressed_block(c, in + p, bs, out, start);
            else
                err = "zstd: reserved block type";
            p += bs;
        }
        if (err) return err;
        if (bh & 1) break;
    }
    if (fcs_size && out.len - start != fcs) return "zstd: frame content size mismatch";
    if (fhd & 4) {
        if (n - p < 4) return err_truncated;
        if (static_cast<uint32_t>(xxh64(out.buf + start, out.len - start)) != le32(in + p))
            return "zstd: content checksum mismatch";
        p += 4;
    }
    pos = p;
    return nullptr;
}

} // namespace

const char* zstd_decode(const u8* in, size_t n, Out& out) {
    if (n == 0) return err_truncated;
    Ctx* c = (Ctx*)malloc(sizeof(Ctx));
    if (!c) return err_no_memory;
    c->ll_base[0] = 0;
    for (unsigned i = 0; i < 35; i++) c->ll_base[i + 1] = c->ll_base[i] + (1u << ll_bits[i]);
    c->ml_base[0] = 3;
    for (unsigned i = 0; i < 52; i++) c->ml_base[i + 1] = c->ml_base[i] + (1u << ml_bits[i]);
    const char* err = nullptr;
    size_t pos = 0;
    while (!err && pos < n) {
        if (n - pos < 4) {
            err = pos ? "zstd: trailing garbage after frame" : err_truncated;
            break;
        }
        uint32_t magic = le32(in + pos);
        if (magic == 0xFD2FB528u) {
            err = frame(*c, in, n, pos, out);
        } else if ((magic & 0xFFFFFFF0u) == 0x184D2A50u) { // skippable frame
            if (n - pos < 8 || n - pos - 8 < le32(in + pos + 4))
                err = err_truncated;
            else
                pos += 8 + static_cast<size_t>(le32(in + pos + 4));
        } else {
            err = pos ? "zstd: trailing garbage after frame" : "zstd: bad magic";
        }
    }
    free(c);
    return err;
}

} // namespace earlymod::dz
