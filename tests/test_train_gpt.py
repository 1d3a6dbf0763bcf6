"""utils.train_gpt: schedule, weight-decay groups, gradient accumulation, bf16 autocast, exact resume, checkpoints."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from utils.gpt import GPT, GPTConfig
from utils import train_gpt
from utils.train_gpt import (CheckpointError, TrainConfig, get_batch, load_checkpoint, lm_loss, lr_at,
                             make_optimizer, ngram_baselines, param_groups, save_checkpoint, train, train_step)

ROOT = Path(__file__).resolve().parent.parent
MODEL = dict(vocab_size=40, block_size=16, n_layer=2, n_head=2, n_embd=16)


def _model(seed=0, **kw):
    torch.manual_seed(seed)
    return GPT(GPTConfig(**{**MODEL, **kw}))


def _data(n=3000, seed=0):
    g = torch.Generator().manual_seed(seed)
    pairs = torch.randint(0, 40, (n // 8, 2), generator=g)
    return pairs.repeat(1, 4).flatten()          # "a b a b a b a b" chunks: copy the token two back (no bigram can)


def test_lr_schedule_warms_up_then_decays_to_min():
    cfg = TrainConfig(steps=200, lr=1e-2, min_lr=1e-3, warmup_steps=20)
    lrs = [lr_at(s, cfg) for s in range(200)]
    assert all(a < b for a, b in zip(lrs[:20], lrs[1:20]))                 # rising during warm-up
    assert lrs[19] == pytest.approx(1e-2) and max(lrs) == pytest.approx(1e-2)
    assert all(a >= b for a, b in zip(lrs[20:], lrs[21:]))                 # then never rising
    assert lr_at(200, cfg) == pytest.approx(1e-3)


def test_no_weight_decay_on_embeddings_norms_biases():
    model = _model()
    decay, no_decay = param_groups(model, 0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = {names[id(p)] for p in decay["params"]}
    assert decayed == {f"h.{i}.{m}.weight" for i in range(2) for m in ("attn.c_attn", "attn.c_proj", "mlp.c_fc",
                                                                       "mlp.c_proj")}
    assert {"wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias", "h.0.attn.c_attn.bias"} <= \
        {names[id(p)] for p in no_decay["params"]}
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))
    assert no_decay["weight_decay"] == 0.0 and decay["weight_decay"] == 0.1


def test_get_batch_targets_are_inputs_shifted_by_one():
    data = torch.arange(100)
    x, y = get_batch(data, 8, 10, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (8, 10) and torch.equal(y, x + 1)
    with pytest.raises(ValueError, match="more than block_size"):
        get_batch(torch.arange(5), 2, 5, torch.Generator())


def _grads(model):
    return [p.grad.clone() for p in model.parameters()]


def test_gradient_accumulation_equals_one_big_batch():
    data = _data()
    x, y = get_batch(data, 32, 16, torch.Generator().manual_seed(1))
    cfg = TrainConfig(steps=10, batch_size=32, grad_clip=0.0, lr=0.0, min_lr=0.0, warmup_steps=0)
    big, acc = _model(), _model()
    train_step(big, make_optimizer(big, cfg), [(x, y)], cfg, 0)
    cfg4 = TrainConfig(steps=10, batch_size=32, accum_steps=4, grad_clip=0.0, lr=0.0, min_lr=0.0, warmup_steps=0)
    loss = train_step(acc, make_optimizer(acc, cfg4), [(x[i:i + 8], y[i:i + 8]) for i in range(0, 32, 8)], cfg4, 0)
    for a, b in zip(_grads(big), _grads(acc)):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-4)
    with torch.no_grad():
        assert loss == pytest.approx(lm_loss(big(x), y).item(), abs=1e-5)


def test_bf16_autocast_loss_is_close_to_fp32_and_weights_stay_fp32():
    data = _data()
    x, y = get_batch(data, 16, 16, torch.Generator().manual_seed(2))
    model = _model()
    with torch.no_grad():
        fp32 = lm_loss(model(x), y).item()
        with train_gpt.autocast("cpu", "bf16"):
            logits = model(x)
            bf16 = lm_loss(logits, y).item()
    assert logits.dtype == torch.bfloat16                                   # really ran in bf16
    assert abs(bf16 - fp32) < 0.02 * fp32
    cfg = TrainConfig(steps=5, batch_size=16, precision="bf16", warmup_steps=1)
    train_step(model, make_optimizer(model, cfg), [(x, y)], cfg, 0)
    assert all(p.dtype == torch.float32 for p in model.parameters())       # master weights stay fp32


def test_fp16_needs_cuda():
    with pytest.raises(ValueError, match="CUDA"):
        train_gpt.autocast("cpu", "fp16")


def test_training_beats_the_unigram_and_bigram_baselines():
    data = _data(20000)
    uni, bi = ngram_baselines(data[:16000], data[16000:], 40)
    cfg = TrainConfig(steps=150, batch_size=32, lr=1e-2, min_lr=1e-3, warmup_steps=10, eval_every=50)
    model = _model()
    history = train(model, data[:16000], data[16000:], cfg, progress=False)
    assert history["val_loss"][-1] < min(uni, bi) - 0.5          # copying "two back" needs attention
    assert history["val_step"] == [50, 100, 150] and len(history["train_loss"]) == 150


def test_resumed_training_continues_exactly(tmp_path):
    data = _data()
    cfg = TrainConfig(steps=12, batch_size=8, accum_steps=2, lr=5e-3, warmup_steps=3, eval_every=4)
    whole = _model()
    h_whole = train(whole, data[:2500], data[2500:], cfg, progress=False)
    ckpt = tmp_path / "ckpt.pt"
    first = _model()
    train(first, data[:2500], data[2500:], cfg, checkpoint=ckpt, stop_after=8, progress=False)
    resumed = _model(seed=99)                                  # different starting weights: all must come from disk
    h_resumed = train(resumed, data[:2500], data[2500:], cfg, checkpoint=ckpt, resume=True, progress=False)
    for a, b in zip(whole.parameters(), resumed.parameters()):
        assert torch.equal(a, b)
    assert h_whole == h_resumed
    assert not (tmp_path / "ckpt.pt.tmp").exists()


def test_checkpoint_from_another_configuration_is_one_clear_line(tmp_path):
    path = save_checkpoint(tmp_path / "c.pt", _model())
    with pytest.raises(CheckpointError, match=r"another model: n_embd=16 there, n_embd=32 here") as info:
        load_checkpoint(path, _model(n_embd=32))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", None])
def test_corrupt_checkpoint_is_one_clear_line(tmp_path, content):
    path = tmp_path / "c.pt"
    if content is None:                                        # a real checkpoint cut in half
        save_checkpoint(path, _model())
        content = path.read_bytes()[: path.stat().st_size // 2]
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="corrupt or not a checkpoint") as info:
        load_checkpoint(path, _model())
    assert "\n" not in str(info.value)


def test_foreign_and_missing_checkpoints(tmp_path):
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a tiny-GPT checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


def test_interrupted_save_leaves_the_old_checkpoint_intact(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "c.pt", _model(), step=1)
    before = path.read_bytes()

    def dies_half_way(obj, f):
        Path(f).write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(train_gpt.torch, "save", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, _model(seed=1), step=2)
    assert path.read_bytes() == before and load_checkpoint(path)["step"] == 1


def test_ngram_baselines_on_real_text():
    tok, train_ids, val_ids = train_gpt.load_corpus(300, 60_000)
    uni, bi = ngram_baselines(train_ids, val_ids, 300)
    assert 0 < bi < uni < torch.log(torch.tensor(300.0)).item()
    assert tok.decode(val_ids[:50].tolist()).count("\n") >= 1


CPUINFO_X86 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx avx2 fma\n\nprocessor\t: 1\n"
CPUINFO_AMX = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
CPUINFO_ARM = "processor\t: 0\nFeatures\t: fp asimd crc32 atomics bf16 i8mm\nCPU implementer\t: 0x41\n"


def test_cpu_flags_read_x86_and_arm_cpuinfo():
    assert train_gpt.cpu_flags(CPUINFO_X86) == {"fpu", "sse2", "avx", "avx2", "fma"}
    assert {"avx512_bf16", "amx_bf16"} <= train_gpt.cpu_flags(CPUINFO_AMX)
    assert "bf16" in train_gpt.cpu_flags(CPUINFO_ARM) and "0x41" not in train_gpt.cpu_flags(CPUINFO_ARM)
    assert train_gpt.cpu_flags("") == set()
    assert isinstance(train_gpt.cpu_flags(), set)                          # this machine: whatever it has


@pytest.mark.parametrize("cpuinfo, want", [
    (CPUINFO_X86, "fp32"),                                   # AVX2 only: bf16 would be emulated, slower than fp32
    (CPUINFO_AMX, "bf16"),
    ("flags : avx2 avx512f avx512_bf16\n", "bf16"),
    ("flags : avx2 amx_bf16\n", "bf16"),
    (CPUINFO_ARM, "bf16"),
    ("Features : fp asimd\n", "fp32"),
    ("", "fp32"),                                            # flags unknown: the safe choice
])
def test_auto_precision_on_cpus(cpuinfo, want):
    precision, why = train_gpt.auto_precision("cpu", flags=train_gpt.cpu_flags(cpuinfo))
    assert precision == want
    assert ("emulated" in why) == (want == "fp32")


def test_auto_precision_on_gpus_and_other_devices():
    assert train_gpt.auto_precision("cuda", cuda_capability=(8, 0))[0] == "bf16"
    assert train_gpt.auto_precision("cuda:0", cuda_capability=(9, 0))[0] == "bf16"
    assert train_gpt.auto_precision("cuda", cuda_capability=(7, 0)) == (
        "fp16", "CUDA GPU with compute capability 7.0: no bf16 tensor cores, fp16 with a scaler")
    assert train_gpt.auto_precision("mps")[0] == "fp32"
    for device in ("cpu", "mps"):                                          # every answer is a precision train accepts
        TrainConfig(precision=train_gpt.auto_precision(device)[0])


def test_command_help_and_a_tiny_run(tmp_path):
    out = subprocess.run([sys.executable, "-m", "utils.train_gpt", "--help"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert "--accum-steps" in out and "--precision" in out and "torchrun" in out
    run = subprocess.run([sys.executable, "-m", "utils.train_gpt", "--out", str(tmp_path), "--chars", "30000",
                          "--vocab-size", "300", "--steps", "4", "--n-layer", "1", "--n-embd", "16", "--n-head", "2",
                          "--block-size", "16", "--batch-size", "8", "--eval-every", "2", "--eval-batches", "1",
                          "--no-progress", "--threads", "1", "--precision", "auto"], cwd=ROOT, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    chosen, why = train_gpt.auto_precision("cpu")                           # what auto means on this machine
    assert f"precision: {chosen} ({why})" in run.stdout
    for name in ("ckpt.pt", "model.pt", "curves.png", "sample.txt"):
        assert (tmp_path / name).stat().st_size > 0
    model, tok, state = train_gpt.model_from_checkpoint(tmp_path / "model.pt")
    assert state["optimizer"] is None and state["step"] == 4 and tok.decode(tok.encode("a dog")) == "a dog"
    resumed = subprocess.run([sys.executable, "-m", "utils.train_gpt", "--out", str(tmp_path), "--resume", "--steps",
                              "4", "--n-layer", "2", "--n-embd", "16", "--n-head", "2", "--block-size", "16",
                              "--chars", "30000", "--vocab-size", "300", "--no-progress"], cwd=ROOT,
                             capture_output=True, text=True)
    assert resumed.returncode != 0
    assert "another model: n_layer=1 there, n_layer=2 here" in resumed.stderr.strip().splitlines()[-1]


DDP_WORKER = r'''
import os, sys, torch, torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
sys.path.insert(0, sys.argv[2])
from utils.gpt import GPT, GPTConfig
from utils.train_gpt import TrainConfig, make_optimizer, train_step

dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
torch.manual_seed(0)
model = GPT(GPTConfig(vocab_size=40, block_size=16, n_layer=2, n_head=2, n_embd=16))
ddp = DistributedDataParallel(model)
calls = []

def counting_allreduce(state, bucket):                      # counts the gradient all-reduces DDP performs
    # Synchronous on purpose. With `.then(lambda ...)` the lambda runs, and is released, on one of gloo's worker
    # threads; a thread still holding it when this process exits touches a finalizing interpreter and aborts the
    # process ("terminate called without an active exception"), as happens now and then on a loaded machine.
    calls.append(1)
    t = bucket.buffer().div_(world)                         # (numel,) this bucket's flat gradients
    dist.all_reduce(t)
    done = torch.futures.Future()
    done.set_result(t)
    return done

ddp.register_comm_hook(None, counting_allreduce)
g = torch.Generator().manual_seed(5)
x, y = torch.randint(0, 40, (16, 16), generator=g), torch.randint(0, 40, (16, 16), generator=g)
mine = slice(rank * 8, (rank + 1) * 8)                      # each process: its half of the global batch
cfg = TrainConfig(steps=1, batch_size=8, accum_steps=2, lr=0.0, min_lr=0.0, warmup_steps=0, grad_clip=0.0)
xs, ys = x[mine], y[mine]
loss = train_step(ddp, make_optimizer(ddp, cfg), [(xs[:4], ys[:4]), (xs[4:], ys[4:])], cfg, 0)
losses = [None] * world
dist.all_gather_object(losses, loss)
if rank == 0:
    torch.save({"grads": [p.grad for p in model.parameters()], "calls": len(calls), "losses": losses}, sys.argv[1])
dist.barrier()
dist.destroy_process_group()
# Leave without the interpreter's teardown: under load, a gloo thread can still be alive while C++ destructors run at
# exit and abort the process ("terminate called without an active exception", SIGABRT) after all the work is done.
sys.stdout.flush()
sys.stderr.flush()
os._exit(0)
'''


def test_ddp_two_cpu_processes_match_one_process_on_the_combined_batch(tmp_path):
    script, out = tmp_path / "worker.py", tmp_path / "out.pt"
    script.write_text(DDP_WORKER)
    # port 0: torchrun's agent binds a free port itself and hands it to both workers (a port picked here and closed
    # again could be taken by another process before torchrun binds it); 127.0.0.1 also with the network cut
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                          "--rdzv-backend", "c10d", "--rdzv-endpoint", "127.0.0.1:0", "--local-addr", "127.0.0.1",
                          str(script), str(out), str(ROOT)], capture_output=True, text=True, timeout=240,
                         env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    got = torch.load(out, weights_only=True)
    torch.manual_seed(0)
    single = GPT(GPTConfig(vocab_size=40, block_size=16, n_layer=2, n_head=2, n_embd=16))
    g = torch.Generator().manual_seed(5)
    x, y = torch.randint(0, 40, (16, 16), generator=g), torch.randint(0, 40, (16, 16), generator=g)
    single.zero_grad()
    full = lm_loss(single(x), y)
    full.backward()
    for a, b in zip(single.parameters(), got["grads"]):
        assert torch.allclose(a.grad, b, atol=1e-6, rtol=1e-4)
    assert sum(got["losses"]) / 2 == pytest.approx(full.item(), abs=1e-5)
    # no_sync: the first micro-batch's backward did not all-reduce; only the last one did (one call per bucket)
    assert got["calls"] == 1


def test_command_options_are_the_config_fields_with_their_defaults():
    from dataclasses import fields
    parser = train_gpt._parser()
    model_cfg, train_cfg = train_gpt.configs_from_args(parser.parse_args([]))
    assert model_cfg == GPTConfig() and train_cfg == TrainConfig()        # no second list of default numbers
    help_text = parser.format_help()
    offered = [f.name for f in fields(GPTConfig) if f.name != "fast_attention"] + [f.name for f in fields(TrainConfig)]
    for name in offered:
        assert f"--{name.replace('_', '-')}" in help_text, name
    model_cfg, train_cfg = train_gpt.configs_from_args(parser.parse_args(
        ["--n-layer", "2", "--n-embd", "32", "--positions", "rope", "--lr", "0.01", "--precision", "bf16"]))
    assert (model_cfg.n_layer, model_cfg.n_embd, model_cfg.positions) == (2, 32, "rope")
    assert (train_cfg.lr, train_cfg.precision, train_cfg.steps) == (0.01, "bf16", TrainConfig().steps)
    with pytest.raises(SystemExit):
        parser.parse_args(["--positions", "sinusoidal"])


def test_the_default_model_is_notebook_09s_showcase_model():
    state = load_checkpoint(train_gpt.SHOWCASE_CHECKPOINT)
    saved = {k: v for k, v in state["model_config"].items() if k != "fast_attention"}
    assert saved == {k: v for k, v in GPTConfig().to_dict().items() if k != "fast_attention"}


def test_samples_during_a_run_do_not_change_it():
    from utils.bpe import train_bpe
    text = " ".join(f"dog: a {w} animal {i}" for i, w in enumerate(["tame", "wild", "small", "big"] * 30))
    tok = train_bpe(text, 270)
    ids = torch.tensor(tok.encode(text))
    cfg = TrainConfig(steps=6, batch_size=4, eval_every=3, warmup_steps=1)
    runs = []
    for sample_at in ((), (0, 3, 6)):
        model = _model(vocab_size=270)
        runs.append((model, train(model, ids, ids, cfg, progress=False, tokenizer=tok, sample_at=sample_at)))
    (a, ha), (b, hb) = runs
    assert ha["train_loss"] == hb["train_loss"] and "samples" not in ha
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert sorted(hb["samples"]) == [0, 3, 6] and all(s.startswith("dog:") for s in hb["samples"].values())
    assert hb["samples"][6] == train_gpt.sample(b, tok, cfg.seed)        # the last one is the finished model's
    with pytest.raises(ValueError, match="tokenizer"):
        train(_model(), _data(), _data(), cfg, progress=False, sample_at=(3,))


def test_a_resumed_run_can_add_samples(tmp_path):
    from utils.bpe import train_bpe
    text = " ".join(f"dog: a {w} animal {i}" for i, w in enumerate(["tame", "wild", "small", "big"] * 30))
    tok = train_bpe(text, 270)
    ids = torch.tensor(tok.encode(text))
    cfg = TrainConfig(steps=6, batch_size=4, eval_every=3, warmup_steps=1)
    model = _model(vocab_size=270)
    train(model, ids, ids, cfg, checkpoint=tmp_path / "ckpt.pt", progress=False, stop_after=3)   # no samples
    history = train(model, ids, ids, cfg, checkpoint=tmp_path / "ckpt.pt", resume=True, progress=False,
                    tokenizer=tok, sample_at=(0, 6))
    assert sorted(history["samples"]) == [6] and len(history["step"]) == 6   # step 0 was before this part


def test_the_command_offers_no_positions_and_an_untied_head():
    parser = train_gpt._parser()
    model_cfg, _ = train_gpt.configs_from_args(parser.parse_args(["--positions", "none", "--no-tie-head"]))
    assert (model_cfg.positions, model_cfg.tie_head) == ("none", False)
    assert train_gpt.configs_from_args(parser.parse_args([]))[0].tie_head is True
