"""utils.clip: the loss is notebook 11's symmetric InfoNCE, recall and zero-shot on known cases, a short training
run learns (loss falls, retrieval beats chance), and the bag-of-words encoder cannot tell colour-swapped captions."""
import numpy as np
import torch

from utils import clip, contrastive, scenes


def test_clip_loss_is_symmetric_info_nce():
    torch.manual_seed(0)
    a, b = torch.randn(6, 8), torch.randn(6, 8)
    assert torch.allclose(clip.clip_loss(a, b, 0.1), contrastive.info_nce(a, b, 0.1, symmetric=True))
    assert torch.allclose(clip.clip_loss(a, b, 0.1), clip.clip_loss(b, a, 0.1))


def test_recall_and_zero_shot():
    e = np.eye(4)
    assert clip.retrieval_recall(e, e[[1, 0, 2, 3]], ks=(1, 2)) == {
        "text->image R@1": 0.5, "text->image R@2": 1.0, "image->text R@1": 0.5, "image->text R@2": 1.0}
    assert clip.zero_shot_predict(e[:2], np.array([[0, 5.0, 0, 0], [1.0, 0, 0, 0]])).tolist() == [1, 0]


def test_short_training_learns_and_bag_ties():
    ss, X, caps = clip.scene_data(600, seed=0)
    tok = clip.CaptionTokenizer(caps)
    test = scenes.distinct_captions(60, seed=1)
    for text in ("transformer", "bag"):
        model, losses = clip.train_clip(X, caps, text=text, steps=40, batch_size=64, tokenizer=tok)
        assert np.mean(losses[-5:]) < losses[0] - 1.0
        img, txt = model.embed(scenes.render_batch(test), [scenes.caption(s) for s in test])
        assert clip.retrieval_recall(img, txt, ks=(5,))["text->image R@5"] > 5 / 60 * 2    # twice chance
    bind = clip.binding_accuracy(model, test)                                              # the bag model
    assert bind["ties"] == bind["pairs"] and bind["accuracy"] == 0.5


def test_tokenizer_keeps_words_whole():
    tok = clip.CaptionTokenizer([scenes.caption(s) for s in scenes.random_scenes(200)])
    ids, mask = tok(["a small red circle left of a large blue square"])
    assert mask.sum() == 10 and ids.shape == (1, 10)
