"""The benchmark still runs: bench/bench.py --tiny completes, prints its
table with every row and a number in every cell that should have one, and
leaves the machine as it found it. No timing is checked: times on a shared
machine are noise, and the benchmark's own targets are the README's
business, not the test suite's."""
import os
import re
import subprocess
import tempfile

from ipcfs_test import run

BENCH_PY = os.path.join(os.environ.get("TESTS_DIR", os.path.dirname(__file__)), "..",
                        "bench", "bench.py")
PYTHON = "/usr/bin/python3"
N = r"\d[\d,]*"
URING_SWITCH = "/sys/module/fuse/parameters/enable_uring"

# Every row the tables must have, as a pattern of its first cell: first
# the unpinned headline, per transport, then the pinned table.
TRANSPORTS = ("io_uring", "/dev/fuse")
HEADLINE_ROWS = [r"%s over %s: %s vs FUSE floor over %s" % (what, t, files, t)
                 for what, files in (("64 B queue round trip", "mq/"),
                                     ("1 producer/consumer pair, 64 B, per message", "mq/"),
                                     ("2 producer/consumer pairs, 64 B, per message", "mq/"),
                                     ("4 producer/consumer pairs, 64 B, per message", "mq/"),
                                     (r"semaphore post\+wait", "sem/"),
                                     ("64 B System V message round trip", "sysv/msg/"))
                 for t in TRANSPORTS]
HEADLINE_ROWS += [
    r"64 B queue round trip over io_uring: mq/ vs mq_send\+mq_receive",
    r"64 B queue round trip: mq/ over /dev/fuse vs over io_uring",
    r"64 B System V message round trip over io_uring: sysv/msg/ vs msgsnd\+msgrcv",
] + [r"stat of a queue file from CPU %d over io_uring: %s readers parked on all CPUs vs none"
     % (c, N) for c in sorted(os.sched_getaffinity(0))] + [
    r"daemon resident memory over io_uring with %s parked reads vs 64 MiB" % N,
    r"ls -l of %s segments: shm/ over /dev/fuse vs over io_uring" % N,
    r"user\.ipc\.holders of a segment with %s other processes running vs 1 s" % N,
]
SHM_ROWS = [r"shm %s %s, \S+ \S+ blocks, %s: shm/ vs /dev/shm" % (how, op, mode)
            for mode in ("passthrough", "fallback")
            for how in ("sequential", "random") for op in ("write", "read")]
SHM_ROWS += [r"shm touch every page of %s MiB mapped, %s: shm/ vs /dev/shm" % (N, mode)
             for mode in ("passthrough", "fallback")]
QUEUE_ROWS = [r"%s: mq/ vs %s" % (what, baseline)
              for what in ("queue round trip, 64 B", "queue round trip, 64 B, caller on another CPU",
                           "queue round trip, 4,096 B", "queue round trip, 65,536 B",
                           "1 producer/consumer pair, 64 B, per message",
                           "2 producer/consumer pairs, 64 B, per message",
                           "4 producer/consumer pairs, 64 B, per message")
              for baseline in ("FUSE floor", r"mq_send\+mq_receive")]
EXPECTED_ROWS = HEADLINE_ROWS + QUEUE_ROWS + [
    r"semaphore post\+wait: sem/ vs sem_post\+sem_wait",
    r"semaphore post\+wait: sem/ vs FUSE floor \(two writes\)",
] + SHM_ROWS + [
    r"stat of a queue file: %s readers parked vs none" % N,
    r"64 B send to an idle queue: %s readers parked vs none" % N,
    r"ls -l of %s queues: mq/ vs the kernel's mqueue" % N,
    r"ls -l of %s segments: shm/ vs /dev/shm" % N,
    r"daemon resident memory, idle",
    r"daemon resident memory after ls -l of %s queues and %s segments vs idle" % (N, N),
    r"daemon resident memory with %s parked reads vs idle" % N,
]
# Rows that may say why they have no value instead of one.
MAY_BE_NA = {
    r"shm touch every page of %s MiB mapped, fallback: shm/ vs /dev/shm" % N: "n/a (ENODEV)",
}
if os.cpu_count() == 1:
    MAY_BE_NA.update({r: "n/a (one CPU)" for r in QUEUE_ROWS if "another CPU" in r})
