"""cgroup CPU quota parsing on fake /proc and /sys trees."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbtune.cpus import affinity, cgroup_quota, usable_cpus

V2_MOUNTINFO = "41 31 0:38 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw\n"
V1_MOUNTINFO = (
    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
)


def _tree(tmp_path: Path, cgroup: str, mountinfo: str, files: dict[str, str]) -> tuple[Path, Path]:
    proc, fs = tmp_path / "proc", tmp_path / "fs"
    (proc / "self").mkdir(parents=True)
    (proc / "self" / "cgroup").write_text(cgroup)
    (proc / "self" / "mountinfo").write_text(mountinfo)
    for name, text in files.items():
        path = fs / name.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return proc, fs


def test_v2_quota_in_the_process_cgroup(tmp_path: Path) -> None:
    proc, fs = _tree(
        tmp_path,
        "0::/app/web\n",
        V2_MOUNTINFO,
        {
            "/sys/fs/cgroup/cpu.max": "max 100000\n",
            "/sys/fs/cgroup/app/cpu.max": "max 100000\n",
            "/sys/fs/cgroup/app/web/cpu.max": "150000 100000\n",
        },
    )
    quota = cgroup_quota(proc, fs)
    assert quota is not None
    assert quota.cpus == 2  # 1.5 CPUs, rounded up
    assert quota.describe() == "cgroup v2 quota 150000/100000 -> 2"


def test_v2_tightest_ancestor_wins(tmp_path: Path) -> None:
    proc, fs = _tree(
        tmp_path,
        "0::/app/web\n",
        V2_MOUNTINFO,
        {
            "/sys/fs/cgroup/app/cpu.max": "50000 100000\n",
            "/sys/fs/cgroup/app/web/cpu.max": "300000 100000\n",
        },
    )
    quota = cgroup_quota(proc, fs)
    assert quota is not None
    assert quota.describe() == "cgroup v2 quota 50000/100000 -> 1"
    assert quota.path.endswith("/app")


def test_v2_without_a_limit(tmp_path: Path) -> None:
    proc, fs = _tree(
        tmp_path,
        "0::/app\n",
        V2_MOUNTINFO,
        {
            "/sys/fs/cgroup/app/cpu.max": "max 100000\n",
        },
    )
    assert cgroup_quota(proc, fs) is None


def test_v2_namespace_uses_the_mount_point(tmp_path: Path) -> None:
    """Inside a cgroup namespace /proc/self/cgroup says '/' or a path not under the mount."""
    proc, fs = _tree(
        tmp_path,
        "0::/../../kubepods/pod1\n",
        V2_MOUNTINFO,
        {
            "/sys/fs/cgroup/cpu.max": "200000 100000\n",
        },
    )
    quota = cgroup_quota(proc, fs)
    assert quota is not None
    assert quota.cpus == 2


def test_v1_cfs_quota(tmp_path: Path) -> None:
    proc, fs = _tree(
        tmp_path,
        "4:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n",
        V1_MOUNTINFO,
        {
            "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "-1\n",
            "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000\n",
            "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "50000\n",
            "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n",
        },
    )
    quota = cgroup_quota(proc, fs)
    assert quota is not None
    assert quota.describe() == "cgroup v1 quota 50000/100000 -> 1"


def test_v1_unlimited(tmp_path: Path) -> None:
    proc, fs = _tree(
        tmp_path,
        "2:cpu,cpuacct:/\n",
        V1_MOUNTINFO,
        {
            "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "-1\n",
            "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000\n",
        },
    )
    assert cgroup_quota(proc, fs) is None


def test_no_cgroup_files_at_all(tmp_path: Path) -> None:
    assert cgroup_quota(tmp_path / "nothing", tmp_path / "nothing") is None


def test_quota_caps_the_affinity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBTUNE_CPUS", raising=False)
    monkeypatch.setattr("dbtune.cpus.affinity", lambda: 8)
    proc, fs = _tree(
        tmp_path,
        "0::/app\n",
        V2_MOUNTINFO,
        {
            "/sys/fs/cgroup/app/cpu.max": "250000 100000\n",
        },
    )
    found = usable_cpus(proc, fs)
    assert found.count == 3
    assert found.source == "cgroup v2 quota 250000/100000 -> 3 (affinity: 8)"


def test_affinity_wins_when_it_is_tighter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBTUNE_CPUS", raising=False)
    monkeypatch.setattr("dbtune.cpus.affinity", lambda: 2)
    proc, fs = _tree(
        tmp_path,
        "0::/app\n",
        V2_MOUNTINFO,
        {
            "/sys/fs/cgroup/app/cpu.max": "800000 100000\n",
        },
    )
    assert usable_cpus(proc, fs).source == "affinity: 2"


def test_affinity_of_this_process() -> None:
    import os

    assert affinity() == len(os.sched_getaffinity(0))
