"""The paper's MobileNetV2-512 and ShuffleNetV2 x0.5 as timm models."""

import pytest
import timm
import torch
from torchvision.models import shufflenet_v2_x0_5

from torchgeo_ackd.models import ShuffleNetV2x05Embedding512
from torchgeo_ackd.models.features import forward_with_features


@pytest.mark.parametrize('name', ['mobilenetv2_512', 'shufflenetv2_x0_5_512'])
def test_created_by_name_with_the_interface_ska_needs(name: str) -> None:
    model = timm.create_model(name, in_chans=10, num_classes=7)
    assert model.num_features == 512
    logits, patches, embedding = forward_with_features(
        model, torch.randn(2, 10, 64, 64)
    )
    assert logits.shape == (2, 7)
    assert patches.shape == (2, 4, 512)  # a 2 x 2 map at stride 32
    assert embedding.shape == (2, 512)
    model.eval()
    torch.testing.assert_close(
        model(torch.ones(1, 10, 64, 64)).shape, torch.Size([1, 7])
    )
    model.reset_classifier(3)
    assert model.get_classifier().out_features == 3
    with pytest.raises(ValueError, match='no pretrained weights'):
        timm.create_model(name, pretrained=True)


def test_mobilenet_ends_in_512_channels_as_the_authors() -> None:
    model = timm.create_model('mobilenetv2_512', in_chans=13, num_classes=10)
    last = model.features[-1]
    assert (last[0].in_channels, last[0].out_channels) == (320, 512)
    assert isinstance(last[2], torch.nn.ReLU6)
    assert model.features[0][0].in_channels == 13
    assert model.get_classifier().in_features == 512


def test_shufflenet_embedding_is_the_authors_projection_of_the_pooled_map() -> None:
    torch.manual_seed(0)
    model = ShuffleNetV2x05Embedding512(in_chans=3, num_classes=10).eval()
    x = torch.randn(2, 3, 96, 96)
    # The authors: embedding = Linear(1024 -> 512)(mean over positions of conv5).
    conv5 = model.stages(model.stem(x))
    assert conv5.shape[1] == 1024
    weight = model.projection.weight.flatten(1)  # (512, 1024)
    authors = conv5.mean(dim=(2, 3)) @ weight.T + model.projection.bias
    _, _, embedding = forward_with_features(model, x)
    torch.testing.assert_close(embedding, authors, rtol=1e-5, atol=1e-5)
    # The stages are torchvision's x0.5 ones (same parameter shapes).
    ours = {k: v.shape for k, v in model.stages.state_dict().items()}
    tv = shufflenet_v2_x0_5().state_dict()
    for key, shape in ours.items():
        stage, _, rest = key.partition('.')
        name = ['stage2', 'stage3', 'stage4', 'conv5'][int(stage)] + '.' + rest
        assert tv[name].shape == shape


def test_every_task_builds_them_by_name() -> None:
    """Teacher stage (TorchGeo's ClassificationTask code) and matcher encoders."""
    from torchgeo_ackd.tasks import MatcherTask, TeacherTask

    teacher = TeacherTask(model='mobilenetv2_512', in_channels=10, num_classes=7)
    assert teacher.model(torch.randn(2, 10, 32, 32)).shape == (2, 7)
    matcher = MatcherTask('shufflenetv2_x0_5_512', 'mobilenetv2_512', in_channels=10)
    matcher.log = lambda *args, **kwargs: None  # type: ignore[method-assign]
    batch = {
        'image': torch.randn(3, 10, 32, 32),
        'image_pseudo_rgb': torch.randn(3, 3, 32, 32),
    }
    loss = matcher.training_step(batch, 0)
    assert loss is not None and bool(torch.isfinite(loss))
    assert (
        matcher.embed_ms(batch['image']).shape
        == matcher.embed_rgb(batch['image_pseudo_rgb']).shape
    )
