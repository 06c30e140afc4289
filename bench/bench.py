#!/usr/bin/python3
"""What the mount costs, measured against the bare system calls.

    /usr/bin/python3 bench/bench.py [--tiny] [--only SECTION,...]

Two tables of ratios, in markdown:
- the headline, with nothing pinned, as people run it: ipcfs over FUSE
  io_uring and over /dev/fuse, each against the FUSE floor (bench/floor.c)
  over the same transport, and the two transports against each other;
- pinned: the daemons and the timing loops on one CPU, where the daemon's
  own work shows best (passthrough and -o no_passthrough, the floor).
It mounts each in a temporary directory, makes the objects it needs, runs
the timing loops of ipcfs-bench (bench/*.c) for each side of a comparison
in turn, and prints the tables. Absolute times on a shared machine are
noise; ratios of sides measured in turn in one run are not. --tiny (or
BENCH_SIZE=tiny) runs every row at a tiny size, in a few seconds, so the
test suite can keep the benchmark from rotting.

Run as root. What it changes on the machine, it puts back on the way out,
failed or interrupted: /proc/sys/fs/mqueue settings, the kernel's
enable_uring switch (on for the run), its RLIMIT_MSGQUEUE, its mounts,
the objects it made (all named with one per-run prefix, and one System V
key) and the processes it started.
"""
import argparse
import collections
import contextlib
import json
import os
import platform
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD_DIR") or os.path.join(TOP, "build")
IPCFS = os.environ.get("IPCFS") or os.path.join(BUILD, "ipcfs")
BENCH = os.path.join(BUILD, "bench", "ipcfs-bench")
FLOOR = os.path.join(BUILD, "bench", "ipcfs-floor")

MQUEUE_SYSCTL = "/proc/sys/fs/mqueue/"
URING_SWITCH = "/sys/module/fuse/parameters/enable_uring"
RING_DEPTH = 2048  # ipcfs's default io_uring_q_depth, given to the floor too
MEMORY_CEILING_KIB = 64 * 1024
# Queues for the timings are made by users no account has, each within its
# own RLIMIT_MSGQUEUE budget (charged to the user that calls mq_open; root
# here lacks CAP_SYS_RESOURCE to go past the hard limit), which also leaves
# the budget of the daemon's user, root, to everyone else.
SCALE_UID, TIMING_UID, PARK_UID = 60000, 60100, 60200
SCALE_QUEUES_PER_UID = 1000
MSG_SIZES = (64, 4096, 65536)
PAIRS = (1, 2, 4)
FLOOR_MSGSIZE = 65536

Size = collections.namedtuple("Size", [
    "name",
    "reps",          # times each side of a comparison runs, in turn
    "roundtrips",    # {message size: round trips per run}
    "pair_messages", # messages per producer/consumer pair per run
    "sem_pairs",     # post+wait pairs per run
    "shm_bytes",     # the segment's size
    "shm_block",     # bytes per read or write, sequential
    "rand_blocks",   # 4 KiB reads or writes at random offsets per run
    "objects",       # queues and segments listed
    "ls_reps",       # ls -l runs per side
    "parked",        # readers parked
    "latency_ops",   # stats or sends per run
    "park_reps",     # rounds of (none parked, parked)
])
FULL = Size("full", 5, {64: 20000, 4096: 10000, 65536: 2000}, 20000, 20000,
            256 << 20, 1 << 20, 32768, 10000, 5, 1000, 5000, 3)
TINY = Size("tiny", 2, {64: 200, 4096: 100, 65536: 50}, 200, 200,
            4 << 20, 1 << 20, 256, 100, 2, 20, 200, 1)

SECTIONS = ("transports", "queues", "sem", "shm", "parked", "scale")
TRANSPORTS = ("io_uring", "/dev/fuse")


class Row:
    """One line of the table: the mount's value, the baseline's, their
    ratio, and the target the ratio must meet, if any."""

    def __init__(self, label, mount, baseline=None, fmt=None, target=None, note=None):
        self.label = label
        self.mount = mount
        self.baseline = baseline
        self.fmt = fmt
        self.target = target  # ("<=", x) or (">=", x)
        self.note = note      # shown instead of a value the mount can't give

    def ratio(self):
        if self.note or self.baseline is None or not self.baseline:
            return None
        return self.mount / self.baseline

    def met(self):
        r = self.ratio()
        if self.target is None or r is None:
            return None
        op, bound = self.target
        return r <= bound if op == "<=" else r >= bound

    def cells(self):
        r, met = self.ratio(), self.met()
        return [
            self.label,
            self.note or self.fmt(self.mount),
            "—" if self.baseline is None else self.fmt(self.baseline),
            "—" if r is None else "%.2f" % r,
            "—" if self.target is None else "%s %.2f" % ("≤" if self.target[0] == "<=" else "≥",
                                                       self.target[1]),
            "—" if met is None else ("yes" if met else "**no**"),
        ]


def repeated(option, values):
    """["--file", a, "--file", b ...]: an option given once per value."""
    return [item for v in values for item in (option, v)]


