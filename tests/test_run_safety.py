"""Runs lose nothing (issue 12), with real processes where the case is about processes: a ``kill -9`` before the
first periodic checkpoint, a torn log line, a full disk (simulated ENOSPC), two writers in one folder, partial
files of a killed writer, and the one-line errors of the command line."""

from __future__ import annotations

import dataclasses
import errno
import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from lab5_utils.device import configure_threads
from lab5_utils.gan.budget import Budget
from lab5_utils.gan.checkpoint import load_checkpoint, save_checkpoint
from lab5_utils.gan.config import PRESETS
from lab5_utils.gan.log import StatsLog, read_stats
from lab5_utils.gan.run_folder import RunLock, RunLockedError, RunWriteError, pid_alive
from lab5_utils.gan.stream import random_dataset
from lab5_utils.gan.trainer import Trainer, fit

CFG = dataclasses.replace(PRESETS["tiny_dcgan"], ckpt_every=10**6, log_every=1)
REPO = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


def _start_training(out: Path, ckpt_seconds: float) -> subprocess.Popen:
    """A real process that trains CFG into ``out`` without end (holding the folder's lock while it trains)."""
    script = textwrap.dedent(f"""
        import dataclasses
        from lab5_utils.gan.budget import Budget
        from lab5_utils.gan.config import PRESETS
        from lab5_utils.gan.stream import random_dataset
        from lab5_utils.gan.trainer import Trainer
        cfg = dataclasses.replace(PRESETS["tiny_dcgan"], ckpt_every=10**6, log_every=1)
        trainer = Trainer(cfg, random_dataset(16), {str(out)!r}, device="cpu", progress=False,
                          ckpt_seconds={ckpt_seconds})
        print("ready", flush=True)
        trainer.run(Budget(steps=10**9))
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], env=_env(), stdout=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        assert ready and proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc


def _wait_for(condition, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the training process"
        time.sleep(0.2)


def _rows(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.is_file() else 0


def test_a_kill_before_the_first_periodic_checkpoint_resumes_from_the_timed_one(tmp_path: Path) -> None:
    proc = _start_training(tmp_path, ckpt_seconds=1.0)  # ckpt_every is 10**6 steps: only time saves
    try:
        _wait_for(lambda: (tmp_path / "last.pt").is_file() and _rows(tmp_path / "stats.jsonl") >= 3)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    saved_step = load_checkpoint(tmp_path / "last.pt")["step"]
    resumed = Trainer(CFG, random_dataset(16), tmp_path, resume=True, device="cpu", progress=False)
    assert resumed.step == saved_step >= 1
    steps = [row["step"] for row in read_stats(tmp_path / "stats.jsonl")]
    assert steps == list(range(1, saved_step + 1))  # rows up to the checkpoint kept, the rest re-logged later
    assert not list(tmp_path.glob("*.orphan"))


def test_a_log_without_a_checkpoint_is_set_aside_never_deleted(tmp_path: Path) -> None:
    proc = _start_training(tmp_path, ckpt_seconds=3600.0)
    try:
        _wait_for(lambda: _rows(tmp_path / "stats.jsonl") >= 2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    logged = (tmp_path / "stats.jsonl").read_text()
    with pytest.warns(UserWarning, match="no last.pt accounts for"):
        Trainer(CFG, random_dataset(16), tmp_path, resume=True, device="cpu", progress=False)
    kept = list(tmp_path.glob("stats.jsonl.*.orphan"))
    assert len(kept) == 1 and kept[0].read_text().startswith(logged.splitlines()[0])
    assert not (tmp_path / "stats.jsonl").exists()


def test_a_second_writer_is_refused_naming_the_first_and_a_killed_one_frees_the_folder(tmp_path: Path) -> None:
    holder = _start_training(tmp_path, ckpt_seconds=3600.0)
    try:
        _wait_for(lambda: _rows(tmp_path / "stats.jsonl") >= 1)  # it trains, so it holds the lock
        with pytest.raises(RunLockedError, match=f"pid {holder.pid} on "):
            Trainer(CFG, random_dataset(16), tmp_path, resume=True, device="cpu", progress=False)
        assert _rows(tmp_path / "stats.jsonl") >= 1  # the refused start touched nothing
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with pytest.warns(UserWarning, match="no last.pt accounts for"):  # kill -9 freed the folder
        trainer = Trainer(CFG, random_dataset(16), tmp_path, resume=True, device="cpu", progress=False)
    assert trainer.run(Budget(steps=1)).step == 1
    with RunLock(tmp_path):  # in this process too: a second lock on a held folder is refused
        with pytest.raises(RunLockedError, match=f"pid {os.getpid()} "):
            RunLock(tmp_path).acquire()
    RunLock(tmp_path).acquire().release()  # and free again after the block


def test_a_torn_last_line_is_dropped_with_a_warning_naming_the_log(tmp_path: Path) -> None:
    fit(CFG, random_dataset(8), tmp_path, Budget(steps=2), device="cpu", progress=False)
    log = tmp_path / "stats.jsonl"
    with log.open("a") as f:
        f.write('{"step": 26, "ep')  # what a full disk left behind
    with pytest.warns(UserWarning, match=r"stats\.jsonl: dropped 1 torn line"):
        trainer = Trainer(CFG, random_dataset(8), tmp_path, resume=True, device="cpu", progress=False)
    assert trainer.step == 2 and [r["step"] for r in read_stats(log)] == [1, 2]


@pytest.mark.parametrize("every, seconds, saved", [(2, 180.0, 2), (10**6, 0.0, 3)], ids=["by-steps", "by-time"])
def test_a_full_disk_stops_the_run_clearly_and_the_resume_is_exact(every, seconds, saved, tmp_path: Path,
                                                                   monkeypatch) -> None:
    cfg = dataclasses.replace(CFG, ckpt_every=every)
    whole = fit(cfg, random_dataset(8), tmp_path / "whole", Budget(steps=6), device="cpu", progress=False)
    original = StatsLog.write

    def full_disk(self: StatsLog, row) -> None:
        if row.get("step", 0) >= 4:
            with self.path.open("a") as f:
                f.write('{"step": 4, "ep')
            raise OSError(errno.ENOSPC, "No space left on device")
        original(self, row)

    monkeypatch.setattr(StatsLog, "write", full_disk)
    split = tmp_path / "split"
    with pytest.raises(RunWriteError, match=r"stats\.jsonl: writing failed at step 4 \(No space left.*--resume"):
        fit(cfg, random_dataset(8), split, Budget(steps=6), device="cpu", progress=False, ckpt_seconds=seconds)
    assert load_checkpoint(split / "last.pt")["step"] == saved  # intact; by time: a step no ckpt_every divides
    monkeypatch.setattr(StatsLog, "write", original)
    with pytest.warns(UserWarning, match="torn line"):
        resumed = fit(cfg, random_dataset(8), split, Budget(steps=6), resume=True, device="cpu", progress=False)
    for name, value in whole.G.state_dict().items():
        assert torch.equal(value, resumed.G.state_dict()[name]), name


def test_a_full_disk_during_a_checkpoint_keeps_the_previous_one(tmp_path: Path) -> None:
    """A real ENOSPC: the checkpoint's temp file is a link to /dev/full."""
    trainer = fit(CFG, random_dataset(8), tmp_path, Budget(steps=1), device="cpu", progress=False)
    before = (tmp_path / "last.pt").read_bytes()
    (tmp_path / f".last.pt.tmp{os.getpid()}").symlink_to("/dev/full")
    with pytest.raises(RunWriteError, match=r"last\.pt: writing failed at step 2 \(No space left on device\)"):
        trainer.run(Budget(steps=2))
    assert (tmp_path / "last.pt").read_bytes() == before and not list(tmp_path.glob(".*tmp*"))


def test_partial_files_of_a_killed_writer_are_removed_on_the_next_start(tmp_path: Path) -> None:
    dead = next(pid for pid in range(4_000_000, 4_100_000) if not pid_alive(pid))
    (tmp_path / f".last.pt.tmp{dead}").write_bytes(b"half")
    (tmp_path / f"stats.tmp{os.getpid()}").write_bytes(b"ours, being written")
    Trainer(CFG, random_dataset(8), tmp_path, device="cpu", progress=False)
    assert not (tmp_path / f".last.pt.tmp{dead}").exists() and (tmp_path / f"stats.tmp{os.getpid()}").exists()


def test_a_truncated_or_foreign_checkpoint_says_what_to_do(tmp_path: Path) -> None:
    fit(CFG, random_dataset(8), tmp_path, Budget(steps=1), device="cpu", progress=False)
    last = tmp_path / "last.pt"
    last.write_bytes(last.read_bytes()[:1000])
    with pytest.raises(ValueError, match=r"last\.pt: cannot be read .*truncated.*best\.pt") as info:
        load_checkpoint(last)
    foreign = tmp_path / "foreign.pt"
    foreign.write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match=r"foreign\.pt: a text file .*expected a lab5_utils GAN checkpoint"):
        load_checkpoint(foreign)
    assert "weights_only=False" not in str(info.value)
    save_checkpoint({"a": 1}, tmp_path / "plain.pt")
    with pytest.raises(ValueError, match="not a lab5_utils GAN checkpoint"):
        load_checkpoint(tmp_path / "plain.pt")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab5_utils", *args], cwd=cwd, env=_env(), capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("args, message", [
    (["--minutes", "0"], "--minutes: '0': must be more than 0"),
    (["--minutes", "-1"], "--minutes: '-1': must be more than 0"),
    (["--epochs", "0"], "--epochs: '0': must be at least 1"),
    (["--steps", "-5"], "--steps: '-5': must be at least 1"),
    (["--steps", "1", "--seeds", "0"], "--seeds: '0': must be at least 1"),
    (["--steps", "1", "--out", "a_file"], "a_file: --out, the run folder is a file"),
])
def test_command_line_mistakes_are_one_line_with_status_2(args, message, tmp_path: Path) -> None:
    (tmp_path / "a_file").write_text("")
    done = _cli("train", "--preset", "tiny_dcgan", *args, cwd=tmp_path)
    assert done.returncode == 2 and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists()  # nothing trained, no empty run folder left behind


