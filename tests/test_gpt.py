"""utils.gpt: GPT-2 equivalence, the course's attention inside the model, KV cache == no cache, sampling, bad input."""
import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from utils.gpt import GPT, GPTConfig, filter_logits, generate, kv_cache_bytes

HF_CONFIGS = [
    dict(vocab_size=97, n_positions=32, n_embd=48, n_layer=3, n_head=4),
    dict(vocab_size=300, n_positions=64, n_embd=64, n_layer=2, n_head=8),
    dict(vocab_size=50, n_positions=16, n_embd=24, n_layer=1, n_head=1, layer_norm_epsilon=1e-6),
]


def _hf(cfg):
    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(**cfg, bos_token_id=0, eos_token_id=0)).eval()


def _tiny(positions="learned", fast=True, seed=0, tie_head=True):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=61, block_size=48, n_layer=2, n_head=4, n_embd=32, positions=positions,
                         fast_attention=fast, tie_head=tie_head)).eval()


@pytest.mark.parametrize("cfg", HF_CONFIGS, ids=lambda c: f"L{c['n_layer']}-d{c['n_embd']}-h{c['n_head']}")
@pytest.mark.parametrize("fast", [True, False], ids=["torch-attention", "course-attention"])
def test_from_gpt2_gives_the_same_logits(cfg, fast):
    hf = _hf(cfg)
    ids = torch.randint(0, cfg["vocab_size"], (3, cfg["n_positions"]), generator=torch.Generator().manual_seed(1))
    ours = GPT.from_gpt2(hf, fast_attention=fast)
    with torch.no_grad():
        diff = (ours(ids) - hf(ids).logits).abs().max().item()
    assert diff <= 1e-5
    assert ours.num_params() == sum(p.numel() for p in hf.parameters())  # tied head counted once in both


def test_from_gpt2_cached_generation_matches_transformers_generate():
    hf = _hf(HF_CONFIGS[0])
    ours = GPT.from_gpt2(hf)
    prompt = torch.tensor([[5, 17, 3]])
    want = hf.generate(prompt, max_new_tokens=20, do_sample=False, use_cache=True, pad_token_id=0)
    assert torch.equal(generate(ours, prompt, 20, temperature=0), want)


def test_from_gpt2_rejects_other_models():
    with pytest.raises(TypeError, match="GPT2LMHeadModel"):
        GPT.from_gpt2(torch.nn.Linear(2, 2))


