#!/usr/bin/env python3
"""The measures of scripts/bench, printed as one Markdown table (see scripts/bench).

    bench.py --bin DIR --work DIR --cli-env FILE [--rounds N] [--quick-rounds N]
             [--download-mib N] [--scale FILE] [--fleet-apps N] [--fleet-rate N/PERIOD]

Every comparison runs the two sides in turn, round after round (so a busy moment of the
machine falls on both), and reports medians. Wall time and peak RSS of a process come from
wait4(2), with nothing between it and the measured process.
"""
import argparse
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RSS_DIR = "."
# Where the sandboxes' clusters live: in memory when the machine has room there (see
# cluster_parent), else the system's temporary folder.
CLUSTER_PARENT = None


def cluster_parent(work):
    """A folder in memory (/dev/shm) for the sandboxes' PostgreSQL clusters, when it has 2 GiB
    free; None otherwise. On disk, every CREATE TABLE and DROP is file creation and removal,
    whose time follows the host disk's load: the sandbox app's boot migration, part of every
    `reset` run, took 55 ms at one hour and 250 ms at another. In memory it takes the same time
    every run, so the figures compare the tools, not the disk's moods."""
    try:
        room = os.statvfs("/dev/shm")
    except OSError:
        return None
    if room.f_bavail * room.f_frsize < 2 << 30:
        return None
    folder = os.path.join("/dev/shm", "herokuops-bench-" + os.path.basename(work))
    os.makedirs(folder, exist_ok=True)
    # The cluster's own folder inside belongs to the server's user, who must reach it.
    os.chmod(folder, 0o755)
    return folder


def run(argv, env=None, cwd=None, stdout=subprocess.DEVNULL, rss=False):
    """Runs argv to the end: (seconds, peak RSS in KiB or None). A failure stops the benchmark.

    The peak RSS comes from GNU time: a process started from Python inherits Python's own peak
    (the kernel keeps a process's peak across exec), so only a small parent in between, which
    forks, execs and waits, sees the command's own.
    """
    out = None
    if rss:
        out = os.path.join(RSS_DIR, "rss")
        argv = ["/usr/bin/time", "-f", "%M", "-o", out, *argv]
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=stdout,
                          stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr.decode(errors="replace")[-3000:])
        sys.exit(f"bench: {' '.join(argv[:6])} ... exited {proc.returncode}")
    return elapsed, int(open(out).read().split()[-1]) if rss else None


class Sandbox:
    """herokuops-sandbox on loopback, with its own cluster, stopped by stop()."""

    def __init__(self, bin_dir, work, *args):
        self.token = "bench-" + secrets.token_hex(8)
        env_file = os.path.join(work, f"sandbox-{secrets.token_hex(3)}.env")
        self.log = open(env_file + ".log", "w")
        env = dict(os.environ)
        if CLUSTER_PARENT:
            env["TMPDIR"] = CLUSTER_PARENT
        self.proc = subprocess.Popen(
            [os.path.join(bin_dir, "herokuops-sandbox"), "--token", self.token, "--quiet", *args],
            stdout=subprocess.PIPE, stderr=self.log, text=True, env=env)
        self.env = {}
        for line in self.proc.stdout:
            m = re.match(r"export (\w+)=(.*)", line.strip())
            if m:
                self.env[m.group(1)] = m.group(2).strip("'\"")
            if len(self.env) == 3:
                break
        if len(self.env) < 3:
            sys.exit(f"bench: the sandbox did not start; see {self.log.name}")

    def control(self, method, path, body=None):
        req = urllib.request.Request(
            self.env["HEROKU_HOST"] + "/__sandbox/" + path, method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as answer:
            text = answer.read()
        return json.loads(text) if text.strip() else None

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=60)


