"""Counts test cases in meson's testlog.json files: each TAP "ok"/"not ok"
line of a test is one case; a test that printed none counts as one case
by its result. With --reports DIR, each sanitizer report file there is one
more failed case, and is printed; with --leftovers FILE, so is each line
of FILE (a mount a test left behind). Prints "N passed, N failed" (", N
skipped" when any) last.

    count-tests.py TESTLOG.json... [--reports DIR] [--leftovers FILE]"""
import json
import os
import re
import sys

passed = failed = skipped = 0
args = sys.argv[1:]


def take_option(name):
    if name not in args:
        return None
    i = args.index(name)
    value = args[i + 1]
    del args[i:i + 2]
    return value


reports = take_option("--reports")
leftovers = take_option("--leftovers")

for path in args:
    with open(path) as log:
        for line in log:
            if not line.strip():
                continue
            test = json.loads(line)
            out = test.get("stdout") or ""
            oks = len(re.findall(r"^ok \d+", out, re.M))
            skips = len(re.findall(r"^ok \d+.*# ?SKIP", out, re.M | re.I))
            not_oks = len(re.findall(r"^not ok \d+", out, re.M))
            result = test.get("result")
            if result == "SKIP":
                skipped += 1
                continue
            passed += oks - skips
            skipped += skips
            failed += not_oks
            if result not in ("OK", "EXPECTEDFAIL") and not_oks == 0:
                failed += 1  # crashed, timed out or bailed out before a case failed
            elif oks + not_oks == 0:
                passed += 1

if reports:
    for name in sorted(os.listdir(reports)):
        failed += 1
        print("sanitizer report %s:" % name)
        with open(os.path.join(reports, name), errors="replace") as f:
            print(f.read())

if leftovers:
    with open(leftovers) as f:
        for line in f:
            failed += 1
            print(line.rstrip())

summary = "%d passed, %d failed" % (passed, failed)
if skipped:
    summary += ", %d skipped" % skipped
print(summary)
sys.exit(1 if failed else 0)