def test_the_judge_command_checks_its_output_before_training(tmp_path: Path) -> None:
    (tmp_path / "a_file").write_text("")
    done = _cli("evaluator", "train", "--tiny", "--out", "a_file/judge.pth", cwd=tmp_path)
    assert done.returncode == 2 and "a_file: the folder of --out is a file, not a folder" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_a_bad_checkpoint_on_the_command_line_is_one_line_and_debug_shows_the_traceback(tmp_path: Path) -> None:
    (tmp_path / "bad.pt").write_bytes(b"\x80\x02garbage")
    args = ("generate", "--ckpt", "bad.pt", "--out", "grid.png")
    done = _cli(*args, cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.startswith("error: bad.pt: cannot be read")
    assert len(done.stderr.strip().splitlines()) == 1 and "weights_only=False" not in done.stderr
    assert "Traceback" in _cli(*args, "--debug", cwd=tmp_path).stderr


def test_threads_follow_the_lent_cpus_and_the_user(monkeypatch) -> None:
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        monkeypatch.setenv("LAB5_THREADS", "1")
        assert configure_threads() == 1 == torch.get_num_threads()
        monkeypatch.delenv("LAB5_THREADS")
        assert configure_threads() == len(os.sched_getaffinity(0))
        monkeypatch.setenv("LAB5_THREADS", "zero")
        with pytest.raises(ValueError, match="LAB5_THREADS='zero'"):
            configure_threads()
    finally:
        torch.set_num_threads(before)


def test_a_checkpoint_written_on_a_gpu_loads_on_this_cpu(tmp_path: Path, monkeypatch) -> None:
    """Simulated where no GPU exists: the file's storages are tagged ``cuda:0`` as a GPU run writes them."""
    from lab5_utils.gan.checkpoint import load_generator

    fit(CFG, random_dataset(8), tmp_path, Budget(steps=1), device="cpu", progress=False)
    state = torch.load(tmp_path / "last.pt", weights_only=True)
    with monkeypatch.context() as patch:
        patch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        torch.save(state, tmp_path / "gpu.pt")
    if not torch.cuda.is_available():  # the simulation bites: without map_location torch refuses the file
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(tmp_path / "gpu.pt", weights_only=True)
    assert load_checkpoint(tmp_path / "gpu.pt")["step"] == 1
    assert load_generator(tmp_path / "gpu.pt").z_dim == CFG.z_dim


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_asking_for_a_gpu_on_a_cpu_machine_is_one_line(tmp_path: Path) -> None:
    done = _cli("train", "--preset", "tiny_dcgan", "--steps", "1", "--device", "cuda", cwd=tmp_path)
    assert done.returncode == 2 and "'cuda': no CUDA device on this machine" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_ctrl_c_writes_last_pt_at_the_step_it_stopped_names_it_and_resumes_exactly(tmp_path: Path) -> None:
    """Probe (issue 21): Ctrl-C during ``train`` saved nothing, and the message promised a resume from a checkpoint
    that did not exist (a resume at step ~152 restarted from 0)."""
    cfg, data = PRESETS["tiny_sngan"], random_dataset(8)
    trainer = Trainer(cfg, data, tmp_path / "run", device="cpu", progress=False)
    one_step = trainer.losses_step

    def step_then_ctrl_c() -> dict:
        values = one_step()
        if trainer.step == 3:
            signal.raise_signal(signal.SIGINT)  # as the terminal sends it, in the middle of the run
        return values

    trainer.losses_step = step_then_ctrl_c  # type: ignore[method-assign]
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt, match=r"step 3 .*last\.pt.*--resume"):
        trainer.run(Budget(steps=10))
    assert load_checkpoint(tmp_path / "run" / "last.pt")["step"] == 3
    assert signal.getsignal(signal.SIGINT) is before  # the run restores the handler it found
    resumed = Trainer(cfg, data, tmp_path / "run", resume=True, device="cpu", progress=False).run(Budget(steps=5))
    full = Trainer(cfg, data, tmp_path / "full", device="cpu", progress=False).run(Budget(steps=5))
    for key, value in full.G_ema.state_dict().items():
        assert torch.equal(value, resumed.G_ema.state_dict()[key]), key


