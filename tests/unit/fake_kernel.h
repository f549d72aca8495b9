// A fake kernel for tests, behind earlymod's Kernel interface: it fails
// chosen modules with chosen errno values, delays chosen modules, counts
// the load calls per module, records the order in which loads start and
// finish, and notices when the same module is being loaded twice at the
// same time (which parallel loading must never do). Safe to call from
// several threads.
#pragma once

#include <stdint.h>

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "earlymod/kernel/kernel.h"

namespace fixture {

class FakeKernel : public earlymod::Kernel {
public:
    // The module a load call is for: the file name up to its first '.',
    // with '-' as '_' (as the kernel names modules).
    static std::string module_of(std::string_view path);

    // Loads of module fail with err. times: only the first `times` calls
    // fail (a transient error such as EINTR), -1: every call. EEXIST
    // also makes the module live, as when someone else loaded it.
    void fail(const std::string& module, int err, int times = -1);
    // Loads of module take ms milliseconds (whether or not they fail).
    void delay(const std::string& module, unsigned ms);
    // The module is in the kernel before anything is loaded.
    void set_live(const std::string& module);

    unsigned calls(const std::string& module) const;
    // Modules whose load returned success, in the order the calls ended.
    std::vector<std::string> loaded() const;
    // Every load call's module, in the order the calls began.
    std::vector<std::string> started() const;
    // When the module's last load call ended (CLOCK_MONOTONIC ns), or 0.
    uint64_t end_ns(const std::string& module) const;
    // Modules a load call began for while another call for the same
    // module was still running.
    std::vector<std::string> overlapping() const;
    // The most load calls running at once.
    int peak() const;

    earlymod::Error load(const char* host_path, std::string_view shown_path, std::string_view params,
                         unsigned flags) override;
    earlymod::Error unload(std::string_view name, bool force) override;
    earlymod::ModuleState state(std::string_view name) override;
    long refcount(std::string_view name) override;

private:
    struct Fault {
        int err;
        int times; // -1: always
    };
    mutable std::mutex lock_;
    std::map<std::string, Fault> faults_;
    std::map<std::string, unsigned> delays_ms_;
    std::map<std::string, unsigned> calls_;
    std::map<std::string, int> in_flight_;
    std::map<std::string, uint64_t> end_ns_;
    std::set<std::string> live_;
    std::vector<std::string> loaded_, started_, overlapping_;
    int running_ = 0, peak_ = 0;
};

} // namespace fixture