class Bench:
    def __init__(self, args):
        self.args = args
        self.ops = os.path.join(args.bin, "herokuops")
        self.rows = []
        with open(args.cli_env, "rb") as f:
            self.cli_env = dict(
                item.split("=", 1) for item in f.read().decode().split("\0") if "=" in item)
        self.cli_bin = os.environ["HEROKU_CLI_BIN"]
        # A folder with no herokuops.toml: every command runs with its default settings.
        self.cwd = os.path.join(args.work, "cwd")
        os.makedirs(self.cwd, exist_ok=True)

    def ops_env(self, sandbox):
        env = dict(os.environ)
        env.update(sandbox.env)
        env.update(CI="true", XDG_STATE_HOME=os.path.join(self.args.work, "state"),
                   HEROKUOPS_KEYRING_FILE=os.path.join(self.args.work, "keyring"))
        return env

    def official(self, sandbox, *argv):
        """The official CLI as scripts/lib/heroku-cli.sh runs it, minus the bash around it."""
        env = self.official_env(sandbox)
        return run([self.cli_bin, *argv], env=env, cwd=env["HOME"], stdout=subprocess.PIPE)

    def official_env(self, sandbox):
        host = sandbox.env["HEROKU_HOST"]
        env = dict(self.cli_env)
        env.update(HEROKU_HOST=host, HEROKU_DATA_HOST=sandbox.env["HEROKU_DATA_HOST"],
                   HEROKU_API_KEY=sandbox.token,
                   HEROKU_PARTICLEBOARD_URL="http://127.0.0.3:" + host.rsplit(":", 1)[1],
                   HEROKU_ANALYTICS_URL=host + "/__heroku-cli-analytics",
                   # pg:psql asks for TLS from any host but `localhost` unless PGSSLMODE says
                   # otherwise, and the sandbox's cluster on 127.0.0.1 has none.
                   PGSSLMODE="prefer")
        return env

    def ours(self, sandbox, rss, *argv, cwd=None):
        return run([self.ops, *argv], env=self.ops_env(sandbox), cwd=cwd or self.cwd, rss=rss)

    def row(self, measure, ours, theirs="", ratio="", rss="", target="", met=None, note=""):
        verdict = "" if met is None else ("yes" if met else "**no**")
        self.rows.append((measure, ours, theirs, ratio, rss, target, verdict, note))


def median_ms(samples):
    return statistics.median(samples) * 1000


def fmt_ms(ms):
    return f"{ms:,.0f} ms" if ms >= 100 else f"{ms:.1f} ms"


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def pair(bench, label, rounds, ours, theirs, between=None, their_label="", speedup=None,
         rss_mib=None):
    """Runs ours() and theirs() in turn, `rounds` times; adds a row with medians and the ratio,
    against a target of `speedup` times faster and a peak RSS under `rss_mib`."""
    mine, others = [], []
    for _ in range(rounds):
        for side, times in ((ours, mine), (theirs, others)):
            if between:
                between()
            times.append(side(False)[0])
    rss = []
    for _ in range(3):
        if between:
            between()
        rss.append(ours(True)[1])
    m, t = median_ms(mine), median_ms(others)
    targets, met = [], True
    if speedup:
        targets.append(f">= {speedup}x faster")
        met = met and t / m >= speedup
    if rss_mib:
        targets.append(f"RSS < {rss_mib} MiB")
        met = met and max(rss) < rss_mib << 10
    bench.row(label, fmt_ms(m), f"{fmt_ms(t)} ({their_label})",
              f"{t / m:.1f}x faster" if t >= m else f"{m / t:.2f}x slower", mib(max(rss)),
              ", ".join(targets), met if targets else None, f"{rounds} rounds")
    return m, t


def startup(bench, sandbox):
    rounds = bench.args.quick_rounds
    pair(bench, "`herokuops --version`", rounds,
         lambda rss: bench.ours(sandbox, rss, "--version"),
         lambda _: bench.official(sandbox, "--version"), their_label="`heroku --version`",
         speedup=200, rss_mib=10)
    pair(bench, "`herokuops maintenance on tmi-server`", rounds,
         lambda rss: bench.ours(sandbox, rss, "maintenance", "on", "tmi-server"),
         lambda _: bench.official(sandbox, "maintenance:on", "-a", "tmi-server"),
         their_label="`heroku maintenance:on`", speedup=200, rss_mib=10)


RUNBOOKS = """
[playbooks.runbook-swap]
description = "The swap runbook's six official CLI commands"
steps = ["addons.create", "pg.wait", "maintenance.on", "pg.promote", "maintenance.off",
         "dynos.restart"]
"""


