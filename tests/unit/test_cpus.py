"""cgroup CPU quota parsing on fake /proc and /sys trees."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbtune.pool.cpus import affinity, cgroup_quota, usable_cpus

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


V2_LIMITED = {
    "/sys/fs/cgroup/cpu.max": "max 100000\n",
    "/sys/fs/cgroup/app/cpu.max": "max 100000\n",
    "/sys/fs/cgroup/app/web/cpu.max": "150000 100000\n",
}
V2_TIGHT_ANCESTOR = {
    "/sys/fs/cgroup/app/cpu.max": "50000 100000\n",
    "/sys/fs/cgroup/app/web/cpu.max": "300000 100000\n",
}
V1_LIMITED = {
    "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "-1\n",
    "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000\n",
    "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "50000\n",
    "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n",
}
V1_UNLIMITED = {
    "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "-1\n",
    "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000\n",
}


@pytest.mark.parametrize(
    ("cgroup", "mountinfo", "files", "expected"),
    [
        # 1.5 CPUs in the process's own cgroup, rounded up
        ("0::/app/web\n", V2_MOUNTINFO, V2_LIMITED, "cgroup v2 quota 150000/100000 -> 2"),
        # the tightest ancestor wins
        ("0::/app/web\n", V2_MOUNTINFO, V2_TIGHT_ANCESTOR, "cgroup v2 quota 50000/100000 -> 1"),
        ("0::/app\n", V2_MOUNTINFO, {"/sys/fs/cgroup/app/cpu.max": "max 100000\n"}, None),
        # inside a cgroup namespace /proc/self/cgroup names a path not under the mount point
        (
            "0::/../../kubepods/pod1\n",
            V2_MOUNTINFO,
            {"/sys/fs/cgroup/cpu.max": "200000 100000\n"},
            "cgroup v2 quota 200000/100000 -> 2",
        ),
        (
            "4:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n",
            V1_MOUNTINFO,
            V1_LIMITED,
            "cgroup v1 quota 50000/100000 -> 1",
        ),
        ("2:cpu,cpuacct:/\n", V1_MOUNTINFO, V1_UNLIMITED, None),
    ],
    ids=["v2-own", "v2-ancestor", "v2-unlimited", "v2-namespace", "v1-quota", "v1-unlimited"],
)
def test_cgroup_quota(
    tmp_path: Path, cgroup: str, mountinfo: str, files: dict[str, str], expected: str | None
) -> None:
    quota = cgroup_quota(*_tree(tmp_path, cgroup, mountinfo, files))
    assert (quota.describe() if quota else None) == expected


def test_the_tightest_ancestor_is_named(tmp_path: Path) -> None:
    quota = cgroup_quota(*_tree(tmp_path, "0::/app/web\n", V2_MOUNTINFO, V2_TIGHT_ANCESTOR))
    assert quota is not None
    assert quota.path.endswith("/app")


def test_no_cgroup_files_at_all(tmp_path: Path) -> None:
    assert cgroup_quota(tmp_path / "nothing", tmp_path / "nothing") is None


@pytest.mark.parametrize(
    ("cpus", "quota", "expected"),
    [
        (8, "250000 100000", "cgroup v2 quota 250000/100000 -> 3 (affinity: 8)"),
        (2, "800000 100000", "affinity: 2"),
    ],
    ids=["quota-caps-affinity", "affinity-tighter"],
)
def test_usable_cpus_takes_the_tighter_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cpus: int, quota: str, expected: str
) -> None:
    monkeypatch.delenv("DBTUNE_CPUS", raising=False)
    monkeypatch.setattr("dbtune.pool.cpus.affinity", lambda: cpus)
    files = {"/sys/fs/cgroup/app/cpu.max": f"{quota}\n"}
    found = usable_cpus(*_tree(tmp_path, "0::/app\n", V2_MOUNTINFO, files))
    assert found.source == expected
    assert found.count == min(cpus, -(-int(quota.split()[0]) // int(quota.split()[1])))


def test_affinity_of_this_process() -> None:
    import os

    assert affinity() == len(os.sched_getaffinity(0))