VALUE = re.compile(r"^\d[\d,]*(\.\d+)? (ns|µs|ms|s|MiB/s|MiB)$")
RATIO = re.compile(r"^\d+\.\d\d$")

state = {}


def our_mounts():
    with open("/proc/mounts") as f:
        return sorted(line.split()[1] for line in f if "ipcfs-bench." in line.split()[1])


def our_queues():
    """Queues named by a benchmark run, through an mqueue mount of our own."""
    path = tempfile.mkdtemp(prefix="test-bench-mqueue.")
    try:
        subprocess.run(["mount", "-t", "mqueue", "none", path], check=True)
        try:
            return sorted(e for e in os.listdir(path) if e.startswith("ipcfs-bench-"))
        finally:
            subprocess.run(["umount", path], check=True)
    finally:
        os.rmdir(path)


def our_sysv_queues():
    """Queues of keys 0x1bc0XXXX, the benchmark's."""
    with open("/proc/sysvipc/msg") as f:
        return sorted(line.split()[0] for line in f.readlines()[1:]
                      if int(line.split()[0]) >> 16 == 0x1bc0)


def machine_state():
    """What a benchmark run changes for a while and must put back."""
    return {
        "mqueue settings": {f: open("/proc/sys/fs/mqueue/" + f).read()
                            for f in sorted(os.listdir("/proc/sys/fs/mqueue"))},
        "enable_uring": open(URING_SWITCH).read(),
        "System V queues of the benchmark's keys": our_sysv_queues(),
        "mounts": our_mounts(),
        "queues": our_queues(),
        "/dev/shm": sorted(e for e in os.listdir("/dev/shm") if "ipcfs-bench-" in e),
        "temporary directories": sorted(e for e in os.listdir(tempfile.gettempdir())
                                        if e.startswith("ipcfs-bench.")),
    }


def table():
    """The table's rows as lists of cells, from one tiny run."""
    if "rows" not in state:
        state["before"] = machine_state()
        p = subprocess.run([PYTHON, BENCH_PY, "--tiny"], capture_output=True, text=True,
                           timeout=240)
        state["after"] = machine_state()
        state["run"] = p
        state["rows"] = [[c.strip() for c in line.strip().strip("|").split("|")]
                         for line in p.stdout.splitlines()
                         if line.startswith("| ") and not line.startswith("| measurement")]
    return state["rows"]


def row(pattern):
    matches = [r for r in table() if re.fullmatch(pattern, r[0])]
    assert len(matches) == 1, "%d rows match %r" % (len(matches), pattern)
    return matches[0]


def test_tiny_run_completes():
    table()
    p = state["run"]
    assert p.returncode == 0, "exit %d: %s" % (p.returncode, p.stderr[-2000:])
    assert p.stdout.startswith("Taken "), p.stdout[:200]


def test_every_row_is_there():
    for pattern in EXPECTED_ROWS:
        row(pattern)
    assert len(table()) == len(EXPECTED_ROWS), [r[0] for r in table()]


def test_every_row_has_six_cells():
    for r in table():
        assert len(r) == 6, r


def test_every_value_is_a_number():
    for pattern in EXPECTED_ROWS:
        label, mount, baseline, ratio, target, met = row(pattern)
        if mount == MAY_BE_NA.get(pattern):
            assert ratio == "—", (label, ratio)
            continue
        assert VALUE.match(mount), (label, mount)
        if baseline == "—":
            assert pattern == "daemon resident memory, idle", label
            continue
        assert VALUE.match(baseline), (label, baseline)
        assert RATIO.match(ratio), (label, ratio)
        assert met in ("yes", "**no**") if target != "—" else met == "—", (label, target, met)


def test_machine_left_as_found():
    table()
    assert state["after"] == state["before"], (state["before"], state["after"])


run(globals())