def official_swap(bench, sandbox):
    """The runbook's six commands, the promotion aimed at the add-on the first one made."""
    total = 0.0
    out_file = os.path.join(bench.args.work, "create.out")
    with open(out_file, "wb") as out:
        start = time.perf_counter()
        env = bench.official_env(sandbox)
        subprocess.run([bench.cli_bin, "addons:create", "heroku-postgresql:essential-0",
                        "-a", "tmi-server"], env=env, cwd=env["HOME"], stdin=subprocess.DEVNULL,
                       stdout=out, stderr=subprocess.STDOUT, check=True)
        total += time.perf_counter() - start
    text = open(out_file, errors="replace").read()
    found = re.search(r"postgresql-[a-z]+-[0-9]+", text)
    if not found:
        sys.exit(f"bench: no add-on name in the output of addons:create:\n{text}")
    for argv in (["pg:wait", "-a", "tmi-server"], ["maintenance:on", "-a", "tmi-server"],
                 ["pg:promote", found.group(0), "-a", "tmi-server"],
                 ["maintenance:off", "-a", "tmi-server"], ["ps:restart", "-a", "tmi-server"]):
        total += bench.official(sandbox, *argv)[0]
    return total, 0


def official_reset(bench, sandbox):
    """The reset runbook: drop and recreate the schema, restart so the app migrates, count."""
    total = 0.0
    for argv in (["pg:psql", "-a", "tmi-server", "-c",
                  "DROP SCHEMA public CASCADE; CREATE SCHEMA public;"],
                 ["ps:restart", "-a", "tmi-server"],
                 ["pg:psql", "-a", "tmi-server", "-c",
                  "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"]):
        total += bench.official(sandbox, *argv)[0]
    return total, 0


EXPECTED = os.path.join(ROOT, "fixtures", "schema", "tmi", "expected.toml")


def chores(bench, sandbox):
    rounds = bench.args.rounds
    reset = lambda: sandbox.control("POST", "reset")  # noqa: E731
    # With the app's expected schema, pg.verify ends when the migrated schema matches; without
    # one, it waits for the dynos to be up first (the sandbox's boot time), then lists tables.
    for label, extra, target in (("`--expect`", ["--expect", EXPECTED], 20),
                                 ("no expected schema", [], None)):
        pair(bench, f"`herokuops swap-db tmi-server --no-backup` (defaults, {label})", rounds,
             lambda rss, extra=extra: bench.ours(
                 sandbox, rss, "swap-db", "tmi-server", "--confirm", "tmi-server",
                 "--no-backup", "--no-progress", *extra),
             lambda _: official_swap(bench, sandbox), between=reset,
             their_label="6 official commands", speedup=target)
        pair(bench, f"`herokuops reset tmi-server --no-backup` (defaults, {label})", rounds,
             lambda rss, extra=extra: bench.ours(
                 sandbox, rss, "reset", "tmi-server", "--confirm", "tmi-server",
                 "--no-backup", "--no-progress", *extra),
             lambda _: official_reset(bench, sandbox), between=reset,
             their_label="`pg:psql` drop, `ps:restart`, `pg:psql` count", speedup=target)
    # The swap runbook's own six steps and no more (no check of the schema), as a playbook of a
    # herokuops.toml: what herokuops costs per step against the CLI's start-ups.
    runbooks = os.path.join(bench.args.work, "runbooks")
    os.makedirs(runbooks, exist_ok=True)
    with open(os.path.join(runbooks, "herokuops.toml"), "w") as f:
        f.write(RUNBOOKS)
    pair(bench, "`herokuops playbook run` of the runbook's 6 swap steps", rounds,
         lambda rss: bench.ours(sandbox, rss, "playbook", "run", "runbook-swap", "tmi-server",
                                "--confirm", "tmi-server", "--no-backup", "--no-progress",
                                cwd=runbooks),
         lambda _: official_swap(bench, sandbox), between=reset,
         their_label="6 official commands")
    pair(bench, "`herokuops backup capture tmi-server`", rounds,
         lambda rss: bench.ours(sandbox, rss, "backup", "capture", "tmi-server", "--no-progress"),
         lambda _: bench.official(sandbox, "pg:backups:capture", "-a", "tmi-server"),
         their_label="`heroku pg:backups:capture`")