def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return "%.3g %s" % (ns / scale, unit) if ns < 100 * scale else "%.0f %s" % (ns / scale, unit)
    return "%.0f ns" % ns


def fmt_rate(mib_s):
    return "%.0f MiB/s" % mib_s


def fmt_memory(kib):
    return "%.1f MiB" % (kib / 1024)


def count(n):
    return "{:,}".format(n)


def print_table(rows, title):
    print("**%s**\n" % title)
    header = ["measurement", "mount", "baseline", "ratio", "target", "met?"]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(["---"] + ["--:"] * 4 + [":-:"]) + "|")
    for row in rows:
        print("| " + " | ".join(row.cells()) + " |")


VERBOSE = False


def run_bench(argv, cpu=None, timeout=900):
    """One run of ipcfs-bench, on the given CPU or on this process's; its
    "key=value" lines as a dict."""
    pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
    p = subprocess.run([BENCH] + [str(a) for a in argv], capture_output=True, text=True,
                       timeout=timeout, preexec_fn=pin)
    if p.returncode != 0:
        raise RuntimeError("ipcfs-bench %s failed: %s" % (" ".join(map(str, argv)), p.stderr.strip()))
    result = {}
    for line in p.stdout.splitlines():
        key, _, value = line.partition("=")
        result[key] = value if key == "error" else float(value)
    if VERBOSE:
        print("bench: %s -> %s" % (" ".join(map(str, argv[:3])), result), file=sys.stderr)
    return result


def median_results(results):
    """Per key, the median of one side's runs; an error stands for all."""
    for r in results:
        if "error" in r:
            return {"error": r["error"]}
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


def measure(sides, reps, cpu=None):
    """Runs each side once per repetition, in turn (A, B, C, A, B, C ...),
    so load that drifts during the run falls on every side alike.
    sides: {name: ipcfs-bench argv}. Returns {name: median results}."""
    results = {name: [] for name in sides}
    for _ in range(reps):
        for name, argv in sides.items():
            results[name].append(run_bench(argv, cpu))
    return {name: median_results(rs) for name, rs in results.items()}


def wall_time(argv, reps_of_sides):
    """Median wall time in ns of each command, run in turn."""
    times = {name: [] for name in argv}
    for _ in range(reps_of_sides):
        for name, cmd in argv.items():
            start = time.monotonic_ns()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True,
                           env=dict(os.environ, LC_ALL="C"))
            times[name].append(time.monotonic_ns() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def read_text(path):
    with open(path) as f:
        return f.read().strip()


def write_text(path, text):
    with open(path, "w") as f:
        f.write(text)


def resident_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


def mounted(path):
    with open("/proc/mounts") as f:
        return any(line.split()[1] == path for line in f)


class Machine:
    """Everything this run changes on the machine, and how to put it back:
    undo steps run last-registered first, on any way out."""

    def __init__(self):
        self.undo = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        # A second Ctrl-C must not cut the cleanup short.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            while self.undo:
                what, step = self.undo.pop()
                try:
                    step()
                except Exception as e:
                    print("bench: cleanup: %s: %s" % (what, e), file=sys.stderr)
        finally:
            signal.signal(signal.SIGINT, previous)
        return False

    def on_exit(self, what, step):
        self.undo.append((what, step))

    def set_sysctl(self, path, value):
        old = read_text(path)
        write_text(path, str(value))
        self.on_exit("restore " + path, lambda: write_text(path, old))

    @contextlib.contextmanager
    def sysctl_at_least(self, path, value):
        """The setting raised to value while the block runs, if lower."""
        old = read_text(path)
        if int(old) >= value:
            yield
            return
        write_text(path, str(value))
        try:
            yield
        finally:
            write_text(path, old)

    def pin_to_cpu(self, cpu):
        """This process and all it starts from now on run on one CPU."""
        old = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {cpu})
        self.on_exit("restore CPU affinity", lambda: os.sched_setaffinity(0, old))

    def raise_queue_rlimit(self):
        old = resource.getrlimit(resource.RLIMIT_MSGQUEUE)
        resource.setrlimit(resource.RLIMIT_MSGQUEUE, (old[1], old[1]))
        self.on_exit("restore RLIMIT_MSGQUEUE",
                     lambda: resource.setrlimit(resource.RLIMIT_MSGQUEUE, old))

    def temp_dir(self, what):
        path = tempfile.mkdtemp(prefix="ipcfs-bench.%s." % what)
        self.on_exit("remove " + path, lambda: os.rmdir(path))
        return path

    def mount_mqueue(self):
        """The kernel's own listing of queues: /dev/mqueue is not mounted
        everywhere, so an mqueue file system of our own, for this run."""
        path = self.temp_dir("mqueue")
        subprocess.run(["mount", "-t", "mqueue", "none", path], check=True)
        self.on_exit("unmount " + path, lambda: unmount(path))
        return path

    def start_fuse(self, argv, path, own_session=False):
        """A FUSE daemon in the foreground at path, once the kernel shows
        the mount; stopped on the way out. own_session: in a session of
        its own, as a daemon that detached (or a service) runs, and so in
        a scheduling autogroup of its own."""
        log = tempfile.TemporaryFile()
        proc = subprocess.Popen(argv, stderr=log, start_new_session=own_session)
        self.on_exit("stop " + argv[0], lambda: stop_daemon(proc, path, log))
        deadline = time.monotonic() + 10
        while not mounted(path):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError("%s did not mount: %s" % (argv[0], log.read().decode().strip()))
            time.sleep(0.02)
        return proc, log

    def start_process(self, argv):
        """A helper process we talk to on stdin/stdout; killed by its pid on
        the way out if still running."""
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.on_exit("stop %s" % argv[:2], lambda: stop_process(proc))
        return proc


