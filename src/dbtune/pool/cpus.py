"""How many CPUs this process may really use.

``os.cpu_count()`` counts the machine's CPUs, not the ones a container or ``taskset`` leaves to
this process; a pool sized from it is too large exactly where it hurts. The answer is the
scheduler affinity, capped by the cgroup CPU quota (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us /
cpu.cfs_period_us``) of the process's cgroup and of each of its ancestors, rounded up, at least
1. ``DBTUNE_CPUS`` overrides everything.

The filesystem roots are parameters so the parsing is tested on fake ``/proc`` and ``/sys`` trees.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from dbtune.errors import UsageError

CPUS_ENV = "DBTUNE_CPUS"


@dataclass(frozen=True, slots=True)
class CpuCount:
    """A CPU count and where it came from, e.g. ``"affinity: 2"`` or ``"DBTUNE_CPUS=4"``."""

    count: int
    source: str


@dataclass(frozen=True, slots=True)
class Quota:
    """A cgroup CPU quota: ``quota`` microseconds of CPU time per ``period``."""

    version: int
    quota: int
    period: int
    path: str

    @property
    def cpus(self) -> int:
        return max(1, math.ceil(self.quota / self.period))

    def describe(self) -> str:
        return f"cgroup v{self.version} quota {self.quota}/{self.period} -> {self.cpus}"


@dataclass(frozen=True, slots=True)
class _Mount:
    root: str  # the part of the hierarchy mounted there
    point: str
    version: int


def affinity() -> int:
    """CPUs the scheduler lets this process run on."""
    process_cpu_count = getattr(os, "process_cpu_count", None)  # Python 3.13+
    if process_cpu_count is not None:
        return int(process_cpu_count() or 1)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _mounts(proc_root: Path) -> list[_Mount]:
    """cgroup mounts from ``mountinfo``: every cgroup2 mount, and v1 mounts of ``cpu``."""
    text = _read(proc_root / "self" / "mountinfo") or ""
    found = []
    for line in text.splitlines():
        left, _, right = line.partition(" - ")
        fields, extra = left.split(), right.split()
        if len(fields) < 5 or len(extra) < 3:
            continue
        fstype, options = extra[0], extra[2].split(",")
        if fstype == "cgroup2":
            found.append(_Mount(fields[3], fields[4], 2))
        elif fstype == "cgroup" and "cpu" in options:
            found.append(_Mount(fields[3], fields[4], 1))
    return found


def _memberships(proc_root: Path) -> dict[int, str]:
    """This process's cgroup path per version: v2 from ``0::``, v1 from the cpu controller line."""
    result: dict[int, str] = {}
    for line in (_read(proc_root / "self" / "cgroup") or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":
            result[2] = path
        elif "cpu" in controllers.split(","):
            result[1] = path
    return result


def _directories(mount: _Mount, cgroup_path: str, fs_root: Path) -> list[Path]:
    """The cgroup's directory under the mount and each ancestor up to the mount point."""
    point = fs_root / mount.point.lstrip("/")
    path, root = PurePosixPath(cgroup_path), PurePosixPath(mount.root)
    relative = path.relative_to(root) if path.is_relative_to(root) else PurePosixPath(".")
    leaf = point / relative
    if not leaf.is_dir():  # a cgroup namespace: the mount point is this process's own cgroup
        leaf = point
    dirs = [leaf]
    while dirs[-1] != point and point in dirs[-1].parents:
        dirs.append(dirs[-1].parent)
    return dirs


def _quota_in(directory: Path, version: int) -> Quota | None:
    if version == 2:
        text = _read(directory / "cpu.max")
        if not text:
            return None
        quota, _, period = text.partition(" ")
        if quota == "max" or not quota.isdigit() or not period.isdigit():
            return None
        return Quota(2, int(quota), int(period), str(directory))
    quota_text = _read(directory / "cpu.cfs_quota_us")
    period_text = _read(directory / "cpu.cfs_period_us")
    if quota_text is None or period_text is None:
        return None
    try:
        quota_us, period_us = int(quota_text), int(period_text)
    except ValueError:
        return None
    if quota_us <= 0 or period_us <= 0:  # -1: no limit
        return None
    return Quota(1, quota_us, period_us, str(directory))


def cgroup_quota(proc_root: Path = Path("/proc"), fs_root: Path = Path("/")) -> Quota | None:
    """The tightest CPU quota over this process's cgroup and its ancestors, if any."""
    memberships = _memberships(proc_root)
    quotas = []
    for mount in _mounts(proc_root):
        cgroup_path = memberships.get(mount.version)
        if cgroup_path is None:
            continue
        for directory in _directories(mount, cgroup_path, fs_root):
            quota = _quota_in(directory, mount.version)
            if quota is not None:
                quotas.append(quota)
    return min(quotas, key=lambda q: q.quota / q.period, default=None)


def usable_cpus(proc_root: Path = Path("/proc"), fs_root: Path = Path("/")) -> CpuCount:
    """The CPUs this process may run on (see the module docstring); ``DBTUNE_CPUS`` overrides."""
    raw = os.environ.get(CPUS_ENV)
    if raw is not None and raw.strip():
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value < 1:
            raise UsageError(
                f"{CPUS_ENV}={raw!r} is not a positive integer; unset it or give e.g. 4"
            )
        return CpuCount(value, f"{CPUS_ENV}={value}")
    count = max(1, affinity())
    quota = cgroup_quota(proc_root, fs_root)
    if quota is not None and quota.cpus < count:
        return CpuCount(quota.cpus, f"{quota.describe()} (affinity: {count})")
    return CpuCount(count, f"affinity: {count}")