def download(bench):
    """A backup download from a local server against curl of the same URL."""
    work, size = bench.args.work, bench.args.download_mib
    blob = os.path.join(work, "backup.dump")
    with open(blob, "wb") as f:
        for _ in range(size):
            f.write(os.urandom(1 << 20))
    port_file = os.path.join(work, "port")
    server = subprocess.Popen([sys.executable, os.path.join(ROOT, "benches", "backup_server.py"),
                               blob, port_file])
    try:
        for _ in range(200):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            time.sleep(0.05)
        port = open(port_file).read().strip()
        env = dict(os.environ, HEROKU_HOST=f"http://127.0.0.1:{port}",
                   HEROKU_API_KEY="bench-token", CI="true",
                   XDG_STATE_HOME=os.path.join(work, "state"))
        out = os.path.join(work, "downloaded.dump")
        url = f"http://127.0.0.1:{port}/blob/b001.dump?sig=bench"

        def ours():
            result = run([bench.ops, "backup", "download", "bench", "-o", out, "--no-progress"],
                         env=env, cwd=bench.cwd, rss=True)
            check(out, size)
            return result

        def curl():
            result = run(["curl", "-sS", "-o", out, url], rss=True)
            check(out, size)
            return result

        mine, theirs, rss, curl_rss = [], [], [], []
        for _ in range(bench.args.rounds):
            for side, times, peaks in ((ours, mine, rss), (curl, theirs, curl_rss)):
                seconds, peak = side()
                times.append(seconds)
                peaks.append(peak)
        m, t = median_ms(mine), median_ms(theirs)
        speed = size / statistics.median(mine)
        bench.row(f"`herokuops backup download` of {size:,} MiB (local server)", fmt_ms(m),
                  f"{fmt_ms(t)} (`curl -o`, peak RSS {mib(max(curl_rss))})",
                  f"{t / m:.2f}x as fast", mib(max(rss)), ">= 1x curl, RSS < 30 MiB",
                  t / m >= 1.0 and max(rss) < 30 << 10,
                  f"{bench.args.rounds} rounds, {speed:,.0f} MiB/s")
    finally:
        server.terminate()
        server.wait()
        for path in (blob, os.path.join(work, "downloaded.dump")):
            if os.path.exists(path):
                os.remove(path)


def check(path, size_mib):
    if os.path.getsize(path) != size_mib << 20:
        sys.exit(f"bench: {path} is {os.path.getsize(path)} bytes, not {size_mib} MiB")
    os.remove(path)


def scale(bench, output):
    """The lines of `cargo bench --bench scale`, as rows."""
    text = open(output).read()
    patterns = [
        (r"schema snapshot \(([\d,]+) tables.*?median (\d+) ms", "`herokuops schema snapshot`, {} tables"),
        (r"verify \(([\d,]+) tables, clean\): median (\d+) ms", "`herokuops verify`, {} tables"),
        (r"verify \(([\d,]+) tables restored.*?median (\d+) ms",
         "`herokuops verify`, {} tables after pg_restore (every CHECK re-rendered)"),
    ]
    for pattern, label in patterns:
        m = re.search(pattern, text)
        if not m:
            sys.exit(f"bench: no match for {pattern!r} in the scale benchmark's output")
        ms = float(m.group(2))
        bench.row(label.format(f"{int(m.group(1)):,}"), fmt_ms(ms), target="< 2 s",
                  met=ms < 2000, note="median of 5")
    m = re.search(r"drop schema public \(([\d,]+) tables\): herokuops db drop-schema median (\d+) ms"
                  r".*?psql .*? median (\d+) ms.*?ratio ([\d.]+)x", text)
    if not m:
        sys.exit("bench: no drop-schema line in the scale benchmark's output")
    ours, theirs = float(m.group(2)), float(m.group(3))
    bench.row(f"`herokuops db drop-schema`, {int(m.group(1)):,} tables", fmt_ms(ours),
              f"{fmt_ms(theirs)} (`psql -c 'DROP SCHEMA public CASCADE'`)",
              f"{ours / theirs:.2f}x the time", target="<= 1.2x psql",
              met=ours / theirs <= 1.2, note="medians of 3, alternating")


