// Resuming from hibernation, in init mode: the kernel command line's
// resume=, resume_offset= and noresume, as the kernel reads them
// (kernel/power/hibernate.c) and as other initramfs tools apply them.
//
// The kernel can only look for a hibernation image once the swap device's
// drivers are loaded, so the initramfs tells it where to look: it writes
// the offset (for a swap file) to /sys/power/resume_offset, then the
// device's MAJ:MIN to /sys/power/resume. If an image is there the kernel
// restores it and that write never returns: this boot ends and the
// hibernated system goes on. If not, the write returns and boot goes on.
// It must happen before any filesystem is mounted: one changed under a
// hibernated system is damaged when the system comes back.
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include <string_view>

#include "earlymod/boot/root_device.h"
#include "earlymod/config/kernel_params.h"
#include "earlymod/util/error.h"

namespace earlymod {

struct ResumeRequest {
    RootSpec device;        // resume= parsed as root= is: /dev/NAME, UUID=, LABEL=, PARTUUID=, MAJ:MIN
    std::string_view shown; // resume='s text, for the log (points into the params)
    uint64_t offset = 0;    // resume_offset=, in pages (a swap file's first page)
    bool has_offset = false;
    unsigned long timeout_s = 0; // how long to wait for the device
};

enum class ResumeAsk {
    none,    // no resume=, or noresume: nothing to do
    resume,  // *req holds what to do
    invalid, // resume= or resume_offset= not understood: *why says which (boot goes on)
};

// Reads the command line. The device is waited for at most
// earlymod.resumetimeout= seconds (default: root_timeout_s, the root's
// timeout); rootwait does not apply: a missing swap device never holds the
// boot. why (cap bytes) gets a sentence when the answer is invalid.
ResumeAsk resume_request(const KernelParams& params, unsigned long root_timeout_s, ResumeRequest* req, char* why,
                         size_t cap);

// Tells the kernel where the image is: writes the offset (when given) to
// power_dir/resume_offset, then "MAJ:MIN" of dev to power_dir/resume
// (power_dir is /sys/power at boot; a test passes a folder of its own).
// Returns when there was no image to restore; an error names the file
// the kernel refused.
[[nodiscard]] Error write_resume(const char* power_dir, dev_t dev, const ResumeRequest& req);

} // namespace earlymod