@pytest.mark.parametrize("positions", ["learned", "rope", "none"])
def test_course_attention_equals_torch_fused_attention(positions):
    fast, course = _tiny(positions, True), _tiny(positions, False)
    ids = torch.randint(0, 61, (2, 48), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert (fast(ids) - course(ids)).abs().max().item() < 1e-5


@pytest.mark.parametrize("positions", ["learned", "rope", "none"])
def test_model_is_causal(positions):
    model = _tiny(positions)
    a = torch.randint(0, 61, (1, 20), generator=torch.Generator().manual_seed(3))
    b = a.clone()
    b[0, 12:] = (b[0, 12:] + 1) % 61                               # change only the future of position 11
    with torch.no_grad():
        assert torch.allclose(model(a)[0, :12], model(b)[0, :12], atol=1e-6)
        assert not torch.allclose(model(a)[0, 12:], model(b)[0, 12:], atol=1e-3)


def test_head_is_tied_to_the_token_embedding():
    model = _tiny()
    assert sum(p is model.wte.weight for p in model.parameters()) == 1
    ids = torch.tensor([[1, 2, 3]])
    with torch.no_grad():
        before = model(ids)
        model.wte.weight[40] += torch.randn(32)                    # token 40 is not in the input ...
        after = model(ids)
    changed = (after - before).abs().amax(dim=(0, 1)) > 1e-6      # (V,): which output scores moved
    assert changed.nonzero().flatten().tolist() == [40]            # ... so only its OUTPUT score moves: tied head


def test_an_untied_head_is_its_own_matrix():
    model = _tiny(tie_head=False)
    assert model.lm_head.weight.shape == model.wte.weight.shape and model.lm_head.weight is not model.wte.weight
    assert model.num_params() == _tiny().num_params() + 61 * 32
    ids = torch.tensor([[1, 2, 3]])
    with torch.no_grad():
        before = model(ids)
        model.wte.weight[40] += torch.randn(32)                    # token 40 is not in the input ...
        assert torch.equal(model(ids), before)                     # ... and its input row is not the head's row
        model.lm_head.weight[40] += torch.randn(32)
        changed = (model(ids) - before).abs().amax(dim=(0, 1)) > 1e-6
    assert changed.nonzero().flatten().tolist() == [40]


def test_without_positions_a_repeated_token_looks_the_same_everywhere():
    # "7 7 7": every position attends over copies of the same vector, so without a position signal all three
    # outputs are equal; only the causal mask's different context lengths could tell them apart, and here it cannot
    ids = torch.tensor([[7, 7, 7]])
    with torch.no_grad():
        none, learned = _tiny("none")(ids), _tiny("learned")(ids)
    assert _tiny("none").wpe is None
    assert torch.allclose(none[0, 0], none[0, 1], atol=1e-5) and torch.allclose(none[0, 1], none[0, 2], atol=1e-5)
    assert not torch.allclose(learned[0, 0], learned[0, 1], atol=1e-3)


@pytest.mark.parametrize("positions", ["learned", "rope", "none"])
@pytest.mark.parametrize("fast", [True, False])
def test_cached_step_logits_equal_full_forward(positions, fast):
    model = _tiny(positions, fast)
    ids = torch.randint(0, 61, (2, 30), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        full = model(ids)                                          # (2, 30, V)
        logits, cache = model(ids[:, :10], return_cache=True)
        pieces = [logits]
        for t in range(10, 30, 5):                                 # chunks of 5 after a 10-token prefix
            logits, cache = model(ids[:, t:t + 5], past=cache, return_cache=True)
            pieces.append(logits)
        assert cache[0][0].shape == (2, 4, 30, 8)                  # (B, heads, T, head_dim): grows along T
        assert (torch.cat(pieces, 1) - full).abs().max().item() < 1e-5


@pytest.mark.parametrize("positions", ["learned", "rope", "none"])
def test_greedy_generation_is_identical_with_and_without_cache(positions):
    model = _tiny(positions)
    prompt = [3, 14, 15, 9]
    a = generate(model, prompt, 40, temperature=0)
    b = generate(model, prompt, 40, temperature=0, use_cache=False)
    assert a == b and len(a) == 44 and a[:4] == prompt


@pytest.mark.parametrize("kw", [dict(), dict(temperature=0.7, top_k=5), dict(temperature=1.3, top_p=0.8),
                                dict(top_k=10, top_p=0.5)])
def test_seeded_sampling_is_identical_with_and_without_cache(kw):
    model = _tiny()
    prompt = torch.tensor([[1, 2, 3], [4, 5, 6]])
    a = generate(model, prompt, 30, generator=torch.Generator().manual_seed(7), **kw)
    b = generate(model, prompt, 30, use_cache=False, generator=torch.Generator().manual_seed(7), **kw)
    c = generate(model, prompt, 30, generator=torch.Generator().manual_seed(8), **kw)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)                                   # the seed matters: it really samples


def test_filter_logits_temperature_top_k_top_p():
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0])
    assert torch.allclose(filter_logits(logits, temperature=2.0), logits / 2)
    kept = filter_logits(logits, top_k=2)
    assert torch.isinf(kept[2:]).all() and torch.equal(kept[:2], logits[:2])
    p = torch.softmax(logits, -1)                                  # 0.644, 0.237, 0.087, 0.032
    nucleus = filter_logits(logits, top_p=0.7)                     # 0.644 < 0.7 -> needs the second token too
    assert torch.isfinite(nucleus).tolist() == [True, True, False, False]
    assert torch.isfinite(filter_logits(logits, top_p=0.5)).tolist() == [True, False, False, False]
    # temperature first: at T=0.25 the top token alone holds > 0.9 of the mass, so the nucleus shrinks
    assert torch.isfinite(filter_logits(logits, temperature=0.25, top_p=0.9)).sum() == 1
    assert p[0] < 0.9
    assert torch.isfinite(filter_logits(logits, top_p=1.0)).all()