FILL_CACHE = textwrap.dedent("""
    import sys
    from lab5_utils.data import default
    from lab5_utils.judge import cache

    def counted(name, function):
        def wrapper(*args, **kwargs):
            with open(sys.argv[1], "a") as log:
                log.write(name + "\\n")
            return function(*args, **kwargs)
        return wrapper

    default.render_dataset = counted("render", default.render_dataset)
    cache.train_judge = counted("train", cache.train_judge)
    print(cache.ensure_judge(progress=False, tiny=True))
""")


def test_two_processes_filling_an_empty_cache_render_and_train_once(tmp_path: Path) -> None:
    """Probe (issue 21): both rendered the default and both trained the judge; the loser's metrics named a judge
    file the other one replaced."""
    env = {**os.environ, "LAB5_CACHE": str(tmp_path / "cache"), "LAB5_FAST": "1", "LAB5_THREADS": "1"}
    env.pop("LAB5_JUDGE", None)
    runs = [subprocess.Popen([sys.executable, "-c", FILL_CACHE, str(tmp_path / "calls.log")], env=env,
                             stdout=subprocess.PIPE, text=True) for _ in range(2)]
    paths = [run.communicate(timeout=300)[0].strip() for run in runs]
    assert all(run.returncode == 0 for run in runs)
    assert paths[0] == paths[1] and Path(paths[0]).is_file()
    assert sorted((tmp_path / "calls.log").read_text().split()) == ["render", "train"]


