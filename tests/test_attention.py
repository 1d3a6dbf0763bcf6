"""utils.attention against torch's own attention, and utils.minilm_layers against MiniLM's real forward pass."""
import pytest
import torch
import torch.nn.functional as F

from utils import attention as att
from utils import minilm_layers

SDPA = F.scaled_dot_product_attention


def _qkv(*shape_q, tk=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    b, h, tq, d = shape_q
    tk = tk or tq
    return (torch.randn(b, h, tq, d, generator=g), torch.randn(b, h, tk, d, generator=g),
            torch.randn(b, h, tk, d, generator=g))


# ------------------------------------------------------------------------------------------- softmax
def test_softmax_matches_torch_and_survives_large_scores():
    s = torch.randn(4, 7) * 5
    assert torch.allclose(att.softmax(s), torch.softmax(s, dim=-1), atol=1e-6)
    assert torch.allclose(att.softmax(s, dim=0), torch.softmax(s, dim=0), atol=1e-6)
    big = torch.tensor([1e4, 1e4 + 1, 1e4 + 2])
    assert torch.allclose(att.softmax(big), torch.softmax(torch.tensor([0.0, 1.0, 2.0]), dim=-1))


def test_softmax_of_an_all_masked_row_is_zero_not_nan():
    s = torch.tensor([[float("-inf")] * 3, [0.0, 0.0, float("-inf")]])
    out = att.softmax(s)
    assert torch.equal(out[0], torch.zeros(3))
    assert torch.allclose(out[1], torch.tensor([0.5, 0.5, 0.0]))


# ------------------------------------------------------------------------------------------- SDPA
@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_equals_torch(causal):
    q, k, v = _qkv(2, 3, 6, 8)
    assert torch.allclose(att.scaled_dot_product_attention(q, k, v, causal=causal), SDPA(q, k, v, is_causal=causal),
                          atol=1e-6)


def test_sdpa_with_a_boolean_mask_equals_torch():
    q, k, v = _qkv(2, 3, 5, 8, tk=7, seed=1)
    mask = torch.rand(2, 1, 5, 7, generator=torch.Generator().manual_seed(2)) > 0.3
    mask[..., 0] = True                                            # every row keeps a key: torch gives NaN otherwise
    assert torch.allclose(att.scaled_dot_product_attention(q, k, v, mask=mask), SDPA(q, k, v, attn_mask=mask),
                          atol=1e-6)


def test_causal_with_more_keys_than_queries_is_bottom_right_aligned():
    q, k, v = _qkv(1, 2, 2, 4, tk=5, seed=3)
    ours = att.scaled_dot_product_attention(q, k, v, causal=True)
    full_q = torch.cat([torch.zeros(1, 2, 3, 4), q], dim=2)         # queries at positions 3 and 4 of 5
    assert torch.allclose(ours, SDPA(full_q, k, v, is_causal=True)[:, :, 3:], atol=1e-6)


def test_weights_rows_sum_to_one_and_masked_weights_are_zero():
    q, k, v = _qkv(1, 1, 4, 8, seed=4)
    _, w = att.scaled_dot_product_attention(q, k, v, causal=True, return_weights=True)
    assert torch.allclose(w.sum(-1), torch.ones(1, 1, 4))
    assert torch.equal(w[0, 0].triu(1), torch.zeros(4, 4))


def test_all_masked_row_gives_zero_output():
    q, k, v = _qkv(1, 1, 2, 4, seed=5)
    mask = torch.tensor([[False, False], [True, True]])
    out = att.scaled_dot_product_attention(q, k, v, mask=mask)
    assert torch.equal(out[0, 0, 0], torch.zeros(4)) and torch.isfinite(out).all()


@pytest.mark.parametrize("call, error, text", [
    (lambda: att.scaled_dot_product_attention([[1.0]], torch.ones(1, 1), torch.ones(1, 1)), TypeError, "q must"),
    (lambda: att.scaled_dot_product_attention(torch.ones(2, 3), torch.ones(2, 4), torch.ones(2, 4)), ValueError,
     "same last size"),
    (lambda: att.scaled_dot_product_attention(torch.ones(2, 3), torch.ones(2, 3), torch.ones(5, 3)), ValueError,
     "same sequence length"),
    (lambda: att.scaled_dot_product_attention(torch.ones(3), torch.ones(3), torch.ones(3)), ValueError, "shape"),
    (lambda: att.scaled_dot_product_attention(torch.ones(2, 3), torch.ones(2, 3), torch.ones(2, 3),
                                              mask=torch.ones(2, 2)), TypeError, "boolean"),
    (lambda: att.scaled_dot_product_attention(torch.ones(2, 3, dtype=torch.long), torch.ones(2, 3),
                                              torch.ones(2, 3)), TypeError, "floating"),
    (lambda: att.causal_mask(0), ValueError, "positive"),
    (lambda: att.causal_mask(3, 2), ValueError, "t_key"),
    (lambda: att.split_heads(torch.ones(1, 2, 6), 4), ValueError, "dividing"),
    (lambda: att.split_heads(torch.ones(2, 6), 2), ValueError, "shape"),
    (lambda: att.merge_heads(torch.ones(2, 6, 3)), ValueError, "shape"),
    (lambda: att.MultiHeadAttention(10, 3), ValueError, "divide"),
    (lambda: minilm_layers.attention_from_layer(6), ValueError, "0..5"),
    (lambda: minilm_layers.encode(""), ValueError, "non-empty"),
    (lambda: minilm_layers.contextual_token_vectors("a river", "bank"), ValueError, "not one token"),
    (lambda: minilm_layers.encoder_layer(torch.ones(1, 2, 8), 0), ValueError, "384"),
])
def test_bad_input_raises_one_line_errors(call, error, text):
    with pytest.raises(error, match=text) as info:
        call()
    assert "\n" not in str(info.value)


# ------------------------------------------------------------------------------------------- heads
def test_split_merge_round_trip_and_layout():
    x = torch.randn(2, 5, 12)
    heads = att.split_heads(x, 3)                                   # (2, 3, 5, 4)
    assert heads.shape == (2, 3, 5, 4)
    assert torch.equal(heads[1, 2, 4], x[1, 4, 8:12])               # head j of token t = features 4j..4j+3
    assert torch.equal(att.merge_heads(heads), x)


@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_attention_equals_torch_multihead_attention(causal):
    torch.manual_seed(0)
    d, h = 16, 4
    ours = att.MultiHeadAttention(d, h, causal=causal)
    ref = torch.nn.MultiheadAttention(d, h, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([ours.query.weight, ours.key.weight, ours.value.weight]))
        ref.in_proj_bias.copy_(torch.cat([ours.query.bias, ours.key.bias, ours.value.bias]))
        ref.out_proj.weight.copy_(ours.out.weight)
        ref.out_proj.bias.copy_(ours.out.bias)
    x = torch.randn(3, 6, d)
    blocked = ~att.causal_mask(6) if causal else None               # torch: True = NOT allowed
    want, want_w = ref(x, x, x, attn_mask=blocked, need_weights=True, average_attn_weights=False)
    got, got_w = ours(x, return_weights=True)
    assert torch.allclose(got, want, atol=1e-5)
    assert torch.allclose(got_w, want_w, atol=1e-6)


# ------------------------------------------------------------------------------------------- MiniLM layers
SENTENCE = "She sat on the river bank and watched the water."


def test_attention_from_layer_reproduces_minilm_attention_output():
    bert = minilm_layers.bert_model()
    captured = {}
    hook = bert.encoder.layer[0].attention.output.dense.register_forward_hook(
        lambda module, inputs, output: captured.setdefault("dense", output))
    try:
        ids, _ = minilm_layers.encode(SENTENCE)
        with torch.no_grad():
            out = bert(input_ids=ids, attention_mask=torch.ones_like(ids), output_hidden_states=True)
    finally:
        hook.remove()
    with torch.no_grad():
        ours = minilm_layers.attention_from_layer(0)(out.hidden_states[0])        # (1, T, 384)
    assert (ours - captured["dense"]).abs().max() <= 1e-5


@pytest.mark.parametrize("index", range(6))
def test_encoder_layer_reproduces_every_minilm_layer(index):
    states = minilm_layers.hidden_states(SENTENCE)
    assert (minilm_layers.encoder_layer(states[index], index) - states[index + 1]).abs().max() <= 1e-5


def test_encoder_layer_with_padding_mask_matches_the_model():
    bert = minilm_layers.bert_model()
    tok = [minilm_layers.encode(s)[0][0] for s in ("The bank closed.", SENTENCE)]
    ids = torch.zeros(2, max(len(t) for t in tok), dtype=torch.long)
    keep = torch.zeros_like(ids)
    for i, t in enumerate(tok):
        ids[i, : len(t)], keep[i, : len(t)] = t, 1
    with torch.no_grad():
        out = bert(input_ids=ids, attention_mask=keep, output_hidden_states=True).hidden_states
    ours = minilm_layers.encoder_layer(out[0], 0, mask=keep.bool()[:, None, None, :])   # (B, 1, 1, T) broadcasts over heads
    real = keep.bool()
    assert (ours[real] - out[1][real]).abs().max() <= 1e-5


def test_attention_maps_are_row_stochastic_and_contextual_vectors_change_with_context():
    maps, tokens = minilm_layers.attention_maps("The river bank")
    assert maps.shape == (6, 12, 5, 5) and tokens[3] == "bank"
    assert torch.allclose(maps.sum(-1), torch.ones(6, 12, 5), atol=1e-5)
    a = minilm_layers.contextual_token_vectors("I sat on the river bank.", "bank")
    b = minilm_layers.contextual_token_vectors("I sat on the bank.", "bank")
    assert a.shape == (7, 384) and not torch.allclose(a[6], b[6])


# ------------------------------------------------------------------------------------------- blockwise (online softmax)
@pytest.mark.parametrize("t_q, t_k, block, causal", [
    (64, 64, 16, False), (64, 64, 16, True),
    (50, 50, 16, True),                                            # T not a multiple of the block: a last block of 2
    (37, 37, 8, False),
    (5, 29, 7, True),                                              # a cache: 5 new queries after 24 cached keys
    (20, 20, 1, True), (20, 20, 64, True),                         # one key per block; one block for everything
])
def test_blockwise_attention_equals_course_and_torch(t_q, t_k, block, causal):
    q, k, v = _qkv(2, 3, t_q, 16, tk=t_k, seed=t_q + block)
    ours = att.blockwise_attention(q, k, v, block_size=block, causal=causal)
    assert (ours - att.scaled_dot_product_attention(q, k, v, causal=causal)).abs().max() <= 1e-5
    if t_q == t_k:                                                 # torch's is_causal is top-left aligned
        assert (ours - SDPA(q, k, v, is_causal=causal)).abs().max() <= 1e-5


def test_blockwise_attention_with_a_mask_and_large_scores():
    q, k, v = _qkv(2, 3, 9, 8, tk=23, seed=6)
    mask = torch.rand(2, 1, 9, 23, generator=torch.Generator().manual_seed(7)) > 0.4
    mask[..., 0] = True                                            # torch gives NaN for a row with no key
    want = att.scaled_dot_product_attention(q, k, v, mask=mask)
    ours = att.blockwise_attention(q, k, v, block_size=5, mask=mask)
    assert (ours - want).abs().max() <= 1e-5
    assert (ours - SDPA(q, k, v, attn_mask=mask)).abs().max() <= 1e-5
    padding = torch.arange(23) < 17                                # (Tk,): the last 6 keys are padding
    assert (att.blockwise_attention(q, k, v, block_size=4, mask=padding)
            - att.scaled_dot_product_attention(q, k, v, mask=padding)).abs().max() <= 1e-5
    big = q * 100                                                  # scores in the hundreds: exp alone overflows
    out = att.blockwise_attention(big, k, v, block_size=4, causal=True)
    assert torch.isfinite(out).all()
    assert (out - att.scaled_dot_product_attention(big, k, v, causal=True)).abs().max() <= 1e-5


def test_blockwise_attention_row_with_no_key_gives_zeros():
    q, k, v = _qkv(1, 1, 2, 4, tk=6, seed=8)
    mask = torch.tensor([[False] * 6, [True] * 6])
    out = att.blockwise_attention(q, k, v, block_size=4, mask=mask)
    assert torch.equal(out[0, 0, 0], torch.zeros(4)) and torch.isfinite(out).all()


def _blockwise_without_rescaling_the_sum(q, k, v, block_size):
    """A wrong online softmax: the output is re-measured when the maximum rises, the running SUM is not."""
    run_max = torch.full((*q.shape[:-1], 1), float("-inf"))
    run_sum = torch.zeros(*q.shape[:-1], 1)
    run_out = torch.zeros(*q.shape[:-1], v.shape[-1])
    for j in range(0, k.shape[-2], block_size):
        s = q @ k[..., j:j + block_size, :].transpose(-2, -1) / q.shape[-1] ** 0.5
        new_max = torch.maximum(run_max, s.amax(dim=-1, keepdim=True))
        p = torch.exp(s - new_max)
        run_sum = run_sum + p.sum(dim=-1, keepdim=True)            # the bug: run_sum * exp(run_max - new_max) missing
        run_out = run_out * torch.exp(run_max - new_max) + p @ v[..., j:j + block_size, :]
        run_max = new_max
    return run_out / run_sum


def test_rescaling_the_old_sum_when_the_max_rises_is_necessary():
    q, k, v = _qkv(1, 2, 16, 8, seed=9)
    want = att.scaled_dot_product_attention(q, k, v)
    assert (_blockwise_without_rescaling_the_sum(q, k, v, 16) - want).abs().max() <= 1e-5   # one block: no rise
    assert (_blockwise_without_rescaling_the_sum(q, k, v, 4) - want).abs().max() > 0.05     # 4 blocks: wrong
    assert (att.blockwise_attention(q, k, v, block_size=4) - want).abs().max() <= 1e-5


def test_blockwise_attention_never_builds_the_whole_score_matrix():
    """Every tensor any torch call returns stays within (heads, T, max(block, d)): O(T * block), not O(T^2)."""
    largest = []

    class Sizes(torch.overrides.TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            if isinstance(out, torch.Tensor):
                largest.append(out.numel())
            return out

    h, t, d, block = 2, 512, 16, 32
    q, k, v = _qkv(1, h, t, d, seed=10)
    with Sizes():
        att.blockwise_attention(q, k, v, block_size=block, causal=True)
    assert max(largest) <= h * t * max(block, d)                    # 32,768 floats; the scores would be 524,288
    largest.clear()
    with Sizes():
        att.scaled_dot_product_attention(q, k, v, causal=True)
    assert max(largest) == h * t * t                                # the course's formula holds all of them


@pytest.mark.parametrize("call, text", [
    (lambda: att.blockwise_attention(*_qkv(1, 1, 4, 4), block_size=0), "block_size"),
    (lambda: att.blockwise_attention(*_qkv(1, 1, 4, 4, tk=3), causal=True), "at least as many keys"),
    (lambda: att.blockwise_attention(*_qkv(1, 1, 4, 4), mask=torch.ones(4, 4)), "boolean"),
    (lambda: att.blockwise_attention(*_qkv(1, 1, 4, 4), mask=torch.ones(4, 3, dtype=torch.bool)), "last size"),
    (lambda: att.blockwise_attention(torch.ones(2, 3), torch.ones(2, 4), torch.ones(2, 4)), "same last size"),
])
def test_blockwise_attention_bad_input(call, text):
    with pytest.raises((ValueError, TypeError), match=text) as info:
        call()
    assert "\n" not in str(info.value)
