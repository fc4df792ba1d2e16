"""Logits, patch features and pooled embeddings of a timm model, unmodified."""

from torch import Tensor, nn


def forward_with_features(
    model: nn.Module, image: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Run a timm classifier and keep its last-stage features.

    Uses timm's ``forward_features`` / ``forward_head`` split: the last feature map
    becomes a patch sequence, the pooled embedding is what the classifier sees.

    Args:
        model: A timm classification model.
        image: Input batch, (B, C, H, W).

    Returns:
        ``(logits (B, K), patches (B, N, D), embedding (B, D))`` with
        ``N = h * w`` the number of positions of the last feature map.
    """
    features = model.forward_features(image)  # type: ignore[operator]
    embedding = model.forward_head(features, pre_logits=True)  # type: ignore[operator]
    logits = model.get_classifier()(embedding)  # type: ignore[operator]
    if features.ndim == 4:  # CNN: (B, D, h, w) -> (B, h*w, D)
        patches = features.flatten(2).transpose(1, 2)
    else:  # transformer: (B, prefix + N, D) -> drop class/register tokens
        patches = features[:, getattr(model, 'num_prefix_tokens', 0) :]
    return logits, patches, embedding
