#include "earlymod/util/memory.h"

namespace earlymod {

namespace {
// Set from any thread (a worker's allocation), read by others: atomic.
bool g_exhausted = false;
// The first chunk is small (a single lookup needs little); each next one
// doubles, up to a cap, so big workloads take few chunks.
constexpr size_t first_chunk = 8 * 1024;
constexpr size_t max_chunk = 256 * 1024;
} // namespace

bool memory_exhausted() {
    return __atomic_load_n(&g_exhausted, __ATOMIC_RELAXED);
}
void note_memory_exhausted() {
    __atomic_store_n(&g_exhausted, true, __ATOMIC_RELAXED);
}

Arena::~Arena() {
    while (head_) {
        Chunk* next = head_->next;
        free(head_);
        head_ = next;
    }
}

void* Arena::alloc(size_t size, size_t align) {
    size_t header = (sizeof(Chunk) + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);
    if (head_) {
        size_t at = (head_->used + align - 1) & ~(align - 1);
        if (at + size <= head_->size) {
            head_->used = at + size;
            char* p = reinterpret_cast<char*>(head_) + at;
            memset(p, 0, size);
            return p;
        }
    }
    // Large requests get a chunk of their own so that the current chunk's
    // free tail is not wasted.
    size_t want = header + size + align;
    size_t chunk_size = head_ ? head_->size * 2 : first_chunk;
    if (chunk_size > max_chunk) chunk_size = max_chunk;
    size_t csize = want > chunk_size ? want : chunk_size;
    Chunk* c = static_cast<Chunk*>(malloc(csize));
    if (!c) {
        note_memory_exhausted();
        return nullptr;
    }
    c->size = csize;
    c->used = header;
    if (want > chunk_size && head_) {
        // Keep the current chunk at the head: it still has room.
        c->next = head_->next;
        head_->next = c;
    } else {
        c->next = head_;
        head_ = c;
    }
    size_t at = (c->used + align - 1) & ~(align - 1);
    c->used = at + size;
    char* p = reinterpret_cast<char*>(c) + at;
    memset(p, 0, size);
    return p;
}

std::string_view Arena::dup(std::string_view s) {
    return concat(s, {});
}

std::string_view Arena::concat(std::string_view a, std::string_view b, std::string_view c, std::string_view d) {
    size_t n = a.size() + b.size() + c.size() + d.size();
    char* p = static_cast<char*>(alloc(n + 1, 1));
    if (!p) return {};
    char* q = p;
    for (std::string_view s : {a, b, c, d}) {
        if (!s.empty()) memcpy(q, s.data(), s.size());
        q += s.size();
    }
    *q = '\0';
    return {p, n};
}

// Eight bytes at a time (module names and aliases are hashed by the
// hundred thousand in a big run), mixed with a multiply-rotate.
uint32_t hash_bytes(std::string_view s) {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(s.data());
    size_t n = s.size();
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
        h = (h << 29) | (h >> 35);
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    if (n) memcpy(&w, p, n); // p may be null when n is 0
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
    h ^= h >> 32;
    return static_cast<uint32_t>(h);
}

} // namespace earlymod
