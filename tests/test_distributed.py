"""Distributed training on CPU: two processes under torchrun with gloo."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from ner_bilstm_cli.main import app
from typer.testing import CliRunner

OPTIONS = ["--hidden", "32", "--word-dim", "24", "--batch-size", "16", "--seed", "3", "--lr", "0.01", "--patience", "20"]


def torchrun(corpus, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m", "ner_bilstm", "train",
            "--train", str(corpus["train"]), "--dev", str(corpus["dev"]), "--output", str(out), *OPTIONS, *extra]


ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def test_two_processes_write_one_model_whose_dev_f1_evaluate_confirms(corpus, tmp_path):
    out = tmp_path / "ddp"
    p = subprocess.run(torchrun(corpus, out, "--epochs", "3"), capture_output=True, text=True, timeout=600, env=ENV)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.count("best dev F1") == 1  # only rank 0 prints
    assert sorted(x.name for x in tmp_path.iterdir()) == ["ddp"]  # one model directory, nothing else
    assert sorted(x.name for x in out.iterdir()) == ["checkpoint", "config.json", "history.jsonl", "metrics.json",
                                                     "model.safetensors", "vocab.json"]
    reported = json.loads((out / "metrics.json").read_text())["dev"]["micro"]["f1"]
    r = CliRunner().invoke(app, ["evaluate", "--model", str(out), str(corpus["dev"]), "--format", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["micro"]["f1"] == reported
    assert len((out / "history.jsonl").read_text().splitlines()) == 3


def test_train_nproc_passes_sigterm_to_its_processes_which_checkpoint_and_resume(corpus, tmp_path):
    """SIGTERM to `train --nproc 2` (as a job scheduler sends it to the command it started): the
    processes stop at a step with a checkpoint, the command exits 130 with one line and no
    traceback, and none of them is left running; --resume finishes the run."""
    out = tmp_path / "ddp"
    exe = str(Path(sys.executable).parent / "ner-bilstm")
    command = [exe, "train", "--train", str(corpus["train"]), "--dev", str(corpus["dev"]), "--output", str(out), *OPTIONS, "--nproc", "2"]
    proc = subprocess.Popen([*command, "--epochs", "60"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    deadline = time.monotonic() + 300
    while not (out / "history.jsonl").exists() and time.monotonic() < deadline:  # training has begun
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    text = err.decode()
    assert proc.returncode == 130, text[-2000:]
    assert "Traceback" not in text and text.count("stopped:") == 1 and "resume with --resume" in text, text[-2000:]
    assert (out / "checkpoint" / "state.safetensors").exists()
    epoch = int(text.split("interrupted in epoch ")[1].split(";")[0])
    done = subprocess.run([*command, "--epochs", str(epoch + 1), "--resume"], capture_output=True, text=True, timeout=300, env=ENV)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len((out / "history.jsonl").read_text().splitlines()) == epoch + 1


def test_a_killed_rank_stops_the_job_with_an_error_and_a_checkpoint_that_resumes_bit_for_bit(corpus, tmp_path):
    out = tmp_path / "ddp"
    state = out / "checkpoint" / "state.safetensors"
    launcher = subprocess.Popen(torchrun(corpus, out, "--epochs", "200", "--checkpoint-every", "2"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, start_new_session=True)
    try:
        deadline = time.time() + 240
        while not state.exists() and time.time() < deadline and launcher.poll() is None:
            time.sleep(0.1)
        assert state.exists(), "no checkpoint was written"
        workers = subprocess.run(["pgrep", "-P", str(launcher.pid)], capture_output=True, text=True).stdout.split()
        assert len(workers) == 2, workers
        os.kill(int(workers[-1]), signal.SIGKILL)
        _, err = launcher.communicate(timeout=180)  # the job must end, not hang
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
    assert launcher.returncode != 0
    assert "Traceback" not in err.split("ChildFailedError")[0] or "failed" in err
    assert "failed" in err.lower()
    resumed = subprocess.run(torchrun(corpus, out, "--epochs", "3", "--resume"), capture_output=True, text=True,
                             timeout=600, env=ENV)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    # Resumed under DDP, bit for bit what one uninterrupted run writes (every rank's RNG, the memory, the row exchange).
    whole = tmp_path / "whole"
    p = subprocess.run(torchrun(corpus, whole, "--epochs", "3", "--checkpoint-every", "2"), capture_output=True, text=True,
                       timeout=600, env=ENV)
    assert p.returncode == 0, p.stderr[-2000:]
    assert (out / "model.safetensors").read_bytes() == (whole / "model.safetensors").read_bytes()
    losses = [[json.loads(line)["loss"] for line in (d / "history.jsonl").read_text().splitlines()] for d in (out, whole)]
    assert losses[0] == losses[1] and len(losses[0]) == 3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_training_with_amp_loads_and_predicts_on_cpu(corpus, tmp_path):
    from ner_bilstm.artifact import load_model
    from ner_bilstm.inference import Predictor
    from ner_bilstm.io import read_source

    out = tmp_path / "gpu"
    r = CliRunner().invoke(app, ["train", "--train", str(corpus["train"]), "--dev", str(corpus["dev"]), "--output", str(out),
                                 *OPTIONS, "--epochs", "3", "--device", "cuda", "--amp"])
    assert r.exit_code == 0, r.output
    sentences = list(read_source(str(corpus["test"])))
    on_cpu = Predictor(load_model(out, device="cpu")).predict(sentences)
    on_gpu = Predictor(load_model(out, device="cuda")).predict(sentences)
    assert [p.tags for p in on_cpu] == [p.tags for p in on_gpu]


def test_seeds_under_torchrun_share_one_process_group(corpus, tmp_path):
    """--seeds trains every seed in the same process group; only rank 0 writes the summary and the kept model."""
    out = tmp_path / "seeds"
    command = [arg for arg in torchrun(corpus, out, "--epochs", "1", "--seeds", "1,2")]
    at = command.index("--seed")
    del command[at:at + 2]
    p = subprocess.run(command, capture_output=True, text=True, timeout=600, env=ENV)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.count("mean ± sd") == 1
    summary = json.loads((out / "seeds.json").read_text())
    assert [r["seed"] for r in summary["runs"]] == [1, 2]
    best = out / "seeds" / f"seed-{summary['best_seed']}"
    assert (out / "model.safetensors").read_bytes() == (best / "model.safetensors").read_bytes()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_nodes_rehearsed_on_one_machine_train_what_one_node_of_two_processes_trains(corpus, tmp_path):
    """The README's several-machines command, run as two "nodes" of one process each on this machine:
    torchrun agents meeting by c10d rendezvous on 127.0.0.1 (node 0 hosts the store), writing to one
    shared output directory. Ranks, shards and per-rank seeds are the same as on one node, so the
    weights must be too."""
    out = tmp_path / "two-nodes"
    port = free_port()

    def node(host: bool) -> subprocess.Popen:
        command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
                   "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", "rehearsal",
                   "--rdzv-conf", f"is_host={'true' if host else 'false'}", "--max-restarts", "0",
                   "-m", "ner_bilstm", "train", "--train", str(corpus["train"]), "--dev", str(corpus["dev"]),
                   "--output", str(out), *OPTIONS, "--epochs", "2"]
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                                start_new_session=True)

    nodes = [node(True), node(False)]
    try:
        results = [n.communicate(timeout=600) for n in nodes]
    finally:
        for n in nodes:
            if n.poll() is None:
                os.killpg(n.pid, signal.SIGKILL)
    for n, (_, err) in zip(nodes, results):
        assert n.returncode == 0, err[-2000:]
    assert sum(o.count("best dev F1") for o, _ in results) == 1  # one global rank 0, on one of the nodes
    one_node = tmp_path / "one-node"
    p = subprocess.run(torchrun(corpus, one_node, "--epochs", "2"), capture_output=True, text=True, timeout=600, env=ENV)
    assert p.returncode == 0, p.stderr[-2000:]
    assert (out / "model.safetensors").read_bytes() == (one_node / "model.safetensors").read_bytes()
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert [h["loss"] for h in history] == [json.loads(line)["loss"] for line in (one_node / "history.jsonl").read_text().splitlines()]


def _rows_worker(rank: int, init: str, results) -> None:
    import torch.distributed as dist

    from ner_bilstm.data_parallel import average_rows
    from ner_bilstm.distributed import World

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    g = torch.Generator().manual_seed(rank)
    weight = torch.nn.Parameter(torch.zeros(50, 4))
    rows = torch.randperm(50, generator=g)[: 7 + rank * 5].sort().values  # different counts per rank, some shared
    values = torch.randn(len(rows), 4, generator=g)
    weight.grad = torch.zeros(50, 4)
    weight.grad[rows] = values
    dense = weight.grad.clone()
    dist.all_reduce(dense)
    sent = average_rows(World(rank, 2), weight, rows)
    results[rank] = (torch.equal(weight.grad, dense / 2), sent, weight.grad.clone())
    # A sparse gradient names its own rows, uncoalesced (a row twice) as the embedding's backward gives it.
    halves = torch.cat([values[:1] / 2, values[1:], values[:1] / 2])
    weight.grad = torch.sparse_coo_tensor(torch.cat([rows, rows[:1]])[None], halves, (50, 4), check_invariants=False)
    average_rows(World(rank, 2), weight, None)
    results[rank + 2] = (weight.grad.is_sparse and torch.equal(weight.grad.to_dense(), dense / 2), weight.grad.to_dense())
    dist.destroy_process_group()


def test_averaging_only_the_touched_rows_equals_the_dense_all_reduce(tmp_path):
    import torch.multiprocessing as mp

    results = mp.Manager().dict()
    mp.spawn(_rows_worker, args=(f"file://{tmp_path / 'store'}", results), nprocs=2)
    assert results[0][0] and results[1][0]
    assert torch.equal(results[0][2], results[1][2])  # every rank ends with the same gradient
    assert results[0][1] == 12 * 5 < 50 * 4  # the larger rank's rows, padded, with their ids: less than the table
    assert results[2][0] and results[3][0]  # sparse gradients: the same sums, still sparse
    assert torch.equal(results[2][1], results[3][1])


def _exchange_worker(rank: int, init: str, results) -> None:
    import torch.distributed as dist

    from ner_bilstm.distributed import World

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    g = torch.Generator().manual_seed(rank)
    counts = [(3, 5), (0, 4), (0, 0)]  # per part: rows on rank 0, rows on rank 1
    widths = [2, 5, 3]
    parts = [(torch.randint(0, 2**31 - 1, (n[rank],), generator=g), torch.randn(n[rank], w, generator=g))
             for n, w in zip(counts, widths)]
    world = World(rank, 2)
    exact = world.exchange(parts)
    # Counts announced ahead as bounds (more rows than sent, as a sparse gradient may give): the same rows arrive.
    bounded = world.exchange(parts, world.announce([n[rank] + 2 + rank for n in counts]))
    results[rank] = (parts, exact, bounded)
    try:
        world.exchange(parts, world.announce([0, 0, 0]))
    except RuntimeError as e:
        results[rank + 2] = str(e)
    dist.destroy_process_group()


def test_one_exchange_hands_every_rank_all_parts_of_every_rank_whatever_their_counts(tmp_path):
    import torch.multiprocessing as mp

    results = mp.Manager().dict()
    mp.spawn(_exchange_worker, args=(f"file://{tmp_path / 'store'}", results), nprocs=2)
    sent = [results[0][0], results[1][0]]
    for rank in (0, 1):
        for received in results[rank][1:]:
            assert len(received) == 2
            for source in (0, 1):
                for (ids, values), (got_ids, got_values) in zip(sent[source], received[source], strict=True):
                    assert torch.equal(ids, got_ids) and torch.equal(values, got_values)  # ids survive their float32 ride bit for bit
    assert "part 0 has" in results[2] and "part 0 has" in results[3]  # more rows than announced: refused, not misread


def _step_sync_worker(rank: int, init: str, results) -> None:
    from types import SimpleNamespace

    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    from ner_bilstm.data_parallel import StepSync
    from ner_bilstm.distributed import World
    from ner_bilstm.doc_memory import DocumentMemory, MemoryRows, document_links

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Embedding(30, 4), torch.nn.Linear(4, 1))
    table = model[0].weight
    DDP._set_params_and_buffers_to_ignore_for_model(model, ["0.weight"])
    trainer = DDP(model)
    # Rank r's sentence is sentence r: "Ann x" and "Ann y", linked by their "Ann" (positions 0 and 2).
    memory = DocumentMemory(document_links([["Ann", "x"], ["Ann", "y"]], [0, 0]), 3)
    sync = StepSync(World(rank, 2), [(table, lambda b: b.ids)], memory)
    steps = [[torch.tensor([[1, 2, 2, 7]]), torch.tensor([[2, 9, 3, 3]])],  # row 2 in both, the rest one rank's
             [torch.tensor([[4, 4, 5, 1]]), torch.tensor([[6, 1, 8, 8]])]]
    outcome = []
    for step, ids in enumerate(steps):
        batch = SimpleNamespace(ids=ids[rank], memory=MemoryRows(memory, torch.tensor([[2 * rank, 2 * rank + 1]])))
        expected = torch.zeros_like(table)
        for other in ids:  # the average of both ranks' gradients, computed here alone
            copy = torch.nn.Sequential(torch.nn.Embedding(30, 4), torch.nn.Linear(4, 1))
            copy.load_state_dict(model.state_dict())
            copy(other).sum().backward()
            expected += copy[0].weight.grad / 2
        sync.announce(batch)
        batch.memory.write(torch.full((1, 2, 3), 10.0 * step + rank))  # as the memory head writes in the forward pass
        model.zero_grad(set_to_none=True)
        trainer(batch.ids).sum().backward()
        sent_in_backward = sync.sending is not None  # the gradient hook sent the rows before backward() returned
        sync(batch)
        outcome.append((sent_in_backward, torch.allclose(table.grad, expected, atol=1e-6), table.grad.clone(),
                        model[1].weight.grad.clone(), memory.values.clone(), bool(memory.filled.all())))
    # A step whose table gets no gradient (the forward pass skips it): no hook fires, the call sends.
    batch = SimpleNamespace(ids=steps[0][rank], memory=None)
    sync.announce(batch)
    model.zero_grad(set_to_none=True)
    trainer.module[1](torch.ones(1, 4)).sum().backward()
    sent_in_backward = sync.sending is not None
    sync(batch)
    outcome.append((sent_in_backward, bool(table.grad.eq(0).all())))
    sync.close()
    results[rank] = outcome
    dist.destroy_process_group()


def test_the_rows_leave_during_the_backward_pass_and_arrive_averaged(tmp_path):
    import torch.multiprocessing as mp

    results = mp.Manager().dict()
    mp.spawn(_step_sync_worker, args=(f"file://{tmp_path / 'store'}", results), nprocs=2)
    for step in (0, 1):
        mine, other = results[0][step], results[1][step]
        assert mine[:2] == other[:2] == (True, True)
        assert all(torch.equal(a, b) for a, b in zip(mine[2:5], other[2:5]))  # gradients and memory the same on both ranks
        assert mine[5] and bool(mine[4][0].eq(10.0 * step).all()) and bool(mine[4][1].eq(10.0 * step + 1).all())
    assert results[0][2] == results[1][2] == (False, True)  # sent after the backward pass instead; nothing to average


@given(st.lists(st.integers(1, 60), max_size=40), st.integers(1, 5))
def test_dev_shares_cover_every_unit_once_in_order_and_balance_tokens(sizes, size):
    from ner_bilstm.distributed import World

    units = [[i] for i in range(len(sizes))]
    shares = [World(rank, size).share_by_size(units, sizes) for rank in range(size)]
    assert sorted(u for share in shares for u in share) == units  # each unit once
    assert all(share == sorted(share) for share in shares)  # in their order
    totals = [sum(sizes[u[0]] for u in share) for share in shares]
    assert max(totals) - min(totals) <= max(sizes, default=0)  # no share larger than another by more than a unit