def fleet(bench):
    """A fleet's backup capture under a rate limit it must hit, against that limit's floor:
    (requests - bucket) / refill. The default limit (20 a second) is low enough that it, and
    not the sandbox's own pg_dumps competing for a small machine's cores, bounds the run."""
    apps, rate = bench.args.fleet_apps, bench.args.fleet_rate
    sandbox = Sandbox(bench.args.bin, bench.args.work, "--apps", str(apps), "--rate-limit", rate)
    try:
        apps_file = os.path.join(bench.args.work, "apps.txt")
        width = max(2, len(str(apps)))
        with open(apps_file, "w") as f:
            f.writelines(f"tmi-server-{i:0{width}d}\n" for i in range(1, apps + 1))
        walls, floors, counts = [], [], []
        for _ in range(bench.args.rounds):
            bucket = wait_full(sandbox)
            sandbox.control("DELETE", "requests")
            wall, _ = run([bench.ops, "--json", "backup", "capture", "--apps-from", apps_file,
                           "-j", "8"], env=bench.ops_env(sandbox), cwd=bench.cwd)
            records = sandbox.control("GET", "requests")
            answered = [r for r in records if r["status"] != 429]
            floor = max(0.0, len(records) - bucket["capacity"]) / bucket["refill_per_sec"]
            walls.append(wall)
            floors.append(floor)
            counts.append((len(records), len(records) - len(answered)))
        wall, floor = statistics.median(walls), statistics.median(floors)
        requests, limited = counts[walls.index(sorted(walls)[len(walls) // 2])]
        bench.row(f"`herokuops backup capture` of {apps} apps, `-j 8`, rate limit {rate}",
                  fmt_ms(wall * 1000), f"{fmt_ms(floor * 1000)} (the rate limit's floor)",
                  f"{wall / floor:.2f}x the floor" if floor else "no floor", target="<= 1.2x the floor",
                  met=bool(floor) and wall / floor <= 1.2, note=f"{bench.args.rounds} rounds; {requests} requests, {limited} answered 429")
    finally:
        sandbox.stop()


def wait_full(sandbox):
    """Waits until the bucket is full, so every run starts from the same budget."""
    for _ in range(600):
        bucket = sandbox.control("GET", "rate-limit")
        if bucket["remaining"] >= bucket["capacity"] - 1:
            return bucket
        time.sleep(0.2)
    sys.exit("bench: the rate-limit bucket did not fill up")


def version_of(argv, env=None, cwd=None):
    try:
        out = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "unknown"


def header(bench):
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = version_of(["git", "-C", ROOT, "describe", "--always", "--dirty"])
    cli = version_of([bench.cli_bin, "--version"], env=bench.cli_env, cwd=bench.cli_env["HOME"])
    node = version_of(["node", "--version"], env=bench.cli_env)
    return [
        f"Machine: {os.cpu_count()} cores ({cpu}), Linux {os.uname().release}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"herokuops: {version_of([bench.ops, '--version'])} (commit {commit}, release build); "
        f"official CLI: {cli.split(' ')[0]} on Node.js {node}; "
        f"PostgreSQL: {version_of(['psql', '--version'])}",
        "Sandbox: herokuops-sandbox on loopback, `--provision-delay 0s`, its cluster "
        + ("in memory (`/dev/shm`)" if CLUSTER_PARENT else "on disk (no room in `/dev/shm`)")
        + "; herokuops with default settings (`--interval 5s`); medians of interleaved runs "
        "(ours, theirs, ours, ...).",
    ]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--cli-env", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick-rounds", type=int, default=15)
    parser.add_argument("--download-mib", type=int, default=1024)
    parser.add_argument("--scale", help="the output of `cargo bench --bench scale`")
    parser.add_argument("--fleet-apps", type=int, default=50)
    parser.add_argument("--fleet-rate", default="20/1s")
    args = parser.parse_args()
    global RSS_DIR, CLUSTER_PARENT
    RSS_DIR = args.work
    CLUSTER_PARENT = cluster_parent(args.work)
    try:
        run_all(args)
    finally:
        if CLUSTER_PARENT:
            shutil.rmtree(CLUSTER_PARENT, ignore_errors=True)


def run_all(args):
    bench = Bench(args)
    lines = None
    sandbox = Sandbox(args.bin, args.work, "--provision-delay", "0s")
    try:
        lines = header(bench)
        startup(bench, sandbox)
        chores(bench, sandbox)
    finally:
        sandbox.stop()
    download(bench)
    if args.scale:
        scale(bench, args.scale)
    fleet(bench)
    print_table(bench, lines)


def print_table(bench, lines):
    for line in lines:
        print(line + "  ")
    print()
    print("| measure | herokuops | compared with | ratio | peak RSS | target | met | runs |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in bench.rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
