// The initramfs's shell, for init mode (src/boot/init.cpp): the way out
// of a failed boot, and the break points a user asks for (rd.break).
// Both run /bin/sh as a child of PID 1, never in its place: PID 1 must
// never exit (that panics the kernel), and a shell exec'd as PID 1 would
// end it when the user leaves it.
#pragma once

#include "earlymod/boot/boot.h"

namespace earlymod {

// Says it in the kernel log (and so on the console) and, in case the
// console log level hides it, on /dev/console itself.
void say(int level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// A failed boot: says so, then runs the image's /bin/sh, started again
// whenever it exits; without one, waits without spinning. Never returns.
[[noreturn]] void emergency();

// A break point (break_points(), boot.h): says where boot stands (what), runs /bin/sh as a child
// and returns when it exits, for boot to go on. No shell in the image:
// says so and returns at once.
void break_shell(const char* what);

} // namespace earlymod
