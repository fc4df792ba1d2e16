"""Projection head of the SSM matcher: encoder features to the shared space."""

from torch import Tensor, nn


class ProjectionHead(nn.Module):
    """Residual MLP projection to a shared embedding space, as in simple CLIP.

    The head of moein-shariatnia/OpenAI-CLIP, which the reference matcher follows::

        projected = Linear(in_features, out_features)(x)
        y = Linear(out_features, out_features)(GELU(projected))
        y = LayerNorm(Dropout(y) + projected)

    The output is NOT L2-normalised (matching uses cosine similarity).
    """

    def __init__(
        self, in_features: int, out_features: int = 256, dropout: float = 0.1
    ) -> None:
        """Initialize a new ProjectionHead instance.

        Args:
            in_features: Width of the encoder features (e.g. 512 for ResNet-18).
            out_features: Width of the shared space (reference: 256).
            dropout: Dropout probability in [0, 1) of the residual (reference: 0.1).

        Raises:
            ValueError: If a width is < 1 or ``dropout`` is outside [0, 1).
        """
        super().__init__()
        for name, value in (
            ('in_features', in_features),
            ('out_features', out_features),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f'{name} must be an int >= 1, got {value!r}')
        if not 0 <= dropout < 1:
            raise ValueError(f'dropout must be in [0, 1), got {dropout!r}')
        self.projection = nn.Linear(in_features, out_features)
        self.gelu = nn.GELU()
        self.fc = nn.Linear(out_features, out_features)
        self.dropout = nn.Dropout(dropout)
        self.layer_norm = nn.LayerNorm(out_features)

    def forward(self, x: Tensor) -> Tensor:
        """Project encoder features.

        Args:
            x: (B, in_features) encoder features.

        Returns:
            (B, out_features) embeddings.
        """
        projected = self.projection(x)
        residual = self.dropout(self.fc(self.gelu(projected)))
        return self.layer_norm(residual + projected)
