// A bound on how long a test step may take. A load that hangs (a worker
// waiting for ever, a lost wake-up) would otherwise hang the whole test
// run; the watchdog ends the test program with a message naming the step
// instead, which meson reports as a failure.
#pragma once

#include <stdio.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace fixture {

class Watchdog {
public:
    Watchdog(std::string what, unsigned seconds) : what_(std::move(what)) {
        thread_ = std::thread([this, seconds] {
            std::unique_lock<std::mutex> g(lock_);
            if (!cv_.wait_for(g, std::chrono::seconds(seconds), [this] { return done_; })) {
                fprintf(stderr, "watchdog: %s did not finish within %u s (a hang)\n", what_.c_str(), seconds);
                fflush(stderr);
                _exit(124); // the stuck threads cannot be joined: end the test program
            }
        });
    }
    ~Watchdog() {
        {
            std::lock_guard<std::mutex> g(lock_);
            done_ = true;
        }
        cv_.notify_one();
        thread_.join();
    }
    Watchdog(const Watchdog&) = delete;
    Watchdog& operator=(const Watchdog&) = delete;

private:
    std::string what_;
    std::mutex lock_;
    std::condition_variable cv_;
    bool done_ = false;
    std::thread thread_;
};

} // namespace fixture