def test_top_k_one_equals_greedy():
    model = _tiny()
    g = torch.Generator().manual_seed(0)
    assert generate(model, [7, 8], 15, top_k=1, generator=g) == generate(model, [7, 8], 15, temperature=0)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(ids=list(range(49)), max_new_tokens=0), ValueError, "longer than the context"),
    (dict(ids=[1] * 40, max_new_tokens=10), ValueError, "exceed the context"),
    (dict(ids=[]), ValueError, "empty"),
    (dict(ids=[1, 61]), ValueError, "unknown token id 61"),
    (dict(ids=[-1, 2]), ValueError, "unknown token id -1"),
    (dict(top_k=0), ValueError, "top_k"),
    (dict(top_k=-3), ValueError, "top_k"),
    (dict(top_p=0.0), ValueError, "top_p"),
    (dict(top_p=1.5), ValueError, "top_p"),
    (dict(temperature=-1.0), ValueError, "temperature"),
    (dict(ids=torch.tensor([[0.5, 1.0]])), TypeError, "integers"),
    (dict(ids="hello"), TypeError, "list of ints"),
])
def test_bad_generate_arguments_raise_one_line_errors(kwargs, error, match):
    args = dict(ids=[1, 2], max_new_tokens=3)
    args.update(kwargs)
    with pytest.raises(error, match=match) as info:
        generate(_tiny(), args.pop("ids"), **args)
    assert "\n" not in str(info.value)


def test_bad_config_raises():
    with pytest.raises(ValueError, match="must divide"):
        GPTConfig(n_embd=30, n_head=4)
    with pytest.raises(ValueError, match="positions"):
        GPTConfig(positions="sinusoidal")


def test_kv_cache_bytes_gpt2_sizes():
    assert kv_cache_bytes(12, 12, 64, 1024) == 2 * 12 * 12 * 64 * 1024 * 2
    assert kv_cache_bytes(48, 25, 64, 1024, bytes_per_value=4) == 2 * 48 * 1600 * 1024 * 4   # GPT-2 XL, fp32


# ------------------------------------------------------------------------------------------------ nearest_by_cosine
def test_nearest_by_cosine_matches_a_brute_force_ranking():
    import numpy as np

    from utils.gpt import nearest_by_cosine
    E = torch.randn(40, 8, generator=torch.Generator().manual_seed(0))
    unit = E.double() / E.double().norm(dim=1, keepdim=True)
    cos = (unit @ unit[3]).tolist()
    expected = sorted((j for j in range(40) if j not in (3, 5, 7)), key=lambda j: -cos[j])[:6]
    ids, scores = nearest_by_cosine(E, 3, k=6, exclude=[5, 7])
    assert ids == expected
    assert scores == [round(cos[j], 4) for j in expected]
    assert nearest_by_cosine(E.numpy(), 3, k=6, exclude=[5, 7]) == (ids, scores)      # numpy in, same answer
    assert nearest_by_cosine(E, np.int64(3), k=6, exclude=np.array([5, 7]))[0] == ids  # numpy ints are fine


def test_nearest_by_cosine_ranks_in_float64_and_breaks_ties_by_id():
    from utils.gpt import nearest_by_cosine
    # cosines 1 - 2e-8 (row 1) and 1 - 5e-9 (row 2): both round to 1.0 in float32, so a float32 ranking would tie
    # and put row 1 first; float64 sees that row 2 is closer
    E = torch.tensor([[1.0, 0.0], [1.0, 2e-4], [1.0, 1e-4]])                        # float32 input
    assert nearest_by_cosine(E, 0, k=2)[0] == [2, 1]
    twins = torch.tensor([[1.0, 0.0], [0.0, 1.0], [3.0, 0.0], [2.0, 0.0]])          # rows 2 and 3: the same direction
    assert nearest_by_cosine(twins, 0, k=2)[0] == [2, 3]
    assert nearest_by_cosine(twins, 0, k=1, exclude=[2])[0] == [3]


@pytest.mark.parametrize("kwargs, match", [
    (dict(E=torch.ones(4)), "2-D"),
    (dict(i=4), "row index between 0 and 3"),
    (dict(i=-1), "row index"),
    (dict(i=1.0), "row index"),
    (dict(k=0), "k must be an integer between 1 and 3"),
    (dict(k=4), "k must be"),
    (dict(k=3, exclude=[2]), "between 1 and 2"),
    (dict(exclude=[9]), "outside 0..3"),
    (dict(E=torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])), "all zeros"),
])
def test_nearest_by_cosine_bad_input_raises_one_line_errors(kwargs, match):
    from utils.gpt import nearest_by_cosine
    args = dict(E=torch.randn(4, 2, generator=torch.Generator().manual_seed(0)), i=0, k=2, exclude=())
    args.update(kwargs)
    with pytest.raises(ValueError, match=match) as info:
        nearest_by_cosine(args["E"], args["i"], k=args["k"], exclude=args["exclude"])
    assert "\n" not in str(info.value)
