"""evaluate: per-image scores in image order, TTA views from the stored image in one forward per batch, accuracy."""
import pytest
import torch
from torch import nn

from scaling_mlps.augment import resized_crop, random_crop_boxes
from scaling_mlps.evaluate import evaluate, predict
from scaling_mlps.models import get_model

KW = dict(mean=(0.5,) * 3, std=(0.25,) * 3, device="cpu")


class Recorder(nn.Module):
    "Returns the mean of each image as 2 logits and records every input batch."
    def __init__(self): super().__init__(); self.inputs = []
    def forward(self, x):
        self.inputs.append(x.clone()); m = x.mean((1, 2, 3)); return torch.stack([-m, m], 1)


def test_scores_come_back_in_image_order():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (37, 3, 8, 8), dtype=torch.uint8, generator=g)
    scores = predict(Recorder(), images, batch_size=10, **KW)
    expected = ((images.float() / 255 - 0.5) / 0.25).mean((1, 2, 3))
    assert scores.shape == (37, 2) and torch.allclose(scores[:, 1], expected, atol=1e-5)


def test_tta_views_are_cut_from_the_stored_image_in_one_forward_per_batch():
    g = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (6, 3, 8, 8), dtype=torch.uint8, generator=g)
    model = Recorder()
    predict(model, images, resolution=16, tta=4, batch_size=24, seed=5, flip=False, **KW)
    assert [x.shape for x in model.inputs] == [(24, 3, 16, 16)]  # 6 images x 4 views, one forward
    gen = torch.Generator().manual_seed(5)
    boxes = random_crop_boxes(24, 8, 8, (0.4, 1.0), (1.0, 1.0), gen)
    stored = (images.float() / 255 - 0.5) / 0.25
    expected = resized_crop(stored.repeat(4, 1, 1, 1), boxes, 16)
    assert torch.allclose(model.inputs[0], expected, atol=1e-4)


def test_tta_averages_logits_or_probabilities():
    torch.manual_seed(0)
    model = get_model("B_1-Wi_8", 8, 5)
    images = torch.randint(0, 256, (12, 3, 8, 8), dtype=torch.uint8)
    logits = predict(model, images, tta=3, seed=2, **KW)
    probs = predict(model, images, tta=3, seed=2, average="softmax", **KW)
    assert torch.allclose(probs.sum(1), torch.ones(12), atol=1e-5)
    assert not torch.allclose(logits.softmax(1), probs)  # the mean of softmaxes is not the softmax of the mean
    labels = logits.argmax(1)
    assert evaluate(model, images, labels, tta=3, seed=2, **KW) == 1.0


def test_bad_arguments_name_the_value():
    images = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
    with pytest.raises(ValueError, match="average='mean'"):
        predict(Recorder(), images, average="mean", **KW)
    with pytest.raises(ValueError, match="tta=-1"):
        predict(Recorder(), images, tta=-1, **KW)