def unmount(path):
    if mounted(path) and subprocess.run(["umount", path], stderr=subprocess.DEVNULL).returncode:
        subprocess.run(["umount", "-l", path], check=True)


def stop_process(proc, grace=30):
    if proc.stdin and not proc.stdin.closed:
        proc.stdin.close()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def stop_daemon(proc, path, log):
    unmount(path)
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


class Bench:
    """The mounts and objects of one run, and the measurements."""

    def __init__(self, machine, size):
        self.machine = machine
        self.size = size
        self.prefix = "ipcfs-bench-%d-" % os.getpid()
        # One System V key for the run's queue: 0x1bc0 then the pid.
        self.sysv_key = (0x1bc0 << 16) | (os.getpid() & 0xffff)
        self.headline = []  # unpinned
        self.rows = []      # pinned
        self.ipcfs = None

    # --- setup and objects ----------------------------------------------------

    def setup(self):
        m = self.machine
        cpus = sorted(os.sched_getaffinity(0))
        self.cpus = cpus
        self.cpu, self.other_cpu = cpus[-1], (cpus[0] if len(cpus) > 1 else None)
        m.raise_queue_rlimit()
        self.mqdir = m.mount_mqueue()
        self.raise_queues_max()
        m.on_exit("remove this run's objects", self.remove_objects)
        self.uring_on = os.path.exists(URING_SWITCH)
        if self.uring_on:
            m.set_sysctl(URING_SWITCH, "1")

    def start_ipcfs(self, what, options, own_session=False):
        """An ipcfs mount; its process, log and path."""
        path = self.machine.temp_dir(what)
        proc, log = self.machine.start_fuse([IPCFS, "-f", path, "-o", options], path, own_session)
        return proc, log, path

    def start_floor(self, what, io_uring, own_session=False):
        path = self.machine.temp_dir(what)
        options = "msgsize=%d" % FLOOR_MSGSIZE
        if io_uring:
            options += ",io_uring,io_uring_q_depth=%d" % RING_DEPTH
        self.machine.start_fuse([FLOOR, "-f", path, "-o", options], path, own_session)
        return os.path.join(path, "f")

    def setup_unpinned(self):
        """ipcfs and the floor over each transport, nothing pinned, each
        daemon in a session of its own as a mounted ipcfs runs (ipcfs
        detaches with setsid; systemd runs it in a cgroup of its own): the
        scheduler then places a daemon's threads and its callers as
        members of different groups, which costs cross-CPU wake-ups that
        a daemon in its callers' session does not see."""
        self.by_transport = {}
        for transport in TRANSPORTS:
            uring = transport == "io_uring"
            tag = "uring" if uring else "dev"
            proc, log, path = self.start_ipcfs(
                "mnt-" + tag, "allow_other" + ("" if uring else ",no_io_uring"), True)
            self.by_transport[transport] = {
                "ipcfs": proc, "log": log, "mnt": path,
                "floor": self.start_floor("floor-" + tag, uring, True),
            }
        self.ipcfs, self.ipcfs_log = (self.by_transport["io_uring"]["ipcfs"],
                                      self.by_transport["io_uring"]["log"])

    def setup_pinned(self):
        """One CPU for the daemons, the floor and the timing loops: on this
        kind of machine (a VM) a wake-up on another CPU costs ~20 us and
        swings 5x from run to run, which would bury the daemon's own work.
        The mounts take the default transport (io_uring where it is on),
        the floor the same."""
        self.machine.pin_to_cpu(self.cpu)
        self.ipcfs, self.ipcfs_log, self.mnt = self.start_ipcfs("mnt", "allow_other")
        _, _, self.fallback = self.start_ipcfs("fallback", "allow_other,no_passthrough")
        self.floor_file = self.start_floor("floor", self.uring_on)
        self.idle_kib = resident_kib(self.ipcfs.pid)

    def raise_queues_max(self):
        """Room for the scale section's queues besides everyone else's."""
        needed = len(os.listdir(self.mqdir)) + self.size.objects + self.park_queue_count() + 256
        if needed > int(read_text(MQUEUE_SYSCTL + "queues_max")):
            self.machine.set_sysctl(MQUEUE_SYSCTL + "queues_max", needed)

    def queue_name(self, suffix):
        return "/" + self.prefix + suffix

    def make_queues(self, suffix, n, maxmsg, msgsize, first_uid, per_uid):
        """Queues /PREFIX+suffix+0 .. n-1, made directly with mq_open."""
        with self.machine.sysctl_at_least(MQUEUE_SYSCTL + "msgsize_max", msgsize):
            run_bench(["mq-fill", "--prefix", self.queue_name(suffix), "--count", n,
                       "--maxmsg", maxmsg, "--msgsize", msgsize,
                       "--first-uid", first_uid, "--per-uid", per_uid])
        return [self.queue_name(suffix) + str(i) for i in range(n)]

    def remove_queues(self, names):
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.mqdir, name.lstrip("/")))

    def remove_objects(self):
        """Every queue, segment and semaphore of this run's prefix, and the
        System V queue of its key."""
        self.remove_sysv_queue()
        for entry in os.listdir(self.mqdir):
            if entry.startswith(self.prefix):
                os.unlink(os.path.join(self.mqdir, entry))
        for entry in os.listdir("/dev/shm"):
            if entry.startswith(self.prefix) or entry.startswith("sem." + self.prefix):
                os.unlink(os.path.join("/dev/shm", entry))

    def mount_queue(self, name):
        """The file of queue /NAME through the mount."""
        return os.path.join(self.mnt, "mq", name.lstrip("/"))

    def timing_maxmsg(self, msgsize):
        """Room for 10 messages, or as many as msg_max and one user's
        RLIMIT_MSGQUEUE allow (a round trip needs one)."""
        budget = resource.getrlimit(resource.RLIMIT_MSGQUEUE)[1]
        fits = 10 if budget == resource.RLIM_INFINITY else budget // (msgsize + 128)
        return max(1, min(10, int(read_text(MQUEUE_SYSCTL + "msg_max")), fits))

    # --- the headline: unpinned, each transport ------------------------------

    def sysv_queue_id(self):
        """The id of the run's System V queue, or None."""
        with open("/proc/sysvipc/msg") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if int(fields[0]) == self.sysv_key:
                    return int(fields[1])
        return None

    def remove_sysv_queue(self):
        msgid = self.sysv_queue_id()
        if msgid is not None:
            subprocess.run(["ipcrm", "-q", str(msgid)], check=True)

    def sysv_file(self, mnt):
        return os.path.join(mnt, "sysv", "msg", "0x%08x" % self.sysv_key)

    def transport_rows(self, label, results, sides, target=None):
        """Each transport's mount against its floor, then the direct calls."""
        for transport in TRANSPORTS:
            self.headline.append(Row("%s over %s: %s vs FUSE floor over %s" %
                                     (label, transport, sides[0], transport),
                                     results[transport]["ns_per_op"],
                                     results[transport + " floor"]["ns_per_op"], fmt_time,
                                     target if transport == "io_uring" else None))
        if "direct" in results:
            self.headline.append(Row("%s over io_uring: %s vs %s" % (label, sides[0], sides[1]),
                                     results["io_uring"]["ns_per_op"],
                                     results["direct"]["ns_per_op"], fmt_time))

    def transport_sides(self, argv_of):
        """argv_of(path) for each transport's mount and floor: path is the
        mount's directory, or None for the floor's file."""
        sides = {}
        for transport in TRANSPORTS:
            t = self.by_transport[transport]
            sides[transport] = argv_of(t["mnt"])
            sides[transport + " floor"] = argv_of(None, t["floor"])
        return sides

    def bench_transport_roundtrips(self):
        q = self.make_queues("urt-", 1, self.timing_maxmsg(64), 64, TIMING_UID, 1)
        direct = self.make_queues("urt-direct-", 1, self.timing_maxmsg(64), 64, TIMING_UID + 1, 1)
        common = ["--size", 64, "--count", self.size.roundtrips[64]]
        sides = self.transport_sides(lambda mnt, floor=None: ["roundtrip", "--file", floor or
                                     os.path.join(mnt, "mq", q[0].lstrip("/"))] + common)
        sides["direct"] = ["roundtrip", "--mq", direct[0]] + common
        results = measure(sides, self.size.reps)
        self.remove_queues(q + direct)
        self.transport_rows("64 B queue round trip", results, ("mq/", "mq_send+mq_receive"),
                            ("<=", 1.25))
        self.headline.append(Row("64 B queue round trip: mq/ over /dev/fuse vs over io_uring",
                                 results["/dev/fuse"]["ns_per_op"],
                                 results["io_uring"]["ns_per_op"], fmt_time, (">=", 3.0)))

    def bench_transport_pairs(self):
        for pairs in PAIRS:
            queues = self.make_queues("upairs%d-" % pairs, pairs, self.timing_maxmsg(64), 64,
                                      TIMING_UID, pairs)
            common = ["--size", 64, "--count", self.size.pair_messages]
            sides = self.transport_sides(lambda mnt, floor=None: ["pairs"] + repeated(
                "--file", [floor] * pairs if floor else
                [os.path.join(mnt, "mq", q.lstrip("/")) for q in queues]) + common)
            results = measure(sides, self.size.reps)
            self.remove_queues(queues)
            self.transport_rows("%d producer/consumer pair%s, 64 B, per message" %
                                (pairs, "s" if pairs > 1 else ""), results, ("mq/",))

    def bench_transport_sem(self):
        name = self.prefix + "usem"
        mnt = self.by_transport["io_uring"]["mnt"]
        os.close(os.open(os.path.join(mnt, "sem", name), os.O_CREAT | os.O_EXCL | os.O_WRONLY,
                         0o600))
        common = ["--count", self.size.sem_pairs]
        sides = self.transport_sides(lambda mnt, floor=None: ["sem", "--file", floor or
                                     os.path.join(mnt, "sem", name)] + common)
        results = measure(sides, self.size.reps)
        os.unlink(os.path.join(mnt, "sem", name))
        self.transport_rows("semaphore post+wait", results, ("sem/",))

    def bench_transport_sysv(self):
        mnt = self.by_transport["io_uring"]["mnt"]
        os.close(os.open(self.sysv_file(mnt), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        msgid = self.sysv_queue_id()
        common = ["--size", 64, "--count", self.size.roundtrips[64]]
        sides = self.transport_sides(lambda mnt, floor=None: ["roundtrip", "--file", floor or
                                     self.sysv_file(mnt)] + common)
        sides["direct"] = ["roundtrip", "--sysv-msg", msgid] + common
        results = measure(sides, self.size.reps)
        self.remove_sysv_queue()
        self.transport_rows("64 B System V message round trip", results,
                            ("sysv/msg/", "msgsnd+msgrcv"))

    def bench_transport_parked(self):
        """A stat on each CPU with none parked, then with the readers parked
        spread over every CPU, over io_uring; and the daemon's memory."""
        t = self.by_transport["io_uring"]
        idle = self.make_queues("uidle-", 1, 1, 64, TIMING_UID, 1)[0]
        park = self.make_queues("upark-", self.park_queue_count(), 1, 64, PARK_UID, 1000)
        idle_file = os.path.join(t["mnt"], "mq", idle.lstrip("/"))
        park_files = [os.path.join(t["mnt"], "mq", q.lstrip("/")) for q in park]
        n = self.size.latency_ops
        none = {c: [] for c in self.cpus}
        parked = {c: [] for c in self.cpus}
        kib = []
        for _ in range(self.size.park_reps):
            for c in self.cpus:
                none[c].append(run_bench(["stat-latency", "--file", idle_file, "--count", n],
                                         c)["ns_per_op"])
            proc = self.park_readers(park_files)
            for c in self.cpus:
                parked[c].append(run_bench(["stat-latency", "--file", idle_file, "--count", n],
                                           c)["ns_per_op"])
            kib.append(resident_kib(t["ipcfs"].pid))
            stop_process(proc)
        self.remove_queues([idle] + park)
        for c in self.cpus:
            self.headline.append(Row("stat of a queue file from CPU %d over io_uring: %s readers "
                                     "parked on all CPUs vs none" % (c, count(self.size.parked)),
                                     statistics.median(parked[c]), statistics.median(none[c]),
                                     fmt_time, ("<=", 2.0)))
        self.headline.append(Row("daemon resident memory over io_uring with %s parked reads vs "
                                 "64 MiB" % count(self.size.parked), statistics.median(kib),
                                 MEMORY_CEILING_KIB, fmt_memory, ("<=", 1.0)))

    def bench_transport_ls(self):
        n = self.size.objects
        self.make_segments(n)
        times = wall_time({t: ["ls", "-l", os.path.join(self.by_transport[t]["mnt"], "shm")]
                           for t in TRANSPORTS}, self.size.ls_reps)
        self.remove_objects()
        self.headline.append(Row("ls -l of %s segments: shm/ over /dev/fuse vs over io_uring" %
                                 count(n), times["/dev/fuse"], times["io_uring"], fmt_time,
                                 (">=", 5.0)))

    def bench_transport_holders(self):
        """user.ipc.holders of a segment that one of 1,000 other processes
        (sleep, each with its own descriptors and mappings) holds open: one
        scan of /proc, against the issue's bound of a second."""
        t = self.by_transport["io_uring"]
        name = self.prefix + "held"
        path = os.path.join("/dev/shm", name)
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        sleepers = []
        try:
            for i in range(self.size.parked):
                sleepers.append(subprocess.Popen(["sleep", "3600"], pass_fds=(fd,) if i == 0 else (),
                                                 stdin=subprocess.DEVNULL))
                if i == 0:
                    os.close(fd)  # the first sleeper holds it, alone
                    fd = -1
            file = os.path.join(t["mnt"], "shm", name)
            times = []
            for _ in range(self.size.ls_reps):
                started = time.monotonic_ns()
                value = os.getxattr(file, "user.ipc.holders")
                times.append(time.monotonic_ns() - started)
            if value != b"%d sleep\n" % sleepers[0].pid:
                sys.exit("bench: user.ipc.holders said %r" % value)
        finally:
            for p in sleepers:
                p.kill()
            for p in sleepers:
                p.wait()
            if fd >= 0:
                os.close(fd)
            os.unlink(path)
        self.headline.append(Row("user.ipc.holders of a segment with %s other processes running "
                                 "vs 1 s" % count(self.size.parked), statistics.median(times),
                                 1e9, fmt_time, ("<=", 1.0)))

    def bench_transports(self):
        if not self.uring_on:
            self.headline.append(Row("every unpinned row", None, None, fmt_time,
                                     note="n/a (the kernel has no %s)" % URING_SWITCH))
            return
        self.bench_transport_roundtrips()
        self.bench_transport_pairs()
        self.bench_transport_sem()
        self.bench_transport_sysv()
        self.bench_transport_parked()
        self.bench_transport_ls()
        self.bench_transport_holders()

    # --- queues ---------------------------------------------------------------

    def queue_rows(self, label, results, size, note=None):
        """The mount against the floor (the target, for 64 B messages) and
        against the direct calls; note: why there are no results."""
        target = ("<=", 1.25) if size == 64 else None
        for baseline, what in (("floor", "FUSE floor"), ("direct", "mq_send+mq_receive")):
            mount = None if note else results["mount"]["ns_per_op"]
            base = None if note else results[baseline]["ns_per_op"]
            self.rows.append(Row("%s: mq/ vs %s" % (label, what), mount, base, fmt_time,
                                 target if baseline == "floor" else None, note))

    def roundtrip_sides(self, queues, size, n):
        common = ["--size", size, "--count", n]
        return {
            "mount": ["roundtrip", "--file", self.mount_queue(queues[0])] + common,
            "floor": ["roundtrip", "--file", self.floor_file] + common,
            "direct": ["roundtrip", "--mq", queues[1]] + common,
        }

    def bench_roundtrips(self):
        for size in MSG_SIZES:
            # One size at a time: a 64 KiB queue takes most of a user's budget.
            queues = self.make_queues("rt%d-" % size, 2, self.timing_maxmsg(size), size,
                                      TIMING_UID, 1)
            sides = self.roundtrip_sides(queues, size, self.size.roundtrips[size])
            self.queue_rows("queue round trip, %s B" % count(size), measure(sides, self.size.reps),
                            size)
            if size == 64:
                self.roundtrips_across_cpus(sides)
            self.remove_queues(queues)

    def roundtrips_across_cpus(self, sides):
        """The same with the caller on another CPU than the daemons: what a
        round trip costs where the caller and the daemon run side by side,
        wake-ups across CPUs included."""
        label = "queue round trip, 64 B, caller on another CPU"
        if self.other_cpu is None:
            self.queue_rows(label, None, 64, note="n/a (one CPU)")
        else:
            self.queue_rows(label, measure(sides, self.size.reps, self.other_cpu), 64)

    def bench_pairs(self):
        for pairs in PAIRS:
            queues = self.make_queues("pairs%d-" % pairs, 2 * pairs, self.timing_maxmsg(64), 64,
                                      TIMING_UID, 2 * pairs)
            common = ["--size", 64, "--count", self.size.pair_messages]
            mount_files = [self.mount_queue(q) for q in queues[:pairs]]
            results = measure({
                "mount": ["pairs"] + repeated("--file", mount_files) + common,
                "floor": ["pairs"] + repeated("--file", [self.floor_file] * pairs) + common,
                "direct": ["pairs"] + repeated("--mq", queues[pairs:]) + common,
            }, self.size.reps)
            self.remove_queues(queues)
            self.queue_rows("%d producer/consumer pair%s, 64 B, per message" %
                            (pairs, "s" if pairs > 1 else ""), results, 64)

    # --- semaphores -----------------------------------------------------------

    def bench_sem(self):
        name = self.prefix + "sem"
        path = os.path.join(self.mnt, "sem", name)
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        common = ["--count", self.size.sem_pairs]
        results = measure({
            "mount": ["sem", "--file", path] + common,
            "floor": ["sem", "--file", self.floor_file] + common,
            "direct": ["sem", "--name", "/" + name] + common,
        }, self.size.reps)
        os.unlink(path)
        label = "semaphore post+wait"
        mount = results["mount"]["ns_per_op"]
        self.rows.append(Row(label + ": sem/ vs sem_post+sem_wait", mount,
                             results["direct"]["ns_per_op"], fmt_time))
        self.rows.append(Row(label + ": sem/ vs FUSE floor (two writes)", mount,
                             results["floor"]["ns_per_op"], fmt_time))

    # --- shared memory --------------------------------------------------------

    def bench_shm(self):
        name = self.prefix + "shm"
        segment = os.path.join("/dev/shm", name)
        fd = os.open(segment, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        os.ftruncate(fd, self.size.shm_bytes)
        os.close(fd)
        files = {
            "passthrough": os.path.join(self.mnt, "shm", name),
            "fallback": os.path.join(self.fallback, "shm", name),
            "dev": segment,
        }
        size = ["--size", self.size.shm_bytes]
        seq = measure({k: ["shm-seq", "--file", f, "--block", self.size.shm_block] + size
                       for k, f in files.items()}, self.size.reps)
        rand = measure({k: ["shm-rand", "--file", f, "--block", 4096,
                            "--count", self.size.rand_blocks] + size
                        for k, f in files.items()}, self.size.reps)
        touch = measure({k: ["shm-touch", "--file", f] + size for k, f in files.items()},
                        self.size.reps)
        os.unlink(segment)
        for mode in ("passthrough", "fallback"):
            self.shm_rows(mode, seq, rand, touch)

    def shm_rows(self, mode, seq, rand, touch):
        target = (">=", 0.95) if mode == "passthrough" else None
        for what, results, block in (("sequential", seq, "%s MiB" % (self.size.shm_block >> 20)),
                                     ("random", rand, "4 KiB")):
            for op in ("write", "read"):
                key = op + "_mib_s"
                self.rows.append(Row("shm %s %s, %s blocks, %s: shm/ vs /dev/shm" %
                                     (what, op, block, mode),
                                     results[mode][key], results["dev"][key], fmt_rate, target))
        label = "shm touch every page of %d MiB mapped, %s: shm/ vs /dev/shm" % (
            self.size.shm_bytes >> 20, mode)
        if "error" in touch[mode]:
            self.rows.append(Row(label, None, touch["dev"]["ns_total"], fmt_time,
                                 note="n/a (%s)" % touch[mode]["error"]))
        else:
            # A time: 0.95 of the speed is at most 1/0.95 of the time.
            self.rows.append(Row(label, touch[mode]["ns_total"], touch["dev"]["ns_total"], fmt_time,
                                 ("<=", 1 / 0.95) if target else None))

    # --- parked readers -------------------------------------------------------

    def park_queue_count(self):
        return max(1, self.size.parked // 10)

    def park_readers(self, files):
        proc = self.machine.start_process(
            [BENCH, "park", "--count", str(self.size.parked)] + repeated("--file", files))
        line = proc.stdout.readline()
        if not line.startswith("parked="):
            stop_process(proc)
            raise RuntimeError("ipcfs-bench park did not park its readers")
        return proc

    def latencies(self, idle_file, idle_queue):
        n = self.size.latency_ops
        return (run_bench(["stat-latency", "--file", idle_file, "--count", n])["ns_per_op"],
                run_bench(["send-latency", "--file", idle_file, "--mq", idle_queue,
                           "--size", 64, "--count", n])["ns_per_op"])

    def bench_parked(self):
        """Rounds of: latencies with none parked, then with the readers
        parked (10 on each of a tenth as many queues)."""
        idle = self.make_queues("idle-", 1, self.timing_maxmsg(64), 64, TIMING_UID, 1)[0]
        park = self.make_queues("park-", self.park_queue_count(), 1, 64, PARK_UID, 1000)
        park_files = [self.mount_queue(q) for q in park]
        none, parked, parked_kib = [], [], []
        for _ in range(self.size.park_reps):
            none.append(self.latencies(self.mount_queue(idle), idle))
            proc = self.park_readers(park_files)
            parked.append(self.latencies(self.mount_queue(idle), idle))
            parked_kib.append(resident_kib(self.ipcfs.pid))
            stop_process(proc)
        self.remove_queues([idle] + park)
        n = count(self.size.parked)
        for i, what in enumerate(("stat of a queue file", "64 B send to an idle queue")):
            self.rows.append(Row("%s: %s readers parked vs none" % (what, n),
                                 statistics.median(p[i] for p in parked),
                                 statistics.median(p[i] for p in none), fmt_time, ("<=", 2.0)))
        self.parked_kib = statistics.median(parked_kib)

    # --- scale ----------------------------------------------------------------

    def make_segments(self, n):
        for i in range(n):
            os.close(os.open(os.path.join("/dev/shm", "%sscale-%d" % (self.prefix, i)),
                             os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))

    def bench_scale(self):
        n = self.size.objects
        self.make_queues("scale-", n, 1, 1, SCALE_UID, SCALE_QUEUES_PER_UID)
        self.make_segments(n)
        ls = ["ls", "-l"]
        times = wall_time({
            "mq": ls + [os.path.join(self.mnt, "mq")],
            "mqueue": ls + [self.mqdir],
            "shm": ls + [os.path.join(self.mnt, "shm")],
            "dev_shm": ls + ["/dev/shm"],
        }, self.size.ls_reps)
        self.listed_kib = resident_kib(self.ipcfs.pid)
        self.remove_objects()  # the queues and segments just made
        self.rows.append(Row("ls -l of %s queues: mq/ vs the kernel's mqueue" % count(n),
                             times["mq"], times["mqueue"], fmt_time, ("<=", 3.0)))
        self.rows.append(Row("ls -l of %s segments: shm/ vs /dev/shm" % count(n),
                             times["shm"], times["dev_shm"], fmt_time, ("<=", 3.0)))

    # --- memory ---------------------------------------------------------------

    def memory_rows(self):
        if not hasattr(self, "idle_kib"):
            return
        self.rows.append(Row("daemon resident memory, idle", self.idle_kib, None, fmt_memory))
        if hasattr(self, "listed_kib"):
            self.rows.append(Row("daemon resident memory after ls -l of %s queues and %s segments"
                                 " vs idle" % (count(self.size.objects), count(self.size.objects)),
                                 self.listed_kib, self.idle_kib, fmt_memory))
        if hasattr(self, "parked_kib"):
            self.rows.append(Row("daemon resident memory with %s parked reads vs idle" %
                                 count(self.size.parked), self.parked_kib, self.idle_kib, fmt_memory))

    def run(self, sections):
        self.setup()
        if "transports" in sections:
            self.setup_unpinned()
            self.bench_transports()
        if not sections - {"transports"}:
            return
        self.setup_pinned()
        steps = {
            "queues": (self.bench_roundtrips, self.bench_pairs),
            "shm": (self.bench_shm,),
            "sem": (self.bench_sem,),
            "parked": (self.bench_parked,),
            "scale": (self.bench_scale,),
        }
        for section in SECTIONS[1:]:
            if section in sections:
                for step in steps[section]:
                    step()
        self.memory_rows()

    def describe_machine(self):
        model = "unknown CPU"
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        mem = int(read_text("/proc/meminfo").split()[1]) // 1024
        libfuse = fuse_library(self.ipcfs.pid)
        self.ipcfs_log.seek(0)
        mode = re.search(r"passthrough: (on|off[^:]*)", self.ipcfs_log.read().decode())
        return ("%s, %d CPUs, %s MiB RAM, Linux %s, %s; ipcfs passthrough: %s; size: %s" %
                (model, os.cpu_count(), count(mem), platform.release(), libfuse,
                 mode.group(1) if mode else "unknown", self.size.name))

    def pinned_title(self):
        return ("Pinned: the daemons, the floor and the timing loops on CPU %d, over %s" %
                (self.cpu, "io_uring" if self.uring_on else "/dev/fuse"))


def fuse_library(pid):
    """The libfuse the daemon runs with: a shared one from its mappings,
    else the subproject linked in, from the build's project info."""
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            m = re.search(r"libfuse3\.so\.([\d.]+)", line)
            if m:
                return "libfuse " + m.group(1)
    with contextlib.suppress(OSError, ValueError):
        with open(os.path.join(BUILD, "meson-info", "intro-projectinfo.json")) as f:
            for sub in json.load(f).get("subprojects", []):
                if sub["name"] == "libfuse":
                    return "libfuse %s (linked in)" % sub["version"]
    return "libfuse (version unknown)"


def stop_on_signals():
    """SIGTERM and SIGHUP unwind like Ctrl-C, through the cleanup."""
    def stop(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tiny", action="store_true", default=os.environ.get("BENCH_SIZE") == "tiny",
                   help="every row at a tiny size, in seconds (also BENCH_SIZE=tiny)")
    p.add_argument("--only", default=",".join(SECTIONS),
                   help="comma-separated sections to run: " + ", ".join(SECTIONS))
    p.add_argument("--verbose", action="store_true",
                   help="print every run's results on stderr")
    args = p.parse_args()
    args.only = set(args.only.split(","))
    unknown = args.only - set(SECTIONS)
    if unknown:
        p.error("unknown section: " + ", ".join(sorted(unknown)))
    return args


def check_ready():
    if os.geteuid() != 0:
        sys.exit("bench: run as root (it mounts, and changes /proc/sys/fs/mqueue for the run)")
    for path in (IPCFS, BENCH, FLOOR):
        if not os.access(path, os.X_OK):
            sys.exit("bench: %s is missing: build first (sh scripts/setup.sh)" % path)
    if not os.path.exists("/dev/fuse"):
        sys.exit("bench: no /dev/fuse")


def main():
    global VERBOSE
    args = parse_args()
    VERBOSE = args.verbose
    check_ready()
    stop_on_signals()
    started = time.monotonic()
    with Machine() as machine:
        bench = Bench(machine, TINY if args.tiny else FULL)
        bench.run(args.only)
        machine_line = bench.describe_machine()
    print("Taken %s on: %s; %.0f s.\n" % (time.strftime("%Y-%m-%d"), machine_line,
                                          time.monotonic() - started))
    rows = bench.headline + bench.rows
    if bench.headline:
        print_table(bench.headline, "Unpinned, as people run it: each transport, and the floor "
                    "over the same")
        print()
    if bench.rows:
        print_table(bench.rows, bench.pinned_title())
    missed = [r.label for r in rows if r.met() is False]
    print("\n%d of %d targets met." % (sum(r.met() is True for r in rows),
                                       sum(r.met() is not None for r in rows)))
    for label in missed:
        print("missed: " + label)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("bench: interrupted; everything it changed is put back")
