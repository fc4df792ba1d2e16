"""The paper's light backbones as timm models: MobileNetV2-512 and ShuffleNetV2 x0.5.

Like the authors', both end in a 512-d embedding (as ResNet-34 does). They are
built from torchvision's implementations and registered with timm by name::

    timm.create_model('mobilenetv2_512', in_chans=10, num_classes=10)
    timm.create_model('shufflenetv2_x0_5_512', in_chans=3, num_classes=10)
"""

from typing import Any

from timm.models import register_model
from torch import Tensor, nn
from torchvision.models import mobilenet_v2, shufflenet_v2_x0_5
from torchvision.ops import Conv2dNormActivation

#: Width of the embedding every reference backbone ends in.
EMBEDDING_WIDTH = 512


class _TimmLike(nn.Module):
    """timm's classifier interface over a feature extractor and a linear head."""

    num_features: int

    def __init__(self, num_classes: int, drop_rate: float) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.num_features = EMBEDDING_WIDTH
        self.head_drop = nn.Dropout(drop_rate)
        self.classifier: nn.Module = self._classifier(num_classes)

    def _classifier(self, num_classes: int) -> nn.Module:
        if num_classes <= 0:
            return nn.Identity()
        return nn.Linear(self.num_features, num_classes)

    def get_classifier(self) -> nn.Module:
        """The linear classifier (``nn.Identity`` without classes)."""
        return self.classifier

    def reset_classifier(self, num_classes: int, *args: Any) -> None:
        """Replace the classifier.

        Args:
            num_classes: New number of classes (0: none, features only).
            *args: Ignored (timm's global-pool argument).
        """
        self.num_classes = num_classes
        self.classifier = self._classifier(num_classes)

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Pool a feature map into the embedding, then classify.

        Args:
            x: (B, 512, h, w) last feature map.
            pre_logits: Return the (B, 512) embedding instead of the logits.

        Returns:
            (B, 512) embedding or (B, K) logits.
        """
        embedding = x.mean(dim=(2, 3))
        if pre_logits:
            return embedding
        return self.classifier(self.head_drop(embedding))  # type: ignore[no-any-return]

    def forward(self, x: Tensor) -> Tensor:
        """Logits of a batch.

        Args:
            x: (B, C, H, W) images.

        Returns:
            (B, K) logits.
        """
        return self.forward_head(self.forward_features(x))

    def forward_features(self, x: Tensor) -> Tensor:
        """The last feature map, (B, 512, h, w)."""
        raise NotImplementedError


def _first_conv(conv: nn.Conv2d, in_chans: int) -> nn.Conv2d:
    """The same convolution for another number of input bands (random init)."""
    return nn.Conv2d(
        in_chans,
        conv.out_channels,
        conv.kernel_size,  # type: ignore[arg-type]
        conv.stride,  # type: ignore[arg-type]
        conv.padding,  # type: ignore[arg-type]
        bias=conv.bias is not None,
    )


class MobileNetV2Embedding512(_TimmLike):
    """torchvision's MobileNetV2 with the authors' 320 -> 512 last layer.

    The final 1x1 ConvBNReLU6 goes to 512 channels instead of 1280, then average
    pooling, dropout 0.2 and the linear classifier, as in the authors' code.
    """

    def __init__(self, in_chans: int = 3, num_classes: int = 1000) -> None:
        """Initialize a new MobileNetV2Embedding512 instance.

        Args:
            in_chans: Input bands.
            num_classes: Classes (0: no classifier).
        """
        super().__init__(num_classes, drop_rate=0.2)
        features = mobilenet_v2().features
        features[0][0] = _first_conv(features[0][0], in_chans)
        last = features[-1][0]
        features[-1] = Conv2dNormActivation(
            last.in_channels,
            EMBEDDING_WIDTH,
            kernel_size=1,
            activation_layer=nn.ReLU6,
        )
        self.features = features
        # torchvision's initialisation for the replaced layers.
        for module in (features[0][0], features[-1][0]):
            nn.init.kaiming_normal_(module.weight, mode='fan_out')

    def forward_features(self, x: Tensor) -> Tensor:
        """The last feature map.

        Args:
            x: (B, C, H, W) images.

        Returns:
            (B, 512, H / 32, W / 32) features.
        """
        return self.features(x)  # type: ignore[no-any-return]


class ShuffleNetV2x05Embedding512(_TimmLike):
    """torchvision's ShuffleNetV2 x0.5 with the authors' 1024 -> 512 projection.

    The authors' linear projection of the pooled features is applied here at every
    position as a 1x1 convolution: it commutes with average pooling, so the
    embedding is the same and the feature map SKA aligns is 512-d too.
    """

    def __init__(self, in_chans: int = 3, num_classes: int = 1000) -> None:
        """Initialize a new ShuffleNetV2x05Embedding512 instance.

        Args:
            in_chans: Input bands.
            num_classes: Classes (0: no classifier).
        """
        super().__init__(num_classes, drop_rate=0.0)
        net = shufflenet_v2_x0_5()
        net.conv1[0] = _first_conv(net.conv1[0], in_chans)
        self.stem = nn.Sequential(net.conv1, net.maxpool)
        self.stages = nn.Sequential(net.stage2, net.stage3, net.stage4, net.conv5)
        conv5_channels = net.conv5[0].out_channels
        self.projection = nn.Conv2d(conv5_channels, EMBEDDING_WIDTH, kernel_size=1)

    def forward_features(self, x: Tensor) -> Tensor:
        """The last feature map, projected to 512 channels at every position.

        Args:
            x: (B, C, H, W) images.

        Returns:
            (B, 512, H / 32, W / 32) features.
        """
        return self.projection(self.stages(self.stem(x)))  # type: ignore[no-any-return]


def _from_scratch(cls: type[_TimmLike], name: str, **kwargs: Any) -> _TimmLike:
    """Build *cls*, timm's *name*, from timm's kwargs; ``pretrained`` must be False."""
    if kwargs.get('pretrained'):
        raise ValueError(
            f'{name} has no pretrained weights (the paper trains it from scratch)'
        )
    return cls(kwargs.get('in_chans', 3), kwargs.get('num_classes', 1000))  # type: ignore[call-arg]


@register_model
def mobilenetv2_512(**kwargs: Any) -> _TimmLike:
    """MobileNetV2 ending in 512 channels (the paper's MobileNetV2; from scratch)."""
    return _from_scratch(MobileNetV2Embedding512, 'mobilenetv2_512', **kwargs)


@register_model
def shufflenetv2_x0_5_512(**kwargs: Any) -> _TimmLike:
    """ShuffleNetV2 x0.5 with a 512-d embedding (the paper's; from scratch)."""
    return _from_scratch(ShuffleNetV2x05Embedding512, 'shufflenetv2_x0_5_512', **kwargs)
