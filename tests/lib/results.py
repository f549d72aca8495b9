"""Running a test's cases a few at a time and printing their results the way
every comparison test does: one line per case, `ok   LABEL` or `FAIL LABEL`
followed by an indented report, and at the end `N passed, M failed`.

    import results
    tally = results.Tally()
    tally.record(ok, "generic lookup:-D,xfs", results.indent(report))
    results.run_all(tally, plan, check, label, jobs)
    return tally.finish()      # the test's exit status: 0 or 1
"""

import concurrent.futures
import sys


def indent(text):
    """text with each line indented, as reports under a FAIL line are."""
    return "".join("    " + l for l in text.splitlines(True))


class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def record(self, ok, label, report=""):
        """Count and print one result; report (already indented) follows a
        FAIL line."""
        if ok:
            self.passed += 1
            print(f"ok   {label}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {label}", flush=True)
            sys.stdout.write(report)

    def finish(self):
        """Print the summary line; the exit status for it."""
        print(f"{self.passed} passed, {self.failed} failed")
        return 0 if self.failed == 0 else 1


def run_all(tally, plan, check, label, jobs):
    """check(item) -> (ok, report) for every item of plan, jobs at once;
    results recorded in plan order under label(item)."""
    with concurrent.futures.ThreadPoolExecutor(max(1, jobs)) as ex:
        futures = [ex.submit(check, item) for item in plan]
        for item, fut in zip(plan, futures):
            ok, report = fut.result()
            tally.record(ok, label(item), report)
