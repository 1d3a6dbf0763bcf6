"""utils.llama: the same logits as transformers' Llama (GQA, MQA, MHA; tied and untied heads), KV cache == no cache,
the head order of repeat_kv, RMSNorm without the mean, SwiGLU's gate, KV-cache sizes, bad configurations."""
import functools

import pytest
import torch
from torch.nn import functional as F
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.models.llama.modeling_llama import LlamaMLP, LlamaRMSNorm

import utils.llama as llama
from utils.gpt import GPTConfig, generate, kv_cache_bytes
from utils.llama import (PUBLISHED_SHAPES, GroupedQueryAttention, ModernConfig, ModernGPT, RMSNorm, SwiGLU,
                         kv_bytes_per_token, repeat_kv)
from utils.positional import rope_cos_sin

# initializer_range 0.1 (not transformers' 0.02) gives logits of a few units, so 1e-5 is a strict bound: the
# mistakes tested below (head order, RoPE layout) move them by more than 0.1
HF_CONFIGS = {
    "gqa-untied": dict(vocab_size=97, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32),
    "mqa-tied": dict(vocab_size=80, hidden_size=48, intermediate_size=128, num_hidden_layers=3,
                     num_attention_heads=6, num_key_value_heads=1, max_position_embeddings=32,
                     tie_word_embeddings=True),
    "mha-bias": dict(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=24,
                     attention_bias=True, mlp_bias=True),
    "gqa-8-heads-tied-theta": dict(vocab_size=120, hidden_size=128, intermediate_size=160, num_hidden_layers=2,
                                   num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=40,
                                   tie_word_embeddings=True, rms_norm_eps=1e-5,
                                   rope_parameters={"rope_type": "default", "rope_theta": 500000.0}),
}


@functools.lru_cache(maxsize=None)
def _hf(name, seed=0):
    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(**HF_CONFIGS[name], initializer_range=0.1)).eval()


def _ids(hf, batch=3, seed=1):
    c = hf.config
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, c.vocab_size, (batch, c.max_position_embeddings), generator=g)


def _max_diff(ours, hf, ids):
    with torch.no_grad():
        return (ours(ids) - hf(ids).logits).abs().max().item()


# ------------------------------------------------------------------------------------------- same as transformers
@pytest.mark.parametrize("name", HF_CONFIGS)
@pytest.mark.parametrize("fast", [True, False], ids=["torch-attention", "course-attention"])
def test_from_llama_gives_the_same_logits(name, fast):
    hf = _hf(name)
    ids = _ids(hf)
    ours = ModernGPT.from_llama(hf, fast_attention=fast)
    with torch.no_grad():
        assert hf(ids).logits.abs().max() > 1.0                        # a strict bound, not a bound on tiny numbers
    assert _max_diff(ours, hf, ids) <= 1e-5
    assert ours.num_params() == sum(p.numel() for p in hf.parameters())  # a tied head counted once in both
    assert ours.cfg.n_kv_head == HF_CONFIGS[name]["num_key_value_heads"]


def test_tied_and_untied_heads():
    tied = ModernGPT.from_llama(_hf("mqa-tied"))
    untied = ModernGPT.from_llama(_hf("gqa-untied"))
    assert tied.lm_head.weight is tied.embed_tokens.weight
    assert untied.lm_head.weight is not untied.embed_tokens.weight
    assert not torch.equal(untied.lm_head.weight, untied.embed_tokens.weight)


def test_from_llama_cached_generation_matches_transformers_generate():
    hf = _hf("gqa-untied")
    prompt = torch.tensor([[5, 17, 3]])
    want = hf.generate(prompt, max_new_tokens=20, do_sample=False, use_cache=True, pad_token_id=0,
                       eos_token_id=None)                              # no eos: do not stop at Llama's id 2
    assert torch.equal(generate(ModernGPT.from_llama(hf), prompt, 20, temperature=0), want)


def test_rope_layout_matters_the_rows_must_be_reordered(monkeypatch):
    """Without reordering q/k rows for apply_rope's interleaved pairs, the copy computes another function."""
    hf = _hf("gqa-untied")
    monkeypatch.setattr(llama, "_pairs_from_halves", lambda w, head_dim: w)
    assert _max_diff(ModernGPT.from_llama(hf), hf, _ids(hf)) > 0.1


