"""Faults under attack: the attack tests of issue 17, counted.

    python bench/faults.py [--baseline REF] [--no-write]

Runs the attack tests (tests/faults/test_rows_kept.py, test_watch_keeps_going.py,
test_memory_bombs.py, test_errors_and_permissions.py, test_lock_terminal_export.py) with
pytest and reads back what each recorded (`fault`: the issue's item number; `rows_lost`:
photos still on disk that the catalog lost). Reported: faults tried (items with at least
one test that ran, not skipped), survived (every test of the item passed), and rows lost
(summed over the tests). With `--baseline REF` (say the commit the issue was filed
against), the same tests also run against that commit's code, in a temporary git
worktree, for a before/after table. Mounting tmpfs file systems needs root; elsewhere
the drive and disk attacks are skipped and not counted as tried.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import table, update_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ATTACKS = ["test_rows_kept.py", "test_watch_keeps_going.py", "test_memory_bombs.py",
           "test_errors_and_permissions.py", "test_lock_terminal_export.py"]
HELPERS = ["faultkit_attack.py"]
BY_FILE = {"test_rows_kept": [1, 2, 3], "test_watch_keeps_going": [4, 5],
           "test_memory_bombs": [6, 7, 8, 9], "test_errors_and_permissions": [10, 11],
           "test_lock_terminal_export": [12, 13, 14]}
FAULTS = {
    1: "unreadable subfolder drops its photos",
    2: "drive unmounted inside a root drops its photos",
    3: "root's bare mount point with a hidden file counts as online",
    4: "watch exits on a full disk or a locked catalog",
    5: "readers need to write (full or read-only data disk)",
    6: "1×N sliver image: gigabytes in the model's resize",
    7: "FIFO hangs, /dev/zero reads for ever",
    8: "--limit nonsense: tracebacks, gigabytes",
    9: "huge files read whole; WebP claiming 192 MP decoded",
    10: "tracebacks instead of one line",
    11: "--data-dir chmods a shared folder",
    12: "deleting writer.lock lets a second writer in",
    13: "control characters in file names reach the terminal",
    14: "the model exporter outlives its parent",
}


@dataclass
class Outcome:
    tests: dict[int, list[str]] = field(default_factory=dict)  # fault → test outcomes
    rows_lost: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def tried(self) -> list[int]:
        return sorted(f for f, results in self.tests.items()
                      if any(r != "skipped" for r in results))

    @property
    def survived(self) -> list[int]:
        return [f for f in self.tried if all(r in ("passed", "skipped") for r in self.tests[f])]

    @property
    def lost(self) -> int:
        return sum(self.rows_lost.values())


def run(repo: Path, junit: Path) -> Outcome:
    """The attack tests in `repo`'s tests/faults, by pytest in that folder (its code)."""
    files = [str(Path("tests") / "faults" / name) for name in ATTACKS]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    subprocess.run([sys.executable, "-m", "pytest", *files, "-q", "-p", "no:cacheprovider",
                    "--continue-on-collection-errors", f"--junitxml={junit}",
                    "-o", "junit_family=xunit1"],
                   cwd=repo, env=env, check=False)
    return read(junit)


def read(junit: Path) -> Outcome:
    outcome = Outcome()
    tree = ET.parse(junit)
    for suite in tree.iter("testsuite"):
        outcome.seconds += float(suite.get("time", 0))
    for case in tree.iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        if "skipped" in {child.tag for child in case}:
            result = "skipped"
        elif {"failure", "error"} & {child.tag for child in case}:
            result = "failed"
        else:
            result = "passed"
        if "fault" in props:
            numbers = [int(props["fault"])]
        else:  # it broke before recording what it attacks (an import or fixture error)
            module = case.get("classname", "").rsplit(".", 1)[-1]
            numbers = BY_FILE.get(module, [])
        for number in numbers:
            outcome.tests.setdefault(number, []).append(result)
        if props.get("rows_lost") is not None and numbers:
            outcome.rows_lost[numbers[0]] = (outcome.rows_lost.get(numbers[0], 0)
                                             + int(props["rows_lost"]))
    return outcome


def baseline_checkout(ref: str, into: Path) -> Path:
    """`ref`'s code in a worktree, with today's attack tests and their helper."""
    subprocess.run(["git", "worktree", "add", "--detach", "-f", str(into), ref], cwd=ROOT,
                   check=True, capture_output=True)
    for name in ATTACKS + HELPERS:
        shutil.copy(ROOT / "tests" / "faults" / name, into / "tests" / "faults" / name)
    return into


def describe(now: Outcome, before: Outcome | None, ref: str | None) -> str:
    headers = ["item", "fault", "tests", "now"]
    if before is not None:
        headers.insert(3, f"at {ref}")
    rows = []
    for number, title in FAULTS.items():
        results = now.tests.get(number, [])
        row = [number, title, len(results), _verdict(now, number)]
        if before is not None:
            row.insert(3, _verdict(before, number))
        rows.append(row)
    totals = [["faults tried", len(now.tried)], ["survived", len(now.survived)],
              ["rows lost", now.lost], ["seconds", round(now.seconds)]]
    head = ["", "now"]
    if before is not None:
        head.insert(1, f"at {ref}")
        totals = [[name, value_before, value] for (name, value), value_before in zip(
            totals, [len(before.tried), len(before.survived), before.lost,
                     round(before.seconds)], strict=True)]
    return (table(head, totals) + "\n\n" + table(headers, rows) + "\n\n"
            "An item is *tried* when at least one of its tests ran (the drive and disk attacks "
            "need root to mount tmpfs file systems), *survived* when all of them passed. "
            "*Rows lost*: photos still on disk that the catalog no longer held after an "
            "attack (items 1-3 measure it).")


def _verdict(outcome: Outcome, number: int) -> str:
    results = outcome.tests.get(number, [])
    if not results or all(r == "skipped" for r in results):
        return "not tried"
    lost = outcome.rows_lost.get(number)
    verdict = "survived" if number in outcome.survived else \
        f"fault ({results.count('failed')} of {len(results)} failed)"
    return verdict + (f", {lost} rows lost" if lost else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", metavar="REF",
                        help="also run the attacks against this commit's code")
    parser.add_argument("--no-write", action="store_true",
                        help="print the figures; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="pf-faults-"))
    before = None
    try:
        if args.baseline:
            base = baseline_checkout(args.baseline, scratch / "baseline")
            before = run(base, scratch / "before.xml")
        now = run(ROOT, scratch / "now.xml")
    finally:
        if args.baseline:
            subprocess.run(["git", "worktree", "remove", "--force", str(scratch / "baseline")],
                           cwd=ROOT, capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)
    body = describe(now, before, args.baseline)
    print(body)
    if not args.no_write:
        update_section("Faults under attack (bench/faults.py)", body)


if __name__ == "__main__":
    main()
