// Small containers that need no C++ runtime library.
//
// The static binary links only libc, so std::vector, std::string and
// std::unordered_map (whose allocation paths need libstdc++'s compiled part)
// are not available. These three cover what earlymod needs:
//   Vec<T>      a growable array of trivially copyable values;
//   Arena       a bump allocator for strings and records that live as long
//               as the process (one free at the end, no fragmentation);
//   StrMap<V>   an open-addressing hash map from string_view to a small value.
//
// Allocation failure never aborts. It is recorded in a process-wide flag
// (memory_exhausted()) that the command front end turns into an ENOMEM
// error; the failed operation itself leaves the container unchanged.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <new>
#include <string_view>
#include <type_traits>

namespace earlymod {

// True once any allocation in these containers has failed.
bool memory_exhausted();
void note_memory_exhausted();

template <typename T>
class Vec {
    static_assert(std::is_trivially_copyable_v<T>, "Vec holds plain values only");

public:
    Vec() = default;
    Vec(const Vec&) = delete;
    Vec& operator=(const Vec&) = delete;
    Vec(Vec&& other) noexcept { swap(other); }
    Vec& operator=(Vec&& other) noexcept {
        if (this != &other) {
            clear_and_free();
            swap(other);
        }
        return *this;
    }
    ~Vec() { clear_and_free(); }

    bool push(const T& value) {
        if (size_ == capacity_ && !reserve(capacity_ ? capacity_ * 2 : 8)) return false;
        data_[size_++] = value;
        return true;
    }
    bool reserve(size_t n) {
        if (n <= capacity_) return true;
        void* p = realloc(data_, n * sizeof(T));
        if (!p) {
            note_memory_exhausted();
            return false;
        }
        data_ = static_cast<T*>(p);
        capacity_ = n;
        return true;
    }
    // Grows to n elements (new ones uninitialised); false when out of memory.
    bool resize(size_t n) {
        if (n > capacity_ && !reserve(n > capacity_ * 2 ? n : capacity_ * 2)) return false;
        size_ = n;
        return true;
    }
    void pop() { --size_; }
    void clear() { size_ = 0; }
    void truncate(size_t n) {
        if (n < size_) size_ = n;
    }

    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    T* data() { return data_; }
    const T* data() const { return data_; }
    T& operator[](size_t i) { return data_[i]; }
    const T& operator[](size_t i) const { return data_[i]; }
    T& back() { return data_[size_ - 1]; }
    T* begin() { return data_; }
    T* end() { return data_ + size_; }
    const T* begin() const { return data_; }
    const T* end() const { return data_ + size_; }

private:
    void swap(Vec& o) {
        T* d = data_;
        data_ = o.data_;
        o.data_ = d;
        size_t s = size_;
        size_ = o.size_;
        o.size_ = s;
        size_t c = capacity_;
        capacity_ = o.capacity_;
        o.capacity_ = c;
    }
    void clear_and_free() {
        free(data_);
        data_ = nullptr;
        size_ = capacity_ = 0;
    }

    T* data_ = nullptr;
    size_t size_ = 0;
    size_t capacity_ = 0;
};

class Arena {
public:
    Arena() = default;
    Arena(const Arena&) = delete;
    Arena& operator=(const Arena&) = delete;
    ~Arena();

    // Zero-initialised storage, or null when memory is exhausted.
    void* alloc(size_t size, size_t align = alignof(max_align_t));
    template <typename T>
    T* make() {
        void* p = alloc(sizeof(T), alignof(T));
        return p ? new (p) T() : nullptr;
    }
    // A NUL-terminated copy; the view excludes the NUL. Empty on failure.
    std::string_view dup(std::string_view s);
    // Concatenation of up to four pieces, NUL-terminated.
    std::string_view concat(std::string_view a, std::string_view b, std::string_view c = {}, std::string_view d = {});

private:
    struct Chunk {
        Chunk* next;
        size_t used;
        size_t size;
    };
    Chunk* head_ = nullptr;
};

uint32_t hash_bytes(std::string_view s);

// Keys are views: their bytes must outlive the map (arena or mapped file).
template <typename V>
class StrMap {
    static_assert(std::is_trivially_copyable_v<V>, "StrMap holds plain values only");

public:
    StrMap() = default;
    StrMap(const StrMap&) = delete;
    StrMap& operator=(const StrMap&) = delete;
    ~StrMap() { free(slots_); }

    // Inserts or finds key. Returns the slot's value, or null when memory
    // is exhausted. inserted tells whether the key was new.
    V* insert(std::string_view key, const V& init, bool* inserted = nullptr) {
        if ((count_ + 1) * 4 > capacity_ * 3 && !grow()) return nullptr;
        uint32_t h = hash_bytes(key);
        size_t i = h & (capacity_ - 1);
        for (;;) {
            Slot& s = slots_[i];
            if (!s.used) {
                s.used = true;
                s.hash = h;
                s.key = key;
                s.value = init;
                ++count_;
                if (inserted) *inserted = true;
                return &s.value;
            }
            if (s.hash == h && s.key == key) {
                if (inserted) *inserted = false;
                return &s.value;
            }
            i = (i + 1) & (capacity_ - 1);
        }
    }
    // Sizes the table for n keys up front, so that a big run does not
    // rehash (and touch fresh pages) at every doubling.
    bool reserve(size_t n) {
        size_t cap = 64;
        while (cap * 3 < n * 4) cap *= 2;
        return capacity_ >= cap || grow(cap);
    }
    V* find(std::string_view key) const {
        if (!capacity_) return nullptr;
        uint32_t h = hash_bytes(key);
        size_t i = h & (capacity_ - 1);
        for (;;) {
            Slot& s = slots_[i];
            if (!s.used) return nullptr;
            if (s.hash == h && s.key == key) return &s.value;
            i = (i + 1) & (capacity_ - 1);
        }
    }
    size_t size() const { return count_; }

    // Visits every entry, in no particular order.
    template <typename F>
    void for_each(F&& f) const {
        for (size_t i = 0; i < capacity_; ++i)
            if (slots_[i].used) f(slots_[i].key, slots_[i].value);
    }

private:
    struct Slot {
        std::string_view key;
        uint32_t hash;
        bool used;
        V value;
    };
    bool grow(size_t ncap = 0) {
        if (!ncap) ncap = capacity_ ? capacity_ * 2 : 64;
        Slot* n = static_cast<Slot*>(calloc(ncap, sizeof(Slot)));
        if (!n) {
            note_memory_exhausted();
            return false;
        }
        for (size_t i = 0; i < capacity_; ++i) {
            if (!slots_[i].used) continue;
            size_t j = slots_[i].hash & (ncap - 1);
            while (n[j].used) j = (j + 1) & (ncap - 1);
            n[j] = slots_[i];
        }
        free(slots_);
        slots_ = n;
        capacity_ = ncap;
        return true;
    }

    Slot* slots_ = nullptr;
    size_t capacity_ = 0;
    size_t count_ = 0;
};

} // namespace earlymod
