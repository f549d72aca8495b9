// parse_uevent() on a raw netlink message, and uevent_from_kernel() on a
// sender made of the input's first bytes.
//
// Checks: a parsed uevent's fields are views into the message, without
// NUL; the action is not empty and has no '@'; the devpath starts with
// '/'; the modalias is the value of the first non-empty "MODALIAS=" field; the
// header alone parses to the same action and devpath; a message rebuilt
// from the fields parses to them again. uevent_from_kernel() is true only
// for port 0, group 1, credentials of uid 0 on a netlink address.
#include <string.h>

#include <string>

#include "earlymod/boot/boot.h"
#include "fuzz_common.h"

using namespace earlymod;

namespace {

bool inside(std::string_view part, std::string_view whole) {
    return part.empty() || (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

bool has_nul(std::string_view s) {
    return s.find('\0') != std::string_view::npos;
}

// The first "MODALIAS=" field after the header, by a second reading.
std::string_view first_modalias(std::string_view msg) {
    size_t at = msg.find('\0');
    while (at != std::string_view::npos) {
        size_t next = msg.find('\0', at + 1);
        std::string_view field =
            msg.substr(at + 1, next == std::string_view::npos ? std::string_view::npos : next - at - 1);
        if (field.size() > 9 && memcmp(field.data(), "MODALIAS=", 9) == 0) return field.substr(9);
        at = next;
    }
    return {};
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::quiet();
    std::string_view msg = fuzz::as_text(data, size);

    Uevent u;
    if (parse_uevent(msg, &u)) {
        FUZZ_CHECK(inside(u.action, msg) && inside(u.devpath, msg) && inside(u.modalias, msg));
        FUZZ_CHECK2(!u.action.empty() && u.action.find('@') == std::string_view::npos, u.action, msg);
        FUZZ_CHECK2(!u.devpath.empty() && u.devpath[0] == '/', u.devpath, msg);
        FUZZ_CHECK(!has_nul(u.action) && !has_nul(u.devpath) && !has_nul(u.modalias));
        FUZZ_CHECK2(u.modalias == first_modalias(msg), u.modalias, first_modalias(msg));

        Uevent head;
        FUZZ_CHECK(parse_uevent(msg.substr(0, msg.find('\0')), &head));
        FUZZ_CHECK(head.action == u.action && head.devpath == u.devpath && head.modalias.empty());

        std::string again = std::string(u.action) + "@" + std::string(u.devpath) + '\0';
        if (!u.modalias.empty()) again += "MODALIAS=" + std::string(u.modalias) + '\0';
        Uevent v;
        FUZZ_CHECK(parse_uevent(again, &v));
        FUZZ_CHECK(v.action == u.action && v.devpath == u.devpath && v.modalias == u.modalias);
    } else {
        FUZZ_CHECK(u.modalias.empty());
    }

    if (size >= 11) {
        UeventSender s;
        s.netlink = data[0] & 1;
        s.has_credentials = data[0] & 2;
        memcpy(&s.port, data + 1, 4);
        memcpy(&s.groups, data + 5, 4);
        s.uid = data[9] | static_cast<uint32_t>(data[10]) << 8;
        bool kernel = s.netlink && s.has_credentials && s.port == 0 && s.groups == 1 && s.uid == 0;
        FUZZ_CHECK(uevent_from_kernel(s) == kernel);
    }
    return 0;
}
