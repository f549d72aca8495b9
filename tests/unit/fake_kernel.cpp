#include "fake_kernel.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

#include "earlymod/util/output.h"

using earlymod::Error;
using earlymod::ModuleState;

namespace fixture {

std::string FakeKernel::module_of(std::string_view path) {
    size_t slash = path.rfind('/');
    std::string_view file = slash == std::string_view::npos ? path : path.substr(slash + 1);
    std::string mod(file.substr(0, file.find('.')));
    std::replace(mod.begin(), mod.end(), '-', '_');
    return mod;
}

void FakeKernel::fail(const std::string& module, int err, int times) {
    std::lock_guard<std::mutex> g(lock_);
    faults_[module] = {err, times};
}

void FakeKernel::delay(const std::string& module, unsigned ms) {
    std::lock_guard<std::mutex> g(lock_);
    delays_ms_[module] = ms;
}

void FakeKernel::set_live(const std::string& module) {
    std::lock_guard<std::mutex> g(lock_);
    live_.insert(module);
}

unsigned FakeKernel::calls(const std::string& module) const {
    std::lock_guard<std::mutex> g(lock_);
    auto it = calls_.find(module);
    return it == calls_.end() ? 0 : it->second;
}

std::vector<std::string> FakeKernel::loaded() const {
    std::lock_guard<std::mutex> g(lock_);
    return loaded_;
}

std::vector<std::string> FakeKernel::started() const {
    std::lock_guard<std::mutex> g(lock_);
    return started_;
}

uint64_t FakeKernel::end_ns(const std::string& module) const {
    std::lock_guard<std::mutex> g(lock_);
    auto it = end_ns_.find(module);
    return it == end_ns_.end() ? 0 : it->second;
}

std::vector<std::string> FakeKernel::overlapping() const {
    std::lock_guard<std::mutex> g(lock_);
    return overlapping_;
}

int FakeKernel::peak() const {
    std::lock_guard<std::mutex> g(lock_);
    return peak_;
}

Error FakeKernel::load(const char* host_path, std::string_view, std::string_view, unsigned) {
    std::string mod = module_of(host_path);
    unsigned delay = 0;
    int err = 0;
    {
        std::lock_guard<std::mutex> g(lock_);
        ++calls_[mod];
        started_.push_back(mod);
        if (in_flight_[mod]++ > 0) overlapping_.push_back(mod);
        peak_ = std::max(peak_, ++running_);
        if (auto d = delays_ms_.find(mod); d != delays_ms_.end()) delay = d->second;
        if (auto f = faults_.find(mod); f != faults_.end() && f->second.times != 0) {
            err = f->second.err;
            if (f->second.times > 0) --f->second.times;
        }
    }
    // Sleep outside the lock, so that other loads go on meanwhile.
    if (delay) usleep(static_cast<useconds_t>(delay) * 1000);
    std::lock_guard<std::mutex> g(lock_);
    --in_flight_[mod];
    --running_;
    end_ns_[mod] = earlymod::monotonic_ns();
    if (err == EEXIST) live_.insert(mod);
    if (err) return Error::make(err, "could not load %s: %s", mod.c_str(), strerror(err)).at(earlymod::Stage::kernel);
    loaded_.push_back(mod);
    live_.insert(mod);
    return {};
}

Error FakeKernel::unload(std::string_view name, bool) {
    std::lock_guard<std::mutex> g(lock_);
    live_.erase(std::string(name));
    return {};
}

ModuleState FakeKernel::state(std::string_view name) {
    std::lock_guard<std::mutex> g(lock_);
    return live_.count(std::string(name)) ? ModuleState::live : ModuleState::absent;
}

long FakeKernel::refcount(std::string_view) {
    return 0;
}

} // namespace fixture