def test_from_llama_rejects_other_models_and_scaled_rope():
    with pytest.raises(TypeError, match="LlamaForCausalLM"):
        ModernGPT.from_llama(torch.nn.Linear(2, 2))
    cfg = dict(HF_CONFIGS["gqa-untied"], rope_parameters={"rope_type": "linear", "rope_theta": 10000.0, "factor": 2.0})
    with pytest.raises(ValueError, match="rope_type 'linear'"):
        ModernGPT.from_llama(LlamaForCausalLM(LlamaConfig(**cfg)))


# ------------------------------------------------------------------------------------------- KV cache
def test_cache_equals_no_cache_with_gqa():
    hf = _hf("gqa-untied")
    ours = ModernGPT.from_llama(hf)
    ids = _ids(hf, batch=2)                                            # (2, 32)
    with torch.no_grad():
        full = ours(ids)                                               # (2, 32, vocab)
        logits, cache = ours(ids[:, :10], return_cache=True)           # a 10-token prompt, then one token at a time
        steps = [logits]
        for t in range(10, ids.shape[1]):
            logits, cache = ours(ids[:, t:t + 1], past=cache, return_cache=True)
            steps.append(logits)
    assert (torch.cat(steps, dim=1) - full).abs().max().item() <= 1e-5
    k, v = cache[0]
    assert k.shape == v.shape == (2, 2, 32, 16)                        # 2 KV heads stored, not the 4 query heads
    prompt = ids[0, :4].tolist()
    assert generate(ours, prompt, 25, temperature=0) == generate(ours, prompt, 25, temperature=0, use_cache=False)
    sampled = [generate(ours, prompt, 25, top_k=20, use_cache=c, generator=torch.Generator().manual_seed(3))
               for c in (True, False)]
    assert sampled[0] == sampled[1]


def test_attention_alone_finds_its_positions_from_the_cache():
    torch.manual_seed(0)
    cfg = ModernConfig(n_head=4, n_kv_head=1, n_embd=32)
    attn = GroupedQueryAttention(cfg)
    x = torch.randn(2, 9, 32)
    with torch.no_grad():
        full, _ = attn(x)                                              # positions 0..8, computed inside
        first, cache = attn(x[:, :6])
        rest, _ = attn(x[:, 6:], past=cache)                           # positions 6..8: after the 6 cached ones
        given, _ = attn(x, rope=rope_cos_sin(torch.arange(9), cfg.head_dim, cfg.rope_base))
    assert (torch.cat([first, rest], dim=1) - full).abs().max() <= 1e-6
    assert torch.equal(given, full)


def test_kv_bytes_per_token():
    assert kv_bytes_per_token(PUBLISHED_SHAPES["GPT-2 small"]) == 2 * 12 * 12 * 64 * 2 == 36_864
    assert kv_bytes_per_token(PUBLISHED_SHAPES["Llama-2-7B"]) == 2 * 32 * 32 * 128 * 2 == 524_288
    assert kv_bytes_per_token(PUBLISHED_SHAPES["Llama-3-8B"]) == 2 * 32 * 8 * 128 * 2 == 131_072   # 4x smaller
    assert kv_bytes_per_token(GPTConfig(n_layer=4, n_head=4, n_embd=128), 4) == 2 * 4 * 4 * 32 * 4
    assert kv_bytes_per_token(ModernConfig(n_layer=4, n_head=8, n_kv_head=2, n_embd=128), 4) == 2 * 4 * 2 * 16 * 4
    assert kv_cache_bytes(32, 32, 128, 8192, n_kv_head=8) == 8192 * 131_072
    with pytest.raises(ValueError, match="must divide n_head"):
        kv_cache_bytes(32, 32, 128, 1, n_kv_head=5)


# ------------------------------------------------------------------------------------------- the pieces
def _assert_hf_head_order(fn):
    """Query heads 2j and 2j+1 (n_rep = 2) must both read KV head j, as transformers' Llama does."""
    x = torch.arange(3.0).view(1, 3, 1, 1).expand(2, 3, 5, 4)          # KV head j holds the number j
    out = fn(x, 2)                                                     # (2, 6, 5, 4)
    assert out.shape == (2, 6, 5, 4)
    assert out[0, :, 0, 0].tolist() == [0.0, 0.0, 1.0, 1.0, 2.0, 2.0]
    assert torch.equal(out, torch.repeat_interleave(x, 2, dim=1))


def test_repeat_kv_repeats_each_head_for_its_group():
    _assert_hf_head_order(repeat_kv)
    x = torch.randn(1, 2, 3, 4)
    assert repeat_kv(x, 1) is x