def test_train_refuses_a_data_folder_without_train_json_before_any_long_work(tmp_path: Path) -> None:
    """Probe (issue 21): --data without train.json was refused only after a judge had been rendered and trained."""
    (tmp_path / "data" / "images").mkdir(parents=True)
    env = {**os.environ, "LAB5_CACHE": str(tmp_path / "cache"), "LAB5_FAST": "1", "LAB5_WEIGHTS": str(tmp_path)}
    env.pop("LAB5_JUDGE", None)
    done = subprocess.run([sys.executable, "-m", "lab5_utils", "train", "--preset", "tiny_sngan", "--data",
                           str(tmp_path / "data"), "--steps", "1", "--out", str(tmp_path / "run"), "--no-progress"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "train.json" in done.stderr and str(tmp_path / "data") in done.stderr
    rendered = [p.name for p in (tmp_path / "cache").glob("*")] if (tmp_path / "cache").exists() else []
    assert not any(name.startswith(("judge", "synthetic")) for name in rendered), rendered


def test_render_workers_die_with_their_parent(tmp_path: Path) -> None:
    """Probe (issue 21): after ``kill -9`` of ``render`` its workers kept writing, and ~60 BrokenPipeError
    tracebacks followed."""
    out = tmp_path / "render"
    parent = subprocess.Popen([sys.executable, "-m", "lab5_utils", "render", "--out", str(out), "--scenes", "400",
                               "--workers", "2", "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list((out / "images").glob("*.png"))) < 6:
        time.sleep(0.2)
    parent.kill()  # SIGKILL: no cleanup in the parent
    # the workers hold the parent's stderr pipe: it reaches end-of-file only when every one of them has exited
    _, stderr = parent.communicate(timeout=30)
    count = len(list((out / "images").glob("*.png")))
    time.sleep(2)
    assert len(list((out / "images").glob("*.png"))) == count < 1200
    assert "Traceback" not in stderr and not (out / "train.json").exists()


def test_ctrl_c_in_the_last_step_still_stops_the_job_after_saving(tmp_path: Path) -> None:
    trainer = Trainer(PRESETS["tiny_sngan"], random_dataset(8), tmp_path, device="cpu", progress=False)
    one_step = trainer.losses_step

    def step_then_ctrl_c() -> dict:
        values = one_step()
        if trainer.step == 2:
            signal.raise_signal(signal.SIGINT)
        return values

    trainer.losses_step = step_then_ctrl_c  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt, match="stopped after step 2"):
        trainer.run(Budget(steps=2))  # the budget is met by the interrupted step: the job must not go on to evaluate
    assert load_checkpoint(tmp_path / "last.pt")["step"] == 2
