"""The benchmark's memory sampler stops sampling a group before its processes are stopped, so a
process exiting never reads as memory falling (the slope the memory goal is judged on)."""

from __future__ import annotations

import subprocess
import sys
import time

from bench.procs import MemorySampler


def test_unwatched_groups_keep_their_samples_and_take_no_more() -> None:
    procs = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) for _ in range(2)]
    sampler = MemorySampler(interval=0.05).start()
    try:
        sampler.watch("workers", procs)
        deadline = time.monotonic() + 5
        while len(sampler.samples["workers"]) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        sampler.unwatch("workers")
        taken = list(sampler.samples["workers"])
        procs[0].kill()  # what stopping the processes does after the phase
        procs[0].wait()
        time.sleep(0.3)
        assert len(taken) >= 3 and sampler.samples["workers"] == taken
        # Every sample counted both processes: none is a half-stopped group.
        assert min(mb for _t, mb in taken) > 0.6 * max(mb for _t, mb in taken)
    finally:
        sampler.stop()
        for proc in procs:
            proc.kill()
            proc.wait()