def test_repeat_kv_check_fails_for_tiled_heads(monkeypatch):
    """``.repeat`` tiles the heads (0, 1, 2, 0, 1, 2): the order test rejects it and the logits leave transformers'."""
    def tiled(x, n_rep):
        return x.repeat(1, n_rep, 1, 1)

    with pytest.raises(AssertionError):
        _assert_hf_head_order(tiled)
    hf = _hf("gqa-untied")
    monkeypatch.setattr(llama, "repeat_kv", tiled)
    assert _max_diff(ModernGPT.from_llama(hf), hf, _ids(hf)) > 0.1


def test_rmsnorm_divides_by_the_root_mean_square_without_subtracting_the_mean():
    norm = RMSNorm(4, eps=1e-6)
    with torch.no_grad():
        norm.weight.copy_(torch.tensor([1.0, 2.0, 0.5, 1.0]))
    x = torch.tensor([[5.0, 5.0, 5.0, 5.0], [1.0, 2.0, 3.0, 4.0]])
    out = norm(x).detach()
    assert torch.allclose(out[0], torch.tensor([1.0, 2.0, 0.5, 1.0]), atol=1e-6)   # a constant row keeps its sign
    rms = x[1].pow(2).mean().add(1e-6).sqrt()
    assert torch.allclose(out[1], x[1] / rms * norm.weight.detach(), atol=1e-6)
    layer_norm = F.layer_norm(x, (4,), weight=norm.weight.detach(), eps=1e-6)        # mean subtracted: row 0 -> 0
    assert (out - layer_norm).abs().max() > 0.5
    ref = LlamaRMSNorm(4, eps=1e-6)
    ref.load_state_dict(norm.state_dict())
    y = torch.randn(3, 7, 4) + 3.0
    assert torch.allclose(norm(y), ref(y), atol=1e-6)


def test_swiglu_gates_with_silu_on_the_gate_branch():
    mlp = SwiGLU(1, 1)
    with torch.no_grad():
        mlp.gate_proj.weight.fill_(2.0)
        mlp.up_proj.weight.fill_(-1.0)
        mlp.down_proj.weight.fill_(1.0)
    out = mlp(torch.ones(1, 1)).item()
    assert out == pytest.approx(F.silu(torch.tensor(2.0)).item() * -1.0)            # silu(gate x) * up x = -1.762
    assert out != pytest.approx(F.silu(torch.tensor(-1.0)).item() * 2.0)            # silu(up x) * gate x = -0.538
    torch.manual_seed(0)
    mlp, ref = SwiGLU(8, 12), LlamaMLP(LlamaConfig(hidden_size=8, intermediate_size=12, num_attention_heads=2))
    ref.load_state_dict(mlp.state_dict())
    x = torch.randn(2, 3, 8)
    assert torch.allclose(mlp(x), ref(x), atol=1e-6)


# ------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, text", [
    (dict(n_head=4, n_kv_head=3), "n_kv_head \\(3\\) must divide n_head \\(4\\)"),
    (dict(n_head=3, n_embd=64), "must divide n_embd"),
    (dict(n_head=4, n_kv_head=2, n_embd=12), "even head size"),
    (dict(n_kv_head=0), "n_kv_head must be a positive int"),
    (dict(vocab_size=-1), "vocab_size must be a positive int"),
    (dict(intermediate_size=2.5), "intermediate_size must be a positive int"),
    (dict(rope_base=1.0), "rope_base"),
    (dict(rms_eps=0.0), "rms_eps"),
])
def test_bad_config_raises_one_clear_value_error(kwargs, text):
    with pytest.raises(ValueError, match=text) as info:
        ModernConfig(**kwargs)
    assert "\n" not in str(info.value)


def test_bad_calls_raise_one_line_errors():
    model = ModernGPT(ModernConfig(block_size=8))
    with pytest.raises(ValueError, match="exceed the context"):
        model(torch.zeros(1, 9, dtype=torch.long))
    with pytest.raises(TypeError, match="integer tensor"):
        model(torch.zeros(1, 3))
    with pytest.raises(TypeError, match="ModernConfig"):
        ModernGPT(GPTConfig())
    with pytest.raises(ValueError, match="n_rep"):
        repeat_kv(torch.zeros(1, 2, 3, 4), 0)


def test_every_parameter_learns():
    torch.manual_seed(0)
    model = ModernGPT(ModernConfig(vocab_size=30, block_size=8, n_layer=2, n_head=4, n_kv_head=1, n_embd=16))
    ids = torch.randint(0, 30, (4, 8))
    F.cross_entropy(model(ids[:, :-1]).flatten(0, 1), ids[:, 1:].flatten()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
